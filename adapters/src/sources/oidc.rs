//! RRSA: a pod's service-account token exchanged for role credentials with the anonymous STS
//! call `AssumeRoleWithOIDC`. The token file is read on every call because the kubelet rotates it.

use crate::context::Context;
use crate::local_file::{Symlinks, caps};
use crate::sts::{OidcRequest, StsClient};
use ack_ram_domain::ports::{AccessCredentialProvider, ProviderError};
use ack_ram_domain::{AccessCredentials, Secret};
use async_trait::async_trait;
use std::path::PathBuf;
use std::sync::Arc;

/// Where the OIDC inputs come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcConfig {
    /// The RAM role to assume.
    pub role_arn: String,
    /// The cluster's OIDC provider ARN.
    pub oidc_provider_arn: String,
    /// The projected service-account token file.
    pub token_file: PathBuf,
    /// The role session name.
    pub session_name: String,
}

/// Exchanges the OIDC token for role credentials.
pub struct OidcProvider {
    config: OidcConfig,
    sts: Arc<StsClient>,
    ctx: Context,
}

impl OidcProvider {
    /// A provider for `config`, calling `sts`, reading the token file through `ctx`.
    pub fn new(config: OidcConfig, sts: Arc<StsClient>, ctx: Context) -> Self {
        Self { config, sts, ctx }
    }
}

#[async_trait]
impl AccessCredentialProvider for OidcProvider {
    async fn provide(&self) -> Result<AccessCredentials, ProviderError> {
        let path = &self.config.token_file;
        // A few KiB from a regular file: no need to leave the runtime's thread for it.
        let raw = self
            .ctx
            .fs()
            .read_to_string(path, caps::OIDC_TOKEN, Symlinks::Follow)
            .map_err(|e| ProviderError::Failed {
                source_name: "RRSA (OIDC)".into(),
                message: format!(
                    "cannot read the OIDC token file {}: {}",
                    path.display(),
                    e.kind
                ),
            })?;
        // The Go tool sends the file untrimmed; a JWT never ends in whitespace, a file often does.
        let token = raw.trim();
        if token.is_empty() {
            return Err(ProviderError::Failed {
                source_name: "RRSA (OIDC)".into(),
                message: format!("the OIDC token file {} is empty", path.display()),
            });
        }
        tracing::debug!(
            role_arn = %self.config.role_arn,
            provider = %self.config.oidc_provider_arn,
            token_file = %path.display(),
            "assuming a RAM role with an OIDC token"
        );
        let request = OidcRequest {
            role_arn: self.config.role_arn.clone(),
            oidc_provider_arn: self.config.oidc_provider_arn.clone(),
            oidc_token: Secret::new(token),
            session_name: self.config.session_name.clone(),
            duration_seconds: None,
        };
        Ok(self.sts.assume_role_with_oidc(&request).await?)
    }
}
