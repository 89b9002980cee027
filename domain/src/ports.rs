//! The ports: what the domain needs from the outside world, as traits.
//!
//! Adapters implement them (HTTP clients, files, the keychain, the system clock); the app wires
//! one adapter to each. Errors are domain types so the use case can decide on them (skip a
//! source, fall back to a cached certificate) without knowing which adapter failed.

use crate::model::{
    AccessCredentials, CacheKey, CertificateLifetime, ClusterCredential, ClusterId,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// The current time. Every freshness decision asks this, never the system clock directly.
#[cfg_attr(test, mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// Why a credential source produced nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The source is not set up at all; a chain moves on to the next source.
    #[error("{0}")]
    NotConfigured(String),
    /// The source is set up but failed; a chain stops here with this error.
    #[error("{source_name}: {message}")]
    Failed {
        /// Which source failed, e.g. "environment variables".
        source_name: String,
        /// What went wrong, for a person; never contains a secret.
        message: String,
    },
    /// The source called an Alibaba Cloud API (STS) and it refused: its answer is kept whole
    /// (action, status, code, RequestId) so the person at the terminal gets advice for it.
    #[error("{source_name}: {details}")]
    Api {
        /// Which source failed, e.g. "STS AssumeRole".
        source_name: String,
        /// What the API answered (scrubbed of secrets).
        details: Box<ApiErrorDetails>,
    },
}

/// Finds the caller's Alibaba Cloud credentials.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait AccessCredentialProvider: Send + Sync {
    /// Resolves credentials; called only when a certificate must be issued.
    async fn provide(&self) -> Result<AccessCredentials, ProviderError>;
}

/// What is being asked of the ACK API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueRequest {
    /// The cluster.
    pub cluster_id: ClusterId,
    /// The requested certificate lifetime.
    pub lifetime: CertificateLifetime,
    /// Ask for the cluster's private (VPC) API server address.
    pub private_address: bool,
}

/// An error answer from an Alibaba Cloud API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiErrorDetails {
    /// The API action, e.g. `DescribeClusterUserKubeconfig`.
    pub action: String,
    /// The HTTP status.
    pub status: u16,
    /// The API's error code, e.g. `ErrorClusterNotFound`.
    pub code: Option<String>,
    /// The API's message.
    pub message: Option<String>,
    /// The request id to quote to Alibaba Cloud support.
    pub request_id: Option<String>,
}

impl std::fmt::Display for ApiErrorDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} answered HTTP {}", self.action, self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {}", message.trim_end_matches('.'))?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (RequestId {id})")?;
        }
        Ok(())
    }
}

/// Why the ACK API did not issue a certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    /// The API answered with an error.
    #[error("{0}")]
    Api(ApiErrorDetails),
    /// The API could not be reached or did not answer in time.
    #[error("could not reach {endpoint}: {message}")]
    Transport {
        /// The endpoint that was tried.
        endpoint: String,
        /// What happened.
        message: String,
    },
    /// The endpoint answered with a redirect, which is never followed (the request carries a
    /// signature and maybe a security token, which must not go to another host).
    #[error(
        "{endpoint} answered HTTP {status} redirecting to {location_host}; the redirect was not followed and nothing was resent"
    )]
    Redirected {
        /// The endpoint that was called.
        endpoint: String,
        /// The 3xx status.
        status: u16,
        /// The host `Location` pointed at.
        location_host: String,
    },
    /// The API answered 2xx with something that is not a usable certificate.
    #[error("the ACK API returned an unusable answer: {0}")]
    InvalidResponse(String),
}

/// Why a store could not read or write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not {operation} {location}: {reason}")]
pub struct StoreError {
    /// What was attempted, e.g. "read the cache file".
    pub operation: &'static str,
    /// Where, e.g. a path or a keychain entry.
    pub location: String,
    /// Why it failed.
    pub reason: String,
}

/// Issues cluster client certificates (the ACK `DescribeClusterUserKubeconfig` call).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ClusterCredentialIssuer: Send + Sync {
    /// Asks for a certificate with the given credentials.
    async fn issue(
        &self,
        request: &IssueRequest,
        credentials: &AccessCredentials,
    ) -> Result<ClusterCredential, IssueError>;
}

/// Held while one process refreshes a credential; dropping it releases the lock.
pub trait StoreLock: Send {}

/// Why the refresh lock could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// Another process held it for longer than the store waits.
    #[error(
        "another ack-ram-tool process has been refreshing {location} for more than {waited_secs} s; if none is running, check that nothing else holds that file"
    )]
    Timeout {
        /// The lock, e.g. a file path.
        location: String,
        /// How long this process waited.
        waited_secs: u64,
    },
    /// The lock cannot be taken at all (e.g. the cache directory is not writable).
    #[error("{0}")]
    Unavailable(StoreError),
}

/// Keeps issued certificates between runs.
///
/// `load` distinguishes "nothing usable here" (`Ok(None)`: missing, empty, torn or foreign
/// content) from "could not look" (`Err`). Both are misses for the use case; the second is worth
/// a warning.
#[cfg_attr(test, mockall::automock)]
pub trait CredentialStore: Send + Sync {
    /// Short name for diagnostics, e.g. `file`.
    fn name(&self) -> &'static str;
    /// Reads the credential stored under `key`.
    fn load(&self, key: &CacheKey) -> Result<Option<ClusterCredential>, StoreError>;
    /// Stores `credential` under `key`, replacing any previous one atomically.
    fn save(&self, key: &CacheKey, credential: &ClusterCredential) -> Result<(), StoreError>;
    /// Takes the cross-process refresh lock for `key`, waiting a bounded time, so that of many
    /// processes started together only one calls the API. Released when the guard is dropped
    /// (or the process dies). A store without a lock says so, and refreshes run uncoordinated.
    fn lock(&self, key: &CacheKey) -> Result<Box<dyn StoreLock>, LockError> {
        Err(LockError::Unavailable(StoreError {
            operation: "lock",
            location: key.file_name(),
            reason: format!("the {} store has no refresh lock", self.name()),
        }))
    }
}
