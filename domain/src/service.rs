//! The get-credential use case: read the store, decide, issue if needed, store, serve.
//!
//! It runs in two phases so that the common case stays cheap. [`GetCredential::lookup`] is
//! synchronous and touches only the store and the clock: a cache hit needs no credentials, no
//! HTTP client and no async runtime. Only when it says a refresh is needed does the caller set
//! those up and call [`GetCredential::refresh`]. Credentials are resolved lazily, inside the
//! refresh, so a broken credential setup never stops a valid cached certificate from being served.

use crate::model::{CacheKey, CertificateLifetime, ClusterCredential};
use crate::policy::{self, Freshness};
use crate::ports::{
    AccessCredentialProvider, Clock, ClusterCredentialIssuer, CredentialStore, IssueError,
    IssueRequest, LockError, ProviderError, StoreError,
};
use chrono::{DateTime, Duration, Utc};

/// One get-credential request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetCredentialRequest {
    /// Where the credential is cached, and for which cluster.
    pub key: CacheKey,
    /// The lifetime to request and to judge freshness by.
    pub lifetime: CertificateLifetime,
}

/// Why a refresh is needed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshReason {
    /// Nothing usable is cached.
    NotCached,
    /// The store could not be read (treated as a miss).
    StoreUnreadable(StoreError),
    /// The cached certificate has expired.
    Expired,
    /// The cached certificate is inside the refresh window.
    RefreshDue { remaining: Duration },
}

/// The result of the cheap first phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Serve this cached certificate.
    Hit(ClusterCredential),
    /// Fetch a new one; `fallback` is a still-valid certificate to serve if that fails.
    Refresh {
        reason: RefreshReason,
        fallback: Option<ClusterCredential>,
    },
}

/// Where a served certificate came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The store, still fresh.
    Cache,
    /// The store, refreshed by another process while this one waited for the lock.
    RefreshedElsewhere,
    /// Newly issued. `store_error` says it could not be cached (it is served all the same);
    /// `unlocked` says the refresh lock could not be taken, so it ran uncoordinated.
    Issued {
        store_error: Option<StoreError>,
        unlocked: Option<StoreError>,
    },
    /// The refresh failed; this cached certificate is still valid for `remaining`.
    StaleFallback {
        refresh_error: GetCredentialError,
        remaining: Duration,
    },
}

/// A certificate to print, and how it was obtained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    /// The certificate.
    pub credential: ClusterCredential,
    /// Where it came from.
    pub origin: Origin,
}

/// Why no certificate could be served.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GetCredentialError {
    /// No usable Alibaba Cloud credentials.
    #[error("{0}")]
    Credentials(ProviderError),
    /// The ACK API did not issue a certificate.
    #[error("{0}")]
    Issue(IssueError),
    /// Another process held the refresh lock too long.
    #[error("{0}")]
    Lock(LockError),
}

/// The use case, over a store and a clock.
pub struct GetCredential<'a> {
    store: &'a dyn CredentialStore,
    clock: &'a dyn Clock,
}

impl<'a> GetCredential<'a> {
    /// Builds the use case.
    pub fn new(store: &'a dyn CredentialStore, clock: &'a dyn Clock) -> Self {
        Self { store, clock }
    }

    /// Phase one: is a fresh certificate cached?
    pub fn lookup(&self, request: &GetCredentialRequest) -> Lookup {
        let cached = match self.store.load(&request.key) {
            Ok(Some(cached)) => cached,
            Ok(None) => {
                return Lookup::Refresh {
                    reason: RefreshReason::NotCached,
                    fallback: None,
                };
            }
            Err(e) => {
                return Lookup::Refresh {
                    reason: RefreshReason::StoreUnreadable(e),
                    fallback: None,
                };
            }
        };
        match policy::assess(cached.expiration, request.lifetime, self.clock.now()) {
            Freshness::Fresh { .. } => Lookup::Hit(cached),
            Freshness::RefreshDue { remaining } => Lookup::Refresh {
                reason: RefreshReason::RefreshDue { remaining },
                fallback: Some(cached),
            },
            Freshness::Expired => Lookup::Refresh {
                reason: RefreshReason::Expired,
                fallback: None,
            },
        }
    }

    /// Phase two: take the refresh lock, look again (another process may have refreshed
    /// meanwhile), resolve credentials, issue, store, serve; fall back to a still-valid
    /// certificate when anything fails.
    pub async fn refresh(
        &self,
        request: &GetCredentialRequest,
        fallback: Option<ClusterCredential>,
        provider: &dyn AccessCredentialProvider,
        issuer: &dyn ClusterCredentialIssuer,
    ) -> Result<Served, GetCredentialError> {
        let mut fallback = fallback;
        let (_guard, unlocked) = match self.store.lock(&request.key) {
            Ok(guard) => {
                match self.lookup(request) {
                    Lookup::Hit(credential) => {
                        return Ok(Served {
                            credential,
                            origin: Origin::RefreshedElsewhere,
                        });
                    }
                    Lookup::Refresh {
                        fallback: Some(newer),
                        ..
                    } => fallback = Some(newer),
                    Lookup::Refresh { .. } => {}
                }
                (Some(guard), None)
            }
            Err(LockError::Unavailable(e)) => (None, Some(e)),
            Err(timeout @ LockError::Timeout { .. }) => {
                return self.fall_back(fallback, GetCredentialError::Lock(timeout));
            }
        };
        match self.issue(request, provider, issuer).await {
            Ok(credential) => {
                let store_error = self.store.save(&request.key, &credential).err();
                Ok(Served {
                    credential,
                    origin: Origin::Issued {
                        store_error,
                        unlocked,
                    },
                })
            }
            Err(refresh_error) => self.fall_back(fallback, refresh_error),
        }
    }

    /// Serves `fallback` if it is still valid, else returns `error`.
    fn fall_back(
        &self,
        fallback: Option<ClusterCredential>,
        error: GetCredentialError,
    ) -> Result<Served, GetCredentialError> {
        let now = self.clock.now();
        match fallback {
            Some(cached) if cached.expiration > now => Ok(Served {
                origin: Origin::StaleFallback {
                    refresh_error: error,
                    remaining: cached.expiration - now,
                },
                credential: cached,
            }),
            _ => Err(error),
        }
    }

    /// Both phases in one call.
    pub async fn execute(
        &self,
        request: &GetCredentialRequest,
        provider: &dyn AccessCredentialProvider,
        issuer: &dyn ClusterCredentialIssuer,
    ) -> Result<Served, GetCredentialError> {
        match self.lookup(request) {
            Lookup::Hit(credential) => Ok(Served {
                credential,
                origin: Origin::Cache,
            }),
            Lookup::Refresh { fallback, .. } => {
                self.refresh(request, fallback, provider, issuer).await
            }
        }
    }

    async fn issue(
        &self,
        request: &GetCredentialRequest,
        provider: &dyn AccessCredentialProvider,
        issuer: &dyn ClusterCredentialIssuer,
    ) -> Result<ClusterCredential, GetCredentialError> {
        let credentials = provider
            .provide()
            .await
            .map_err(GetCredentialError::Credentials)?;
        let issue_request = IssueRequest {
            cluster_id: request.key.cluster_id.clone(),
            lifetime: request.lifetime,
            private_address: true,
        };
        let credential = issuer
            .issue(&issue_request, &credentials)
            .await
            .map_err(GetCredentialError::Issue)?;
        let now = self.clock.now();
        if credential.expiration <= now {
            return Err(GetCredentialError::Issue(IssueError::InvalidResponse(
                format!(
                    "the new certificate's expiration {} is not in the future (local time {}); check the system clock",
                    rfc3339(credential.expiration),
                    rfc3339(now)
                ),
            )));
        }
        Ok(credential)
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccessCredentials, ApiVersion, ClusterId, IdentityInputs, Secret};
    use crate::ports::{
        MockAccessCredentialProvider, MockClock, MockClusterCredentialIssuer, MockCredentialStore,
    };

    fn now() -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::days(20000)
    }

    fn clock() -> MockClock {
        let mut c = MockClock::new();
        c.expect_now().returning(now);
        c
    }

    fn request() -> GetCredentialRequest {
        GetCredentialRequest {
            key: CacheKey {
                cluster_id: ClusterId::parse("c1234").unwrap_or_else(|e| panic!("{e}")),
                api_version: ApiVersion::V1,
                identity: IdentityInputs::default(),
            },
            lifetime: CertificateLifetime::Minutes(180),
        }
    }

    fn cert(expires_in: Duration, tag: &str) -> ClusterCredential {
        ClusterCredential {
            client_certificate_pem: format!("CERT {tag}"),
            client_key_pem: Secret::new(format!("KEY {tag}")),
            expiration: now() + expires_in,
        }
    }

    struct Guard;
    impl crate::ports::StoreLock for Guard {}

    fn store_with(content: Option<ClusterCredential>) -> MockCredentialStore {
        let mut s = MockCredentialStore::new();
        s.expect_load().returning(move |_| Ok(content.clone()));
        s.expect_lock().returning(|_| Ok(Box::new(Guard)));
        s
    }

    fn provider_ok() -> MockAccessCredentialProvider {
        let mut p = MockAccessCredentialProvider::new();
        p.expect_provide()
            .returning(|| Ok(AccessCredentials::access_key("id", Secret::new("s"))));
        p
    }

    fn issuer_returning(
        result: Result<ClusterCredential, IssueError>,
        times: usize,
    ) -> MockClusterCredentialIssuer {
        let mut i = MockClusterCredentialIssuer::new();
        i.expect_issue()
            .withf(|req, creds| {
                req.cluster_id.as_str() == "c1234"
                    && req.private_address
                    && req.lifetime == CertificateLifetime::Minutes(180)
                    && creds.access_key_id == "id"
            })
            .times(times)
            .returning(move |_, _| result.clone());
        i
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
            .block_on(f)
    }

    fn transport_error() -> IssueError {
        IssueError::Transport {
            endpoint: "https://cs.aliyuncs.com".into(),
            message: "timed out".into(),
        }
    }

    #[test]
    fn fresh_cache_is_served_without_credentials_or_api() {
        let store = store_with(Some(cert(Duration::hours(2), "old")));
        let clock = clock();
        let mut provider = MockAccessCredentialProvider::new();
        provider.expect_provide().never();
        let issuer = issuer_returning(Err(transport_error()), 0);
        let served =
            block_on(GetCredential::new(&store, &clock).execute(&request(), &provider, &issuer));
        assert_eq!(
            served,
            Ok(Served {
                credential: cert(Duration::hours(2), "old"),
                origin: Origin::Cache
            })
        );
    }

    #[test]
    fn miss_issues_and_stores() {
        let mut store = store_with(None);
        let new = cert(Duration::hours(3), "new");
        let expected = new.clone();
        store
            .expect_save()
            .withf(move |_, c| *c == expected)
            .times(1)
            .returning(|_, _| Ok(()));
        let clock = clock();
        let served = block_on(GetCredential::new(&store, &clock).execute(
            &request(),
            &provider_ok(),
            &issuer_returning(Ok(new.clone()), 1),
        ));
        assert_eq!(
            served,
            Ok(Served {
                credential: new,
                origin: Origin::Issued {
                    store_error: None,
                    unlocked: None
                }
            })
        );
    }

    #[test]
    fn refresh_due_is_refetched() {
        let mut store = store_with(Some(cert(Duration::minutes(30), "old")));
        store.expect_save().times(1).returning(|_, _| Ok(()));
        let clock = clock();
        let served = block_on(GetCredential::new(&store, &clock).execute(
            &request(),
            &provider_ok(),
            &issuer_returning(Ok(cert(Duration::hours(3), "new")), 1),
        ));
        assert_eq!(
            served.map(|s| s.credential),
            Ok(cert(Duration::hours(3), "new"))
        );
    }

    #[test]
    fn failed_refresh_serves_a_still_valid_certificate() {
        let store = store_with(Some(cert(Duration::minutes(30), "old")));
        let clock = clock();
        let served = block_on(GetCredential::new(&store, &clock).execute(
            &request(),
            &provider_ok(),
            &issuer_returning(Err(transport_error()), 1),
        ));
        assert_eq!(
            served,
            Ok(Served {
                credential: cert(Duration::minutes(30), "old"),
                origin: Origin::StaleFallback {
                    refresh_error: GetCredentialError::Issue(transport_error()),
                    remaining: Duration::minutes(30),
                }
            })
        );
    }

    #[test]
    fn failed_refresh_of_an_expired_certificate_is_an_error() {
        let store = store_with(Some(cert(Duration::minutes(-1), "old")));
        let clock = clock();
        let served = block_on(GetCredential::new(&store, &clock).execute(
            &request(),
            &provider_ok(),
            &issuer_returning(Err(transport_error()), 1),
        ));
        assert_eq!(served, Err(GetCredentialError::Issue(transport_error())));
    }

    #[test]
    fn credential_errors_stop_before_the_api() {
        let store = store_with(None);
        let clock = clock();
        let mut provider = MockAccessCredentialProvider::new();
        let err = ProviderError::NotConfigured("no credentials".into());
        let returned = err.clone();
        provider
            .expect_provide()
            .returning(move || Err(returned.clone()));
        let served = block_on(GetCredential::new(&store, &clock).execute(
            &request(),
            &provider,
            &issuer_returning(Err(transport_error()), 0),
        ));
        assert_eq!(served, Err(GetCredentialError::Credentials(err)));
    }

    #[test]
    fn unreadable_store_is_a_miss_and_a_failed_save_still_serves() {
        let mut store = MockCredentialStore::new();
        let broken = StoreError {
            operation: "read",
            location: "/x".into(),
            reason: "permission denied".into(),
        };
        let returned = broken.clone();
        store
            .expect_load()
            .returning(move |_| Err(returned.clone()));
        store.expect_lock().returning(|_| Ok(Box::new(Guard)));
        let save_error = broken.clone();
        store
            .expect_save()
            .returning(move |_, _| Err(save_error.clone()));
        let clock = clock();
        let use_case = GetCredential::new(&store, &clock);
        assert_eq!(
            use_case.lookup(&request()),
            Lookup::Refresh {
                reason: RefreshReason::StoreUnreadable(broken.clone()),
                fallback: None
            }
        );
        let served = block_on(use_case.execute(
            &request(),
            &provider_ok(),
            &issuer_returning(Ok(cert(Duration::hours(3), "new")), 1),
        ));
        assert_eq!(
            served.map(|s| s.origin),
            Ok(Origin::Issued {
                store_error: Some(broken),
                unlocked: None
            })
        );
    }

    #[test]
    fn an_already_expired_issue_is_rejected_and_not_stored() {
        let mut store = store_with(None);
        store.expect_save().never();
        let clock = clock();
        let served = block_on(GetCredential::new(&store, &clock).execute(
            &request(),
            &provider_ok(),
            &issuer_returning(Ok(cert(Duration::seconds(-5), "past")), 1),
        ));
        assert!(matches!(
            served,
            Err(GetCredentialError::Issue(IssueError::InvalidResponse(_)))
        ));
    }

    #[test]
    fn a_refresh_done_by_another_process_while_waiting_is_served() {
        let mut store = MockCredentialStore::new();
        let mut seq = mockall::Sequence::new();
        store
            .expect_load()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        store
            .expect_lock()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Box::new(Guard)));
        store
            .expect_load()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(cert(Duration::hours(3), "theirs"))));
        store.expect_save().never();
        let clock = clock();
        let mut provider = MockAccessCredentialProvider::new();
        provider.expect_provide().never();
        let served = block_on(GetCredential::new(&store, &clock).execute(
            &request(),
            &provider,
            &issuer_returning(Err(transport_error()), 0),
        ));
        assert_eq!(
            served,
            Ok(Served {
                credential: cert(Duration::hours(3), "theirs"),
                origin: Origin::RefreshedElsewhere
            })
        );
    }

    #[test]
    fn a_lock_timeout_serves_a_valid_certificate_or_fails_clearly() {
        let timeout = LockError::Timeout {
            location: "/c/x.lock".into(),
            waited_secs: 30,
        };
        for (cached, expect_ok) in [
            (Some(cert(Duration::minutes(20), "old")), true),
            (None, false),
        ] {
            let mut store = MockCredentialStore::new();
            store.expect_load().returning(move |_| Ok(cached.clone()));
            let returned = timeout.clone();
            store
                .expect_lock()
                .returning(move |_| Err(returned.clone()));
            store.expect_save().never();
            let clock = clock();
            let served = block_on(GetCredential::new(&store, &clock).execute(
                &request(),
                &provider_ok(),
                &issuer_returning(Err(transport_error()), 0),
            ));
            match served {
                Ok(s) => {
                    assert!(expect_ok);
                    assert!(matches!(s.origin, Origin::StaleFallback { .. }));
                }
                Err(e) => {
                    assert!(!expect_ok);
                    assert_eq!(e, GetCredentialError::Lock(timeout.clone()));
                }
            }
        }
    }

    #[test]
    fn an_unavailable_lock_still_refreshes_and_says_so() {
        let mut store = MockCredentialStore::new();
        store.expect_load().returning(|_| Ok(None));
        let broken = StoreError {
            operation: "lock",
            location: "/ro".into(),
            reason: "read-only file system".into(),
        };
        let returned = broken.clone();
        store
            .expect_lock()
            .returning(move |_| Err(LockError::Unavailable(returned.clone())));
        store.expect_save().returning(|_, _| Ok(()));
        let clock = clock();
        let served = block_on(GetCredential::new(&store, &clock).execute(
            &request(),
            &provider_ok(),
            &issuer_returning(Ok(cert(Duration::hours(3), "new")), 1),
        ));
        assert_eq!(
            served.map(|s| s.origin),
            Ok(Origin::Issued {
                store_error: None,
                unlocked: Some(broken)
            })
        );
    }
}
