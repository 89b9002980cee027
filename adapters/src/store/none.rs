//! The `none` store: every run fetches a new certificate and nothing is written anywhere, for CI
//! jobs that must not persist credentials.

use ack_ram_domain::ports::{CredentialStore, StoreError};
use ack_ram_domain::{CacheKey, ClusterCredential};

/// Remembers nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoStore;

impl CredentialStore for NoStore {
    fn name(&self) -> &'static str {
        "none"
    }

    fn load(&self, _key: &CacheKey) -> Result<Option<ClusterCredential>, StoreError> {
        Ok(None)
    }

    fn save(&self, _key: &CacheKey, _credential: &ClusterCredential) -> Result<(), StoreError> {
        Ok(())
    }
}
