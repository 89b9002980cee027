//! aliyun CLI profiles in `CloudSSO` mode: the STS credentials cached in the profile, refreshed
//! through the CloudSSO user portal and written back.
//!
//! `aliyun configure --mode CloudSSO` signs in (in a browser) and stores a bearer access token
//! with its expiry, the chosen account and access configuration, and STS credentials. Here:
//!
//! 1. cached STS that stay valid for more than a minute (clock skew, the ACK call) are used as
//!    they are: no network, no lock;
//! 2. otherwise the `config.json` lock is taken and the file re-read: another process may have
//!    refreshed meanwhile, and then its result is used (one refresh for many kubectl runs);
//! 3. an access token that has expired (or was never stored) is an error naming the command
//!    that signs in again, `aliyun configure --profile NAME`: a kubectl plugin never prompts and
//!    never opens a browser, and CloudSSO has no refresh token;
//! 4. else `POST {scheme://host of cloud_sso_sign_in_url}/cloud-credentials` with the bearer
//!    token and `{AccountId, AccessConfigurationId}`; the answer's `CloudCredential` is written
//!    back (`sts_expiration` = `Expiration` − 5 s, as the CLI stores it).
//!
//! Unlike the Go tool (aliyun-cli 3.2.6), every status is handled: a 4xx shows the portal's
//! `ErrorCode`, `ErrorMessage` and `RequestId` (read once), a 3xx is refused without following
//! it, a 5xx or a body without `CloudCredential` is an error, never a crash. Everything the
//! portal says is scrubbed of the token before it is shown.

use super::aliyun_cli::{CliProfile, read_profile};
use super::cli_config_writer::{CachedSts, ConfigLock, CredentialUpdate, lock_config};
use super::profile::ProfileOrigin;
use crate::api_error;
use crate::context::Context;
use crate::http::{Answer, BodyError, Endpoint, error_chain, read_answer};
use ack_ram_domain::ports::{AccessCredentialProvider, ProviderError};
use ack_ram_domain::{AccessCredentials, Secret};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

const SOURCE: &str = "CloudSSO";
/// Largest answer read from the portal (a credential is well under 4 KiB).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// What the CLI subtracts from the portal's `Expiration` when it stores `sts_expiration`.
const STORED_EXPIRATION_OFFSET: i64 = 5;

/// A CloudSSO profile as read from `config.json`. `Debug` masks the token and the cached STS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloudSsoProfile {
    /// The file and profile name (where refreshed credentials are written back).
    pub origin: ProfileOrigin,
    /// `cloud_sso_sign_in_url`: only its scheme and host (with port) are used.
    pub sign_in_url: String,
    /// `cloud_sso_account_id`.
    pub account_id: String,
    /// `cloud_sso_access_config`: the AccessConfigurationId.
    pub access_config: String,
    /// `access_token`: the portal's bearer token.
    pub access_token: Secret,
    /// `cloud_sso_access_token_expire`: Unix seconds, 0 when absent.
    pub access_token_expire: i64,
    /// The STS credentials stored in the profile, when all three fields are there.
    pub cached: Option<CachedSts>,
}

impl CloudSsoProfile {
    /// Reads the CloudSSO fields of a profile; the three that say where to sign in are required.
    pub(crate) fn from_cli(p: &CliProfile, origin: &ProfileOrigin) -> Result<Self, ProviderError> {
        let missing: Vec<&str> = [
            ("cloud_sso_sign_in_url", &p.cloud_sso_sign_in_url),
            ("cloud_sso_account_id", &p.cloud_sso_account_id),
            ("cloud_sso_access_config", &p.cloud_sso_access_config),
        ]
        .iter()
        .filter(|(_, v)| v.trim().is_empty())
        .map(|(k, _)| *k)
        .collect();
        if !missing.is_empty() {
            return Err(failed(format!(
                "{origin} (mode CloudSSO) is missing {}; set it up with `aliyun configure --profile {} --mode CloudSSO`",
                missing.join(", "),
                shell_words::quote(&origin.name)
            )));
        }
        Ok(Self {
            origin: origin.clone(),
            sign_in_url: p.cloud_sso_sign_in_url.trim().to_owned(),
            account_id: p.cloud_sso_account_id.trim().to_owned(),
            access_config: p.cloud_sso_access_config.trim().to_owned(),
            access_token: Secret::new(p.access_token.trim()),
            access_token_expire: p.cloud_sso_access_token_expire,
            cached: CachedSts::from_fields(
                &p.access_key_id,
                &p.access_key_secret,
                &p.sts_token,
                p.sts_expiration,
            ),
        })
    }

    /// The command that signs in again.
    fn login_command(&self) -> String {
        format!(
            "aliyun configure --profile {}",
            shell_words::quote(&self.origin.name)
        )
    }
}

/// Serves a CloudSSO profile (see the module documentation).
pub struct CloudSsoProvider {
    profile: CloudSsoProfile,
    ctx: Context,
    lock_timeout: Duration,
}

impl CloudSsoProvider {
    /// A provider for `profile`, with the outside world of `ctx`, waiting at most `lock_timeout`
    /// for another process's refresh.
    pub fn new(profile: CloudSsoProfile, ctx: Context, lock_timeout: Duration) -> Self {
        Self {
            profile,
            ctx,
            lock_timeout,
        }
    }

    async fn refresh_locked(&self, lock: &ConfigLock) -> Result<AccessCredentials, ProviderError> {
        let origin = &self.profile.origin;
        let now = self.ctx.clock().now();
        let current = read_profile(self.ctx.fs(), lock.path(), &origin.name)?;
        if current.mode != "CloudSSO" {
            return Err(failed(format!(
                "{origin} changed to mode {:?} while this process waited for the lock; run the command again",
                current.mode
            )));
        }
        let profile = CloudSsoProfile::from_cli(&current, origin)?;
        if let Some(credentials) = profile.cached.as_ref().and_then(|c| c.usable_at(now)) {
            tracing::debug!(profile = %origin, "another process refreshed the CloudSSO credentials");
            return Ok(credentials);
        }
        if profile.access_token.is_empty() || profile.access_token_expire <= now.timestamp() {
            let when = if profile.access_token.is_empty() || profile.access_token_expire == 0 {
                "is not signed in (no CloudSSO access token is stored)".to_owned()
            } else {
                format!(
                    "has a CloudSSO access token that expired at {}",
                    unix_to_rfc3339(profile.access_token_expire)
                )
            };
            return Err(failed(format!(
                "{origin} {when}, and it holds no valid STS credentials; sign in again with `{}` (this plugin never prompts)",
                profile.login_command()
            )));
        }
        let http = self.ctx.http().map_err(|e| failed(e.to_string()))?;
        let sts = create_cloud_credential(&http, &profile, now).await?;
        let update = CredentialUpdate::default().with_sts(&sts);
        if let Err(e) = lock.write_back(self.ctx.fs(), &origin.name, &update) {
            tracing::warn!(
                "the new CloudSSO credentials of {origin} are used but could not be saved: {e}"
            );
        }
        Ok(sts.credentials())
    }
}

#[async_trait]
impl AccessCredentialProvider for CloudSsoProvider {
    async fn provide(&self) -> Result<AccessCredentials, ProviderError> {
        let now = self.ctx.clock().now();
        if let Some(credentials) = self.profile.cached.as_ref().and_then(|c| c.usable_at(now)) {
            tracing::debug!(profile = %self.profile.origin, "cached CloudSSO STS credentials are valid");
            return Ok(credentials);
        }
        let lock = lock_config(&self.profile.origin.path, self.lock_timeout).await;
        self.refresh_locked(&lock).await
    }
}

fn failed(message: String) -> ProviderError {
    ProviderError::Failed {
        source_name: SOURCE.into(),
        message,
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds, for messages.
pub(crate) fn unix_to_rfc3339(seconds: i64) -> String {
    DateTime::from_timestamp(seconds, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| format!("{seconds} (Unix time)"))
}

/// The portal's base URL: scheme, host and port of the sign-in URL.
fn portal(sign_in_url: &str, origin: &ProfileOrigin) -> Result<Endpoint, ProviderError> {
    let invalid = |why: &str| {
        failed(format!(
            "{origin}: cloud_sso_sign_in_url {why}; set it up again with `aliyun configure --profile {} --mode CloudSSO`",
            shell_words::quote(&origin.name)
        ))
    };
    let url = url::Url::parse(sign_in_url).map_err(|_| invalid("is not a URL"))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(invalid("is not an https:// URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("has no host"));
    }
    Endpoint::parse(&url.origin().ascii_serialization()).map_err(|_| invalid("has no usable host"))
}

/// `POST /cloud-credentials`: STS credentials for the profile's account and access configuration.
async fn create_cloud_credential(
    http: &reqwest::Client,
    profile: &CloudSsoProfile,
    now: DateTime<Utc>,
) -> Result<CachedSts, ProviderError> {
    let origin = &profile.origin;
    let portal = portal(&profile.sign_in_url, origin)?;
    if portal.is_cleartext_remote() {
        tracing::warn!(
            "{origin}: the CloudSSO sign-in URL is plain http:// off this machine; the access token travels unencrypted"
        );
    }
    let url = portal.url_for("/cloud-credentials");
    let shown = format!("POST {url}");
    // Built by hand to keep the CLI's key order; the values are JSON-quoted.
    let body = format!(
        "{{\"AccountId\":{},\"AccessConfigurationId\":{}}}",
        serde_json::Value::from(profile.account_id.as_str()),
        serde_json::Value::from(profile.access_config.as_str())
    );
    tracing::debug!(profile = %origin, %url, "asking the CloudSSO portal for STS credentials");
    let response = http
        .post(&url)
        .header(reqwest::header::ACCEPT, "application/json")
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .bearer_auth(profile.access_token.expose())
        .body(body)
        .send()
        .await
        .map_err(|e| failed(format!("{shown} failed: {}", error_chain(&e))))?;
    let answer = read_answer(response, MAX_RESPONSE_BYTES)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { .. } => failed(format!(
                "{shown}: the answer is larger than {} KiB, not a CloudSSO answer",
                MAX_RESPONSE_BYTES / 1024
            )),
            BodyError::Read(_) => failed(format!("{shown}: {e}")),
        })?;
    let secrets = [profile.access_token.expose()];
    if !(200..300).contains(&answer.status) {
        let summary = error_summary(
            &answer,
            ["ErrorCode", "Code"],
            ["ErrorMessage", "Message"],
            &secrets,
        );
        let advice = match answer.status {
            401 | 403 => format!(
                "the portal refused the access token of {origin}; sign in again with `{}`",
                profile.login_command()
            ),
            400..=499 => format!(
                "check cloud_sso_account_id and cloud_sso_access_config of {origin}, or sign in again with `{}`",
                profile.login_command()
            ),
            300..=399 => {
                "a redirect is never followed with a bearer token; check cloud_sso_sign_in_url"
                    .to_owned()
            }
            _ => "the CloudSSO portal had a problem; retry later".to_owned(),
        };
        return Err(failed(format!("{shown} answered {summary}; {advice}")));
    }
    let (mut sts, expiration) = parse_cloud_credential(&answer.body).map_err(|why| {
        failed(format!(
            "{shown} answered HTTP {} ({}, {} bytes) without usable credentials: {why}",
            answer.status,
            api_error::scrub(&answer.content_type, &secrets),
            answer.body.len()
        ))
    })?;
    usable_upstream(&shown, expiration, now).map_err(failed)?;
    sts.expiration = expiration.timestamp() - STORED_EXPIRATION_OFFSET;
    Ok(sts)
}

/// Refuses fresh credentials that are expired or expire within a minute (nothing is signed
/// with them, nothing written back).
pub(crate) fn usable_upstream(
    shown: &str,
    expiration: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), String> {
    ack_ram_domain::policy::upstream_usable(Some(expiration), now)
        .map_err(|e| format!("{shown}: {e}; check the clock of this machine"))
}

/// `HTTP <status> <code>: <message> (RequestId <id>)` of an error answer, scrubbed of `secrets`;
/// a body that is not a JSON object is described by type and size only.
pub(crate) fn error_summary<const N: usize>(
    answer: &Answer,
    code_keys: [&str; N],
    message_keys: [&str; N],
    secrets: &[&str],
) -> String {
    let json = serde_json::from_slice::<serde_json::Value>(&answer.body)
        .ok()
        .filter(serde_json::Value::is_object);
    let field = |keys: &[&str]| -> Option<String> {
        let object = json.as_ref()?;
        keys.iter().find_map(|k| match object.get(*k)? {
            serde_json::Value::String(s) if !s.trim().is_empty() => {
                Some(api_error::scrub(s.trim(), secrets))
            }
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let mut text = format!("HTTP {}", answer.status);
    match &json {
        None => text.push_str(&format!(
            " ({}, {} bytes, not JSON; a proxy or gateway may have answered)",
            api_error::scrub(&answer.content_type, secrets),
            answer.body.len()
        )),
        Some(_) => {
            if let Some(code) = field(&code_keys) {
                text.push(' ');
                text.push_str(&code);
            }
            if let Some(message) = field(&message_keys) {
                text.push_str(": ");
                text.push_str(message.trim_end_matches('.'));
            }
        }
    }
    let request_id = field(&["RequestId", "requestId"]).or_else(|| {
        answer
            .header_request_id
            .as_deref()
            .map(|id| api_error::scrub(id, secrets))
    });
    if let Some(id) = request_id {
        text.push_str(&format!(" (RequestId {id})"));
    }
    text
}

/// Reads `{"CloudCredential": {AccessKeyId, AccessKeySecret, SecurityToken, Expiration}}` from
/// a generic JSON tree (so no value is ever quoted in an error).
fn parse_cloud_credential(body: &[u8]) -> Result<(CachedSts, DateTime<Utc>), String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "the body is not JSON".to_owned())?;
    let credential = value
        .get("CloudCredential")
        .and_then(serde_json::Value::as_object)
        .ok_or("it has no CloudCredential object")?;
    credentials_from(
        credential,
        [
            "AccessKeyId",
            "AccessKeySecret",
            "SecurityToken",
            "Expiration",
        ],
    )
}

/// The STS triple and expiration named by `keys` (id, secret, token, expiration) in `object`.
pub(crate) fn credentials_from(
    object: &serde_json::Map<String, serde_json::Value>,
    keys: [&str; 4],
) -> Result<(CachedSts, DateTime<Utc>), String> {
    let field = |name: &str| -> Result<&str, String> {
        match object.get(name) {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Ok(s.trim()),
            Some(serde_json::Value::String(_)) | None | Some(serde_json::Value::Null) => {
                Err(format!("{name} is missing"))
            }
            Some(_) => Err(format!("{name} is not a string")),
        }
    };
    let [id, secret, token, expiration] = keys;
    let (id, secret, token) = (field(id)?, field(secret)?, field(token)?);
    let expiration = DateTime::parse_from_rfc3339(field(expiration)?)
        .map_err(|_| format!("{expiration} is not an RFC 3339 time"))?
        .with_timezone(&Utc);
    let sts = CachedSts::from_fields(id, secret, token, expiration.timestamp())
        .ok_or("the credentials are incomplete")?;
    Ok((sts, expiration))
}

#[cfg(test)]
pub(crate) mod tests;
