//! A CloudSSO user portal: `POST /cloud-credentials`, what the aliyun CLI (and the plugin) call
//! with a CloudSSO profile's bearer access token to get STS credentials.
//!
//! The portal accepts one access token ([`SsoSettings`], default [`DEMO_SSO_ACCESS_TOKEN`])
//! until its expiry, and answers with STS credentials that the emulator's STS and ACK APIs
//! accept at once, so a CloudSSO profile works end to end. The token, its expiry and queued
//! errors are set from Rust ([`crate::Emulator::configure_sso`]) or over the control API
//! (`/__emulator/sso`), so tests can exercise expired and refused tokens.
//!
//! Checks, first failure wins (error body `{"ErrorCode","ErrorMessage","RequestId"}`): a queued
//! error; `Authorization: Bearer <token>` missing → 401 `InvalidAuthorization`, another token →
//! 401 `InvalidAccessToken`, the token past its expiry → 401 `AccessTokenExpired`; a body that is
//! not a JSON object → 400 `InvalidParameter`; `AccountId` (digits) or `AccessConfigurationId`
//! (`ac-…`-like) missing or malformed → 400 `MissingParameter.<name>` / `InvalidParameter.<name>`.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SubsecRound as _, TimeDelta, Utc};

use crate::faults::Answer;
use crate::identity::{AssumedRole, Principal};
use crate::state::State;
use crate::sts::STS_TIME_FORMAT;

/// The access token a default emulator's CloudSSO portal accepts (not a real credential).
pub const DEMO_SSO_ACCESS_TOKEN: &str = "EmulatorSsoAccessTokenNotReal";
/// The path of the portal's credential call.
pub const SSO_PATH: &str = "/cloud-credentials";
/// Role name prefix of the identities CloudSSO credentials stand for (as CloudSSO's reserved
/// roles): `aliyunreservedsso-<access configuration id>`.
pub const SSO_ROLE_PREFIX: &str = "aliyunreservedsso-";
/// Session name of CloudSSO credentials.
pub const SSO_SESSION_NAME: &str = "sso-user";

/// What the CloudSSO portal accepts and hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSettings {
    /// The accepted bearer access token.
    pub access_token: String,
    /// When it stops being accepted (Unix seconds).
    pub access_token_expires_at: i64,
    /// Lifetime of the STS credentials handed out, in seconds.
    pub sts_duration_seconds: i64,
}

impl Default for SsoSettings {
    fn default() -> Self {
        SsoSettings {
            access_token: DEMO_SSO_ACCESS_TOKEN.to_owned(),
            // Far enough for any demo; tests set their own.
            access_token_expires_at: Utc::now().timestamp() + 30 * 86_400,
            sts_duration_seconds: 3600,
        }
    }
}

/// An error to answer instead of the next requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueuedError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

/// The portal's state.
#[derive(Debug, Default)]
pub(crate) struct SsoState {
    pub settings: SsoSettings,
    pub fail_next: VecDeque<QueuedError>,
    pub requests: usize,
    pub issued: usize,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Temporary credentials minted for a portal (registered with the emulator's keys).
pub(crate) struct Minted {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub security_token: String,
    pub expiration: String,
}

/// Mints an `STS.` key, secret and token (shaped like `AssumeRole`'s) for `principal`, valid
/// for `seconds`, and registers them so STS and ACK accept them.
pub(crate) fn mint(
    state: &State,
    principal: Principal,
    now: DateTime<Utc>,
    seconds: i64,
) -> Result<Minted, String> {
    let expires = now.trunc_subsecs(0) + TimeDelta::seconds(seconds);
    let access_key_id = format!("STS.{}", alphanumeric(25)?);
    let access_key_secret = alphanumeric(44)?;
    let mut raw = [0u8; 149];
    crate::random_bytes(&mut raw).map_err(|e| e.to_string())?;
    let security_token = format!("CAIS{}", STANDARD.encode(raw));
    state.add_temporary_key(
        &access_key_id,
        &access_key_secret,
        &security_token,
        principal,
        expires,
    );
    Ok(Minted {
        access_key_id,
        access_key_secret,
        security_token,
        expiration: expires.format(STS_TIME_FORMAT).to_string(),
    })
}

/// `len` random letters and digits.
pub(crate) fn alphanumeric(len: usize) -> Result<String, String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; len];
    crate::random_bytes(&mut bytes).map_err(|e| e.to_string())?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

/// The bearer token of `Authorization`, if it is one.
pub(crate) fn bearer(headers: &[(String, String)]) -> Option<&str> {
    let value = crate::roa::header_value(headers, "authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

fn error(status: u16, code: &str, message: &str, request_id: &str) -> (Answer, String) {
    (
        Answer::json(
            status,
            &serde_json::json!({"ErrorCode": code, "ErrorMessage": message, "RequestId": request_id}),
        ),
        code.to_owned(),
    )
}

/// `POST /cloud-credentials`: (answer, code).
pub(crate) fn cloud_credentials(
    state: &State,
    headers: &[(String, String)],
    body: &[u8],
    now: DateTime<Utc>,
    request_id: &str,
) -> (Answer, String) {
    let (settings, queued) = {
        let mut sso = lock(&state.sso);
        sso.requests += 1;
        (sso.settings.clone(), sso.fail_next.pop_front())
    };
    if let Some(e) = queued {
        return error(e.status, &e.code, &e.message, request_id);
    }
    let Some(token) = bearer(headers) else {
        return error(
            401,
            "InvalidAuthorization",
            "The Authorization header must be 'Bearer <access token>'.",
            request_id,
        );
    };
    if token != settings.access_token {
        return error(
            401,
            "InvalidAccessToken",
            "The access token is invalid.",
            request_id,
        );
    }
    if settings.access_token_expires_at <= now.timestamp() {
        return error(
            401,
            "AccessTokenExpired",
            "The access token is expired, please sign in again.",
            request_id,
        );
    }
    let Some(object) = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.as_object().cloned())
    else {
        return error(
            400,
            "InvalidParameter",
            "The request body must be a JSON object.",
            request_id,
        );
    };
    let field = |name: &str, valid: fn(&str) -> bool| -> Result<String, (Answer, String)> {
        match object.get(name).and_then(|v| v.as_str()) {
            None | Some("") => Err(error(
                400,
                &format!("MissingParameter.{name}"),
                &format!("{name} is required."),
                request_id,
            )),
            Some(v) if !valid(v) => Err(error(
                400,
                &format!("InvalidParameter.{name}"),
                &format!("{name} is malformed."),
                request_id,
            )),
            Some(v) => Ok(v.to_owned()),
        }
    };
    let account_id = match field("AccountId", |v| {
        v.len() <= 32 && v.bytes().all(|b| b.is_ascii_digit())
    }) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let access_config = match field("AccessConfigurationId", |v| {
        v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    }) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let role_name = format!("{SSO_ROLE_PREFIX}{}", access_config.to_ascii_lowercase());
    let principal = Principal::AssumedRole(AssumedRole {
        role_arn: format!("acs:ram::{account_id}:role/{role_name}"),
        account_id,
        role_name,
        session_name: SSO_SESSION_NAME.to_owned(),
    });
    match mint(state, principal, now, settings.sts_duration_seconds) {
        Ok(minted) => {
            lock(&state.sso).issued += 1;
            (
                Answer::json(
                    200,
                    &serde_json::json!({
                        "CloudCredential": {
                            "AccessKeyId": minted.access_key_id,
                            "AccessKeySecret": minted.access_key_secret,
                            "SecurityToken": minted.security_token,
                            "Expiration": minted.expiration,
                        },
                        "RequestId": request_id,
                    }),
                ),
                "OK".to_owned(),
            )
        }
        Err(e) => error(500, "InternalError", &e, request_id),
    }
}

/// `GET /__emulator/sso`: the settings and counters.
pub(crate) fn view(state: &State) -> serde_json::Value {
    let sso = lock(&state.sso);
    serde_json::json!({
        "access_token": sso.settings.access_token,
        "access_token_expires_at": sso.settings.access_token_expires_at,
        "sts_duration_seconds": sso.settings.sts_duration_seconds,
        "pending_errors": sso.fail_next.len(),
        "request_count": sso.requests,
        "issued_count": sso.issued,
    })
}

/// Reads a queued error `{"status", "code", "message"?, "count"?}`: (count, error).
pub(crate) fn parse_queued_error(
    value: &serde_json::Value,
) -> Result<(usize, QueuedError), String> {
    let status = value
        .get("status")
        .and_then(serde_json::Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..=599).contains(s))
        .ok_or("\"fail_next\" needs \"status\" (an HTTP status code)")?;
    let code = value
        .get("code")
        .and_then(serde_json::Value::as_str)
        .ok_or("\"fail_next\" needs \"code\" (a string)")?
        .to_owned();
    let message = value
        .get("message")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("fault injected by ack-ram-emulator")
        .to_owned();
    let count = match value.get("count") {
        None => 1,
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n <= 10_000)
            .ok_or("\"count\" must be an integer from 0 to 10000")?,
    };
    Ok((
        count,
        QueuedError {
            status,
            code,
            message,
        },
    ))
}

/// `POST /__emulator/sso`: every field optional — `access_token`, `access_token_expires_at`
/// (Unix seconds), `expire_access_token` (true: expired one second ago), `sts_duration_seconds`,
/// `fail_next` (`{"status","code","message"?,"count"?}`).
pub(crate) fn configure(state: &State, body: &[u8], now: DateTime<Utc>) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let object = value.as_object().ok_or("the body must be a JSON object")?;
    for key in object.keys() {
        if ![
            "access_token",
            "access_token_expires_at",
            "expire_access_token",
            "sts_duration_seconds",
            "fail_next",
        ]
        .contains(&key.as_str())
        {
            return Err(format!("unknown field \"{key}\""));
        }
    }
    let mut settings = lock(&state.sso).settings.clone();
    if let Some(v) = object.get("access_token") {
        settings.access_token = v
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or("\"access_token\" must be a non-empty string")?
            .to_owned();
    }
    if let Some(v) = object.get("access_token_expires_at") {
        settings.access_token_expires_at = v
            .as_i64()
            .ok_or("\"access_token_expires_at\" must be an integer")?;
    }
    if object.get("expire_access_token") == Some(&serde_json::Value::Bool(true)) {
        settings.access_token_expires_at = now.timestamp() - 1;
    }
    if let Some(v) = object.get("sts_duration_seconds") {
        settings.sts_duration_seconds = v
            .as_i64()
            .filter(|s| (1..=43_200).contains(s))
            .ok_or("\"sts_duration_seconds\" must be an integer from 1 to 43200")?;
    }
    let queued = object
        .get("fail_next")
        .map(parse_queued_error)
        .transpose()?;
    let mut sso = lock(&state.sso);
    sso.settings = settings;
    if let Some((count, e)) = queued {
        sso.fail_next.extend(std::iter::repeat_n(e, count));
    }
    Ok(())
}
