//! Credentials from environment variables, with the Go tool's alias families and priorities.
//!
//! First match wins (`credential-sources.md` §2.2):
//! 1. AccessKey id + secret + security token: static STS credentials.
//! 2. Role ARN + OIDC provider ARN + OIDC token file: RRSA (AssumeRoleWithOIDC).
//! 3. AccessKey id + secret: a static AccessKey (with `ALIBABA_CLOUD_ROLE_ARN`: AssumeRole on top).
//! 4. `ALIBABA_CLOUD_CREDENTIALS_URI`, then `ALIBABA_CLOUD_ECS_METADATA` (the ECS RAM role),
//!    then `ALIBABA_CLOUD_CREDENTIALS_FILE` (an INI file, section `ALIBABA_CLOUD_PROFILE`).
//!
//! Selection is pure: it reads variables (and, for the last case, a file) and describes the
//! source; nothing is fetched until the chain needs credentials. Two of the Go tool's surprises
//! are fixed: `ALIBABA_CLOUD_ROLE_ARN` is honoured on top of a security token (unless the OIDC
//! variables claim it), and an unreadable `ALIBABA_CLOUD_CREDENTIALS_FILE` is an error rather than
//! silently skipped.

use super::ini;
use super::oidc::OidcConfig;
use super::profile::CredentialSpec;
use crate::context::Fs;
use crate::env::Environment;
use ack_ram_domain::Secret;
use ack_ram_domain::ports::ProviderError;
use std::path::PathBuf;

/// AccessKey id variables, in priority order.
pub const ACCESS_KEY_ID_VARS: &[&str] = &[
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALICLOUD_ACCESS_KEY",
    "ALIBABACLOUD_ACCESS_KEY_ID",
    "ALICLOUD_ACCESS_KEY_ID",
    "ACCESS_KEY_ID",
];
/// AccessKey secret variables, in priority order.
pub const ACCESS_KEY_SECRET_VARS: &[&str] = &[
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALICLOUD_SECRET_KEY",
    "ALIBABACLOUD_ACCESS_KEY_SECRET",
    "ALICLOUD_ACCESS_KEY_SECRET",
    "ACCESS_KEY_SECRET",
];
/// Security token variables, in priority order.
pub const SECURITY_TOKEN_VARS: &[&str] = &[
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "ALICLOUD_ACCESS_KEY_STS_TOKEN",
    "ALIBABACLOUD_SECURITY_TOKEN",
    "ALICLOUD_SECURITY_TOKEN",
    "SECURITY_TOKEN",
];

/// Describes the credentials the environment selects, or says why it selects none
/// (`NotConfigured`, so the chain moves on).
pub fn select(
    env: &Environment,
    fs: &dyn Fs,
    session_name: &str,
) -> Result<CredentialSpec, ProviderError> {
    let id = env.first_of(ACCESS_KEY_ID_VARS);
    let secret = env.first_of(ACCESS_KEY_SECRET_VARS);
    let token = env.first_of(SECURITY_TOKEN_VARS);
    let role_arn = env.get("ALIBABA_CLOUD_ROLE_ARN");
    let provider_arn = env.get("ALIBABA_CLOUD_OIDC_PROVIDER_ARN");
    let token_file = env.get("ALIBABA_CLOUD_OIDC_TOKEN_FILE");
    let with_role = |base: CredentialSpec| match role_arn {
        Some(role_arn) => {
            tracing::debug!(role_arn, "ALIBABA_CLOUD_ROLE_ARN: assuming it on top");
            CredentialSpec::AssumeRole {
                base: Box::new(base),
                role_arn: role_arn.to_owned(),
                session_name: session_name.to_owned(),
                external_id: None,
            }
        }
        None => base,
    };

    if let (Some((id_var, id)), Some((secret_var, secret)), Some((token_var, token))) =
        (id, secret, token)
    {
        tracing::debug!(
            id_var,
            secret_var,
            token_var,
            access_key_id = id,
            "environment: STS credentials"
        );
        let sts = CredentialSpec::StsToken {
            id: id.to_owned(),
            secret: Secret::new(secret),
            token: Secret::new(token),
        };
        return Ok(if provider_arn.is_some() {
            sts
        } else {
            with_role(sts)
        });
    }
    if let (Some(role_arn), Some(provider_arn), Some(token_file)) =
        (role_arn, provider_arn, token_file)
    {
        tracing::debug!(
            role_arn,
            provider_arn,
            token_file,
            "environment: RRSA (OIDC)"
        );
        return Ok(CredentialSpec::Oidc(OidcConfig {
            role_arn: role_arn.to_owned(),
            oidc_provider_arn: provider_arn.to_owned(),
            token_file: PathBuf::from(token_file),
            session_name: session_name.to_owned(),
        }));
    }
    if let (Some((id_var, id)), Some((secret_var, secret))) = (id, secret) {
        tracing::debug!(
            id_var,
            secret_var,
            access_key_id = id,
            "environment: AccessKey"
        );
        return Ok(with_role(CredentialSpec::AccessKey {
            id: id.to_owned(),
            secret: Secret::new(secret),
        }));
    }
    if let Some(uri) = env.get("ALIBABA_CLOUD_CREDENTIALS_URI") {
        tracing::debug!("environment: ALIBABA_CLOUD_CREDENTIALS_URI");
        return Ok(CredentialSpec::CredentialsUri {
            uri: uri.to_owned(),
        });
    }
    if let Some(role_name) = env.get("ALIBABA_CLOUD_ECS_METADATA") {
        tracing::debug!(
            role_name,
            "environment: ECS RAM role (ALIBABA_CLOUD_ECS_METADATA)"
        );
        return Ok(CredentialSpec::EcsRamRole {
            role_name: Some(role_name.to_owned()),
        });
    }
    if let Some(file) = env.get("ALIBABA_CLOUD_CREDENTIALS_FILE") {
        let section = env.get("ALIBABA_CLOUD_PROFILE").unwrap_or("default");
        tracing::debug!(file, section, "environment: ALIBABA_CLOUD_CREDENTIALS_FILE");
        return ini::load(fs, std::path::Path::new(file), section)
            .map(|(spec, _)| spec)
            .map_err(|e| ProviderError::Failed {
                source_name: "environment variables".into(),
                message: format!("ALIBABA_CLOUD_CREDENTIALS_FILE: {e}"),
            });
    }
    let hint = match (id, secret, token, role_arn, provider_arn) {
        (Some((v, _)), None, _, _, _) => format!(" ({v} is set, but no AccessKey secret variable is)"),
        (None, Some((v, _)), _, _, _) => format!(" ({v} is set, but no AccessKey id variable is)"),
        (None, None, Some((v, _)), _, _) => format!(" ({v} is set, but no AccessKey id and secret are)"),
        (_, _, _, Some(_), Some(_)) => " (ALIBABA_CLOUD_ROLE_ARN and ALIBABA_CLOUD_OIDC_PROVIDER_ARN are set, but ALIBABA_CLOUD_OIDC_TOKEN_FILE is not)".to_owned(),
        (_, _, _, Some(_), None) => " (ALIBABA_CLOUD_ROLE_ARN is set, but neither an AccessKey nor the OIDC variables are)".to_owned(),
        _ => String::new(),
    };
    Err(ProviderError::NotConfigured(format!(
        "no credentials in the environment{hint}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn select_in(vars: &[(&str, &str)]) -> Result<CredentialSpec, ProviderError> {
        select(
            &vars.iter().copied().collect(),
            &crate::context::OsFs,
            "ack-ram-tool",
        )
    }

    fn ak(id: &str, secret: &str) -> CredentialSpec {
        CredentialSpec::AccessKey {
            id: id.into(),
            secret: Secret::new(secret),
        }
    }

    #[test]
    fn access_key_with_every_alias_family() {
        for (id_var, secret_var) in ACCESS_KEY_ID_VARS.iter().zip(ACCESS_KEY_SECRET_VARS) {
            assert_eq!(
                select_in(&[(id_var, "ID"), (secret_var, "SECRET")]),
                Ok(ak("ID", "SECRET")),
                "{id_var}"
            );
        }
    }

    #[test]
    fn families_mix_and_priority_is_respected() {
        let c = select_in(&[
            ("ACCESS_KEY_ID", "generic"),
            ("ALICLOUD_ACCESS_KEY", "alicloud"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "S"),
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", ""),
        ]);
        assert_eq!(c, Ok(ak("alicloud", "S")));
    }

    #[test]
    fn token_makes_sts_for_every_alias() {
        for token_var in SECURITY_TOKEN_VARS {
            let c = select_in(&[
                ("ALIBABA_CLOUD_ACCESS_KEY_ID", "STS.ID"),
                ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "S"),
                (token_var, "TOKEN"),
            ]);
            assert_eq!(
                c,
                Ok(CredentialSpec::StsToken {
                    id: "STS.ID".into(),
                    secret: Secret::new("S"),
                    token: Secret::new("TOKEN")
                })
            );
        }
    }

    #[test]
    fn role_arn_is_assumed_on_top_of_an_access_key_or_token() {
        for extra in [vec![], vec![("ALIBABA_CLOUD_SECURITY_TOKEN", "T")]] {
            let mut vars = vec![
                ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ID"),
                ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "S"),
                ("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/x"),
            ];
            vars.extend(extra);
            assert!(matches!(
                select_in(&vars),
                Ok(CredentialSpec::AssumeRole { role_arn, session_name, .. }) if role_arn == "acs:ram::1:role/x" && session_name == "ack-ram-tool"
            ));
        }
    }

    #[test]
    fn oidc_uri_ecs_and_file_cases_in_order() {
        let oidc = select_in(&[
            ("ALIBABA_CLOUD_ROLE_ARN", "r"),
            ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "p"),
            ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", "/t"),
            ("ALIBABA_CLOUD_CREDENTIALS_URI", "http://x"),
        ]);
        assert!(
            matches!(oidc, Ok(CredentialSpec::Oidc(c)) if c.token_file.as_path() == std::path::Path::new("/t"))
        );
        let uri = select_in(&[
            ("ALIBABA_CLOUD_CREDENTIALS_URI", "http://x"),
            ("ALIBABA_CLOUD_ECS_METADATA", "role"),
        ]);
        assert_eq!(
            uri,
            Ok(CredentialSpec::CredentialsUri {
                uri: "http://x".into()
            })
        );
        let ecs = select_in(&[("ALIBABA_CLOUD_ECS_METADATA", "role")]);
        assert_eq!(
            ecs,
            Ok(CredentialSpec::EcsRamRole {
                role_name: Some("role".into())
            })
        );
        let missing = select_in(&[("ALIBABA_CLOUD_CREDENTIALS_FILE", "/nonexistent/credentials")]);
        assert!(
            matches!(&missing, Err(ProviderError::Failed { message, .. }) if message.contains("/nonexistent/credentials")),
            "{missing:?}"
        );
    }

    #[test]
    fn nothing_set_is_not_configured_with_a_hint_for_half_a_pair() {
        assert!(matches!(
            select_in(&[]),
            Err(ProviderError::NotConfigured(_))
        ));
        let c = select_in(&[("ALIBABA_CLOUD_ACCESS_KEY_ID", "ID")]);
        assert!(
            matches!(&c, Err(ProviderError::NotConfigured(m)) if m.contains("no AccessKey secret"))
        );
    }
}
