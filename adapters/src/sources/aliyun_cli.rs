//! Profiles of the aliyun CLI (`~/.aliyun/config.json`), every mode the Go tool serves natively.
//!
//! The file is parsed strictly enough to say exactly what is wrong (which file, which profile,
//! which field) and leniently enough to ignore the many keys the CLI writes that do not matter
//! here. ChainableRamRoleArn's `source_profile` is followed with cycle detection. CloudSSO,
//! OAuth and RsaKeyPair need the interactive aliyun CLI and are refused with a clear message:
//! a kubectl plugin must never prompt or rewrite the user's config behind their back.

use super::profile::{CredentialSpec, ProfileOrigin};
use crate::local_file::{self, Symlinks, caps};
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
    path: &Path,
    profile_name: Option<&str>,
    env_profile: Option<&str>,
    default_session_name: &str,
) -> Result<LoadedProfile, ProviderError> {
    let text = local_file::read_to_string(path, caps::ALIYUN_CONFIG, Symlinks::Follow)
        .map_err(|e| failed(e.to_string()))?;
    let config: ConfigFile = serde_json::from_str(&text).map_err(|e| {
        failed(format!(
            "{} is not a valid aliyun CLI config: {e}",
            path.display()
        ))
    })?;
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
        mode @ ("CloudSSO" | "OAuth" | "RsaKeyPair") => Err(failed(format!(
            "{origin} uses mode {mode}, which needs the interactive aliyun CLI and is not supported by this plugin; use a profile with mode AK, StsToken, RamRoleArn, ChainableRamRoleArn, EcsRamRole, OIDC or External (for example `External` with process_command running a tool that prints credentials)"
        ))),
        other => Err(failed(format!(
            "{origin} has an unknown mode {other:?}; supported: AK, StsToken, RamRoleArn, EcsRamRole, RamRoleArnWithRoleName, ChainableRamRoleArn, External, CredentialsURI, OIDC"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_source_profile_chains_are_refused_not_recursed() {
        let mut profiles: Vec<serde_json::Value> = (0..2000)
            .map(|i| {
                serde_json::json!({"name": format!("p{i}"), "mode": "ChainableRamRoleArn",
                    "source_profile": format!("p{}", i + 1), "ram_role_arn": "acs:ram::1:role/r",
                    "ram_session_name": "s"})
            })
            .collect();
        profiles.push(serde_json::json!({"name": "p2000", "mode": "AK",
            "access_key_id": "LTAI", "access_key_secret": "x"}));
        let text = serde_json::json!({"current": "p0", "profiles": profiles}).to_string();
        let err = load_text(&text, None).err().unwrap_or_default();
        assert!(err.contains("more than 16 deep"), "{err}");
    }

    #[test]
    fn debug_masks_secrets_and_what_may_carry_them() {
        const CANARY: &str = "canary-7f3a";
        let profile = CliProfile {
            name: "p".into(),
            mode: "AK".into(),
            access_key_id: "LTAI".into(),
            access_key_secret: CANARY.into(),
            sts_token: CANARY.into(),
            external_id: CANARY.into(),
            process_command: format!("helper --token {CANARY}"),
            credentials_uri: format!("http://127.0.0.1/?t={CANARY}"),
            ..CliProfile::default()
        };
        let shown = format!("{profile:?}");
        assert!(!shown.contains(CANARY), "{shown}");
        assert!(shown.contains("LTAI"), "{shown}");
    }

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("config.json");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        (dir, path)
    }

    fn load_text(text: &str, name: Option<&str>) -> Result<CredentialSpec, String> {
        let (_dir, path) = write(text);
        load(&path, name, None, "default-session-name")
            .map(|l| l.spec)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn profile_selection_order() {
        let text = r#"{"current":"b","profiles":[
            {"name":"default","mode":"AK","access_key_id":"D","access_key_secret":"s"},
            {"name":"b","mode":"AK","access_key_id":"B","access_key_secret":"s"},
            {"name":"c","mode":"AK","access_key_id":"C","access_key_secret":"s"}]}"#;
        let id = |spec: Result<CredentialSpec, String>| match spec {
            Ok(CredentialSpec::AccessKey { id, .. }) => id,
            other => panic!("{other:?}"),
        };
        assert_eq!(id(load_text(text, None)), "B");
        assert_eq!(id(load_text(text, Some("c"))), "C");
        let (_d, path) = write(text);
        let env = load(&path, None, Some("default"), "x").map(|l| l.spec);
        assert_eq!(id(env.map_err(|e| e.to_string())), "D");
        let no_current = r#"{"profiles":[{"name":"default","mode":"AK","access_key_id":"D","access_key_secret":"s"}]}"#;
        assert_eq!(id(load_text(no_current, None)), "D");
    }

    #[test]
    fn chainable_profiles_resolve_and_cycles_are_named() {
        let text = r#"{"current":"dev","profiles":[
            {"name":"base","mode":"AK","access_key_id":"LTAI","access_key_secret":"s"},
            {"name":"mid","mode":"ChainableRamRoleArn","source_profile":"base","ram_role_arn":"acs:ram::1:role/mid","ram_session_name":"m"},
            {"name":"dev","mode":"ChainableRamRoleArn","source_profile":"mid","ram_role_arn":"acs:ram::1:role/dev","ram_session_name":"alice","external_id":"ext"}]}"#;
        let spec = load_text(text, None).unwrap_or_else(|e| panic!("{e}"));
        let CredentialSpec::AssumeRole {
            base,
            role_arn,
            session_name,
            external_id,
        } = spec
        else {
            panic!()
        };
        assert_eq!(
            (
                role_arn.as_str(),
                session_name.as_str(),
                external_id.as_deref()
            ),
            ("acs:ram::1:role/dev", "alice", Some("ext"))
        );
        assert!(
            matches!(*base, CredentialSpec::AssumeRole { ref role_arn, .. } if role_arn == "acs:ram::1:role/mid")
        );

        let cycle = r#"{"current":"a","profiles":[
            {"name":"a","mode":"ChainableRamRoleArn","source_profile":"b","ram_role_arn":"r","ram_session_name":"s"},
            {"name":"b","mode":"ChainableRamRoleArn","source_profile":"a","ram_role_arn":"r","ram_session_name":"s"}]}"#;
        let err = load_text(cycle, None).err().unwrap_or_default();
        assert!(err.contains("cycle (a -> b -> a)"), "{err}");
    }

    #[test]
    fn errors_name_the_file_profile_and_field() {
        let err = load_text(
            r#"{"profiles":[{"name":"default","mode":"AK","access_key_id":"x"}]}"#,
            None,
        )
        .err()
        .unwrap_or_default();
        assert!(
            err.contains("profile \"default\"")
                && err.contains("config.json")
                && err.contains("missing access_key_secret"),
            "{err}"
        );
        let err = load_text(r#"{"profiles":[]}"#, Some("dev"))
            .err()
            .unwrap_or_default();
        assert!(err.contains("no profile \"dev\""), "{err}");
        let err = load_text(r#"{"profiles":[{"name":"default"}]}"#, None)
            .err()
            .unwrap_or_default();
        assert!(err.contains("aliyun configure --profile default"), "{err}");
        let err = load_text("{ not json", None).err().unwrap_or_default();
        assert!(
            err.contains("not a valid aliyun CLI config") && err.contains("line 1"),
            "{err}"
        );
        let err = load_text(r#"{"profiles":[{"name":"default","mode":"OAuth"}]}"#, None)
            .err()
            .unwrap_or_default();
        assert!(
            err.contains("mode OAuth") && err.contains("not supported"),
            "{err}"
        );
        let err = load_text(r#"{"profiles":[{"name":"default","mode":"Magic"}]}"#, None)
            .err()
            .unwrap_or_default();
        assert!(err.contains("unknown mode \"Magic\""), "{err}");
        assert!(!err.contains("EXAMPLE"));
    }

    #[test]
    fn every_native_mode_maps_to_a_spec() {
        let text = r#"{"profiles":[
            {"name":"sts","mode":"StsToken","access_key_id":"i","access_key_secret":"s","sts_token":"t"},
            {"name":"rra","mode":"RamRoleArn","access_key_id":"i","access_key_secret":"s","sts_token":"t","ram_role_arn":"r","ram_session_name":"n"},
            {"name":"ecs","mode":"EcsRamRole","ram_role_name":"role"},
            {"name":"rrwn","mode":"RamRoleArnWithRoleName","ram_role_arn":"r"},
            {"name":"ext","mode":"External","process_command":"tool --json"},
            {"name":"uri","mode":"CredentialsURI","credentials_uri":"http://127.0.0.1/c"},
            {"name":"oidc","mode":"OIDC","oidc_provider_arn":"p","oidc_token_file":"/t","ram_role_arn":"r","ram_session_name":"n"}]}"#;
        assert!(matches!(
            load_text(text, Some("sts")),
            Ok(CredentialSpec::StsToken { .. })
        ));
        assert!(
            matches!(load_text(text, Some("rra")), Ok(CredentialSpec::AssumeRole { base, .. }) if matches!(*base, CredentialSpec::StsToken { .. }))
        );
        assert_eq!(
            load_text(text, Some("ecs")),
            Ok(CredentialSpec::EcsRamRole {
                role_name: Some("role".into())
            })
        );
        assert!(
            matches!(load_text(text, Some("rrwn")), Ok(CredentialSpec::AssumeRole { session_name, .. }) if session_name == "default-session-name")
        );
        assert_eq!(
            load_text(text, Some("ext")),
            Ok(CredentialSpec::External {
                command: "tool --json".into()
            })
        );
        assert_eq!(
            load_text(text, Some("uri")),
            Ok(CredentialSpec::CredentialsUri {
                uri: "http://127.0.0.1/c".into()
            })
        );
        assert!(matches!(
            load_text(text, Some("oidc")),
            Ok(CredentialSpec::Oidc(_))
        ));
    }

    #[test]
    fn process_output_is_a_profile() {
        let output: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
            r#"{"mode":"StsToken","access_key_id":"i","access_key_secret":"s","sts_token":"t"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            spec_from_process_output(&output, "out"),
            Ok(CredentialSpec::StsToken { .. })
        ));
    }
}

/// `config.json` is the user's file, but anything may be in it (another tool's output, a torn
/// write, a hand edit): no panic, a spec no larger than the file, short messages that never
/// quote a secret. Profiles reference each other (`source_profile`) among a few names, so
/// chains, cycles and missing sources are all reached.
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::fuzz_support::{
        CANARY, any_json, check_message, config, mutations, spec_bytes, string_bytes, strings_of,
    };
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::select;
    use serde_json::{Map, Value, json};

    const NAMES: &[&str] = &["default", "a", "b"];
    const MODES: &[&str] = &[
        "",
        "AK",
        "StsToken",
        "RamRoleArn",
        "EcsRamRole",
        "RamRoleArnWithRoleName",
        "ChainableRamRoleArn",
        "ChainableRamRoleArn",
        "External",
        "CredentialsURI",
        "OIDC",
        "CloudSSO",
        "Magic",
    ];
    /// Findings (reported, not fixed here): these messages quote values of the file whole, so
    /// they grow with it (up to the 4 MiB cap).
    const ECHOES: &[&str] = &[
        "is not a valid aliyun CLI config",
        "is not an aliyun CLI profile",
        "(profiles: ",
        "unknown mode \"",
        "its source_profile \"",
        "forms a cycle (",
    ];

    fn name() -> BoxedStrategy<Value> {
        prop_oneof![
            12 => select(NAMES).prop_map(|n| json!(n)),
            1 => any::<String>().prop_map(Value::String),
        ]
        .boxed()
    }

    fn profile() -> BoxedStrategy<Value> {
        let fields = strings_of(vec![
            ("access_key_id", json!("LTAI")),
            ("access_key_secret", json!(CANARY)),
            ("sts_token", json!(CANARY)),
            ("ram_role_name", json!("role")),
            ("ram_role_arn", json!("acs:ram::1:role/r")),
            ("ram_session_name", json!("s")),
            ("external_id", json!(CANARY)),
            ("process_command", json!(format!("helper --token {CANARY}"))),
            (
                "credentials_uri",
                json!(format!("http://127.0.0.1/?t={CANARY}")),
            ),
            ("oidc_provider_arn", json!("acs:ram::1:oidc-provider/p")),
            ("oidc_token_file", json!("/var/run/token")),
        ]);
        let mode = prop_oneof![
            12 => select(MODES).prop_map(|m| json!(m)),
            1 => any::<String>().prop_map(Value::String),
        ];
        (fields, name(), mode, name())
            .prop_map(|(mut profile, name, mode, source)| {
                if let Some(object) = profile.as_object_mut() {
                    object.insert("name".into(), name);
                    object.insert("mode".into(), mode);
                    object.insert("source_profile".into(), source);
                }
                profile
            })
            .boxed()
    }

    fn config_file() -> BoxedStrategy<Vec<u8>> {
        let valid = json!({"current": "default", "profiles": [
            {"name": "default", "mode": "ChainableRamRoleArn", "source_profile": "a",
                "ram_role_arn": "acs:ram::1:role/r", "ram_session_name": "s"},
            {"name": "a", "mode": "StsToken", "access_key_id": "STS.id",
                "access_key_secret": CANARY, "sts_token": CANARY},
        ]});
        let file = (
            name(),
            vec(prop_oneof![12 => profile(), 1 => any_json()], 1..6),
            any::<bool>(),
        )
            .prop_map(|(current, profiles, with_current)| {
                let mut file = Map::new();
                if with_current {
                    file.insert("current".into(), current);
                }
                file.insert("profiles".into(), Value::Array(profiles));
                Value::Object(file).to_string().into_bytes()
            });
        prop_oneof![4 => file, 1 => mutations(valid.to_string().into_bytes())].boxed()
    }

    /// Finding (reported, not fixed here): profile names are listed raw (Display) in the
    /// "no profile" and "cycle" messages, so a control character in a name reaches the
    /// terminal. Masked here so that the rest of the message is still checked for them.
    fn check_error(error: &ProviderError, len: usize) -> Result<(), TestCaseError> {
        let message = error.to_string();
        let lists_names = message.contains("(profiles: ") || message.contains("forms a cycle (");
        let message = if lists_names {
            message
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect()
        } else {
            message
        };
        check_message(&message, len, ECHOES, &[CANARY])
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn config_files_never_panic_and_stay_bounded(
            bytes in config_file(),
            profile_name in proptest::option::of(select(NAMES)),
            env_profile in proptest::option::of(select(NAMES)),
        ) {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let path = dir.path().join("config.json");
            std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
            match load(&path, profile_name, env_profile, "default-session-name") {
                // A chain holds each profile once, plus the default session name per level.
                Ok(loaded) => prop_assert!(spec_bytes(&loaded.spec) <= bytes.len() + 20 * 8),
                Err(error) => check_error(&error, bytes.len())?,
            }
        }

        #[test]
        fn process_output_profiles_never_panic_and_stay_bounded(output in profile()) {
            let Value::Object(output) = output else {
                return Err(TestCaseError::fail("profile() makes objects"));
            };
            let len = Value::Object(output.clone()).to_string().len();
            match spec_from_process_output(&output, "the output of `helper`") {
                Ok(spec) => {
                    prop_assert!(spec_bytes(&spec) <= string_bytes(&Value::Object(output)) + 20);
                }
                Err(error) => check_error(&error, len)?,
            }
        }
    }
}
