//! STS (`2015-04-01`) on the emulator's main listener: `AssumeRole` and `GetCallerIdentity`.
//!
//! It exists so that the credential chain "AccessKey → `AssumeRole` → ACK" can run end to end
//! against one local endpoint (`--sts-endpoint` = `--cs-endpoint` = the emulator): requests are
//! RPC-signed (checked by the independent [`crate::sts_rpc`] module), nonces, timestamps and
//! security tokens are checked like the real gateway, and `AssumeRole` mints a temporary
//! `STS.` key whose token and secret are registered at once, so ACK calls signed with them are
//! accepted (and identified as the role session, see [`crate::CallerIdentity`]).
//!
//! Checks, first failure wins (STS error shape `{"RequestId","HostId","Code","Message",
//! "Recommend"}`):
//!
//! 1. `Action` present (400 `MissingParameter`) and known (404 `InvalidAction.NotFound`);
//!    `Version` = `2015-04-01` (400 `MissingParameter` / `InvalidVersion`); `Format` absent or
//!    `JSON` (400 `InvalidParameter`);
//! 2. `AccessKeyId`, `Signature`, `SignatureMethod` = `HMAC-SHA1`, `SignatureVersion` = `1.0`,
//!    `SignatureNonce`, `Timestamp` (400 `MissingParameter` / `InvalidParameter`);
//! 3. AccessKey id known (404 `InvalidAccessKeyId.NotFound`);
//! 4. `Timestamp` `YYYY-MM-DDTHH:MM:SSZ` (400 `InvalidTimeStamp.Format`) within 15 minutes
//!    (400 `InvalidTimeStamp.Expired`);
//! 5. nonce not seen before (400 `SignatureNonceUsed`);
//! 6. signature (400 `SignatureDoesNotMatch`, message carries the server's string to sign with
//!    any `SecurityToken` value shown as `***`);
//! 7. `SecurityToken` (400 `MissingSecurityToken` for an `STS.` id without one, 403
//!    `InvalidSecurityToken.MismatchWithAccessKey`, 400 `InvalidSecurityToken.Expired`);
//! 8. `AssumeRole` parameters: `RoleArn` (400 `MissingParameter` /
//!    `InvalidParameter.RoleArn`; 403 `NoPermission` when an allow-list does not contain it),
//!    `RoleSessionName` (400 `MissingParameter` / `InvalidParameter.RoleSessionName`),
//!    `DurationSeconds` 900..=43200 (400 `InvalidParameter.DurationSeconds`), `Policy` JSON
//!    (400 `InvalidParameter.PolicyGrammar`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

use crate::api::{ApiError, MAX_CLOCK_SKEW, check_security_token};
use crate::identity::{self, AssumedRole, Principal};
use crate::state::State;
use crate::sts_rpc;

/// The STS API version served.
pub const STS_VERSION: &str = "2015-04-01";
/// `HostId` of STS error answers.
pub const STS_HOST_ID: &str = "sts.aliyuncs.com";
/// `DurationSeconds` when absent.
pub const DEFAULT_STS_DURATION: chrono::TimeDelta = chrono::TimeDelta::seconds(3600);
/// Accepted `DurationSeconds` range.
pub const STS_DURATION_SECONDS: std::ops::RangeInclusive<i64> = 900..=43200;
/// `Expiration` / `Timestamp` format (`YYYY-MM-DDTHH:MM:SSZ`).
pub const STS_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// How `AssumeRole` mints its key (the `expired` fault wants one that is already expired).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum StsMode {
    #[default]
    Normal,
    Expired,
}

/// A successful answer: the JSON body (with `RequestId`) and whether it minted a key.
pub(crate) struct StsSuccess {
    pub body: serde_json::Value,
    pub action: String,
}

/// The STS error body.
pub(crate) fn error_body(e: &ApiError, request_id: &str) -> serde_json::Value {
    serde_json::json!({
        "RequestId": request_id,
        "HostId": STS_HOST_ID,
        "Code": e.code,
        "Message": e.message,
        "Recommend": format!(
            "https://api.aliyun.com/troubleshoot?q={}&product=Sts&requestId={request_id}",
            e.code
        ),
    })
}

fn missing(name: &str) -> ApiError {
    ApiError::new(
        400,
        "MissingParameter",
        format!(
            "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
        ),
    )
}

fn invalid(code: &str, name: &str, value: &str, expected: &str) -> ApiError {
    ApiError::new(
        400,
        code,
        format!(
            "The specified parameter \"{name}\" is not valid: got \"{value}\", expected {expected}."
        ),
    )
}

/// Runs every check and the action. `params` are the decoded query and form-body parameters.
pub(crate) fn handle(
    state: &State,
    method: &str,
    params: &[(String, String)],
    now: DateTime<Utc>,
    mode: StsMode,
    request_id: &str,
) -> Result<StsSuccess, ApiError> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let required = |name: &str| param(name).ok_or_else(|| missing(name));

    // 1. Action, Version, Format.
    let action = required("Action")?;
    if !matches!(action, "AssumeRole" | "GetCallerIdentity") {
        return Err(ApiError::new(
            404,
            "InvalidAction.NotFound",
            format!("Specified api {action} is not found, please check your url and method."),
        ));
    }
    let version = required("Version")?;
    if version != STS_VERSION {
        return Err(ApiError::new(
            400,
            "InvalidVersion",
            format!(
                "Specified parameter Version \"{version}\" is not valid (expected {STS_VERSION})."
            ),
        ));
    }
    if let Some(format) = param("Format").filter(|f| !f.eq_ignore_ascii_case("JSON")) {
        return Err(invalid("InvalidParameter", "Format", format, "\"JSON\""));
    }

    // 2. Signature parameters.
    let key_id = required("AccessKeyId")?;
    let client_signature = required("Signature")?;
    let sig_method = required("SignatureMethod")?;
    if sig_method != "HMAC-SHA1" {
        return Err(invalid(
            "InvalidParameter",
            "SignatureMethod",
            sig_method,
            "\"HMAC-SHA1\"",
        ));
    }
    let sig_version = required("SignatureVersion")?;
    if sig_version != "1.0" {
        return Err(invalid(
            "InvalidParameter",
            "SignatureVersion",
            sig_version,
            "\"1.0\"",
        ));
    }
    let nonce = required("SignatureNonce")?;
    if nonce.is_empty() {
        return Err(invalid(
            "InvalidParameter",
            "SignatureNonce",
            nonce,
            "a non-empty random string",
        ));
    }
    let timestamp = required("Timestamp")?;

    // 3. AccessKey id.
    let Some(key) = state.key(key_id) else {
        return Err(ApiError::new(
            404,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        ));
    };

    // 4. Timestamp.
    let Ok(sent_at) = NaiveDateTime::parse_from_str(timestamp, STS_TIME_FORMAT) else {
        return Err(ApiError::new(
            400,
            "InvalidTimeStamp.Format",
            format!(
                "Specified time stamp or date value \"{timestamp}\" is not well formatted (expected YYYY-MM-DDTHH:MM:SSZ)."
            ),
        ));
    };
    if (now - sent_at.and_utc()).abs() > MAX_CLOCK_SKEW {
        return Err(ApiError::new(
            400,
            "InvalidTimeStamp.Expired",
            format!(
                "Specified time stamp or date value is expired: {timestamp} is more than 15 minutes from the server time {}.",
                now.format(STS_TIME_FORMAT)
            ),
        ));
    }

    // 5. Nonce (looked up now, recorded once the signature is proven).
    let nonce_used = || {
        ApiError::new(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        )
    };
    if state.sts_nonce_seen(nonce) {
        return Err(nonce_used());
    }

    // 6. Signature.
    let string_to_sign = sts_rpc::string_to_sign(method, params);
    if !sts_rpc::verify(&key.secret, &string_to_sign, client_signature) {
        // Echo the string to sign like the real gateway, but never the security token.
        let masked: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| {
                let v = if k == "SecurityToken" {
                    "***"
                } else {
                    v.as_str()
                };
                (k.clone(), v.to_owned())
            })
            .collect();
        return Err(ApiError::new(
            400,
            "SignatureDoesNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server string to sign is:{}",
                sts_rpc::string_to_sign(method, &masked)
            ),
        ));
    }
    if !state.record_sts_nonce(nonce, now) {
        return Err(nonce_used());
    }

    // 7. Security token.
    check_security_token(
        &key,
        key_id,
        param("SecurityToken"),
        "its SecurityToken",
        now,
    )?;

    // 8. The action.
    let body = match action {
        "GetCallerIdentity" => {
            let id = key.principal.caller_identity(key_id);
            let mut body = serde_json::json!({
                "RequestId": request_id,
                "AccountId": id.account_id,
                "Arn": id.arn,
                "IdentityType": id.identity_type,
                "PrincipalId": id.principal_id,
                "UserId": id.user_id,
            });
            if let Some(role_id) = id.role_id {
                body["RoleId"] = serde_json::Value::String(role_id);
            }
            body
        }
        _ => assume_role(state, &param, now, mode, request_id)?,
    };
    Ok(StsSuccess {
        body,
        action: action.to_owned(),
    })
}

fn assume_role<'a>(
    state: &State,
    param: &dyn Fn(&str) -> Option<&'a str>,
    now: DateTime<Utc>,
    mode: StsMode,
    request_id: &str,
) -> Result<serde_json::Value, ApiError> {
    let role_arn = param("RoleArn").ok_or_else(|| missing("RoleArn"))?;
    let Some((account_id, role_name)) = identity::parse_role_arn(role_arn) else {
        return Err(invalid(
            "InvalidParameter.RoleArn",
            "RoleArn",
            role_arn,
            "acs:ram::<account id>:role/<role name>",
        ));
    };
    if state
        .roles
        .as_ref()
        .is_some_and(|allowed| !allowed.contains(role_arn))
    {
        return Err(ApiError::new(
            403,
            "NoPermission",
            format!(
                "You are not authorized to do this action. You should be authorized by RAM to assume {role_arn}."
            ),
        ));
    }
    let session_name = param("RoleSessionName").ok_or_else(|| missing("RoleSessionName"))?;
    if !identity::valid_session_name(session_name) {
        return Err(invalid(
            "InvalidParameter.RoleSessionName",
            "RoleSessionName",
            session_name,
            "2 to 64 characters of A-Z a-z 0-9 . @ - _",
        ));
    }
    let duration = match param("DurationSeconds") {
        None => DEFAULT_STS_DURATION,
        Some(v) => match v.parse::<i64>() {
            Ok(s) if STS_DURATION_SECONDS.contains(&s) => chrono::TimeDelta::seconds(s),
            _ => {
                return Err(invalid(
                    "InvalidParameter.DurationSeconds",
                    "DurationSeconds",
                    v,
                    "an integer number of seconds from 900 to 43200",
                ));
            }
        },
    };
    if let Some(policy) =
        param("Policy").filter(|p| serde_json::from_str::<serde_json::Value>(p).is_err())
    {
        return Err(invalid(
            "InvalidParameter.PolicyGrammar",
            "Policy",
            policy,
            "a JSON policy document",
        ));
    }

    let now = now.trunc_subsecs(0);
    let expiration = match mode {
        StsMode::Normal => now + duration,
        StsMode::Expired => now - chrono::TimeDelta::hours(1),
    };
    let internal = |e: crate::EmulatorError| ApiError::new(500, "InternalError", e.to_string());
    let access_key_id = format!("STS.{}", random_alphanumeric(25).map_err(internal)?);
    let secret = random_alphanumeric(44).map_err(internal)?;
    // 149 random bytes: the token has `+`, `/` and a trailing `=`, like real tokens, so
    // clients must encode it properly in both signature styles.
    let mut raw = [0u8; 149];
    crate::random_bytes(&mut raw).map_err(internal)?;
    let token = format!("CAIS{}", STANDARD.encode(raw));
    let role = AssumedRole {
        role_arn: role_arn.to_owned(),
        account_id,
        role_name,
        session_name: session_name.to_owned(),
    };
    let body = serde_json::json!({
        "RequestId": request_id,
        "AssumedRoleUser": {
            "Arn": role.assumed_role_user_arn(),
            "AssumedRoleId": role.assumed_role_id(),
        },
        "Credentials": {
            "AccessKeyId": access_key_id,
            "AccessKeySecret": secret,
            "SecurityToken": token,
            "Expiration": expiration.format(STS_TIME_FORMAT).to_string(),
        },
    });
    state.add_temporary_key(
        &access_key_id,
        &secret,
        &token,
        Principal::AssumedRole(role),
        expiration,
    );
    Ok(body)
}

fn random_alphanumeric(len: usize) -> Result<String, crate::EmulatorError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; len];
    crate::random_bytes(&mut bytes)?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}
