//! Value types of the domain. Each one validates on construction, so code that holds one never
//! has to ask again whether it is well formed.

mod api_version;
mod cache_key;
mod cluster_id;
mod credentials;
mod exec_credential;
mod lifetime;
mod region_id;
mod secret;

pub use api_version::{ApiVersion, ApiVersionError};
pub use cache_key::{
    BINDING_SUFFIX, CacheKey, IdentityFingerprint, IdentityInputs, SCOPED_INFIX, SelectedIdentity,
    binding_file_name, scoped_file_name, split_scoped_file_name,
};
pub use cluster_id::{ClusterId, ClusterIdError};
pub use credentials::{AccessCredentials, ClusterCredential};
pub use exec_credential::{CachedCredentialError, CachedEntry, ExecCredential};
pub use lifetime::{CertificateLifetime, LifetimeError};
pub use region_id::{RegionId, RegionIdError};
pub use secret::Secret;

/// Shorthand for tests across the crate.
#[cfg(test)]
pub(crate) fn lifetime_for_tests(minutes: u32) -> CertificateLifetime {
    CertificateLifetime::Minutes(minutes)
}
