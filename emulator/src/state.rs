//! Shared, thread-safe state of one running emulator.
//!
//! Kept in one place so the HTTP layers (main and kube listeners), the API checks and the public
//! [`crate::Emulator`] handle (counters, keys registered at run time or minted by `AssumeRole`,
//! nonces, fault queues, request logs) all see the same data. Locks are held only for short, non-async sections; a poisoned lock is recovered
//! (the data stays consistent: every section is a single insert/remove).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::api::MAX_CLOCK_SKEW;
use crate::ca::Ca;
use crate::faults::{AnswerFault, Fault, FaultQueue, FaultTarget};
use crate::identity::Principal;
use crate::kube::KubeRequest;

/// How many requests [`crate::Emulator::requests`] keeps (the most recent ones).
pub const RECORDED_REQUESTS_CAP: usize = 1000;

/// Public API server addresses written into kubeconfigs by default.
pub const DEFAULT_PUBLIC_SERVER: &str = "https://127.0.0.1:6443";
/// Private (`PrivateIpAddress=true`) API server address written by default.
pub const DEFAULT_PRIVATE_SERVER: &str = "https://192.168.0.10:6443";

/// One request as the emulator saw it, with its outcome (for test assertions).
///
/// Headers are recorded verbatim, including `authorization` and `x-acs-security-token`: this is
/// a test fixture holding only test credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path as sent.
    pub path: String,
    /// Raw query as sent (without `?`, empty when none).
    pub query: String,
    /// Headers, names lower-case, in arrival order.
    pub headers: Vec<(String, String)>,
    /// HTTP status answered.
    pub status: u16,
    /// `OK` or the error code answered.
    pub code: String,
}

#[derive(Debug, Clone)]
pub(crate) struct KeyEntry {
    pub secret: String,
    pub tokens: Vec<String>,
    pub principal: Principal,
    /// End of validity (temporary keys minted by `AssumeRole`).
    pub expires: Option<DateTime<Utc>>,
}

impl KeyEntry {
    fn user(secret: &str) -> KeyEntry {
        KeyEntry {
            secret: secret.to_owned(),
            tokens: Vec::new(),
            principal: Principal::User,
            expires: None,
        }
    }
}

/// Nonces seen recently (one store per API: ROA and RPC nonces are separate namespaces).
#[derive(Debug, Default)]
pub(crate) struct NonceStore {
    seen: HashSet<String>,
    order: VecDeque<(DateTime<Utc>, String)>,
}

impl NonceStore {
    fn seen(&self, nonce: &str) -> bool {
        self.seen.contains(nonce)
    }

    /// Records a nonce; false when it was already there. Nonces older than twice the accepted
    /// clock skew can no longer be replayed (their date would be rejected) and are forgotten.
    fn record(&mut self, nonce: &str, now: DateTime<Utc>) -> bool {
        while let Some((at, _)) = self.order.front() {
            if now - *at <= MAX_CLOCK_SKEW * 2 {
                break;
            }
            if let Some((_, old)) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        if !self.seen.insert(nonce.to_owned()) {
            return false;
        }
        self.order.push_back((now, nonce.to_owned()));
        true
    }
}

#[derive(Debug, Default)]
struct Faults {
    ack: FaultQueue,
    sts: FaultQueue,
}

impl Faults {
    fn queue(&mut self, target: FaultTarget) -> &mut FaultQueue {
        match target {
            FaultTarget::Ack => &mut self.ack,
            FaultTarget::Sts => &mut self.sts,
        }
    }
}

pub(crate) struct State {
    keys: RwLock<HashMap<String, KeyEntry>>,
    pub clusters: Option<HashSet<String>>,
    pub response_delay: Duration,
    pub tls: bool,
    pub ca: Ca,
    /// `None`: any well-formed role ARN may be assumed.
    pub roles: Option<HashSet<String>>,
    nonces: Mutex<NonceStore>,
    sts_nonces: Mutex<NonceStore>,
    pub requests: AtomicUsize,
    pub issued: AtomicUsize,
    pub sts_requests: AtomicUsize,
    pub sts_issued: AtomicUsize,
    pub log_requests: AtomicBool,
    api_servers: RwLock<(String, String)>,
    recorded: Mutex<VecDeque<RecordedRequest>>,
    faults: Mutex<Faults>,
    kube_endpoint: RwLock<Option<String>>,
    kube_requests: Mutex<VecDeque<KubeRequest>>,
    kube_count: AtomicUsize,
    /// When the emulator started (creation time of the fake namespaces).
    pub started_at: DateTime<Utc>,
    /// The CloudSSO portal ([`crate::sso`]).
    pub sso: Mutex<crate::sso::SsoState>,
    /// The OAuth server ([`crate::oauth`]).
    pub oauth: Mutex<crate::oauth::OAuthState>,
    /// What `DescribeClustersV1` lists ([`crate::clusters`]).
    pub catalog: Mutex<crate::clusters::Catalog>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    pub fn new(
        access_keys: &[(String, String)],
        clusters: Option<Vec<String>>,
        response_delay: Duration,
        tls: bool,
        roles: Option<Vec<String>>,
        ca: Ca,
    ) -> State {
        let keys = access_keys
            .iter()
            .map(|(id, secret)| (id.clone(), KeyEntry::user(secret)))
            .collect();
        let catalog = crate::clusters::Catalog::new(clusters.as_deref());
        State {
            keys: RwLock::new(keys),
            clusters: clusters.map(|c| c.into_iter().collect()),
            response_delay,
            tls,
            ca,
            roles: roles.map(|r| r.into_iter().collect()),
            nonces: Mutex::new(NonceStore::default()),
            sts_nonces: Mutex::new(NonceStore::default()),
            requests: AtomicUsize::new(0),
            issued: AtomicUsize::new(0),
            sts_requests: AtomicUsize::new(0),
            sts_issued: AtomicUsize::new(0),
            log_requests: AtomicBool::new(false),
            api_servers: RwLock::new((
                DEFAULT_PUBLIC_SERVER.to_owned(),
                DEFAULT_PRIVATE_SERVER.to_owned(),
            )),
            recorded: Mutex::new(VecDeque::new()),
            faults: Mutex::new(Faults::default()),
            kube_endpoint: RwLock::new(None),
            kube_requests: Mutex::new(VecDeque::new()),
            kube_count: AtomicUsize::new(0),
            started_at: Utc::now(),
            sso: Mutex::new(crate::sso::SsoState::default()),
            oauth: Mutex::new(crate::oauth::OAuthState::default()),
            catalog: Mutex::new(catalog),
        }
    }

    pub fn key(&self, id: &str) -> Option<KeyEntry> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    pub fn add_key(&self, id: &str, secret: &str) {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        keys.entry(id.to_owned())
            .and_modify(|k| k.secret = secret.to_owned())
            .or_insert_with(|| KeyEntry::user(secret));
    }

    /// Registers a temporary key minted by `AssumeRole`.
    pub fn add_temporary_key(
        &self,
        id: &str,
        secret: &str,
        token: &str,
        principal: Principal,
        expires: DateTime<Utc>,
    ) {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        keys.insert(
            id.to_owned(),
            KeyEntry {
                secret: secret.to_owned(),
                tokens: vec![token.to_owned()],
                principal,
                expires: Some(expires),
            },
        );
    }

    pub fn add_token(&self, id: &str, secret: &str, token: &str) {
        self.add_key(id, secret);
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = keys
            .get_mut(id)
            .filter(|entry| !entry.tokens.iter().any(|t| t == token))
        {
            entry.tokens.push(token.to_owned());
        }
    }

    pub fn nonce_seen(&self, nonce: &str) -> bool {
        lock(&self.nonces).seen(nonce)
    }

    /// Records a ROA nonce; false when it was already there.
    pub fn record_nonce(&self, nonce: &str, now: DateTime<Utc>) -> bool {
        lock(&self.nonces).record(nonce, now)
    }

    pub fn sts_nonce_seen(&self, nonce: &str) -> bool {
        lock(&self.sts_nonces).seen(nonce)
    }

    /// Records an STS RPC nonce; false when it was already there.
    pub fn record_sts_nonce(&self, nonce: &str, now: DateTime<Utc>) -> bool {
        lock(&self.sts_nonces).record(nonce, now)
    }

    pub fn api_servers(&self) -> (String, String) {
        self.api_servers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn set_api_servers(&self, public: String, private: String) {
        *self
            .api_servers
            .write()
            .unwrap_or_else(PoisonError::into_inner) = (public, private);
    }

    pub fn push_faults(&self, target: FaultTarget, count: usize, fault: Fault) {
        lock(&self.faults).queue(target).push(count, fault);
    }

    /// Faults for the next answer of `target`: (extra delay, answer fault).
    pub fn take_faults(&self, target: FaultTarget) -> (Duration, Option<AnswerFault>) {
        lock(&self.faults).queue(target).take()
    }

    pub fn clear_faults(&self) {
        let mut faults = lock(&self.faults);
        faults.ack.clear();
        faults.sts.clear();
    }

    /// Pending (answer faults, delays) of `target`.
    pub fn pending_faults(&self, target: FaultTarget) -> (usize, usize) {
        let mut faults = lock(&self.faults);
        let q = faults.queue(target);
        (q.answers.len(), q.delays.len())
    }

    pub fn kube_endpoint(&self) -> Option<String> {
        self.kube_endpoint
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn set_kube_endpoint(&self, endpoint: String) {
        *self
            .kube_endpoint
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(endpoint);
    }

    pub fn record_kube(&self, request: KubeRequest) {
        self.kube_count.fetch_add(1, Ordering::SeqCst);
        let mut recorded = lock(&self.kube_requests);
        if recorded.len() >= RECORDED_REQUESTS_CAP {
            recorded.pop_front();
        }
        recorded.push_back(request);
    }

    pub fn kube_requests(&self) -> Vec<KubeRequest> {
        lock(&self.kube_requests).iter().cloned().collect()
    }

    pub fn kube_request_count(&self) -> usize {
        self.kube_count.load(Ordering::SeqCst)
    }

    pub fn record(&self, request: RecordedRequest) {
        let mut recorded = lock(&self.recorded);
        if recorded.len() >= RECORDED_REQUESTS_CAP {
            recorded.pop_front();
        }
        recorded.push_back(request);
    }

    pub fn recorded(&self) -> Vec<RecordedRequest> {
        lock(&self.recorded).iter().cloned().collect()
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    pub fn issued(&self) -> usize {
        self.issued.load(Ordering::SeqCst)
    }
}
