//! Shared, thread-safe state of one running emulator.
//!
//! Kept in one place so the HTTP layer, the API checks and the public [`crate::Emulator`]
//! handle (counters, runtime registration of keys, fault injection, request log) all see the
//! same data. Locks are held only for short, non-async sections; a poisoned lock is recovered
//! (the data stays consistent: every section is a single insert/remove).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::api::{ApiError, MAX_CLOCK_SKEW};
use crate::ca::Ca;

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
}

#[derive(Debug, Default)]
struct NonceStore {
    seen: HashSet<String>,
    order: VecDeque<(DateTime<Utc>, String)>,
}

pub(crate) struct State {
    keys: RwLock<HashMap<String, KeyEntry>>,
    pub clusters: Option<HashSet<String>>,
    pub response_delay: Duration,
    pub tls: bool,
    pub ca: Ca,
    nonces: Mutex<NonceStore>,
    pub requests: AtomicUsize,
    pub issued: AtomicUsize,
    pub log_requests: AtomicBool,
    api_servers: RwLock<(String, String)>,
    recorded: Mutex<VecDeque<RecordedRequest>>,
    faults: Mutex<VecDeque<ApiError>>,
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
        ca: Ca,
    ) -> State {
        let keys = access_keys
            .iter()
            .map(|(id, secret)| {
                (
                    id.clone(),
                    KeyEntry {
                        secret: secret.clone(),
                        tokens: Vec::new(),
                    },
                )
            })
            .collect();
        State {
            keys: RwLock::new(keys),
            clusters: clusters.map(|c| c.into_iter().collect()),
            response_delay,
            tls,
            ca,
            nonces: Mutex::new(NonceStore::default()),
            requests: AtomicUsize::new(0),
            issued: AtomicUsize::new(0),
            log_requests: AtomicBool::new(false),
            api_servers: RwLock::new((
                DEFAULT_PUBLIC_SERVER.to_owned(),
                DEFAULT_PRIVATE_SERVER.to_owned(),
            )),
            recorded: Mutex::new(VecDeque::new()),
            faults: Mutex::new(VecDeque::new()),
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
            .or_insert_with(|| KeyEntry {
                secret: secret.to_owned(),
                tokens: Vec::new(),
            });
    }

    pub fn add_token(&self, id: &str, secret: &str, token: &str) {
        self.add_key(id, secret);
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = keys.get_mut(id) {
            if !entry.tokens.iter().any(|t| t == token) {
                entry.tokens.push(token.to_owned());
            }
        }
    }

    pub fn nonce_seen(&self, nonce: &str) -> bool {
        lock(&self.nonces).seen.contains(nonce)
    }

    /// Records a nonce; false when it was already there. Nonces older than twice the accepted
    /// clock skew can no longer be replayed (their date would be rejected) and are forgotten.
    pub fn record_nonce(&self, nonce: &str, now: DateTime<Utc>) -> bool {
        let mut store = lock(&self.nonces);
        while let Some((at, _)) = store.order.front() {
            if now - *at <= MAX_CLOCK_SKEW * 2 {
                break;
            }
            if let Some((_, old)) = store.order.pop_front() {
                store.seen.remove(&old);
            }
        }
        if !store.seen.insert(nonce.to_owned()) {
            return false;
        }
        store.order.push_back((now, nonce.to_owned()));
        true
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

    pub fn push_faults(&self, count: usize, error: ApiError) {
        let mut faults = lock(&self.faults);
        faults.extend(std::iter::repeat_n(error, count));
    }

    pub fn take_fault(&self) -> Option<ApiError> {
        lock(&self.faults).pop_front()
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
