//! Who an AccessKey belongs to: a RAM user or an assumed-role session.
//!
//! STS `GetCallerIdentity`, the `AssumedRoleUser` of `AssumeRole` and the subject of the client
//! certificates issued by `DescribeClusterUserKubeconfig` must all agree on the caller, so the
//! mapping lives in one place. Everything is derived deterministically from the AccessKey id or
//! the role ARN, so tests can compute the expected values ([`crate::account_uid`],
//! [`role_id`], [`crate::Emulator::caller_identity`]).

use crate::account_uid;

/// `IdentityType` of a plain (registered) AccessKey.
pub const IDENTITY_RAM_USER: &str = "RAMUser";
/// `IdentityType` of a temporary key minted by `AssumeRole`.
pub const IDENTITY_ASSUMED_ROLE: &str = "AssumedRoleUser";
/// RAM user name the emulator gives every plain AccessKey (in the `Arn`).
pub const RAM_USER_NAME: &str = "ack-ram-emulator";

/// The caller behind an AccessKey, as `GetCallerIdentity` reports it, plus the CN the
/// emulator puts in client certificates issued to that key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// `AccountId`: [`crate::account_uid`] of the key for a RAM user; the account of the role
    /// ARN for an assumed role.
    pub account_id: String,
    /// `Arn`: `acs:ram::<account>:user/ack-ram-emulator` or
    /// `acs:ram::<account>:assumed-role/<role name>/<session name>`.
    pub arn: String,
    /// `IdentityType`: `RAMUser` or `AssumedRoleUser`.
    pub identity_type: String,
    /// `PrincipalId`: same as `user_id`.
    pub principal_id: String,
    /// `UserId`: [`crate::account_uid`] of the key for a RAM user; `<role id>:<session name>`
    /// for an assumed role.
    pub user_id: String,
    /// `RoleId` ([`role_id`] of the role ARN) for an assumed role.
    pub role_id: Option<String>,
    /// CN of the client certificates `DescribeClusterUserKubeconfig` issues to this key (also the
    /// kubeconfig user name): the account uid for a RAM user, the role id for an assumed role.
    pub certificate_cn: String,
}

/// The owner of a key, as stored with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    /// A registered AccessKey (configuration, `add_access_key`, `add_security_token`).
    User,
    /// A temporary key from `AssumeRole`.
    AssumedRole(AssumedRole),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AssumedRole {
    pub role_arn: String,
    pub account_id: String,
    pub role_name: String,
    pub session_name: String,
}

impl AssumedRole {
    /// `AssumedRoleUser.Arn` of the `AssumeRole` answer (`…:role/<name>/<session>`, as STS).
    pub fn assumed_role_user_arn(&self) -> String {
        format!(
            "acs:ram::{}:role/{}/{}",
            self.account_id,
            self.role_name.to_ascii_lowercase(),
            self.session_name
        )
    }

    /// `AssumedRoleUser.AssumedRoleId`: `<role id>:<session>`.
    pub fn assumed_role_id(&self) -> String {
        format!("{}:{}", role_id(&self.role_arn), self.session_name)
    }
}

impl Principal {
    pub fn caller_identity(&self, access_key_id: &str) -> CallerIdentity {
        match self {
            Principal::User => {
                let uid = account_uid(access_key_id);
                CallerIdentity {
                    account_id: uid.clone(),
                    arn: format!("acs:ram::{uid}:user/{RAM_USER_NAME}"),
                    identity_type: IDENTITY_RAM_USER.to_owned(),
                    principal_id: uid.clone(),
                    user_id: uid.clone(),
                    role_id: None,
                    certificate_cn: uid,
                }
            }
            Principal::AssumedRole(role) => {
                let rid = role_id(&role.role_arn);
                let user_id = format!("{rid}:{}", role.session_name);
                CallerIdentity {
                    account_id: role.account_id.clone(),
                    arn: format!(
                        "acs:ram::{}:assumed-role/{}/{}",
                        role.account_id, role.role_name, role.session_name
                    ),
                    identity_type: IDENTITY_ASSUMED_ROLE.to_owned(),
                    principal_id: user_id.clone(),
                    user_id,
                    role_id: Some(rid.clone()),
                    certificate_cn: rid,
                }
            }
        }
    }

    /// CN of issued client certificates (see [`CallerIdentity::certificate_cn`]).
    pub fn certificate_cn(&self, access_key_id: &str) -> String {
        match self {
            Principal::User => account_uid(access_key_id),
            Principal::AssumedRole(role) => role_id(&role.role_arn),
        }
    }
}

/// The 16-digit role id the emulator associates with a role ARN (stable; role names are
/// case-insensitive in RAM, so the ARN is lower-cased first).
pub fn role_id(role_arn: &str) -> String {
    account_uid(&format!("role:{}", role_arn.to_ascii_lowercase()))
}

/// Splits `acs:ram::<digits>:role/<name>` into (account id, role name). The name is 1 to 64
/// characters of `A-Z a-z 0-9 . @ - _`.
pub(crate) fn parse_role_arn(arn: &str) -> Option<(String, String)> {
    let rest = arn.strip_prefix("acs:ram::")?;
    let (account, resource) = rest.split_once(':')?;
    let name = resource.strip_prefix("role/")?;
    let account_ok = !account.is_empty() && account.bytes().all(|b| b.is_ascii_digit());
    let name_ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'@' | b'-' | b'_'));
    (account_ok && name_ok).then(|| (account.to_owned(), name.to_owned()))
}

/// Whether a `RoleSessionName` is acceptable: 2 to 64 characters of `A-Z a-z 0-9 . @ - _`.
pub(crate) fn valid_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'@' | b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        assert_eq!(
            parse_role_arn("acs:ram::1234567890123456:role/ack-dev"),
            Some(("1234567890123456".into(), "ack-dev".into()))
        );
        for bad in [
            "acs:ram::123:user/ack-dev",
            "acs:ram::12a:role/x",
            "acs:ram:::role/x",
            "acs:ram::123:role/",
            "acs:ram::123:role/a/b",
            "arn:aws:iam::123:role/x",
        ] {
            assert_eq!(parse_role_arn(bad), None, "{bad}");
        }
    }

    #[test]
    fn identities_agree() {
        let user = Principal::User.caller_identity("LTAI5tX");
        assert_eq!(user.identity_type, "RAMUser");
        assert_eq!(user.certificate_cn, account_uid("LTAI5tX"));
        assert_eq!(user.user_id, user.certificate_cn);

        let role = Principal::AssumedRole(AssumedRole {
            role_arn: "acs:ram::1234567890123456:role/ack-dev".into(),
            account_id: "1234567890123456".into(),
            role_name: "ack-dev".into(),
            session_name: "ack-ram-tool".into(),
        });
        let id = role.caller_identity("STS.x");
        assert_eq!(id.identity_type, "AssumedRoleUser");
        assert_eq!(id.account_id, "1234567890123456");
        assert_eq!(
            id.arn,
            "acs:ram::1234567890123456:assumed-role/ack-dev/ack-ram-tool"
        );
        let rid = role_id("acs:ram::1234567890123456:role/ACK-dev");
        assert_eq!(id.role_id.as_deref(), Some(rid.as_str()));
        assert_eq!(id.user_id, format!("{rid}:ack-ram-tool"));
        assert_eq!(id.certificate_cn, rid);
        assert_eq!(role.certificate_cn("STS.x"), rid);
        assert!(valid_session_name("ack-ram-tool"));
        assert!(!valid_session_name("a"));
        assert!(!valid_session_name("a b"));
    }
}
