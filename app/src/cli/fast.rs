//! The command line kubectl runs, recognised without clap.
//!
//! kubectl runs `credential-plugin get-credential` before every connection, and on a cache hit
//! building clap's command tree was the largest cost left in the process: it allocates every
//! command, argument and help string of the whole tool (about a third of the page faults of a
//! hit). This module recognises the argument shapes that kubeconfig exec entries use (the
//! ones `get-kubeconfig` writes, the Go tool's, and hand-written variants of them) and builds
//! the same [`Cli`] value clap would. Anything else, including every error, help and unusual
//! spelling, returns `None` and goes to clap, which stays the one authority on the grammar:
//! this parser may decline any input, but it must never accept one differently. The tests
//! check exactly that against clap, on the documented shapes and on generated argument lists.

use super::{
    CREDENTIAL_TYPES, Cli, Command, CredentialPluginArgs, GetCredentialArgs, GlobalArgs,
    PluginCommand, parse_go_bool,
};
use crate::logging::LogLevel;
use ack_ram_adapters::sources::CredentialType;
use ack_ram_adapters::store::StoreKind;
use std::ffi::OsString;
use std::str::FromStr;

/// `Some(cli)` when `args` (with the program name first) is a plain `credential-plugin
/// get-credential` invocation; `None` when clap must decide.
pub fn parse(args: &[OsString]) -> Option<Cli> {
    let mut words = args.iter().skip(1).map(|a| a.to_str());
    if words.next()? != Some("credential-plugin") || words.next()? != Some("get-credential") {
        return None;
    }
    let mut global = GlobalArgs::default();
    let mut command = Partial::default();
    while let Some(word) = words.next() {
        let word = word?;
        let (name, inline) = match word.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (word, None),
        };
        let option = Flag::named(name)?;
        let value = match (option.kind(), inline) {
            // Switches take their value only after `=` (clap's require_equals).
            (Kind::Switch, None) => "true",
            (Kind::Switch, Some(value)) => value,
            (Kind::Value, Some(value)) => value,
            (Kind::Value, None) => words.next()??,
        };
        // An empty value, or a separate one that looks like an option, is clap's to judge.
        if value.is_empty() || (inline.is_none() && value.starts_with('-')) {
            return None;
        }
        if !option.set(value, &mut global, &mut command) {
            return None;
        }
    }
    Some(Cli {
        global,
        command: Command::CredentialPlugin(CredentialPluginArgs {
            command: PluginCommand::GetCredential(command.finish()?),
        }),
    })
}

/// `get-credential`'s own options, as far as they were given.
#[derive(Default)]
struct Partial {
    cluster_id: Option<ack_ram_domain::ClusterId>,
    role_arn: Option<String>,
    expiration: Option<ack_ram_domain::CertificateLifetime>,
    api_version: Option<ack_ram_domain::ApiVersion>,
    credential_cache_dir: Option<String>,
    force_refresh: Option<bool>,
}

impl Partial {
    fn finish(self) -> Option<GetCredentialArgs> {
        Some(GetCredentialArgs {
            cluster_id: self.cluster_id?,
            role_arn: self.role_arn,
            // The default clap declares for `--expiration`.
            expiration: match self.expiration {
                Some(lifetime) => lifetime,
                None => "3h0m0s".parse().ok()?,
            },
            api_version: self.api_version,
            credential_cache_dir: self.credential_cache_dir,
            force_refresh: self.force_refresh,
        })
    }
}

/// How an option takes its value.
enum Kind {
    /// `--name VALUE` or `--name=VALUE`.
    Value,
    /// `--name` (true) or `--name=BOOL`.
    Switch,
}

/// The options recognised here: get-credential's and the global ones.
#[derive(Clone, Copy)]
enum Flag {
    ClusterId,
    RoleArn,
    Expiration,
    ApiVersion,
    CredentialCacheDir,
    ForceRefresh,
    RegionId,
    ProfileFile,
    ProfileName,
    IgnoreEnvCredentials,
    IgnoreAliyunCliCredentials,
    CredentialType,
    StsEndpoint,
    CsEndpoint,
    RamEndpoint,
    LogLevel,
    Verbose,
    CacheStore,
}

impl Flag {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "--cluster-id" | "-c" => Self::ClusterId,
            "--role-arn" => Self::RoleArn,
            "--expiration" => Self::Expiration,
            "--api-version" => Self::ApiVersion,
            "--credential-cache-dir" => Self::CredentialCacheDir,
            "--force-refresh" => Self::ForceRefresh,
            "--region-id" => Self::RegionId,
            "--profile-file" => Self::ProfileFile,
            "--profile-name" => Self::ProfileName,
            "--ignore-env-credentials" => Self::IgnoreEnvCredentials,
            "--ignore-aliyun-cli-credentials" => Self::IgnoreAliyunCliCredentials,
            "--credential-type" => Self::CredentialType,
            "--sts-endpoint" => Self::StsEndpoint,
            "--cs-endpoint" => Self::CsEndpoint,
            "--ram-endpoint" => Self::RamEndpoint,
            "--log-level" => Self::LogLevel,
            "--verbose" => Self::Verbose,
            "--cache-store" => Self::CacheStore,
            _ => return None,
        })
    }

    fn kind(self) -> Kind {
        match self {
            Self::ForceRefresh
            | Self::IgnoreEnvCredentials
            | Self::IgnoreAliyunCliCredentials
            | Self::Verbose => Kind::Switch,
            _ => Kind::Value,
        }
    }

    /// Stores `value`; false when it does not parse or the option was already given (clap
    /// then explains).
    fn set(self, value: &str, global: &mut GlobalArgs, command: &mut Partial) -> bool {
        match self {
            Self::ClusterId => once(&mut command.cluster_id, value.parse().ok()),
            Self::RoleArn => once(&mut command.role_arn, Some(value.to_owned())),
            Self::Expiration => once(&mut command.expiration, value.parse().ok()),
            Self::ApiVersion => once(&mut command.api_version, value.parse().ok()),
            Self::CredentialCacheDir => {
                once(&mut command.credential_cache_dir, Some(value.to_owned()))
            }
            Self::ForceRefresh => once(&mut command.force_refresh, parse_go_bool(value).ok()),
            Self::RegionId => once(&mut global.region_id, value.parse().ok()),
            Self::ProfileFile => once(&mut global.profile_file, Some(value.to_owned())),
            Self::ProfileName => once(&mut global.profile_name, Some(value.to_owned())),
            Self::IgnoreEnvCredentials => once(
                &mut global.ignore_env_credentials,
                parse_go_bool(value).ok(),
            ),
            Self::IgnoreAliyunCliCredentials => once(
                &mut global.ignore_aliyun_cli_credentials,
                parse_go_bool(value).ok(),
            ),
            Self::CredentialType => once(
                &mut global.credential_type,
                named::<CredentialType>(&CREDENTIAL_TYPES, value),
            ),
            Self::StsEndpoint => once(&mut global.sts_endpoint, Some(value.to_owned())),
            Self::CsEndpoint => once(&mut global.cs_endpoint, Some(value.to_owned())),
            Self::RamEndpoint => once(&mut global.ram_endpoint, Some(value.to_owned())),
            Self::LogLevel => once(
                &mut global.log_level,
                named::<LogLevel>(&LogLevel::NAMES, value),
            ),
            Self::Verbose => once(&mut global.verbose, parse_go_bool(value).ok()),
            Self::CacheStore => once(
                &mut global.cache_store,
                named::<StoreKind>(&StoreKind::NAMES, value),
            ),
        }
    }
}

/// Sets `slot` to `value` when the option is new and its value parsed.
fn once<T>(slot: &mut Option<T>, value: Option<T>) -> bool {
    match (slot.is_none(), value) {
        (true, Some(value)) => {
            *slot = Some(value);
            true
        }
        _ => false,
    }
}

/// One of `names`, spelled exactly (other spellings, which clap accepts in any case, go to
/// clap).
fn named<T: FromStr>(names: &[&str], value: &str) -> Option<T> {
    names.contains(&value).then(|| value.parse().ok()).flatten()
}

#[cfg(test)]
mod tests;
