//! Credentials of the ECS instance's RAM role, from the ECS instance metadata service (IMDS,
//! `credential-sources.md` §6).
//!
//! The metadata service is link-local and answers in microseconds on an instance, and not at
//! all anywhere else. The Go tool gave each request four attempts of 30 s with growing sleeps
//! and sent it through `HTTP_PROXY` (`reference/README.md` item 12), so a laptop that strayed
//! into this source hung for minutes. Here every request has a short timeout and few attempts,
//! retries are reserved for failures that can pass (refused or reset connections, read
//! timeouts, 5xx), a connect timeout is taken as "not an ECS instance" at once, the client never
//! uses a proxy, and the failure says where this source works.
//!
//! IMDSv2 is used when available: a session token from `PUT /latest/api/token`, sent on every
//! read. An instance that refuses tokens (403 or 404) is read with IMDSv1, and that refusal is
//! remembered for the life of the provider so the PUT is not repeated.

use super::credentials_uri::{ExpirationFormat, content_type, parse_credentials_document};
use crate::ack::roa::encode_path_segment;
use crate::env::Environment;
use crate::http::{Endpoint, HttpSettings, build_client, error_chain, read_body_capped};
use ack_ram_domain::ports::{AccessCredentialProvider, ProviderError};
use ack_ram_domain::{AccessCredentials, Secret};
use async_trait::async_trait;
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where the metadata service listens on every ECS instance.
pub const DEFAULT_ENDPOINT: &str = "http://100.100.100.200";

const SOURCE: &str = "ECS instance metadata (IMDS)";
const TOKEN_PATH: &str = "/latest/api/token";
const ROLES_PATH: &str = "/latest/meta-data/ram/security-credentials/";
const TOKEN_TTL_HEADER: &str = "X-aliyun-ecs-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "X-aliyun-ecs-metadata-token";
const TOKEN_TTL_SECONDS: u64 = 3600;
/// A token is reused until `0.8 × TTL − 60 s` after it was fetched, as the Go SDK does.
const TOKEN_REUSE: Duration = Duration::from_secs(TOKEN_TTL_SECONDS * 8 / 10 - 60);
/// Pause between attempts.
const BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait for a TCP connection; a link-local service connects in well under a millisecond.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Largest answer read; metadata answers are a few hundred bytes.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// How to reach the metadata service and which role to ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImdsConfig {
    /// Base URL of the metadata service.
    pub endpoint: String,
    /// The instance's RAM role; discovered from the metadata service when `None`.
    pub role_name: Option<String>,
    /// Skip the IMDSv2 session token (`ALIBABA_CLOUD_IMDSV2_DISABLED`).
    pub v2_disabled: bool,
    /// Time allowed for one request.
    pub timeout: Duration,
    /// Attempts per request (at least one is always made).
    pub attempts: u32,
}

impl Default for ImdsConfig {
    fn default() -> Self {
        Self {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            role_name: None,
            v2_disabled: false,
            timeout: Duration::from_secs(1),
            attempts: 2,
        }
    }
}

impl ImdsConfig {
    /// Settings from `ALIBABA_CLOUD_IMDS_ENDPOINT`, `ALIBABA_CLOUD_ECS_METADATA` (the role name)
    /// and `ALIBABA_CLOUD_IMDSV2_DISABLED` (Go's true spellings: 1, t, T, TRUE, true, True). An
    /// explicit, non-empty `role_name` wins over the environment.
    pub fn from_env(env: &Environment, role_name: Option<String>) -> Self {
        let endpoint = env
            .get("ALIBABA_CLOUD_IMDS_ENDPOINT")
            .map(|e| e.trim().trim_end_matches('/'))
            .filter(|e| !e.is_empty())
            .unwrap_or(DEFAULT_ENDPOINT)
            .to_owned();
        let role_name = role_name
            .filter(|r| !r.trim().is_empty())
            .or_else(|| env.get("ALIBABA_CLOUD_ECS_METADATA").map(str::to_owned));
        let v2_disabled = matches!(
            env.get("ALIBABA_CLOUD_IMDSV2_DISABLED"),
            Some("1" | "t" | "T" | "TRUE" | "true" | "True")
        );
        Self {
            endpoint,
            role_name,
            v2_disabled,
            ..Self::default()
        }
    }
}

/// What this provider knows about IMDSv2 on this instance.
enum TokenState {
    /// Not asked yet, or the last token is too old.
    Unknown,
    /// The instance refused a token (403/404): read with IMDSv1 from now on.
    Refused,
    /// A session token, reusable until the instant.
    Held(Secret, Instant),
}

/// Reads the ECS instance's RAM role credentials from the metadata service.
pub struct ImdsProvider {
    config: ImdsConfig,
    endpoint: Endpoint,
    http: reqwest::Client,
    token: Mutex<TokenState>,
}

/// How one request ended, before it is turned into a message.
enum Failure {
    /// No answer: the service could not be reached, or stalled.
    Unreachable(String),
    /// Anything else, already worded.
    Other(String),
}

impl ImdsProvider {
    /// A provider with its own HTTP client: no proxy, short timeouts.
    pub fn new(config: ImdsConfig, user_agent: &str) -> Result<Self, ProviderError> {
        let raw = config.endpoint.trim();
        let with_scheme = if raw.contains("://") {
            raw.to_owned()
        } else {
            // A bare host means the metadata service's own scheme, plain HTTP.
            format!("http://{raw}")
        };
        let endpoint = Endpoint::parse(&with_scheme).map_err(|e| {
            failed(format!(
                "{e} (the metadata endpoint comes from ALIBABA_CLOUD_IMDS_ENDPOINT)"
            ))
        })?;
        let http =
            build_client(&http_settings(&config, user_agent)).map_err(|e| failed(e.to_string()))?;
        Ok(Self {
            config,
            endpoint,
            http,
            token: Mutex::new(TokenState::Unknown),
        })
    }

    async fn fetch(&self) -> Result<AccessCredentials, ProviderError> {
        let token = self.session_token().await?;
        let role = match &self.config.role_name {
            Some(role) => role.clone(),
            None => self.discover_role(token.as_ref()).await?,
        };
        let path = format!("{ROLES_PATH}{}", encode_path_segment(&role));
        let (status, content_type, body) = self.send(Method::GET, &path, token.as_ref()).await?;
        match status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => {
                return Err(failed(format!(
                    "the RAM role {role:?} is not attached to this ECS instance (HTTP 404 for GET {path}); attach it, or leave the role name unset to use the attached role"
                )));
            }
            _ => return Err(self.unexpected(status, "GET", &path)),
        }
        let credentials =
            parse_credentials_document(&body, ExpirationFormat::Rfc3339).map_err(|e| {
                failed(format!(
                    "the credentials of RAM role {role:?} from {} are not usable: {}",
                    self.endpoint,
                    e.describe(&content_type, body.len())
                ))
            })?;
        tracing::debug!(
            endpoint = %self.endpoint,
            role,
            access_key_id = %credentials.access_key_id,
            expiration = ?credentials.expiration,
            "got the ECS instance role's credentials"
        );
        Ok(credentials)
    }

    /// The IMDSv2 token to send, or `None` for IMDSv1.
    async fn session_token(&self) -> Result<Option<Secret>, ProviderError> {
        if self.config.v2_disabled {
            return Ok(None);
        }
        match &*self.lock_token() {
            TokenState::Refused => return Ok(None),
            TokenState::Held(token, until) if Instant::now() < *until => {
                return Ok(Some(token.clone()));
            }
            _ => {}
        }
        let fetched_at = Instant::now();
        let (status, _, body) = self.send(Method::PUT, TOKEN_PATH, None).await?;
        match status {
            StatusCode::OK => {
                let token = Secret::new(String::from_utf8_lossy(&body).trim());
                if token.is_empty() {
                    return Err(failed(format!(
                        "the metadata service at {} answered PUT {TOKEN_PATH} with an empty token; set ALIBABA_CLOUD_IMDSV2_DISABLED=true to read it without one",
                        self.endpoint
                    )));
                }
                tracing::debug!(endpoint = %self.endpoint, "got an IMDSv2 session token");
                *self.lock_token() = TokenState::Held(token.clone(), fetched_at + TOKEN_REUSE);
                Ok(Some(token))
            }
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {
                tracing::debug!(
                    endpoint = %self.endpoint,
                    status = status.as_u16(),
                    "IMDSv2 session token refused; using IMDSv1"
                );
                *self.lock_token() = TokenState::Refused;
                Ok(None)
            }
            _ => Err(self.unexpected(status, "PUT", TOKEN_PATH)),
        }
    }

    /// The name of the RAM role attached to the instance.
    async fn discover_role(&self, token: Option<&Secret>) -> Result<String, ProviderError> {
        let (status, _, body) = self.send(Method::GET, ROLES_PATH, token).await?;
        let no_role = || {
            failed(format!(
                "this ECS instance has no RAM role attached (HTTP {} for GET {ROLES_PATH} at {}); attach a RAM role to the instance, or use another credential source",
                status.as_u16(),
                self.endpoint
            ))
        };
        match status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Err(no_role()),
            _ => return Err(self.unexpected(status, "GET", ROLES_PATH)),
        }
        let listing = String::from_utf8_lossy(&body);
        let mut roles = listing.lines().map(str::trim).filter(|l| !l.is_empty());
        let role = roles.next().ok_or_else(no_role)?.to_owned();
        let others = roles.count();
        if others > 0 {
            tracing::debug!(
                role,
                others,
                "the metadata service lists several RAM roles; using the first"
            );
        } else {
            tracing::debug!(role, "discovered the instance's RAM role");
        }
        Ok(role)
    }

    /// Sends one request with the configured attempts; answers with the status, content type
    /// and body of the last attempt.
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&Secret>,
    ) -> Result<(StatusCode, String, Vec<u8>), ProviderError> {
        let attempts = self.config.attempts.max(1);
        let mut attempt = 1;
        loop {
            let result = self.attempt(method.clone(), path, token).await;
            let retry = match &result {
                Ok((status, ..)) => status.is_server_error(),
                Err((_, transient)) => *transient,
            };
            if !retry || attempt >= attempts {
                return result.map_err(|(failure, _)| {
                    let after = if attempt > 1 {
                        format!(" (after {attempt} attempts)")
                    } else {
                        String::new()
                    };
                    match failure {
                        Failure::Unreachable(why) => failed(format!(
                            "could not reach the ECS metadata service at {}: {why}{after}; this works only on an ECS instance (or set ALIBABA_CLOUD_IMDS_ENDPOINT)",
                            self.endpoint
                        )),
                        Failure::Other(why) => failed(format!("{why}{after}")),
                    }
                });
            }
            tracing::debug!(%method, path, attempt, "metadata request failed; retrying");
            tokio::time::sleep(BACKOFF).await;
            attempt += 1;
        }
    }

    /// One request. An error says whether trying again may help.
    async fn attempt(
        &self,
        method: Method,
        path: &str,
        token: Option<&Secret>,
    ) -> Result<(StatusCode, String, Vec<u8>), (Failure, bool)> {
        let mut request = self
            .http
            .request(method.clone(), self.endpoint.url_for(path));
        if method == Method::PUT {
            request = request.header(TOKEN_TTL_HEADER, TOKEN_TTL_SECONDS.to_string());
        }
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(token.expose()).map_err(|_| {
                let why = "the IMDSv2 session token contains characters not allowed in a header";
                (Failure::Other(why.to_owned()), false)
            })?;
            value.set_sensitive(true);
            request = request.header(TOKEN_HEADER, value);
        }
        tracing::debug!(endpoint = %self.endpoint, %method, path, "asking the metadata service");
        let response = request.send().await.map_err(|e| {
            // A connect timeout means nothing answers at this address: not an ECS instance.
            let transient = !(e.is_connect() && e.is_timeout());
            (Failure::Unreachable(error_chain(&e)), transient)
        })?;
        let status = response.status();
        let content_type = content_type(&response);
        let body = read_body_capped(response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| match e {
                crate::http::BodyError::TooLarge { .. } => (
                    Failure::Other(format!(
                        "the metadata service at {} answered {method} {path} with more than {} KiB",
                        self.endpoint,
                        MAX_RESPONSE_BYTES / 1024
                    )),
                    false,
                ),
                crate::http::BodyError::Read(_) => (Failure::Unreachable(e.to_string()), true),
            })?;
        tracing::debug!(
            %method,
            path,
            status = status.as_u16(),
            bytes = body.len(),
            "metadata service answered"
        );
        Ok((status, content_type, body))
    }

    fn unexpected(&self, status: StatusCode, method: &str, path: &str) -> ProviderError {
        failed(format!(
            "the metadata service at {} answered HTTP {} to {method} {path}",
            self.endpoint,
            status.as_u16()
        ))
    }

    fn lock_token(&self) -> std::sync::MutexGuard<'_, TokenState> {
        // The state is a plain value; a panic elsewhere cannot leave it half-written.
        self.token.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl AccessCredentialProvider for ImdsProvider {
    async fn provide(&self) -> Result<AccessCredentials, ProviderError> {
        self.fetch().await
    }
}

/// The client settings: never a proxy, and timeouts sized for a link-local service.
fn http_settings(config: &ImdsConfig, user_agent: &str) -> HttpSettings {
    let timeout = if config.timeout.is_zero() {
        ImdsConfig::default().timeout
    } else {
        config.timeout
    };
    HttpSettings {
        connect_timeout: timeout.min(MAX_CONNECT_TIMEOUT),
        timeout,
        user_agent: user_agent.to_owned(),
        proxy: Ok(crate::proxy::ProxyPolicy::none()),
    }
}

fn failed(message: String) -> ProviderError {
    ProviderError::Failed {
        source_name: SOURCE.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Environment {
        vars.iter().copied().collect()
    }

    #[test]
    fn the_client_never_uses_a_proxy_and_times_out_fast() {
        let s = http_settings(&ImdsConfig::default(), "ua");
        assert_eq!(s.proxy, Ok(crate::proxy::ProxyPolicy::none()));
        assert_eq!(s.timeout, Duration::from_secs(1));
        assert!(s.connect_timeout <= Duration::from_millis(500));
        let zero = ImdsConfig {
            timeout: Duration::ZERO,
            ..ImdsConfig::default()
        };
        assert_eq!(http_settings(&zero, "ua").timeout, Duration::from_secs(1));
    }

    #[test]
    fn defaults() {
        let c = ImdsConfig::from_env(&env(&[]), None);
        assert_eq!(c, ImdsConfig::default());
        assert_eq!(c.endpoint, "http://100.100.100.200");
        assert_eq!(c.attempts, 2);
    }

    #[test]
    fn environment_and_explicit_role() {
        let e = env(&[
            ("ALIBABA_CLOUD_IMDS_ENDPOINT", "http://127.0.0.1:8080/"),
            ("ALIBABA_CLOUD_ECS_METADATA", "env-role"),
        ]);
        let c = ImdsConfig::from_env(&e, None);
        assert_eq!(c.endpoint, "http://127.0.0.1:8080");
        assert_eq!(c.role_name.as_deref(), Some("env-role"));
        let c = ImdsConfig::from_env(&e, Some("explicit".into()));
        assert_eq!(c.role_name.as_deref(), Some("explicit"));
        let c = ImdsConfig::from_env(&e, Some(String::new()));
        assert_eq!(c.role_name.as_deref(), Some("env-role"));
    }

    #[test]
    fn v2_switch_uses_go_bool_spellings() {
        for yes in ["1", "t", "T", "TRUE", "true", "True"] {
            let c = ImdsConfig::from_env(&env(&[("ALIBABA_CLOUD_IMDSV2_DISABLED", yes)]), None);
            assert!(c.v2_disabled, "{yes}");
        }
        for no in ["0", "false", "yes", "on", "tRue", ""] {
            let c = ImdsConfig::from_env(&env(&[("ALIBABA_CLOUD_IMDSV2_DISABLED", no)]), None);
            assert!(!c.v2_disabled, "{no}");
        }
    }

    #[test]
    fn bare_host_endpoint_means_http_and_bad_ones_are_named() {
        let p = ImdsProvider::new(
            ImdsConfig {
                endpoint: "100.100.100.200".into(),
                ..ImdsConfig::default()
            },
            "ua",
        );
        assert_eq!(
            p.map(|p| p.endpoint.to_string()).ok().as_deref(),
            Some("http://100.100.100.200")
        );
        let e = ImdsProvider::new(
            ImdsConfig {
                endpoint: "ftp://x".into(),
                ..ImdsConfig::default()
            },
            "ua",
        );
        assert!(
            matches!(&e, Err(ProviderError::Failed { source_name, message })
                if source_name == SOURCE && message.contains("ALIBABA_CLOUD_IMDS_ENDPOINT")),
            "{:?}",
            e.err()
        );
    }
}
