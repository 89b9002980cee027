//! The credential chain, in the Go tool's order and with its skip/stop rules.
//!
//! ```text
//! --credential-type imds      -> the ECS RAM role, nothing else
//! 1. environment variables    (skipped when --profile-file is given or env is ignored)
//! 2. aliyun CLI config.json   (--profile-file *.json, else ~/.aliyun/config.json if it exists)
//! 3. credentials INI file     (--profile-file other, else ~/.alibabacloud/credentials)
//! then --role-arn on top of whichever answered
//! ```
//!
//! "Not configured here" moves on to the next step; any other error stops the chain with that
//! error. The chain only *describes* the source (reading variables and files); it fetches
//! credentials once, at the end, and only when the cache could not serve a certificate.

use super::profile::{CredentialSpec, SourceContext};
use super::{aliyun_cli, env, ini};
use crate::env::Environment;
use crate::local_file;
use crate::sts::StsClient;
use ack_ram_domain::AccessCredentials;
use ack_ram_domain::ports::{AccessCredentialProvider, ProviderError};
use async_trait::async_trait;
use std::path::PathBuf;
use std::sync::Arc;

/// `--credential-type`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CredentialType {
    /// The chain.
    #[default]
    Auto,
    /// Only the ECS instance RAM role (`imds`, alias `ecs-role`).
    Imds,
    /// Only an AccessKey held in the OS keychain, for the profile `--profile-name` (else
    /// `default`), stored with `ack-ram-tool keyring set-access-key`.
    Keyring,
}

/// `--profile-file`, classified as the Go tool does: `*.json` is an aliyun CLI config,
/// anything else an INI credentials file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProfileFile {
    /// An aliyun CLI `config.json`.
    AliyunCli(PathBuf),
    /// An INI credentials file (forces the environment and aliyun CLI steps off).
    Ini(PathBuf),
}

/// What selects the source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainInputs {
    pub credential_type: CredentialType,
    pub profile_file: Option<ProfileFile>,
    /// `--profile-name`: the aliyun CLI profile, and (unlike the Go tool) the INI section.
    pub profile_name: Option<String>,
    pub ignore_env: bool,
    pub ignore_cli: bool,
    /// `--role-arn`: assumed on top of whatever the chain found.
    pub role_arn: Option<String>,
    /// Session name for `--role-arn` and environment-selected roles.
    pub session_name: String,
    /// The home directory, for the default file locations.
    pub home: Option<PathBuf>,
}

/// The chain as a provider.
pub struct ChainProvider {
    inputs: ChainInputs,
    context: SourceContext,
}

impl ChainProvider {
    /// A chain over `inputs`, building sources with `context`.
    pub fn new(inputs: ChainInputs, context: SourceContext) -> Self {
        Self { inputs, context }
    }

    /// A chain over `inputs` and the environment snapshot `env`, with `http` for URI sources
    /// and `sts` for role sources.
    pub fn build(
        inputs: ChainInputs,
        mut env: Environment,
        http: reqwest::Client,
        sts: Arc<StsClient>,
        user_agent: &str,
    ) -> Self {
        // Like the Go tool: without a profile file, the session name is exported (so the SDK
        // default and credential processes see it too).
        if inputs.profile_file.is_none() && env.get("ALIBABA_CLOUD_ROLE_SESSION_NAME").is_none() {
            env.set("ALIBABA_CLOUD_ROLE_SESSION_NAME", &inputs.session_name);
        }
        let context = SourceContext::new(env, http, sts, user_agent);
        Self { inputs, context }
    }

    /// Decides which source answers, without fetching anything.
    pub fn select(&self) -> Result<CredentialSpec, ProviderError> {
        let base = self.select_base()?;
        Ok(
            match self.inputs.role_arn.as_deref().filter(|r| !r.is_empty()) {
                Some(role_arn) => {
                    tracing::debug!(role_arn, "--role-arn: assuming it on top");
                    CredentialSpec::AssumeRole {
                        base: Box::new(base),
                        role_arn: role_arn.to_owned(),
                        session_name: self.inputs.session_name.clone(),
                        external_id: None,
                    }
                }
                None => base,
            },
        )
    }

    fn select_base(&self) -> Result<CredentialSpec, ProviderError> {
        let inputs = &self.inputs;
        if inputs.credential_type == CredentialType::Imds {
            tracing::debug!("credential type imds: using the ECS instance RAM role only");
            return Ok(CredentialSpec::EcsRamRole { role_name: None });
        }
        if inputs.credential_type == CredentialType::Keyring {
            let profile = inputs.profile_name.as_deref().unwrap_or("default");
            tracing::debug!(
                profile,
                "credential type keyring: using the AccessKey in the OS keychain"
            );
            return super::keyring::load_spec(profile).map_err(|e| match e {
                ProviderError::NotConfigured(why) => ProviderError::Failed {
                    source_name: "OS keychain".into(),
                    message: format!("{why}; store it with `ack-ram-tool keyring set-access-key --profile {profile}`"),
                },
                other => other,
            });
        }
        let mut tried: Vec<String> = Vec::new();
        let env_profile = self.context.env.get("ALIBABA_CLOUD_PROFILE");

        // Step 1: the environment.
        let (cli_path, ini_path, ignore_env, ignore_cli) = match &inputs.profile_file {
            None => (None, None, inputs.ignore_env, inputs.ignore_cli),
            Some(ProfileFile::AliyunCli(p)) => (Some(p.clone()), None, true, inputs.ignore_cli),
            Some(ProfileFile::Ini(p)) => (None, Some(p.clone()), true, true),
        };
        if ignore_env {
            tracing::debug!(
                "step 1, environment variables: skipped (ignored or --profile-file given)"
            );
        } else {
            match env::select(&self.context.env, &inputs.session_name) {
                Ok(spec) => {
                    tracing::debug!("step 1, environment variables: used");
                    return Ok(spec);
                }
                Err(ProviderError::NotConfigured(why)) => {
                    tracing::debug!("step 1, environment variables: skipped, {why}");
                    tried.push(why);
                }
                Err(other) => return Err(other),
            }
        }

        // Step 2: the aliyun CLI config.
        let explicit_cli = cli_path.is_some();
        let cli_path = cli_path.or_else(|| self.home_path(".aliyun/config.json"));
        match cli_path {
            _ if ignore_cli => tracing::debug!("step 2, aliyun CLI config: skipped (ignored)"),
            Some(path) if explicit_cli || local_file::exists(&path) => {
                let loaded = aliyun_cli::load(
                    &path,
                    inputs.profile_name.as_deref(),
                    env_profile,
                    &self.context.default_session_name,
                )?;
                tracing::debug!(profile = %loaded.origin, "step 2, aliyun CLI config: used");
                return Ok(loaded.spec);
            }
            Some(path) => {
                tracing::debug!(path = %path.display(), "step 2, aliyun CLI config: skipped, no such file");
                tried.push(format!("no aliyun CLI config at {}", path.display()));
            }
            None => tried.push("no home directory for ~/.aliyun/config.json".into()),
        }

        // Step 3: the INI credentials file.
        let explicit_ini = ini_path.is_some();
        let Some(ini_path) = ini_path.or_else(|| self.home_path(".alibabacloud/credentials"))
        else {
            return Err(self.nothing_found(tried));
        };
        if !explicit_ini && !local_file::exists(&ini_path) {
            tracing::debug!(path = %ini_path.display(), "step 3, credentials file: no such file");
            tried.push(format!("no credentials file at {}", ini_path.display()));
            return Err(self.nothing_found(tried));
        }
        let section = inputs
            .profile_name
            .as_deref()
            .or(env_profile)
            .unwrap_or("default");
        let (spec, origin) = ini::load(&ini_path, section)?;
        tracing::debug!(section = %origin, "step 3, credentials file: used");
        Ok(spec)
    }

    fn home_path(&self, relative: &str) -> Option<PathBuf> {
        self.inputs.home.as_ref().map(|h| h.join(relative))
    }

    fn nothing_found(&self, tried: Vec<String>) -> ProviderError {
        ProviderError::NotConfigured(format!(
            "no Alibaba Cloud credentials found ({})",
            tried.join("; ")
        ))
    }
}

#[async_trait]
impl AccessCredentialProvider for ChainProvider {
    async fn provide(&self) -> Result<AccessCredentials, ProviderError> {
        let spec = self.select()?;
        self.context.build(&spec)?.provide().await
    }
}
