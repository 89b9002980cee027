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
    /// Fetch a new certificate even if a fresh one is cached (`--force-refresh`). Still one
    /// refresh for many callers: a forced caller that finds, after the lock, a certificate
    /// other than the one it saw serves that one.
    pub force_refresh: bool,
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
    /// The cached certificate is fresh, but a refresh was asked for.
    Forced,
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

    /// Phase one: is a fresh certificate cached (and not to be replaced on request)?
    pub fn lookup(&self, request: &GetCredentialRequest) -> Lookup {
        match self.lookup_cached(request) {
            Lookup::Hit(cached) if request.force_refresh => Lookup::Refresh {
                reason: RefreshReason::Forced,
                fallback: Some(cached),
            },
            other => other,
        }
    }

    /// What the store holds, judged by the freshness policy alone.
    fn lookup_cached(&self, request: &GetCredentialRequest) -> Lookup {
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
                match self.lookup_cached(request) {
                    // A forced refresh replaces only the certificate it saw; one that another
                    // process put there meanwhile is served.
                    Lookup::Hit(credential)
                        if request.force_refresh && fallback.as_ref() == Some(&credential) => {}
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
mod tests;
