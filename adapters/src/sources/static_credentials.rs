//! Credentials that are simply known: an AccessKey or STS token from a profile or file.

use ack_ram_domain::AccessCredentials;
use ack_ram_domain::ports::{AccessCredentialProvider, ProviderError};
use async_trait::async_trait;

/// Returns the same credentials every time.
#[derive(Clone, Debug)]
pub struct StaticProvider(pub AccessCredentials);

#[async_trait]
impl AccessCredentialProvider for StaticProvider {
    async fn provide(&self) -> Result<AccessCredentials, ProviderError> {
        Ok(self.0.clone())
    }
}
