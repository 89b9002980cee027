//! What a profile asks for, independent of where it was written (aliyun CLI `config.json`, the
//! INI credentials file, the output of a credential process), and the one place that turns such
//! a description into a provider.

use super::credentials_uri::CredentialsUriProvider;
use super::imds::{ImdsConfig, ImdsProvider};
use super::oidc::{OidcConfig, OidcProvider};
use super::process::{ProcessConfig, run_credential_process};
use super::role_arn::AssumeRoleProvider;
use super::static_credentials::StaticProvider;
use crate::context::Context;
use crate::sts::{AssumeRoleRequest, StsClient};
use ack_ram_domain::policy::upstream_usable;
use ack_ram_domain::ports::{AccessCredentialProvider, Clock, ProviderError};
use ack_ram_domain::{AccessCredentials, Secret};
use async_trait::async_trait;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How deep credential processes may nest (a process whose output is another `External`).
pub const MAX_PROCESS_DEPTH: usize = 3;

/// A credential source described by a profile. `Debug` hides the secrets, the credential
/// process's command line and the credentials URI (either may carry a token).
#[derive(Clone, PartialEq, Eq)]
pub enum CredentialSpec {
    /// A long-lived AccessKey.
    AccessKey { id: String, secret: Secret },
    /// Temporary STS credentials.
    StsToken {
        id: String,
        secret: Secret,
        token: Secret,
    },
    /// Assume `role_arn` with the credentials of `base`.
    AssumeRole {
        base: Box<CredentialSpec>,
        role_arn: String,
        session_name: String,
        external_id: Option<String>,
    },
    /// The ECS instance's RAM role.
    EcsRamRole { role_name: Option<String> },
    /// RRSA: AssumeRoleWithOIDC with a token file.
    Oidc(OidcConfig),
    /// Run a credential process; its output is another profile.
    External { command: String },
    /// GET credentials from a local URI.
    CredentialsUri { uri: String },
    /// An aliyun CLI CloudSSO profile: its cached STS, else `/cloud-credentials` with its
    /// access token, written back to its file.
    CloudSso(Box<super::cloudsso::CloudSsoProfile>),
    /// An aliyun CLI OAuth profile: its cached STS, else a token refresh and `/v1/exchange`,
    /// written back to its file.
    OAuth(Box<super::oauth::OAuthProfile>),
}

impl std::fmt::Debug for CredentialSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AccessKey { id, secret } => f
                .debug_struct("AccessKey")
                .field("id", id)
                .field("secret", secret)
                .finish(),
            Self::StsToken { id, secret, token } => f
                .debug_struct("StsToken")
                .field("id", id)
                .field("secret", secret)
                .field("token", token)
                .finish(),
            Self::AssumeRole {
                base,
                role_arn,
                session_name,
                external_id,
            } => f
                .debug_struct("AssumeRole")
                .field("base", base)
                .field("role_arn", role_arn)
                .field("session_name", session_name)
                .field("external_id", &external_id.as_ref().map(|_| "***"))
                .finish(),
            Self::EcsRamRole { role_name } => f
                .debug_struct("EcsRamRole")
                .field("role_name", role_name)
                .finish(),
            Self::Oidc(config) => f.debug_tuple("Oidc").field(config).finish(),
            Self::External { .. } => f.debug_struct("External").field("command", &"***").finish(),
            Self::CredentialsUri { .. } => f
                .debug_struct("CredentialsUri")
                .field("uri", &"***")
                .finish(),
            // Both hold their tokens and cached STS as `Secret`s.
            Self::CloudSso(profile) => f.debug_tuple("CloudSso").field(profile).finish(),
            Self::OAuth(profile) => f.debug_tuple("OAuth").field(profile).finish(),
        }
    }
}

/// Everything a source needs, built once per run (on a cache miss): the injected outside world
/// ([`Context`]: environment, file system, clock, HTTP client) and STS.
#[derive(Clone)]
pub struct SourceContext {
    /// The outside world.
    pub ctx: Context,
    /// STS at the resolved endpoint.
    pub sts: Arc<StsClient>,
    /// IMDS settings from the environment (role name, endpoint, v2 switch).
    pub imds: ImdsConfig,
    /// Time allowed to a credential process.
    pub process_timeout: Duration,
    /// Session name when a profile names none: `ALIBABA_CLOUD_ROLE_SESSION_NAME`,
    /// `ALICLOUD_ROLE_SESSION_NAME`, else `default-session-name` (the SDK's default).
    pub default_session_name: String,
    /// How long a CloudSSO or OAuth refresh waits for another process refreshing the same
    /// `config.json` ([`super::cli_config_writer::DEFAULT_LOCK_TIMEOUT`]).
    pub config_lock_timeout: Duration,
    /// Parses a credential process's output into a spec (the aliyun CLI profile format).
    pub parse_process_output: fn(
        &serde_json::Map<String, serde_json::Value>,
        &str,
    ) -> Result<CredentialSpec, ProviderError>,
}

impl SourceContext {
    /// Sources in `ctx`, with `sts` for role sources.
    pub fn new(ctx: Context, sts: Arc<StsClient>) -> Self {
        let env = ctx.env();
        let default_session_name = env
            .first_of(&[
                "ALIBABA_CLOUD_ROLE_SESSION_NAME",
                "ALICLOUD_ROLE_SESSION_NAME",
            ])
            .map(|(_, v)| v.to_owned())
            .unwrap_or_else(|| "default-session-name".to_owned());
        Self {
            imds: ImdsConfig::from_env(env, None),
            sts,
            process_timeout: Duration::from_secs(30),
            config_lock_timeout: super::cli_config_writer::DEFAULT_LOCK_TIMEOUT,
            default_session_name,
            parse_process_output: super::aliyun_cli::spec_from_process_output,
            ctx,
        }
    }

    /// The shared HTTP client, or why there is none.
    fn http(&self) -> Result<reqwest::Client, ProviderError> {
        self.ctx.http().map_err(|e| ProviderError::Failed {
            source_name: "HTTP client".into(),
            message: e.to_string(),
        })
    }

    /// Turns a spec into a provider. Nothing is fetched here.
    pub fn build(
        &self,
        spec: &CredentialSpec,
    ) -> Result<Box<dyn AccessCredentialProvider>, ProviderError> {
        self.build_at_depth(spec, 0)
    }

    /// Wraps a provider whose credentials come from outside (a URI, the metadata service, a
    /// process) so that expired ones are refused before anything is signed with them.
    fn unexpired(
        &self,
        source_name: &'static str,
        inner: Box<dyn AccessCredentialProvider>,
    ) -> Box<dyn AccessCredentialProvider> {
        Box::new(Unexpired {
            inner,
            clock: self.ctx.clock(),
            source_name,
        })
    }

    fn build_at_depth(
        &self,
        spec: &CredentialSpec,
        depth: usize,
    ) -> Result<Box<dyn AccessCredentialProvider>, ProviderError> {
        Ok(match spec {
            CredentialSpec::AccessKey { id, secret } => Box::new(StaticProvider(
                AccessCredentials::access_key(id.clone(), secret.clone()),
            )),
            CredentialSpec::StsToken { id, secret, token } => Box::new(StaticProvider(
                AccessCredentials::sts(id.clone(), secret.clone(), token.clone()),
            )),
            CredentialSpec::AssumeRole {
                base,
                role_arn,
                session_name,
                external_id,
            } => Box::new(AssumeRoleProvider::new(
                self.build_at_depth(base, depth)?,
                Arc::clone(&self.sts),
                AssumeRoleRequest {
                    role_arn: role_arn.clone(),
                    session_name: session_name.clone(),
                    external_id: external_id.clone(),
                    duration_seconds: None,
                },
            )),
            CredentialSpec::EcsRamRole { role_name } => {
                let mut imds = self.imds.clone();
                if role_name.is_some() {
                    imds.role_name.clone_from(role_name);
                }
                self.unexpired(
                    "ECS instance RAM role",
                    Box::new(ImdsProvider::new(
                        imds,
                        &self.ctx.http_settings().user_agent,
                    )?),
                )
            }
            CredentialSpec::Oidc(config) => Box::new(OidcProvider::new(
                config.clone(),
                Arc::clone(&self.sts),
                self.ctx.clone(),
            )),
            CredentialSpec::External { command } => Box::new(ExternalProvider {
                context: self.clone(),
                command: command.clone(),
                depth: depth + 1,
            }),
            CredentialSpec::CredentialsUri { uri } => self.unexpired(
                "credentials URI",
                Box::new(CredentialsUriProvider::new(self.http()?, uri)?),
            ),
            CredentialSpec::CloudSso(profile) => Box::new(super::cloudsso::CloudSsoProvider::new(
                (**profile).clone(),
                self.ctx.clone(),
                self.config_lock_timeout,
            )),
            CredentialSpec::OAuth(profile) => Box::new(super::oauth::OAuthProvider::new(
                (**profile).clone(),
                self.ctx.clone(),
                self.config_lock_timeout,
            )),
        })
    }
}

/// Runs a credential process and resolves the profile it prints.
struct ExternalProvider {
    context: SourceContext,
    command: String,
    depth: usize,
}

#[async_trait]
impl AccessCredentialProvider for ExternalProvider {
    async fn provide(&self) -> Result<AccessCredentials, ProviderError> {
        if self.depth > MAX_PROCESS_DEPTH {
            return Err(ProviderError::Failed {
                source_name: "credential process".into(),
                message: format!(
                    "credential processes nest more than {MAX_PROCESS_DEPTH} deep (each printed mode External); check process_command"
                ),
            });
        }
        let config = ProcessConfig {
            command: self.command.clone(),
            timeout: self.context.process_timeout,
        };
        let output = run_credential_process(&config, self.context.ctx.env()).await?;
        if let Some(expiration) = super::process::stated_expiration(&output)? {
            upstream_usable(Some(expiration), self.context.ctx.clock().now()).map_err(|e| {
                ProviderError::Failed {
                    source_name: "credential process".into(),
                    message: e.to_string(),
                }
            })?;
        }
        let spec = (self.context.parse_process_output)(&output, "the credential process output")?;
        self.context
            .build_at_depth(&spec, self.depth)?
            .provide()
            .await
    }
}

/// Refuses credentials that are expired or about to expire (see [`upstream_usable`]).
struct Unexpired {
    inner: Box<dyn AccessCredentialProvider>,
    clock: Arc<dyn Clock>,
    source_name: &'static str,
}

#[async_trait]
impl AccessCredentialProvider for Unexpired {
    async fn provide(&self) -> Result<AccessCredentials, ProviderError> {
        let credentials = self.inner.provide().await?;
        upstream_usable(credentials.expiration, self.clock.now()).map_err(|e| {
            ProviderError::Failed {
                source_name: self.source_name.into(),
                message: e.to_string(),
            }
        })?;
        Ok(credentials)
    }
}

/// Where a file-based profile came from, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileOrigin {
    /// The file.
    pub path: PathBuf,
    /// The profile or section name.
    pub name: String,
}

impl std::fmt::Display for ProfileOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "profile {:?} in {}", self.name, self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_what_may_be_secret() {
        const CANARY: &str = "canary-7f3a";
        let specs = [
            CredentialSpec::AccessKey {
                id: "LTAI".into(),
                secret: Secret::new(CANARY),
            },
            CredentialSpec::StsToken {
                id: "STS".into(),
                secret: Secret::new(CANARY),
                token: Secret::new(CANARY),
            },
            CredentialSpec::AssumeRole {
                base: Box::new(CredentialSpec::External {
                    command: format!("helper --token={CANARY}"),
                }),
                role_arn: "acs:ram::1:role/r".into(),
                session_name: "s".into(),
                external_id: Some(CANARY.into()),
            },
            CredentialSpec::CredentialsUri {
                uri: format!("http://u:{CANARY}@127.0.0.1/c?token={CANARY}"),
            },
        ];
        for spec in specs {
            let shown = format!("{spec:?}");
            assert!(!shown.contains(CANARY), "{shown}");
            assert!(shown.contains("***"), "{shown}");
        }
    }
}
