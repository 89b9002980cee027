//! `ack-ram-emulator`: a local stand-in for the Alibaba Cloud APIs the credential plugin talks
//! to: ACK (CS) `DescribeClusterUserKubeconfig`, STS `AssumeRole` / `GetCallerIdentity`, and
//! (optionally) the Kubernetes API server that accepts the issued certificates.
//!
//! It exists so that the credential plugin can be run end to end without an Alibaba Cloud
//! account (the README demo), and so that integration tests and benchmarks exercise the real
//! wire protocol: requests must carry a valid ROA HMAC-SHA1 signature (checked by the
//! independent [`roa`] module) or STS RPC signature (the independent [`sts_rpc`] module), dates,
//! nonces, security tokens and parameters are validated in the same order and with the same
//! error shape as the real services, and a success returns a real kubeconfig whose client
//! certificate (ECDSA P-256, PKCS#8 key) is freshly signed by the emulator's CA
//! ([`Emulator::ca_pem`]) and expires exactly at `expiration`.
//!
//! One listener serves ACK (`GET /k8s/{ClusterId}/user_config`), STS (`POST /`), a CloudSSO
//! user portal (`POST /cloud-credentials`, [`SsoSettings`]), an OAuth server (`POST /v1/token`,
//! `POST /v1/exchange`, [`OAuthSettings`]) and a control API for fault injection and those
//! portals' tokens (`/__emulator/…`, see [`Fault`]); with [`EmulatorConfig::kube_api`]
//! a second, mTLS-only listener serves a minimal Kubernetes API ([`Emulator::kube_endpoint`])
//! and records the client certificate of every request ([`Emulator::kube_requests`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), ack_ram_emulator::EmulatorError> {
//! use ack_ram_emulator::{Emulator, EmulatorConfig};
//! let emulator = Emulator::start(EmulatorConfig { kube_api: true, ..Default::default() }).await?;
//! println!("CS and STS endpoint: {}", emulator.endpoint());
//! println!("Kubernetes API: {}", emulator.kube_endpoint());
//! # Ok(()) }
//! ```
//!
//! Each emulator runs on its own background thread with its own tokio runtime, so it keeps
//! serving while the test that started it blocks (for example on `std::process::Command`).

mod api;
mod ca;
mod clusters;
mod control;
mod faults;
mod hmac_b64;
mod identity;
mod kube;
mod kubeconfig;
mod oauth;
pub mod roa;
mod server;
mod sso;
mod state;
mod sts;
pub mod sts_rpc;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sha1::{Digest, Sha1};
use tokio::sync::{oneshot, watch};

pub use api::{
    DEFAULT_LIFETIME, DURATION_MINUTES, MAX_CLOCK_SKEW, NOT_BEFORE_BACKDATE, looks_like_cluster_id,
};
pub use ca::CLIENT_CERT_ORGANIZATION;
pub use clusters::{
    DEMO_CLUSTERS, LIST_PAGE_SIZE_DEFAULT, LIST_PAGE_SIZE_MAX, LISTED_REGION, ListedCluster,
};
pub use control::CONTROL_PREFIX;
pub use faults::{Fault, FaultError, FaultTarget, MAX_HUGE_BYTES, Malformed, NOT_BASE64};
pub use identity::{
    CallerIdentity, IDENTITY_ASSUMED_ROLE, IDENTITY_RAM_USER, RAM_USER_NAME, role_id,
};
pub use kube::{KUBE_GIT_VERSION, KUBE_NAMESPACES, KubeRequest};
pub use oauth::{
    DEMO_OAUTH_ACCESS_TOKEN, DEMO_OAUTH_REFRESH_TOKEN, OAUTH_ACCOUNT_ID, OAUTH_CLIENT_IDS,
    OAUTH_ROLE_NAME, OAUTH_SESSION_NAME, OAuthCall, OAuthSettings,
};
pub use sso::{DEMO_SSO_ACCESS_TOKEN, SSO_PATH, SSO_ROLE_PREFIX, SSO_SESSION_NAME, SsoSettings};
pub use state::{
    DEFAULT_PRIVATE_SERVER, DEFAULT_PUBLIC_SERVER, RECORDED_REQUESTS_CAP, RecordedRequest,
};
pub use sts::{
    DEFAULT_STS_DURATION, STS_DURATION_SECONDS, STS_HOST_ID, STS_TIME_FORMAT, STS_VERSION,
};

/// Demo AccessKey id accepted by a default emulator (not a real credential).
pub const DEMO_ACCESS_KEY_ID: &str = "LTAI5tEmulatorDemoKey";
/// Demo AccessKey secret accepted by a default emulator (not a real credential).
pub const DEMO_ACCESS_KEY_SECRET: &str = "EmulatorDemoSecretNotReal0123456";

/// What the emulator accepts and how it answers.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Known AccessKeys as `(id, secret)`. An id starting with `STS.` also needs a security
    /// token: register one with [`Emulator::add_security_token`].
    pub access_keys: Vec<(String, String)>,
    /// Known cluster ids; `None` accepts any valid-looking id (see [`looks_like_cluster_id`]).
    pub clusters: Option<Vec<String>>,
    /// Sleep before answering each `DescribeClusterUserKubeconfig` request.
    pub response_delay: Duration,
    /// Serve HTTPS with a certificate for `127.0.0.1`/`::1`/`localhost` signed by the CA.
    pub tls: bool,
    /// Role ARNs STS `AssumeRole` accepts; `None` accepts any well-formed
    /// `acs:ram::<digits>:role/<name>` (others get 403 `NoPermission`).
    pub roles: Option<Vec<String>>,
    /// Also start the Kubernetes-API-shaped mTLS listener ([`Emulator::kube_endpoint`]); the
    /// kubeconfigs then point at it.
    pub kube_api: bool,
    /// Address of that listener; `None`: the main listener's IP, any free port.
    pub kube_api_addr: Option<SocketAddr>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            access_keys: vec![(
                DEMO_ACCESS_KEY_ID.to_owned(),
                DEMO_ACCESS_KEY_SECRET.to_owned(),
            )],
            clusters: None,
            response_delay: Duration::ZERO,
            tls: false,
            roles: None,
            kube_api: false,
            kube_api_addr: None,
        }
    }
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// Binding the listener, spawning the thread or building the runtime failed.
    #[error("emulator I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Generating a key or certificate failed.
    #[error("emulator certificate error: {0}")]
    Certificate(String),
    /// Building the TLS configuration failed.
    #[error("emulator TLS error: {0}")]
    Tls(#[from] rustls::Error),
    /// The operating system's random source failed.
    #[error("emulator random source error: {0}")]
    Random(String),
    /// The emulator thread stopped before reporting that it was listening.
    #[error("emulator thread exited during start-up")]
    Startup,
}

impl From<rcgen::Error> for EmulatorError {
    fn from(e: rcgen::Error) -> Self {
        EmulatorError::Certificate(e.to_string())
    }
}

/// A running emulator. Dropping it stops the server (in the background);
/// [`Emulator::shutdown`] stops it and waits.
pub struct Emulator {
    local_addr: SocketAddr,
    endpoint: String,
    kube_addr: Option<SocketAddr>,
    state: Arc<State>,
    shutdown: watch::Sender<bool>,
    stopped: Option<oneshot::Receiver<()>>,
}

use state::State;

struct Ready {
    local_addr: SocketAddr,
    kube_addr: Option<SocketAddr>,
    state: Arc<State>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

type Startup = (
    oneshot::Receiver<Result<Ready, EmulatorError>>,
    watch::Sender<bool>,
    oneshot::Receiver<()>,
);

impl Emulator {
    /// Starts an emulator on `127.0.0.1:0` (a free port).
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        Emulator::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
    }

    /// Starts an emulator listening on `addr`.
    pub async fn start_on(
        addr: SocketAddr,
        config: EmulatorConfig,
    ) -> Result<Emulator, EmulatorError> {
        let (ready, shutdown, stopped) = spawn(addr, config)?;
        let ready = ready.await.map_err(|_| EmulatorError::Startup)??;
        Ok(Emulator::from_ready(ready, shutdown, stopped))
    }

    /// Blocking variant of [`Emulator::start`] for synchronous tests. Must not be called from
    /// inside an async runtime (it would block a runtime thread).
    pub fn start_blocking(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        Emulator::start_on_blocking(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config)
    }

    /// Blocking variant of [`Emulator::start_on`].
    pub fn start_on_blocking(
        addr: SocketAddr,
        config: EmulatorConfig,
    ) -> Result<Emulator, EmulatorError> {
        let (ready, shutdown, stopped) = spawn(addr, config)?;
        let ready = ready
            .blocking_recv()
            .map_err(|_| EmulatorError::Startup)??;
        Ok(Emulator::from_ready(ready, shutdown, stopped))
    }

    fn from_ready(
        ready: Ready,
        shutdown: watch::Sender<bool>,
        stopped: oneshot::Receiver<()>,
    ) -> Emulator {
        let scheme = if ready.state.tls { "https" } else { "http" };
        let endpoint = format!("{scheme}://{}", connectable(ready.local_addr));
        Emulator {
            local_addr: ready.local_addr,
            endpoint,
            kube_addr: ready.kube_addr,
            state: ready.state,
            shutdown,
            stopped: Some(stopped),
        }
    }

    /// Base URL, `http://127.0.0.1:PORT` (or `https://...` in TLS mode), no trailing slash.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// `host:port` of the endpoint (what a `--cs-endpoint`-style host setting takes).
    pub fn host_port(&self) -> String {
        self.endpoint
            .split_once("://")
            .map(|(_, rest)| rest.to_owned())
            .unwrap_or_default()
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Base URL of the Kubernetes API listener, `https://127.0.0.1:PORT`; empty when
    /// [`EmulatorConfig::kube_api`] is off.
    pub fn kube_endpoint(&self) -> String {
        self.kube_addr
            .map(|addr| format!("https://{}", connectable(addr)))
            .unwrap_or_default()
    }

    /// The address the Kubernetes API listener is bound to, when it runs.
    pub fn kube_local_addr(&self) -> Option<SocketAddr> {
        self.kube_addr
    }

    /// Requests received by the Kubernetes API listener (the most recent
    /// [`RECORDED_REQUESTS_CAP`]), oldest first, with the client certificate's CN and O.
    pub fn kube_requests(&self) -> Vec<KubeRequest> {
        self.state.kube_requests()
    }

    /// STS requests received (`POST /`), any action, any outcome.
    pub fn sts_request_count(&self) -> usize {
        self.state.sts_requests.load(Ordering::SeqCst)
    }

    /// Successful `AssumeRole` answers (temporary keys minted and registered).
    pub fn sts_issued_count(&self) -> usize {
        self.state.sts_issued.load(Ordering::SeqCst)
    }

    /// Who an AccessKey id is (a registered key, or a temporary key minted by `AssumeRole`), as
    /// `GetCallerIdentity` would answer, with the CN of the certificates issued to it.
    pub fn caller_identity(&self, access_key_id: &str) -> Option<CallerIdentity> {
        self.state
            .key(access_key_id)
            .map(|key| key.principal.caller_identity(access_key_id))
    }

    /// Queues `count` copies of a fault for the next answers of `target` (see [`Fault`]).
    pub fn inject_faults(
        &self,
        target: FaultTarget,
        count: usize,
        fault: Fault,
    ) -> Result<(), FaultError> {
        faults::validate(target, &fault)?;
        self.state.push_faults(target, count, fault);
        Ok(())
    }

    /// Delays the next `count` `DescribeClusterUserKubeconfig` answers by `delay` (on top of
    /// [`EmulatorConfig::response_delay`]).
    pub fn delay_next(&self, count: usize, delay: Duration) {
        self.state
            .push_faults(FaultTarget::Ack, count, Fault::Delay(delay));
    }

    /// Corrupts the next `count` `DescribeClusterUserKubeconfig` answers (see [`Malformed`]).
    /// A [`Malformed::Huge`] over [`MAX_HUGE_BYTES`] is clamped to it.
    pub fn malform_next(&self, count: usize, kind: Malformed) {
        let kind = match kind {
            Malformed::Huge(n) => Malformed::Huge(n.min(MAX_HUGE_BYTES)),
            other => other,
        };
        self.state.push_faults(
            FaultTarget::Ack,
            count,
            Fault::Malformed { kind, status: None },
        );
    }

    /// Makes the next `count` STS requests fail with this status and code (STS error shape),
    /// before any other check. They still count in [`Emulator::sts_request_count`].
    pub fn fail_next_sts(&self, count: usize, status: u16, code: &str, message: &str) {
        self.state.push_faults(
            FaultTarget::Sts,
            count,
            Fault::Error {
                status,
                code: code.to_owned(),
                message: message.to_owned(),
            },
        );
    }

    /// Drops every pending fault (both APIs).
    pub fn clear_faults(&self) {
        self.state.clear_faults();
    }

    /// PEM of the CA that signs the issued client certificates and, in TLS mode, the server
    /// certificate (also the kubeconfig's `certificate-authority-data`).
    pub fn ca_pem(&self) -> String {
        self.state.ca.pem().to_owned()
    }

    /// `DescribeClusterUserKubeconfig` requests received (`GET /k8s/*/user_config`), any outcome.
    pub fn request_count(&self) -> usize {
        self.state.requests()
    }

    /// Successful issues (HTTP 200 answers).
    pub fn issued_count(&self) -> usize {
        self.state.issued()
    }

    /// The most recent requests (any route, at most [`RECORDED_REQUESTS_CAP`]), oldest first,
    /// with the status and code they got.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.recorded()
    }

    /// Accepts (or replaces the secret of) an AccessKey while running.
    pub fn add_access_key(&self, id: &str, secret: &str) {
        self.state.add_key(id, secret);
    }

    /// Registers a security token for an AccessKey (adding the key if needed). Requests with
    /// `x-acs-security-token` must carry one of the key's registered tokens; ids starting with
    /// `STS.` must carry one.
    pub fn add_security_token(&self, id: &str, secret: &str, token: &str) {
        self.state.add_token(id, secret, token);
    }

    /// Sets the API server URLs written into kubeconfigs (public, and private for
    /// `PrivateIpAddress=true`). Defaults: [`DEFAULT_PUBLIC_SERVER`], [`DEFAULT_PRIVATE_SERVER`];
    /// with [`EmulatorConfig::kube_api`], the kube listener as `https://127.0.0.1:PORT` (public)
    /// and `https://localhost:PORT` (private: distinguishable, and it works too).
    pub fn set_api_servers(&self, public: &str, private: &str) {
        self.state
            .set_api_servers(public.to_owned(), private.to_owned());
    }

    /// Makes the next `count` `DescribeClusterUserKubeconfig` requests fail with this status and
    /// code (CS error shape), before any other check: e.g. `(1, 400, "Throttling.User", ...)` or
    /// `(1, 503, "ServiceUnavailable", ...)`. They still count in [`Emulator::request_count`].
    pub fn fail_next(&self, count: usize, status: u16, code: &str, message: &str) {
        self.state.push_faults(
            FaultTarget::Ack,
            count,
            Fault::Error {
                status,
                code: code.to_owned(),
                message: message.to_owned(),
            },
        );
    }

    /// The CloudSSO portal's settings (accepted access token, its expiry, STS lifetime).
    pub fn sso_settings(&self) -> SsoSettings {
        sso::lock(&self.state.sso).settings.clone()
    }

    /// Replaces the CloudSSO portal's settings (e.g. an access token that expired).
    pub fn configure_sso(&self, settings: SsoSettings) {
        sso::lock(&self.state.sso).settings = settings;
    }

    /// Makes the next `count` `/cloud-credentials` requests fail with this status and
    /// `ErrorCode`, before any check.
    pub fn fail_next_sso(&self, count: usize, status: u16, code: &str, message: &str) {
        let error = sso::QueuedError {
            status,
            code: code.to_owned(),
            message: message.to_owned(),
        };
        sso::lock(&self.state.sso)
            .fail_next
            .extend(std::iter::repeat_n(error, count));
    }

    /// `/cloud-credentials` requests received, any outcome.
    pub fn sso_request_count(&self) -> usize {
        sso::lock(&self.state.sso).requests
    }

    /// Credentials the CloudSSO portal handed out.
    pub fn sso_issued_count(&self) -> usize {
        sso::lock(&self.state.sso).issued
    }

    /// Sets the OAuth server's tokens and settings: `settings.access_token` is accepted until
    /// its expiry, `settings.refresh_token` replaces the current refresh token. Access tokens
    /// issued before stay valid until they expire.
    pub fn configure_oauth(&self, settings: OAuthSettings) {
        sso::lock(&self.state.oauth).apply(settings);
    }

    /// The refresh token `/v1/token` accepts now (it rotates with every refresh).
    pub fn oauth_refresh_token(&self) -> Option<String> {
        sso::lock(&self.state.oauth).refresh_token.clone()
    }

    /// Every access token known so far expires now (`/v1/exchange` answers `expired_token`).
    pub fn expire_oauth_access_tokens(&self) {
        let now = chrono::Utc::now().timestamp();
        for expiry in sso::lock(&self.state.oauth).access_tokens.values_mut() {
            *expiry = (*expiry).min(now);
        }
    }

    /// Makes the next `count` requests of `call` fail with this status and `error` code.
    pub fn fail_next_oauth(
        &self,
        call: OAuthCall,
        count: usize,
        status: u16,
        code: &str,
        message: &str,
    ) {
        let error = sso::QueuedError {
            status,
            code: code.to_owned(),
            message: message.to_owned(),
        };
        let mut oauth = sso::lock(&self.state.oauth);
        let queue = match call {
            OAuthCall::Token => &mut oauth.fail_token,
            OAuthCall::Exchange => &mut oauth.fail_exchange,
        };
        queue.extend(std::iter::repeat_n(error, count));
    }

    /// `/v1/token` requests received, any outcome.
    pub fn oauth_token_request_count(&self) -> usize {
        sso::lock(&self.state.oauth).token_requests
    }

    /// `/v1/exchange` requests received, any outcome.
    pub fn oauth_exchange_request_count(&self) -> usize {
        sso::lock(&self.state.oauth).exchange_requests
    }

    /// Credentials `/v1/exchange` handed out.
    pub fn oauth_issued_count(&self) -> usize {
        sso::lock(&self.state.oauth).issued
    }

    /// Logs one line per request to stderr (method, path, status, code; never secrets).
    pub fn set_request_log(&self, enabled: bool) {
        self.state.log_requests.store(enabled, Ordering::Relaxed);
    }

    /// Stops the server and waits until its thread has finished.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(stopped) = self.stopped.take() {
            let _ = stopped.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Starts the server thread; the first receiver reports the bound address (or the error).
fn spawn(addr: SocketAddr, config: EmulatorConfig) -> Result<Startup, EmulatorError> {
    let (ready_tx, ready_rx) = oneshot::channel();
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (stopped_tx, stopped_rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("ack-ram-emulator".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("ack-ram-emulator-worker")
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(EmulatorError::Io(e)));
                    return;
                }
            };
            runtime.block_on(async move {
                let started = async {
                    let ca = ca::Ca::generate()?;
                    let state = Arc::new(State::new(
                        &config.access_keys,
                        config.clusters.clone(),
                        config.response_delay,
                        config.tls,
                        config.roles.clone(),
                        ca,
                    ));
                    let tls = if config.tls {
                        Some(server::tls_acceptor(&state)?)
                    } else {
                        None
                    };
                    let listener = tokio::net::TcpListener::bind(addr).await?;
                    let local_addr = listener.local_addr()?;
                    let kube = if config.kube_api {
                        let kube_tls = kube::kube_tls(&state)?;
                        let kube_addr = config
                            .kube_api_addr
                            .unwrap_or_else(|| SocketAddr::new(local_addr.ip(), 0));
                        let kube_listener = tokio::net::TcpListener::bind(kube_addr).await?;
                        let kube_addr = kube_listener.local_addr()?;
                        let endpoint = format!("https://{}", connectable(kube_addr));
                        let private = match connectable(kube_addr).ip() {
                            IpAddr::V4(ip) if ip.is_loopback() => {
                                format!("https://localhost:{}", kube_addr.port())
                            }
                            _ => endpoint.clone(),
                        };
                        state.set_api_servers(endpoint.clone(), private);
                        state.set_kube_endpoint(endpoint);
                        Some((kube_listener, kube_tls, kube_addr))
                    } else {
                        None
                    };
                    Ok::<_, EmulatorError>((listener, tls, state, local_addr, kube))
                };
                match started.await {
                    Ok((listener, tls, state, local_addr, kube)) => {
                        let ready = Ready {
                            local_addr,
                            kube_addr: kube.as_ref().map(|(_, _, addr)| *addr),
                            state: Arc::clone(&state),
                        };
                        if ready_tx.send(Ok(ready)).is_ok() {
                            if let Some((kube_listener, kube_tls, _)) = kube {
                                tokio::spawn(kube::accept_loop(
                                    kube_listener,
                                    kube_tls,
                                    Arc::clone(&state),
                                    shutdown_rx.clone(),
                                ));
                            }
                            server::accept_loop(listener, tls, state, shutdown_rx).await;
                        }
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
            // Drops open connections too.
            runtime.shutdown_background();
            let _ = stopped_tx.send(());
        })?;
    Ok((ready_rx, shutdown_tx, stopped_rx))
}

/// The address to connect to for a listener bound to `addr` (unspecified → loopback).
fn connectable(addr: SocketAddr) -> SocketAddr {
    let host = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(host, addr.port())
}

/// The 16-digit account uid the emulator associates with an AccessKey id (the client
/// certificate's CN and the kubeconfig user): derived from SHA-1 of the id, so it is stable.
pub fn account_uid(access_key_id: &str) -> String {
    let digest = Sha1::digest(access_key_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let n = u64::from_be_bytes(first) % 9_000_000_000_000_000 + 1_000_000_000_000_000;
    n.to_string()
}

/// An upper-case UUID-looking request id (`8-4-4-4-12` hex digits).
pub(crate) fn request_id() -> String {
    let mut b = [0u8; 16];
    if random_bytes(&mut b).is_err() {
        // Only an identifier: fall back to the clock rather than failing the response.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        b = nanos.to_be_bytes();
    }
    let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<(), EmulatorError> {
    getrandom::fill(buf).map_err(|e| EmulatorError::Random(e.to_string()))
}

#[cfg(test)]
mod tests;
