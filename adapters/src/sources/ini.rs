//! The Alibaba Cloud credentials file (`~/.alibabacloud/credentials`, INI).
//!
//! Parsed with a real INI parser: unlike the Go tool's own, values may contain `#`, `;` and `[`,
//! and only one matching pair of quotes is removed. `security_token` (the SDKs' spelling) is
//! accepted as well as `sts_token` (the Go tool's), and `oidc_role_arn` sections work.

use super::oidc::OidcConfig;
use super::profile::{CredentialSpec, ProfileOrigin};
use ack_ram_domain::Secret;
use ack_ram_domain::ports::ProviderError;
use ini::{Ini, ParseOption, Properties};
use std::path::{Path, PathBuf};

const SOURCE: &str = "credentials file";

fn failed(message: String) -> ProviderError {
    ProviderError::Failed {
        source_name: SOURCE.into(),
        message,
    }
}

/// Loads `section` of the INI file at `path`.
pub fn load(path: &Path, section: &str) -> Result<(CredentialSpec, ProfileOrigin), ProviderError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| failed(format!("cannot read {}: {e}", path.display())))?;
    let ini = Ini::load_from_str_opt(
        &text,
        ParseOption {
            enabled_quote: true,
            enabled_escape: false,
            ..ParseOption::default()
        },
    )
    .map_err(|e| {
        failed(format!(
            "{} is not a valid INI file: line {}, column {}: {}",
            path.display(),
            e.line,
            e.col,
            e.msg
        ))
    })?;
    let origin = ProfileOrigin {
        path: path.to_path_buf(),
        name: section.to_owned(),
    };
    let props = ini.section(Some(section)).ok_or_else(|| {
        let known: Vec<&str> = ini.sections().flatten().collect();
        failed(format!(
            "{} has no section [{section}] (sections: {}); select one with ALIBABA_CLOUD_PROFILE or --profile-name",
            path.display(),
            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
        ))
    })?;
    Ok((to_spec(props, &origin)?, origin))
}

fn get<'a>(props: &'a Properties, key: &str) -> Option<&'a str> {
    props.get(key).map(str::trim).filter(|v| !v.is_empty())
}

fn required<'a>(
    props: &'a Properties,
    origin: &ProfileOrigin,
    kind: &str,
    key: &'static str,
) -> Result<&'a str, ProviderError> {
    get(props, key).ok_or_else(|| {
        failed(format!(
            "section [{}] in {} (type {kind}) is missing {key}",
            origin.name,
            origin.path.display()
        ))
    })
}

fn to_spec(props: &Properties, origin: &ProfileOrigin) -> Result<CredentialSpec, ProviderError> {
    let kind = get(props, "type").ok_or_else(|| {
        failed(format!(
            "section [{}] in {} has no type; set type = access_key, sts, ram_role_arn, ecs_ram_role, oidc_role_arn, credentials_uri or external",
            origin.name,
            origin.path.display()
        ))
    })?;
    let req = |key| required(props, origin, kind, key);
    let token = || get(props, "sts_token").or_else(|| get(props, "security_token"));
    let key_pair = |token: Option<&str>| -> Result<CredentialSpec, ProviderError> {
        let id = req("access_key_id")?.to_owned();
        let secret = Secret::new(req("access_key_secret")?);
        Ok(match token {
            Some(token) => CredentialSpec::StsToken {
                id,
                secret,
                token: Secret::new(token),
            },
            None => CredentialSpec::AccessKey { id, secret },
        })
    };
    match kind {
        "access_key" => key_pair(None),
        "sts" => {
            let token = token().ok_or_else(|| {
                failed(format!(
                    "section [{}] in {} (type sts) is missing sts_token (or security_token)",
                    origin.name,
                    origin.path.display()
                ))
            })?;
            key_pair(Some(token))
        }
        "ram_role_arn" => Ok(CredentialSpec::AssumeRole {
            base: Box::new(key_pair(token())?),
            role_arn: req("role_arn")?.to_owned(),
            session_name: req("role_session_name")?.to_owned(),
            external_id: get(props, "external_id").map(str::to_owned),
        }),
        "ecs_ram_role" => Ok(CredentialSpec::EcsRamRole {
            role_name: get(props, "role_name").map(str::to_owned),
        }),
        "oidc_role_arn" => Ok(CredentialSpec::Oidc(OidcConfig {
            role_arn: req("role_arn")?.to_owned(),
            oidc_provider_arn: req("oidc_provider_arn")?.to_owned(),
            token_file: PathBuf::from(req("oidc_token_file_path")?),
            session_name: req("role_session_name")?.to_owned(),
        })),
        "credentials_uri" => Ok(CredentialSpec::CredentialsUri {
            uri: req("credentials_uri")?.to_owned(),
        }),
        "external" => Ok(CredentialSpec::External {
            command: req("process_command")?.to_owned(),
        }),
        other => Err(failed(format!(
            "section [{}] in {} has an unsupported type {other:?}; use access_key, sts, ram_role_arn, ecs_ram_role, oidc_role_arn, credentials_uri or external",
            origin.name,
            origin.path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str, section: &str) -> Result<CredentialSpec, String> {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("credentials");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        load(&path, section)
            .map(|(s, _)| s)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn types_map_to_specs() {
        let text = "# comment\n[default]\ntype = access_key\naccess_key_id = LTAI\naccess_key_secret = \"s#e;c[r]et\"\n\n[sdk]\ntype = sts\naccess_key_id = STS.x\naccess_key_secret = s\nsecurity_token = tok\n\n[dev]\ntype = ram_role_arn\naccess_key_id = LTAI\naccess_key_secret = s\nrole_arn = acs:ram::1:role/dev\nrole_session_name = alice\n\n[ecs]\ntype = ecs_ram_role\nrole_name = r\n";
        match load_text(text, "default") {
            Ok(CredentialSpec::AccessKey { id, secret }) => {
                assert_eq!((id.as_str(), secret.expose()), ("LTAI", "s#e;c[r]et"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            load_text(text, "sdk"),
            Ok(CredentialSpec::StsToken { .. })
        ));
        assert!(
            matches!(load_text(text, "dev"), Ok(CredentialSpec::AssumeRole { session_name, .. }) if session_name == "alice")
        );
        assert_eq!(
            load_text(text, "ecs"),
            Ok(CredentialSpec::EcsRamRole {
                role_name: Some("r".into())
            })
        );
    }

    #[test]
    fn errors_name_the_file_section_and_key() {
        let err = load_text(
            "[default]\ntype = access_key\naccess_key_id = x\n",
            "default",
        )
        .err()
        .unwrap_or_default();
        assert!(
            err.contains("[default]")
                && err.contains("credentials")
                && err.contains("missing access_key_secret"),
            "{err}"
        );
        let err = load_text("[a]\ntype = access_key\n", "dev")
            .err()
            .unwrap_or_default();
        assert!(
            err.contains("no section [dev]") && err.contains("sections: a"),
            "{err}"
        );
        let err = load_text("[a]\naccess_key_id = x\n", "a")
            .err()
            .unwrap_or_default();
        assert!(err.contains("has no type"), "{err}");
        let err = load_text("[a]\ntype = bearer\n", "a")
            .err()
            .unwrap_or_default();
        assert!(err.contains("unsupported type \"bearer\""), "{err}");
        let err = load_text("[a\ntype = x\n", "a").err().unwrap_or_default();
        assert!(err.contains("not a valid INI file"), "{err}");
    }
}
