//! AssumeRole on top of another source: `--role-arn`, and the profile modes that assume a role
//! (RamRoleArn, ChainableRamRoleArn, RamRoleArnWithRoleName, INI `ram_role_arn`).

use crate::sts::{AssumeRoleRequest, StsClient};
use ack_ram_domain::AccessCredentials;
use ack_ram_domain::ports::{AccessCredentialProvider, ProviderError};
use async_trait::async_trait;
use std::sync::Arc;

/// Gets credentials from `base`, then assumes `request.role_arn` with them.
pub struct AssumeRoleProvider {
    base: Box<dyn AccessCredentialProvider>,
    sts: Arc<StsClient>,
    request: AssumeRoleRequest,
}

impl AssumeRoleProvider {
    /// Assumes `request.role_arn` with the credentials `base` yields, through `sts`.
    pub fn new(
        base: Box<dyn AccessCredentialProvider>,
        sts: Arc<StsClient>,
        request: AssumeRoleRequest,
    ) -> Self {
        Self { base, sts, request }
    }
}

#[async_trait]
impl AccessCredentialProvider for AssumeRoleProvider {
    async fn provide(&self) -> Result<AccessCredentials, ProviderError> {
        let base = self.base.provide().await?;
        tracing::debug!(
            role_arn = %self.request.role_arn,
            session = %self.request.session_name,
            base_access_key_id = %base.access_key_id,
            sts = %self.sts.endpoint(),
            "assuming a RAM role"
        );
        let assumed = self.sts.assume_role(&base, &self.request).await?;
        tracing::debug!(access_key_id = %assumed.access_key_id, expiration = ?assumed.expiration, "assumed the role");
        Ok(assumed)
    }
}
