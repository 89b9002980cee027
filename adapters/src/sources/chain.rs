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
use crate::context::Context;
use crate::sts::StsClient;
use ack_ram_domain::AccessCredentials;
use ack_ram_domain::ports::{AccessCredentialProvider, ProviderError};
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `--credential-type`: `auto`, `imds` (alias `ecs-role`) or `keyring`, any case. In
/// configuration it is a plain string, validated when read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
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

/// Why a string is not a credential type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown credential type {0:?}; use auto, imds (or ecs-role) or keyring")]
pub struct CredentialTypeError(String);

impl std::str::FromStr for CredentialType {
    type Err = CredentialTypeError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Self::Auto),
            "imds" | "ecs-role" => Ok(Self::Imds),
            "keyring" => Ok(Self::Keyring),
            _ => Err(CredentialTypeError(raw.to_owned())),
        }
    }
}

impl TryFrom<String> for CredentialType {
    type Error = CredentialTypeError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        raw.parse()
    }
}

impl CredentialType {
    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Imds => "imds",
            Self::Keyring => "keyring",
        }
    }
}

impl From<CredentialType> for String {
    fn from(kind: CredentialType) -> Self {
        kind.as_str().to_owned()
    }
}

impl std::fmt::Display for CredentialType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
}

impl ProfileFile {
    /// Classifies `--profile-file` as the Go tool does: a name ending in `.json` is an aliyun
    /// CLI config, anything else an INI credentials file.
    pub fn classify(path: PathBuf) -> Self {
        if path.to_string_lossy().ends_with(".json") {
            Self::AliyunCli(path)
        } else {
            Self::Ini(path)
        }
    }
}

/// One step of the chain: it describes its source, or says it is not configured here.
///
/// "Not configured" ([`ProviderError::NotConfigured`]) moves the chain on to the next step;
/// any other error stops it, as in aws-config's `CredentialsProviderChain`.
trait Step: Send + Sync {
    /// What the step reads, for logs.
    fn name(&self) -> &'static str;
    /// The source this step stands for.
    fn select(&self, context: &SourceContext) -> Result<CredentialSpec, ProviderError>;
}

/// Environment variables (`credential-sources.md` §1).
struct EnvironmentStep {
    session_name: String,
}

impl Step for EnvironmentStep {
    fn name(&self) -> &'static str {
        "environment variables"
    }
    fn select(&self, context: &SourceContext) -> Result<CredentialSpec, ProviderError> {
        env::select(context.ctx.env(), context.ctx.fs(), &self.session_name)
    }
}

/// A file-based step: `--profile-file` (which must exist) or a default location (skipped when
/// nothing is there).
struct FileStep {
    name: &'static str,
    path: Option<PathBuf>,
    explicit: bool,
    /// What is missing when there is no home directory.
    default_location: &'static str,
    load: fn(&FileStep, &Path, &SourceContext) -> Result<CredentialSpec, ProviderError>,
    profile_name: Option<String>,
}

impl Step for FileStep {
    fn name(&self) -> &'static str {
        self.name
    }
    fn select(&self, context: &SourceContext) -> Result<CredentialSpec, ProviderError> {
        let Some(path) = &self.path else {
            return Err(ProviderError::NotConfigured(format!(
                "no home directory for {}",
                self.default_location
            )));
        };
        if !self.explicit && !context.ctx.fs().exists(path) {
            return Err(ProviderError::NotConfigured(format!(
                "no {} at {}",
                self.name,
                path.display()
            )));
        }
        (self.load)(self, path, context)
    }
}

impl FileStep {
    /// The profile or section: `--profile-name`, else `ALIBABA_CLOUD_PROFILE`.
    fn profile<'a>(&'a self, context: &'a SourceContext) -> Option<&'a str> {
        self.profile_name
            .as_deref()
            .or_else(|| context.ctx.env().get("ALIBABA_CLOUD_PROFILE"))
    }

    fn load_cli(
        &self,
        path: &Path,
        context: &SourceContext,
    ) -> Result<CredentialSpec, ProviderError> {
        let loaded = aliyun_cli::load(
            context.ctx.fs(),
            path,
            self.profile_name.as_deref(),
            context.ctx.env().get("ALIBABA_CLOUD_PROFILE"),
            &context.default_session_name,
        )?;
        tracing::debug!(profile = %loaded.origin, "aliyun CLI profile selected");
        Ok(loaded.spec)
    }

    fn load_ini(
        &self,
        path: &Path,
        context: &SourceContext,
    ) -> Result<CredentialSpec, ProviderError> {
        let section = self.profile(context).unwrap_or("default");
        let (spec, origin) = ini::load(context.ctx.fs(), path, section)?;
        tracing::debug!(section = %origin, "credentials file section selected");
        Ok(spec)
    }
}

/// The ECS instance RAM role alone (`--credential-type imds`).
struct EcsRoleStep;

impl Step for EcsRoleStep {
    fn name(&self) -> &'static str {
        "ECS instance RAM role"
    }
    fn select(&self, _: &SourceContext) -> Result<CredentialSpec, ProviderError> {
        Ok(CredentialSpec::EcsRamRole { role_name: None })
    }
}

/// An AccessKey in the OS keychain alone (`--credential-type keyring`): not finding one is an
/// error, not a reason to look elsewhere.
struct KeyringStep {
    profile: String,
}

impl Step for KeyringStep {
    fn name(&self) -> &'static str {
        "OS keychain"
    }
    fn select(&self, context: &SourceContext) -> Result<CredentialSpec, ProviderError> {
        super::keyring::KeyringAccessKeys::with_vault(context.ctx.vault())
            .load_spec(&self.profile)
            .map_err(|e| match e {
                ProviderError::NotConfigured(why) => ProviderError::Failed {
                    source_name: "OS keychain".into(),
                    message: format!(
                        "{why}; store it with `ack-ram-tool keyring set-access-key --profile {}`",
                        self.profile
                    ),
                },
                other => other,
            })
    }
}

/// The chain as a provider: an ordered list of steps walked by one loop, then `--role-arn` on
/// top of whichever step answered.
pub struct ChainProvider {
    steps: Vec<Box<dyn Step>>,
    role_arn: Option<String>,
    session_name: String,
    context: SourceContext,
}

impl ChainProvider {
    /// The chain `inputs` select, building sources with `context` as it is.
    pub fn new(inputs: ChainInputs, context: SourceContext) -> Self {
        Self {
            steps: steps(&inputs, context.ctx.home()),
            role_arn: inputs.role_arn.filter(|r| !r.is_empty()),
            session_name: inputs.session_name,
            context,
        }
    }

    /// A chain over `inputs` in `ctx`, with `sts` for role sources. Like the Go tool, without
    /// a profile file the session name is exported first, so profiles without one, the SDK
    /// default and credential processes all see it.
    pub fn build(inputs: ChainInputs, mut ctx: Context, sts: Arc<StsClient>) -> Self {
        if inputs.profile_file.is_none()
            && ctx.env().get("ALIBABA_CLOUD_ROLE_SESSION_NAME").is_none()
        {
            let mut env = ctx.env().clone();
            env.set("ALIBABA_CLOUD_ROLE_SESSION_NAME", &inputs.session_name);
            ctx = ctx.with_env(env);
        }
        Self::new(inputs, SourceContext::new(ctx, sts))
    }

    /// Decides which source answers, without fetching anything.
    pub fn select(&self) -> Result<CredentialSpec, ProviderError> {
        self.selection().map(|(_, spec)| spec)
    }

    /// [`ChainProvider::select`], also naming the step that answered (`environment variables`,
    /// `aliyun CLI config`, `credentials file`, `ECS instance RAM role` or `OS keychain`), for
    /// `doctor`.
    pub fn selection(&self) -> Result<(&'static str, CredentialSpec), ProviderError> {
        let (step, base) = self.select_base()?;
        let spec = match &self.role_arn {
            Some(role_arn) => {
                tracing::debug!(role_arn, "--role-arn: assuming it on top");
                CredentialSpec::AssumeRole {
                    base: Box::new(base),
                    role_arn: role_arn.clone(),
                    session_name: self.session_name.clone(),
                    external_id: None,
                }
            }
            None => base,
        };
        Ok((step, spec))
    }

    fn select_base(&self) -> Result<(&'static str, CredentialSpec), ProviderError> {
        let mut tried: Vec<String> = Vec::new();
        for (n, step) in self.steps.iter().enumerate() {
            match step.select(&self.context) {
                Ok(spec) => {
                    tracing::debug!(step = n + 1, source = step.name(), "used");
                    return Ok((step.name(), spec));
                }
                Err(ProviderError::NotConfigured(why)) => {
                    tracing::debug!(step = n + 1, source = step.name(), "skipped, {why}");
                    tried.push(why);
                }
                Err(other) => return Err(other),
            }
        }
        Err(ProviderError::NotConfigured(format!(
            "no Alibaba Cloud credentials found ({})",
            tried.join("; ")
        )))
    }
}

/// The steps `inputs` select, in the Go tool's order and with its skip rules: `--profile-file`
/// turns the environment step off (and an INI file the aliyun CLI step too); the ignore flags
/// drop their step.
fn steps(inputs: &ChainInputs, home: Option<&Path>) -> Vec<Box<dyn Step>> {
    match inputs.credential_type {
        CredentialType::Imds => return vec![Box::new(EcsRoleStep)],
        CredentialType::Keyring => {
            return vec![Box::new(KeyringStep {
                profile: inputs
                    .profile_name
                    .clone()
                    .unwrap_or_else(|| "default".to_owned()),
            })];
        }
        CredentialType::Auto => {}
    }
    let (cli_path, ini_path, ignore_env, ignore_cli) = match &inputs.profile_file {
        None => (None, None, inputs.ignore_env, inputs.ignore_cli),
        Some(ProfileFile::AliyunCli(p)) => (Some(p.clone()), None, true, inputs.ignore_cli),
        Some(ProfileFile::Ini(p)) => (None, Some(p.clone()), true, true),
    };
    let mut steps: Vec<Box<dyn Step>> = Vec::new();
    if ignore_env {
        tracing::debug!("environment variables: skipped (ignored or --profile-file given)");
    } else {
        steps.push(Box::new(EnvironmentStep {
            session_name: inputs.session_name.clone(),
        }));
    }
    if ignore_cli {
        tracing::debug!("aliyun CLI config: skipped (ignored)");
    } else {
        steps.push(Box::new(FileStep {
            name: "aliyun CLI config",
            explicit: cli_path.is_some(),
            path: cli_path.or_else(|| home.map(|h| h.join(".aliyun/config.json"))),
            default_location: "~/.aliyun/config.json",
            load: FileStep::load_cli,
            profile_name: inputs.profile_name.clone(),
        }));
    }
    steps.push(Box::new(FileStep {
        name: "credentials file",
        explicit: ini_path.is_some(),
        path: ini_path.or_else(|| home.map(|h| h.join(".alibabacloud/credentials"))),
        default_location: "~/.alibabacloud/credentials",
        load: FileStep::load_ini,
        profile_name: inputs.profile_name.clone(),
    }));
    steps
}

#[async_trait]
impl AccessCredentialProvider for ChainProvider {
    async fn provide(&self) -> Result<AccessCredentials, ProviderError> {
        let spec = self.select()?;
        self.context.build(&spec)?.provide().await
    }
}
