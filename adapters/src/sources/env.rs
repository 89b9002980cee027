//! Credentials from environment variables, with the Go tool's alias families and priorities.
//!
//! First match wins (`credential-sources.md` §2.2):
//! 1. AccessKey id + secret + security token: static STS credentials.
//! 2. Role ARN + OIDC provider ARN + OIDC token file: RRSA (AssumeRoleWithOIDC).
//! 3. AccessKey id + secret: a static AccessKey (with `ALIBABA_CLOUD_ROLE_ARN`: AssumeRole on top).
//! 4. `ALIBABA_CLOUD_CREDENTIALS_URI`, then `ALIBABA_CLOUD_ECS_METADATA`, then
//!    `ALIBABA_CLOUD_CREDENTIALS_FILE`.
//!
//! Cases 2 to 4 need STS, IMDS or file sources that this build does not include yet; they are
//! recognised and refused with a message naming the variable, never silently skipped.

use crate::env::Environment;
use ack_ram_domain::ports::{AccessCredentialProvider, ProviderError};
use ack_ram_domain::{AccessCredentials, Secret};
use async_trait::async_trait;

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

const SOURCE: &str = "environment variables";

/// Reads credentials from an environment snapshot.
#[derive(Clone, Debug)]
pub struct EnvCredentialProvider {
    env: Environment,
}

impl EnvCredentialProvider {
    /// A provider over `env`.
    pub fn new(env: Environment) -> Self {
        Self { env }
    }

    fn resolve(&self) -> Result<AccessCredentials, ProviderError> {
        let env = &self.env;
        let id = env.first_of(ACCESS_KEY_ID_VARS);
        let secret = env.first_of(ACCESS_KEY_SECRET_VARS);
        let token = env.first_of(SECURITY_TOKEN_VARS);
        let role_arn = env.get("ALIBABA_CLOUD_ROLE_ARN");
        let oidc = (
            env.get("ALIBABA_CLOUD_OIDC_PROVIDER_ARN"),
            env.get("ALIBABA_CLOUD_OIDC_TOKEN_FILE"),
        );

        if let (Some((id_var, id)), Some((secret_var, secret)), Some((token_var, token))) =
            (id, secret, token)
        {
            tracing::debug!(
                id_var,
                secret_var,
                token_var,
                access_key_id = id,
                "using STS credentials from the environment"
            );
            return Ok(AccessCredentials::sts(
                id,
                Secret::new(secret),
                Secret::new(token),
            ));
        }
        if let (Some(_), (Some(_), Some(_))) = (role_arn, oidc) {
            return Err(not_yet(
                "ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE select RRSA (AssumeRoleWithOIDC)",
            ));
        }
        if let (Some((id_var, id)), Some((secret_var, secret))) = (id, secret) {
            if role_arn.is_some() {
                return Err(not_yet(
                    "ALIBABA_CLOUD_ROLE_ARN asks for AssumeRole on top of the AccessKey",
                ));
            }
            tracing::debug!(
                id_var,
                secret_var,
                access_key_id = id,
                "using an AccessKey from the environment"
            );
            return Ok(AccessCredentials::access_key(id, Secret::new(secret)));
        }
        for (var, what) in [
            ("ALIBABA_CLOUD_CREDENTIALS_URI", "a credentials URI"),
            ("ALIBABA_CLOUD_ECS_METADATA", "the ECS instance RAM role"),
            ("ALIBABA_CLOUD_CREDENTIALS_FILE", "a credentials file"),
        ] {
            if env.get(var).is_some() {
                return Err(not_yet(&format!("{var} selects {what}")));
            }
        }
        let hint = match (id, secret, token) {
            (Some((v, _)), None, _) => {
                format!(" ({v} is set, but no AccessKey secret variable is)")
            }
            (None, Some((v, _)), _) => format!(" ({v} is set, but no AccessKey id variable is)"),
            (None, None, Some((v, _))) => {
                format!(" ({v} is set, but no AccessKey id and secret are)")
            }
            _ => String::new(),
        };
        Err(ProviderError::NotConfigured(format!(
            "no credentials in the environment{hint}"
        )))
    }
}

fn not_yet(what: &str) -> ProviderError {
    ProviderError::Failed {
        source_name: SOURCE.to_owned(),
        message: format!(
            "{what}, which this version of ack-ram-tool does not support yet; set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (plus ALIBABA_CLOUD_SECURITY_TOKEN for STS credentials) instead"
        ),
    }
}

#[async_trait]
impl AccessCredentialProvider for EnvCredentialProvider {
    async fn provide(&self) -> Result<AccessCredentials, ProviderError> {
        self.resolve()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(vars: &[(&str, &str)]) -> Result<AccessCredentials, ProviderError> {
        EnvCredentialProvider::new(vars.iter().copied().collect()).resolve()
    }

    #[test]
    fn access_key_with_every_alias_family() {
        for (id_var, secret_var) in ACCESS_KEY_ID_VARS.iter().zip(ACCESS_KEY_SECRET_VARS) {
            let c = resolve(&[(id_var, "ID"), (secret_var, "SECRET")]);
            assert_eq!(
                c,
                Ok(AccessCredentials::access_key("ID", Secret::new("SECRET"))),
                "{id_var}"
            );
        }
    }

    #[test]
    fn families_mix_and_priority_is_respected() {
        let c = resolve(&[
            ("ACCESS_KEY_ID", "generic"),
            ("ALICLOUD_ACCESS_KEY", "alicloud"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "S"),
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", ""),
        ]);
        assert_eq!(c.map(|c| c.access_key_id), Ok("alicloud".to_owned()));
    }

    #[test]
    fn token_makes_sts_and_wins_over_role_arn() {
        for token_var in SECURITY_TOKEN_VARS {
            let c = resolve(&[
                ("ALIBABA_CLOUD_ACCESS_KEY_ID", "STS.ID"),
                ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "S"),
                (token_var, "TOKEN"),
                ("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/x"),
            ]);
            assert_eq!(
                c,
                Ok(AccessCredentials::sts(
                    "STS.ID",
                    Secret::new("S"),
                    Secret::new("TOKEN")
                ))
            );
        }
    }

    #[test]
    fn unsupported_modes_are_named_not_skipped() {
        let c = resolve(&[
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ID"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "S"),
            ("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/x"),
        ]);
        assert!(
            matches!(&c, Err(ProviderError::Failed { message, .. }) if message.contains("ALIBABA_CLOUD_ROLE_ARN"))
        );
        let c = resolve(&[("ALIBABA_CLOUD_CREDENTIALS_URI", "http://x")]);
        assert!(
            matches!(&c, Err(ProviderError::Failed { message, .. }) if message.contains("ALIBABA_CLOUD_CREDENTIALS_URI"))
        );
    }

    #[test]
    fn nothing_set_is_not_configured_with_a_hint_for_half_a_pair() {
        assert!(matches!(resolve(&[]), Err(ProviderError::NotConfigured(_))));
        let c = resolve(&[("ALIBABA_CLOUD_ACCESS_KEY_ID", "ID")]);
        assert!(
            matches!(&c, Err(ProviderError::NotConfigured(m)) if m.contains("no AccessKey secret"))
        );
    }
}
