//! An OAuth server as the aliyun CLI's `OAuth` mode uses it: `POST /v1/token` (refresh) and
//! `POST /v1/exchange` (access token → STS credentials).
//!
//! It holds one valid refresh token (default [`DEMO_OAUTH_REFRESH_TOKEN`]), rotated by every
//! refresh unless told otherwise, and the access tokens it issued with their expiry (plus the
//! configured one, default [`DEMO_OAUTH_ACCESS_TOKEN`]). The exchange answers with STS
//! credentials that the emulator's STS and ACK APIs accept. Tokens, expiries, rotation and
//! queued errors are set from Rust ([`crate::Emulator::configure_oauth`]) or over the control
//! API (`/__emulator/oauth`).
//!
//! `/v1/token` (form body), first failure wins (error body `{"error","error_description"}`): a
//! queued error; `grant_type` not `refresh_token` → 400 `unsupported_grant_type`; `client_id`
//! not one of the two public clients → 401 `invalid_client`; `refresh_token` not the current
//! one (or revoked) → 400 `invalid_grant`. Success: `{access_token, refresh_token, expires_in,
//! token_type: "Bearer"}`.
//!
//! `/v1/exchange`: a queued error; no bearer token or an unknown one → 401 `invalid_token`; an
//! expired one → 401 `expired_token` ("The access token is expired."). Success (camelCase):
//! `{requestId, accessKeyId, accessKeySecret, securityToken, expiration}`.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};

use crate::faults::Answer;
use crate::identity::{AssumedRole, Principal};
use crate::sso::{QueuedError, alphanumeric, bearer, lock, mint, parse_queued_error};
use crate::state::State;

/// The access token a default emulator accepts for `/v1/exchange` (not a real credential).
pub const DEMO_OAUTH_ACCESS_TOKEN: &str = "EmulatorOAuthAccessTokenNotReal";
/// The refresh token a default emulator accepts for `/v1/token` (not a real credential).
pub const DEMO_OAUTH_REFRESH_TOKEN: &str = "EmulatorOAuthRefreshTokenNotReal";
/// The public client ids of the two sites (CN, INTL).
pub const OAUTH_CLIENT_IDS: [&str; 2] = ["4038181954557748008", "4103531455503354461"];
/// Account of the identity OAuth STS credentials stand for.
pub const OAUTH_ACCOUNT_ID: &str = "1234567890123456";
/// Role and session name of that identity.
pub const OAUTH_ROLE_NAME: &str = "aliyun-cli-oauth";
pub const OAUTH_SESSION_NAME: &str = "oauth-user";

/// What the OAuth server starts with (see [`crate::Emulator::configure_oauth`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSettings {
    /// An access token accepted by `/v1/exchange` (besides the ones `/v1/token` issues).
    pub access_token: String,
    /// Its expiry (Unix seconds).
    pub access_token_expires_at: i64,
    /// The refresh token `/v1/token` accepts; `None`: none (every refresh is refused).
    pub refresh_token: Option<String>,
    /// Whether each refresh replaces the refresh token (the old one is then refused).
    pub rotate_refresh_token: bool,
    /// `expires_in` of issued access tokens, in seconds.
    pub access_token_lifetime_seconds: i64,
    /// Lifetime of the STS credentials handed out, in seconds.
    pub sts_duration_seconds: i64,
}

impl Default for OAuthSettings {
    fn default() -> Self {
        OAuthSettings {
            access_token: DEMO_OAUTH_ACCESS_TOKEN.to_owned(),
            access_token_expires_at: Utc::now().timestamp() + 3 * 3600,
            refresh_token: Some(DEMO_OAUTH_REFRESH_TOKEN.to_owned()),
            rotate_refresh_token: true,
            access_token_lifetime_seconds: 3 * 3600,
            sts_duration_seconds: 3600,
        }
    }
}

/// Which OAuth call a queued error is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthCall {
    /// `/v1/token`.
    Token,
    /// `/v1/exchange`.
    Exchange,
}

/// The server's state.
#[derive(Debug)]
pub(crate) struct OAuthState {
    pub refresh_token: Option<String>,
    pub rotate_refresh_token: bool,
    pub access_token_lifetime_seconds: i64,
    pub sts_duration_seconds: i64,
    /// Access tokens accepted by `/v1/exchange`, with their expiry (Unix seconds).
    pub access_tokens: HashMap<String, i64>,
    pub fail_token: VecDeque<QueuedError>,
    pub fail_exchange: VecDeque<QueuedError>,
    pub token_requests: usize,
    pub exchange_requests: usize,
    pub refreshed: usize,
    pub issued: usize,
}

impl Default for OAuthState {
    fn default() -> Self {
        let mut state = OAuthState {
            refresh_token: None,
            rotate_refresh_token: true,
            access_token_lifetime_seconds: 0,
            sts_duration_seconds: 0,
            access_tokens: HashMap::new(),
            fail_token: VecDeque::new(),
            fail_exchange: VecDeque::new(),
            token_requests: 0,
            exchange_requests: 0,
            refreshed: 0,
            issued: 0,
        };
        state.apply(OAuthSettings::default());
        state
    }
}

impl OAuthState {
    /// Replaces the tokens and settings (issued access tokens stay valid until they expire).
    pub fn apply(&mut self, settings: OAuthSettings) {
        self.access_tokens
            .insert(settings.access_token, settings.access_token_expires_at);
        self.refresh_token = settings.refresh_token;
        self.rotate_refresh_token = settings.rotate_refresh_token;
        self.access_token_lifetime_seconds = settings.access_token_lifetime_seconds;
        self.sts_duration_seconds = settings.sts_duration_seconds;
    }
}

fn error(status: u16, code: &str, description: &str, request_id: &str) -> (Answer, String) {
    (
        Answer::json(
            status,
            &serde_json::json!({"error": code, "error_description": description, "requestId": request_id}),
        ),
        code.to_owned(),
    )
}

/// `POST /v1/token`: (answer, code).
pub(crate) fn token(
    state: &State,
    body: &[u8],
    now: DateTime<Utc>,
    request_id: &str,
) -> (Answer, String) {
    let mut oauth = lock(&state.oauth);
    oauth.token_requests += 1;
    if let Some(e) = oauth.fail_token.pop_front() {
        return error(e.status, &e.code, &e.message, request_id);
    }
    let params: HashMap<String, String> = crate::roa::decode_query(&String::from_utf8_lossy(body))
        .into_iter()
        .collect();
    let param = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
    if param("grant_type") != "refresh_token" {
        return error(
            400,
            "unsupported_grant_type",
            "Only grant_type=refresh_token is supported by the emulator.",
            request_id,
        );
    }
    if !OAUTH_CLIENT_IDS.contains(&param("client_id")) {
        return error(
            401,
            "invalid_client",
            "The client_id is unknown.",
            request_id,
        );
    }
    if oauth.refresh_token.as_deref() != Some(param("refresh_token"))
        || param("refresh_token").is_empty()
    {
        return error(
            400,
            "invalid_grant",
            "The refresh token is invalid or expired.",
            request_id,
        );
    }
    let (access_token, refresh_token) = match (alphanumeric(32), alphanumeric(32)) {
        (Ok(a), Ok(r)) => (format!("oauth-access-{a}"), format!("oauth-refresh-{r}")),
        (Err(e), _) | (_, Err(e)) => return error(500, "server_error", &e, request_id),
    };
    let lifetime = oauth.access_token_lifetime_seconds;
    oauth
        .access_tokens
        .insert(access_token.clone(), now.timestamp() + lifetime);
    if oauth.rotate_refresh_token {
        oauth.refresh_token = Some(refresh_token);
    }
    oauth.refreshed += 1;
    (
        Answer::json(
            200,
            &serde_json::json!({
                "access_token": access_token,
                "refresh_token": oauth.refresh_token,
                "expires_in": lifetime,
                "token_type": "Bearer",
            }),
        ),
        "OK".to_owned(),
    )
}

/// `POST /v1/exchange`: (answer, code).
pub(crate) fn exchange(
    state: &State,
    headers: &[(String, String)],
    now: DateTime<Utc>,
    request_id: &str,
) -> (Answer, String) {
    let duration = {
        let mut oauth = lock(&state.oauth);
        oauth.exchange_requests += 1;
        if let Some(e) = oauth.fail_exchange.pop_front() {
            return error(e.status, &e.code, &e.message, request_id);
        }
        let expiry = bearer(headers).and_then(|t| oauth.access_tokens.get(t).copied());
        match expiry {
            None => {
                return error(
                    401,
                    "invalid_token",
                    "The access token is invalid.",
                    request_id,
                );
            }
            Some(at) if at <= now.timestamp() => {
                return error(
                    401,
                    "expired_token",
                    "The access token is expired.",
                    request_id,
                );
            }
            Some(_) => oauth.sts_duration_seconds,
        }
    };
    let principal = Principal::AssumedRole(AssumedRole {
        role_arn: format!("acs:ram::{OAUTH_ACCOUNT_ID}:role/{OAUTH_ROLE_NAME}"),
        account_id: OAUTH_ACCOUNT_ID.to_owned(),
        role_name: OAUTH_ROLE_NAME.to_owned(),
        session_name: OAUTH_SESSION_NAME.to_owned(),
    });
    match mint(state, principal, now, duration) {
        Ok(minted) => {
            lock(&state.oauth).issued += 1;
            (
                Answer::json(
                    200,
                    &serde_json::json!({
                        "requestId": request_id,
                        "accessKeyId": minted.access_key_id,
                        "accessKeySecret": minted.access_key_secret,
                        "securityToken": minted.security_token,
                        "expiration": minted.expiration,
                    }),
                ),
                "OK".to_owned(),
            )
        }
        Err(e) => error(500, "server_error", &e, request_id),
    }
}

/// `GET /__emulator/oauth`: the current refresh token, settings and counters.
pub(crate) fn view(state: &State) -> serde_json::Value {
    let oauth = lock(&state.oauth);
    serde_json::json!({
        "refresh_token": oauth.refresh_token,
        "rotate_refresh_token": oauth.rotate_refresh_token,
        "access_token_lifetime_seconds": oauth.access_token_lifetime_seconds,
        "sts_duration_seconds": oauth.sts_duration_seconds,
        "access_tokens": oauth.access_tokens.len(),
        "pending_errors": {"token": oauth.fail_token.len(), "exchange": oauth.fail_exchange.len()},
        "token_request_count": oauth.token_requests,
        "exchange_request_count": oauth.exchange_requests,
        "refreshed_count": oauth.refreshed,
        "issued_count": oauth.issued,
    })
}

/// `POST /__emulator/oauth`: every field optional — `access_token` (accepted from now on, until
/// `access_token_expires_at`, default now + the lifetime), `expire_access_tokens` (true: every
/// known access token expires now), `refresh_token` (a string, or null to revoke it),
/// `rotate_refresh_token`, `access_token_lifetime_seconds`, `sts_duration_seconds`, `fail_next`
/// (`{"call": "token"|"exchange", "status", "code", "message"?, "count"?}`).
pub(crate) fn configure(state: &State, body: &[u8], now: DateTime<Utc>) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let object = value.as_object().ok_or("the body must be a JSON object")?;
    const KNOWN: [&str; 8] = [
        "access_token",
        "access_token_expires_at",
        "expire_access_tokens",
        "refresh_token",
        "rotate_refresh_token",
        "access_token_lifetime_seconds",
        "sts_duration_seconds",
        "fail_next",
    ];
    if let Some(key) = object.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!("unknown field \"{key}\""));
    }
    let seconds = |name: &str| -> Result<Option<i64>, String> {
        object
            .get(name)
            .map(|v| {
                v.as_i64()
                    .filter(|s| (1..=10 * 365 * 86_400).contains(s))
                    .ok_or(format!("\"{name}\" must be a positive integer"))
            })
            .transpose()
    };
    let lifetime = seconds("access_token_lifetime_seconds")?;
    let sts_duration = seconds("sts_duration_seconds")?;
    let access_token = match object.get("access_token") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .filter(|t| !t.is_empty())
                .ok_or("\"access_token\" must be a non-empty string")?
                .to_owned(),
        ),
    };
    let expires_at = match object.get("access_token_expires_at") {
        None => None,
        Some(v) => Some(
            v.as_i64()
                .ok_or("\"access_token_expires_at\" must be an integer")?,
        ),
    };
    let refresh_token = match object.get("refresh_token") {
        None => None,
        Some(serde_json::Value::Null) => Some(None),
        Some(v) => Some(Some(
            v.as_str()
                .filter(|t| !t.is_empty())
                .ok_or("\"refresh_token\" must be a non-empty string or null")?
                .to_owned(),
        )),
    };
    if expires_at.is_some() && access_token.is_none() {
        return Err("\"access_token_expires_at\" needs \"access_token\"".into());
    }
    let rotate = match object.get("rotate_refresh_token") {
        None => None,
        Some(v) => Some(
            v.as_bool()
                .ok_or("\"rotate_refresh_token\" must be a boolean")?,
        ),
    };
    let queued = match object.get("fail_next") {
        None => None,
        Some(spec) => {
            let call = match spec.get("call").and_then(serde_json::Value::as_str) {
                Some("token") => OAuthCall::Token,
                Some("exchange") => OAuthCall::Exchange,
                _ => return Err("\"fail_next\" needs \"call\": \"token\" or \"exchange\"".into()),
            };
            Some((call, parse_queued_error(spec)?))
        }
    };
    let mut oauth = lock(&state.oauth);
    if let Some(lifetime) = lifetime {
        oauth.access_token_lifetime_seconds = lifetime;
    }
    if let Some(duration) = sts_duration {
        oauth.sts_duration_seconds = duration;
    }
    if object.get("expire_access_tokens") == Some(&serde_json::Value::Bool(true)) {
        for expiry in oauth.access_tokens.values_mut() {
            *expiry = (*expiry).min(now.timestamp());
        }
    }
    if let Some(token) = access_token {
        let at = expires_at.unwrap_or(now.timestamp() + oauth.access_token_lifetime_seconds);
        oauth.access_tokens.insert(token, at);
    }
    if let Some(refresh) = refresh_token {
        oauth.refresh_token = refresh;
    }
    if let Some(rotate) = rotate {
        oauth.rotate_refresh_token = rotate;
    }
    if let Some((call, (count, e))) = queued {
        let queue = match call {
            OAuthCall::Token => &mut oauth.fail_token,
            OAuthCall::Exchange => &mut oauth.fail_exchange,
        };
        queue.extend(std::iter::repeat_n(e, count));
    }
    Ok(())
}
