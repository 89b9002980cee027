//! Profiles of the aliyun CLI (`~/.aliyun/config.json`), every mode the Go tool serves.
//!
//! The file is parsed strictly enough to say exactly what is wrong (which file, which profile,
//! which field) and leniently enough to ignore the many keys the CLI writes that do not matter
//! here. ChainableRamRoleArn's `source_profile` is followed with cycle detection. CloudSSO and
//! OAuth profiles are served from the STS credentials cached in them and refreshed without any
//! prompt ([`super::cloudsso`], [`super::oauth`]); signing in again stays the aliyun CLI's job.
//! RsaKeyPair is refused with a clear message.

use super::profile::{CredentialSpec, ProfileOrigin};
use crate::context::Fs;
use crate::local_file::{Symlinks, caps};
use ack_ram_domain::Secret;
use ack_ram_domain::ports::ProviderError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

const SOURCE: &str = "aliyun CLI config";
/// Most `source_profile` links followed. Real chains have two or three; the limit keeps a
/// hostile config from recursing the stack away.
pub const MAX_SOURCE_PROFILE_LINKS: usize = 16;

#[derive(Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    current: Option<String>,
    #[serde(default)]
    profiles: Vec<CliProfile>,
}

/// One profile of `config.json` (only the keys that matter here). `Debug` masks the secret,
/// the token, the process command and the credentials URI.
#[derive(Clone, Default, Deserialize)]
#[serde(default)]
pub struct CliProfile {
    pub name: String,
    pub mode: String,
    pub access_key_id: String,
    pub access_key_secret: String,
    pub sts_token: String,
    pub ram_role_name: String,
    pub ram_role_arn: String,
    pub ram_session_name: String,
    pub external_id: String,
    pub source_profile: String,
    pub process_command: String,
    pub credentials_uri: String,
    pub oidc_provider_arn: String,
    pub oidc_token_file: String,
    #[serde(deserialize_with = "lenient_i64")]
    pub sts_expiration: i64,
    pub cloud_sso_sign_in_url: String,
    pub cloud_sso_account_id: String,
    pub cloud_sso_access_config: String,
    /// The CloudSSO bearer access token (the CLI's generic key name).
    pub access_token: String,
    #[serde(deserialize_with = "lenient_i64")]
    pub cloud_sso_access_token_expire: i64,
    pub oauth_site_type: String,
    pub oauth_access_token: String,
    pub oauth_refresh_token: String,
    #[serde(deserialize_with = "lenient_i64")]
    pub oauth_access_token_expire: i64,
}

/// A Unix time as the CLI writes it (an integer); a float, a numeric string, `null` or anything
/// else reads as its value or 0 (expired), so one odd value never makes the whole file unreadable.
fn lenient_i64<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or(0),
        serde_json::Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

impl std::fmt::Debug for CliProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let masked = |value: &str| if value.is_empty() { "" } else { "***" };
        f.debug_struct("CliProfile")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &masked(&self.access_key_secret))
            .field("sts_token", &masked(&self.sts_token))
            .field("ram_role_name", &self.ram_role_name)
            .field("ram_role_arn", &self.ram_role_arn)
            .field("ram_session_name", &self.ram_session_name)
            .field("external_id", &masked(&self.external_id))
            .field("source_profile", &self.source_profile)
            .field("process_command", &masked(&self.process_command))
            .field("credentials_uri", &masked(&self.credentials_uri))
            .field("oidc_provider_arn", &self.oidc_provider_arn)
            .field("oidc_token_file", &self.oidc_token_file)
            .field("sts_expiration", &self.sts_expiration)
            .field("cloud_sso_sign_in_url", &self.cloud_sso_sign_in_url)
            .field("cloud_sso_account_id", &self.cloud_sso_account_id)
            .field("cloud_sso_access_config", &self.cloud_sso_access_config)
            .field("access_token", &masked(&self.access_token))
            .field(
                "cloud_sso_access_token_expire",
                &self.cloud_sso_access_token_expire,
            )
            .field("oauth_site_type", &self.oauth_site_type)
            .field("oauth_access_token", &masked(&self.oauth_access_token))
            .field("oauth_refresh_token", &masked(&self.oauth_refresh_token))
            .field("oauth_access_token_expire", &self.oauth_access_token_expire)
            .finish()
    }
}

/// A loaded profile and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedProfile {
    pub spec: CredentialSpec,
    pub origin: ProfileOrigin,
}

fn failed(message: String) -> ProviderError {
    ProviderError::Failed {
        source_name: SOURCE.into(),
        message,
    }
}

/// Loads the profile to use from `path`.
///
/// The profile is `profile_name` if given, else `ALIBABA_CLOUD_PROFILE` (passed in as
/// `env_profile`), else the file's `current`, else `default`.
pub fn load(
    fs: &dyn Fs,
    path: &Path,
    profile_name: Option<&str>,
    env_profile: Option<&str>,
    default_session_name: &str,
) -> Result<LoadedProfile, ProviderError> {
    let config = read_config(fs, path)?;
    let name = profile_name
        .or(env_profile)
        .or(config.current.as_deref().filter(|c| !c.is_empty()))
        .unwrap_or("default");
    let profile = find(&config.profiles, name).ok_or_else(|| {
        let known: Vec<&str> = config.profiles.iter().map(|p| p.name.as_str()).collect();
        failed(format!(
            "{} has no profile {name:?} (profiles: {}); pick one with --profile-name or ALIBABA_CLOUD_PROFILE",
            path.display(),
            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
        ))
    })?;
    let origin = ProfileOrigin {
        path: path.to_path_buf(),
        name: name.to_owned(),
    };
    let mut chain = vec![name.to_owned()];
    let spec = to_spec(
        profile,
        &config.profiles,
        &origin,
        default_session_name,
        &mut chain,
    )?;
    Ok(LoadedProfile { spec, origin })
}

/// Reads and parses a `config.json` (capped, non-blocking).
fn read_config(fs: &dyn Fs, path: &Path) -> Result<ConfigFile, ProviderError> {
    let text = fs
        .read_to_string(path, caps::ALIYUN_CONFIG, Symlinks::Follow)
        .map_err(|e| failed(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| {
        failed(format!(
            "{} is not a valid aliyun CLI config: {e}",
            path.display()
        ))
    })
}

/// Reads `path` again and returns its profile `name` as it is now (after another process may
/// have refreshed it).
pub(crate) fn read_profile(
    fs: &dyn Fs,
    path: &Path,
    name: &str,
) -> Result<CliProfile, ProviderError> {
    let config = read_config(fs, path)?;
    find(&config.profiles, name).cloned().ok_or_else(|| {
        failed(format!(
            "{} has no profile {name:?} any more",
            path.display()
        ))
    })
}

/// Reads what a credential process printed (a profile object, without a name).
pub fn spec_from_process_output(
    output: &serde_json::Map<String, serde_json::Value>,
    what: &str,
) -> Result<CredentialSpec, ProviderError> {
    let profile: CliProfile = serde_json::from_value(serde_json::Value::Object(output.clone()))
        .map_err(|e| failed(format!("{what} is not an aliyun CLI profile: {e}")))?;
    let origin = ProfileOrigin {
        path: PathBuf::from("<credential process>"),
        name: if profile.name.is_empty() {
            "output".into()
        } else {
            profile.name.clone()
        },
    };
    if profile.mode == "ChainableRamRoleArn" {
        return Err(failed(format!(
            "{what} uses mode ChainableRamRoleArn, which needs a config file to find its source profile"
        )));
    }
    if profile.mode == "CloudSSO" || profile.mode == "OAuth" {
        return Err(failed(format!(
            "{what} uses mode {}, which needs a config file to keep its refreshed credentials in; print a StsToken profile instead",
            profile.mode
        )));
    }
    let default_session = "default-session-name";
    to_spec(&profile, &[], &origin, default_session, &mut Vec::new())
}

fn find<'a>(profiles: &'a [CliProfile], name: &str) -> Option<&'a CliProfile> {
    profiles.iter().find(|p| p.name == name)
}

fn require<'a>(
    profile: &'a CliProfile,
    origin: &ProfileOrigin,
    fields: &[(&'static str, &'a str)],
) -> Result<(), ProviderError> {
    let missing: Vec<&str> = fields
        .iter()
        .filter(|(_, v)| v.is_empty())
        .map(|(k, _)| *k)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(failed(format!(
            "{origin} (mode {}) is missing {}",
            profile.mode,
            missing.join(", ")
        )))
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn to_spec(
    p: &CliProfile,
    all: &[CliProfile],
    origin: &ProfileOrigin,
    default_session_name: &str,
    chain: &mut Vec<String>,
) -> Result<CredentialSpec, ProviderError> {
    let key_pair = |p: &CliProfile| -> CredentialSpec {
        if p.sts_token.is_empty() {
            CredentialSpec::AccessKey {
                id: p.access_key_id.clone(),
                secret: Secret::new(p.access_key_secret.clone()),
            }
        } else {
            CredentialSpec::StsToken {
                id: p.access_key_id.clone(),
                secret: Secret::new(p.access_key_secret.clone()),
                token: Secret::new(p.sts_token.clone()),
            }
        }
    };
    match p.mode.as_str() {
        "" => Err(failed(format!(
            "{origin} is not configured yet (it has no mode); run `aliyun configure --profile {}` first",
            origin.name
        ))),
        "AK" => {
            require(
                p,
                origin,
                &[
                    ("access_key_id", &p.access_key_id),
                    ("access_key_secret", &p.access_key_secret),
                ],
            )?;
            Ok(CredentialSpec::AccessKey {
                id: p.access_key_id.clone(),
                secret: Secret::new(p.access_key_secret.clone()),
            })
        }
        "StsToken" => {
            require(
                p,
                origin,
                &[
                    ("access_key_id", &p.access_key_id),
                    ("access_key_secret", &p.access_key_secret),
                    ("sts_token", &p.sts_token),
                ],
            )?;
            Ok(key_pair(p))
        }
        "RamRoleArn" => {
            require(
                p,
                origin,
                &[
                    ("access_key_id", &p.access_key_id),
                    ("access_key_secret", &p.access_key_secret),
                    ("ram_role_arn", &p.ram_role_arn),
                    ("ram_session_name", &p.ram_session_name),
                ],
            )?;
            Ok(CredentialSpec::AssumeRole {
                base: Box::new(key_pair(p)),
                role_arn: p.ram_role_arn.clone(),
                session_name: p.ram_session_name.clone(),
                external_id: non_empty(&p.external_id),
            })
        }
        "EcsRamRole" => Ok(CredentialSpec::EcsRamRole {
            role_name: non_empty(&p.ram_role_name),
        }),
        "RamRoleArnWithRoleName" => {
            require(p, origin, &[("ram_role_arn", &p.ram_role_arn)])?;
            Ok(CredentialSpec::AssumeRole {
                base: Box::new(CredentialSpec::EcsRamRole {
                    role_name: non_empty(&p.ram_role_name),
                }),
                role_arn: p.ram_role_arn.clone(),
                session_name: non_empty(&p.ram_session_name)
                    .unwrap_or_else(|| default_session_name.to_owned()),
                external_id: non_empty(&p.external_id),
            })
        }
        "ChainableRamRoleArn" => {
            require(
                p,
                origin,
                &[
                    ("source_profile", &p.source_profile),
                    ("ram_role_arn", &p.ram_role_arn),
                    ("ram_session_name", &p.ram_session_name),
                ],
            )?;
            let source_name = p.source_profile.as_str();
            if chain.len() > MAX_SOURCE_PROFILE_LINKS {
                return Err(failed(format!(
                    "{origin}: source_profile links go more than {MAX_SOURCE_PROFILE_LINKS} deep in {}; shorten the chain",
                    origin.path.display()
                )));
            }
            if chain.iter().any(|n| n == source_name) {
                chain.push(source_name.to_owned());
                return Err(failed(format!(
                    "{origin}: source_profile forms a cycle ({}) in {}",
                    chain.join(" -> "),
                    origin.path.display()
                )));
            }
            let source = find(all, source_name).ok_or_else(|| {
                failed(format!(
                    "{origin}: its source_profile {source_name:?} does not exist in {}",
                    origin.path.display()
                ))
            })?;
            chain.push(source_name.to_owned());
            let source_origin = ProfileOrigin {
                path: origin.path.clone(),
                name: source_name.to_owned(),
            };
            let base = to_spec(source, all, &source_origin, default_session_name, chain)?;
            Ok(CredentialSpec::AssumeRole {
                base: Box::new(base),
                role_arn: p.ram_role_arn.clone(),
                session_name: p.ram_session_name.clone(),
                external_id: non_empty(&p.external_id),
            })
        }
        "External" => {
            require(p, origin, &[("process_command", &p.process_command)])?;
            Ok(CredentialSpec::External {
                command: p.process_command.clone(),
            })
        }
        "CredentialsURI" => {
            require(p, origin, &[("credentials_uri", &p.credentials_uri)])?;
            Ok(CredentialSpec::CredentialsUri {
                uri: p.credentials_uri.clone(),
            })
        }
        "OIDC" => {
            require(
                p,
                origin,
                &[
                    ("oidc_provider_arn", &p.oidc_provider_arn),
                    ("oidc_token_file", &p.oidc_token_file),
                    ("ram_role_arn", &p.ram_role_arn),
                    ("ram_session_name", &p.ram_session_name),
                ],
            )?;
            Ok(CredentialSpec::Oidc(super::oidc::OidcConfig {
                role_arn: p.ram_role_arn.clone(),
                oidc_provider_arn: p.oidc_provider_arn.clone(),
                token_file: PathBuf::from(&p.oidc_token_file),
                session_name: p.ram_session_name.clone(),
            }))
        }
        "CloudSSO" => Ok(CredentialSpec::CloudSso(Box::new(
            super::cloudsso::CloudSsoProfile::from_cli(p, origin)?,
        ))),
        "OAuth" => Ok(CredentialSpec::OAuth(Box::new(
            super::oauth::OAuthProfile::from_cli(p, origin)?,
        ))),
        mode @ "RsaKeyPair" => Err(failed(format!(
            "{origin} uses mode {mode}, which needs the interactive aliyun CLI and is not supported by this plugin; use a profile with mode AK, StsToken, RamRoleArn, ChainableRamRoleArn, EcsRamRole, OIDC, CloudSSO, OAuth or External (for example `External` with process_command running a tool that prints credentials)"
        ))),
        other => Err(failed(format!(
            "{origin} has an unknown mode {other:?}; supported: AK, StsToken, RamRoleArn, EcsRamRole, RamRoleArnWithRoleName, ChainableRamRoleArn, External, CredentialsURI, OIDC, CloudSSO, OAuth"
        ))),
    }
}

#[cfg(test)]
mod tests;

/// `config.json` is the user's file, but anything may be in it (another tool's output, a torn
/// write, a hand edit): no panic, a spec no larger than the file, short messages that never
/// quote a secret. Profiles reference each other (`source_profile`) among a few names, so
/// chains, cycles and missing sources are all reached.
#[cfg(test)]
mod fuzz;
