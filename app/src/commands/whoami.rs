//! `auth whoami`: which Alibaba Cloud identity the credential chain resolves to, so users can
//! see who they are before blaming the cluster. Calls STS `GetCallerIdentity`.

use crate::cli::{OutputFormat, WhoamiArgs};
use crate::config::Settings;
use crate::error::AppError;
use crate::wiring;
use ack_ram_adapters::env::Environment;
use ack_ram_adapters::sts::{CallerIdentity, StsClient};

/// Runs the command: prints the identity on stdout.
pub fn run(args: &WhoamiArgs, settings: &Settings, env: &Environment) -> Result<(), AppError> {
    let session = wiring::session(settings, args.role_arn.as_deref(), env)?;
    let credentials = session.credentials()?;
    let sts = StsClient::new(
        session.client.clone(),
        session.sts_endpoint.clone(),
        session.ctx.clock(),
    );
    let caller = session
        .runtime
        .block_on(sts.get_caller_identity(&credentials))
        .map_err(AppError::Sts)?;
    let text = match args.output {
        OutputFormat::Json => json(&caller),
        OutputFormat::Text => text(&caller),
    };
    crate::output::print(&text)
}

/// The Go tool's table: the rows `AccountId`, `IdentityType`, then `RoleId` and `RoleName` for
/// an assumed role or `UserId` and `UserName` for a user, then `Arn` and `PrincipalId`; names
/// padded to the longest one, two spaces, the value. Unlike the Go tool, a row without a value
/// is left out, no line has trailing spaces, and the names (which `GetCallerIdentity` does not
/// return, so the Go tool prints them empty) are read from the ARN.
fn text(c: &CallerIdentity) -> String {
    let given = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    let mut rows: Vec<(&str, String)> = vec![
        ("AccountId", c.account_id.clone()),
        ("IdentityType", c.identity_type.clone()),
    ];
    if let Some(role_id) = given(&c.role_id) {
        rows.push(("RoleId", role_id));
        rows.push(("RoleName", arn_name(&c.arn, "assumed-role/")));
    } else if let Some(user_id) = given(&c.user_id) {
        rows.push(("UserId", user_id));
        rows.push(("UserName", arn_name(&c.arn, "user/")));
    }
    rows.push(("Arn", c.arn.clone()));
    rows.push(("PrincipalId", given(&c.principal_id).unwrap_or_default()));
    rows.retain(|(_, value)| !value.is_empty());
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(name, value)| format!("{name:<width$}  {value}\n"))
        .collect()
}

/// The name in an ARN's resource after `kind` (`acs:ram::1:user/alice` -> `alice`,
/// `acs:ram::1:assumed-role/dev/session` -> `dev`), else empty.
fn arn_name(arn: &str, kind: &str) -> String {
    arn.splitn(5, ':')
        .nth(4)
        .and_then(|resource| resource.strip_prefix(kind))
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_owned()
}

fn json(c: &CallerIdentity) -> String {
    let mut value = serde_json::json!({
        "accountId": c.account_id,
        "identityType": c.identity_type,
        "arn": c.arn,
    });
    if let Some(map) = value.as_object_mut() {
        for (key, v) in [
            ("principalId", &c.principal_id),
            ("userId", &c.user_id),
            ("roleId", &c.role_id),
            ("requestId", &c.request_id),
        ] {
            if let Some(v) = v {
                map.insert(key.into(), serde_json::Value::String(v.clone()));
            }
        }
    }
    format!("{value:#}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(kind: &str, arn: &str) -> CallerIdentity {
        CallerIdentity {
            account_id: "1234567890123456".into(),
            arn: arn.into(),
            identity_type: kind.into(),
            principal_id: None,
            user_id: None,
            role_id: None,
            request_id: Some("R-1".into()),
        }
    }

    #[test]
    fn text_has_the_go_tools_rows_in_its_order() {
        let mut user = identity("RAMUser", "acs:ram::1234567890123456:user/alice");
        user.user_id = Some("2345".into());
        user.principal_id = Some("2345".into());
        assert_eq!(
            text(&user),
            "AccountId     1234567890123456\nIdentityType  RAMUser\nUserId        2345\nUserName      alice\nArn           acs:ram::1234567890123456:user/alice\nPrincipalId   2345\n"
        );
        let mut role = identity(
            "AssumedRoleUser",
            "acs:ram::1234567890123456:assumed-role/ack-dev/session",
        );
        role.role_id = Some("3456".into());
        role.principal_id = Some("3456:session".into());
        assert_eq!(
            text(&role),
            "AccountId     1234567890123456\nIdentityType  AssumedRoleUser\nRoleId        3456\nRoleName      ack-dev\nArn           acs:ram::1234567890123456:assumed-role/ack-dev/session\nPrincipalId   3456:session\n"
        );
    }

    #[test]
    fn rows_without_a_value_are_left_out() {
        let mut root = identity("Account", "acs:ram::1234567890123456:root");
        root.user_id = Some("1234567890123456".into());
        root.principal_id = Some(String::new());
        assert_eq!(
            text(&root),
            "AccountId     1234567890123456\nIdentityType  Account\nUserId        1234567890123456\nArn           acs:ram::1234567890123456:root\n"
        );
        assert!(!text(&root).lines().any(|l| l.ends_with(' ')));
    }
}
