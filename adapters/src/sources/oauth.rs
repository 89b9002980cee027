//! aliyun CLI profiles in `OAuth` mode: the STS credentials cached in the profile, refreshed
//! with the profile's OAuth tokens and written back.
//!
//! `aliyun configure --mode OAuth` signs in (in a browser) and stores an access token, a
//! refresh token, the access token's expiry and STS credentials. Here:
//!
//! 1. cached STS that stay valid for more than a minute are used as they are (no network, no
//!    lock);
//! 2. otherwise the `config.json` lock is taken and the file re-read (another process may have
//!    refreshed meanwhile: its result is used);
//! 3. an access token that expires within 20 minutes ([`ACCESS_TOKEN_REFRESH_MARGIN`], the
//!    margin of credentials-go, which keeps `/v1/exchange` working) is refreshed through
//!    `POST {oauth host}/v1/token` (`grant_type=refresh_token`, the site's public client id);
//!    the new tokens are written back at once, so a rotated refresh token is never lost even if
//!    the exchange then fails. Without a stored refresh token the exchange is tried with the
//!    access token as long as it has not expired;
//! 4. `POST {oauth host}/v1/exchange` with the bearer access token gives STS credentials, written
//!    back. If the server refuses an access token that looked valid, it is refreshed once and
//!    the exchange retried.
//!
//! A token that cannot be recovered is an error naming `aliyun configure --mode OAuth --profile
//! NAME`. Unlike the Go tool, the plugin never runs `aliyun configure` itself (it would prompt
//! and print to kubectl's stdout), always names the profile (the Go tool omits `--profile` for
//! `default`, which configures whatever profile is `current`), and never stores an empty refresh
//! token over a good one. The host is `https://oauth.aliyun.com` (site `CN`) or
//! `https://oauth.alibabacloud.com` (`INTL`), or [`ENDPOINT_VARIABLE`] for tests and gateways.

use super::aliyun_cli::{CliProfile, read_profile};
use super::cli_config_writer::{CachedSts, ConfigLock, CredentialUpdate, lock_config};
use super::cloudsso::{credentials_from, error_summary, unix_to_rfc3339, usable_upstream};
use super::profile::ProfileOrigin;
use crate::context::Context;
use crate::http::{Answer, BodyError, Endpoint, error_chain, read_answer};
use ack_ram_domain::ports::{AccessCredentialProvider, ProviderError};
use ack_ram_domain::{AccessCredentials, Secret};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

const SOURCE: &str = "OAuth";
/// Overrides the OAuth token and exchange host of both sites (`http://127.0.0.1:PORT` for the
/// emulator).
pub const ENDPOINT_VARIABLE: &str = "ACK_RAM_TOOL_OAUTH_ENDPOINT";
/// An access token with less than this many seconds left is refreshed before the exchange.
pub const ACCESS_TOKEN_REFRESH_MARGIN: i64 = 1200;
/// Largest answer read from the OAuth server.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The sign-in site of an OAuth profile (`oauth_site_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OAuthSite {
    /// `CN`: oauth.aliyun.com.
    Cn,
    /// `INTL`: oauth.alibabacloud.com.
    Intl,
}

impl OAuthSite {
    /// `CN` or `INTL`, any case (credentials-go upper-cases it too).
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "CN" => Some(Self::Cn),
            "INTL" => Some(Self::Intl),
            _ => None,
        }
    }

    /// The token and exchange host.
    pub fn endpoint(self) -> &'static str {
        match self {
            Self::Cn => "https://oauth.aliyun.com",
            Self::Intl => "https://oauth.alibabacloud.com",
        }
    }

    /// The public client id the aliyun CLI signs in with (fixed by site).
    pub fn client_id(self) -> &'static str {
        match self {
            Self::Cn => "4038181954557748008",
            Self::Intl => "4103531455503354461",
        }
    }
}

/// An OAuth profile as read from `config.json`. `Debug` masks the tokens and the cached STS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthProfile {
    /// The file and profile name (where refreshed credentials are written back).
    pub origin: ProfileOrigin,
    /// `oauth_site_type`.
    pub site: OAuthSite,
    /// `oauth_access_token`.
    pub access_token: Secret,
    /// `oauth_refresh_token` (may be empty).
    pub refresh_token: Secret,
    /// `oauth_access_token_expire`: Unix seconds, 0 when absent.
    pub access_token_expire: i64,
    /// The STS credentials stored in the profile, when all three fields are there.
    pub cached: Option<CachedSts>,
}

impl OAuthProfile {
    /// Reads the OAuth fields of a profile; `oauth_site_type` is required.
    pub(crate) fn from_cli(p: &CliProfile, origin: &ProfileOrigin) -> Result<Self, ProviderError> {
        let command = reauth_command(&origin.name);
        let site = match p.oauth_site_type.trim() {
            "" => {
                return Err(failed(format!(
                    "{origin} (mode OAuth) is missing oauth_site_type; sign in with `{command}`"
                )));
            }
            raw => OAuthSite::parse(raw).ok_or_else(|| {
                failed(format!(
                    "{origin} (mode OAuth) has oauth_site_type {:?}; it must be CN or INTL (sign in again with `{command}`)",
                    raw.chars().take(16).collect::<String>()
                ))
            })?,
        };
        Ok(Self {
            origin: origin.clone(),
            site,
            access_token: Secret::new(p.oauth_access_token.trim()),
            refresh_token: Secret::new(p.oauth_refresh_token.trim()),
            access_token_expire: p.oauth_access_token_expire,
            cached: CachedSts::from_fields(
                &p.access_key_id,
                &p.access_key_secret,
                &p.sts_token,
                p.sts_expiration,
            ),
        })
    }
}

/// `aliyun configure --mode OAuth --profile NAME`, always with the profile.
fn reauth_command(name: &str) -> String {
    format!(
        "aliyun configure --mode OAuth --profile {}",
        shell_words::quote(name)
    )
}

/// Serves an OAuth profile (see the module documentation).
pub struct OAuthProvider {
    profile: OAuthProfile,
    ctx: Context,
    lock_timeout: Duration,
}

/// Tokens from a refresh.
struct Tokens {
    access_token: Secret,
    refresh_token: Secret,
    expire: i64,
}

/// Why an exchange failed: the access token was refused (a refresh may help) or anything else.
enum ExchangeError {
    TokenRefused(String),
    Other(ProviderError),
}

impl OAuthProvider {
    /// A provider for `profile`, with the outside world of `ctx`, waiting at most `lock_timeout`
    /// for another process's refresh.
    pub fn new(profile: OAuthProfile, ctx: Context, lock_timeout: Duration) -> Self {
        Self {
            profile,
            ctx,
            lock_timeout,
        }
    }

    fn endpoint(&self, site: OAuthSite) -> Result<Endpoint, ProviderError> {
        match self.ctx.env().get(ENDPOINT_VARIABLE) {
            Some(raw) => {
                Endpoint::parse(raw).map_err(|e| failed(format!("{ENDPOINT_VARIABLE}: {e}")))
            }
            None => Endpoint::parse(site.endpoint()).map_err(|e| failed(e.to_string())),
        }
    }

    async fn refresh_locked(&self, lock: &ConfigLock) -> Result<AccessCredentials, ProviderError> {
        let origin = &self.profile.origin;
        let now = self.ctx.clock().now();
        let current = read_profile(self.ctx.fs(), lock.path(), &origin.name)?;
        if current.mode != "OAuth" {
            return Err(failed(format!(
                "{origin} changed to mode {:?} while this process waited for the lock; run the command again",
                current.mode
            )));
        }
        let profile = OAuthProfile::from_cli(&current, origin)?;
        if let Some(credentials) = profile.cached.as_ref().and_then(|c| c.usable_at(now)) {
            tracing::debug!(profile = %origin, "another process refreshed the OAuth credentials");
            return Ok(credentials);
        }
        let endpoint = self.endpoint(profile.site)?;
        if endpoint.is_cleartext_remote() {
            tracing::warn!(
                "{ENDPOINT_VARIABLE} is plain http:// off this machine; OAuth tokens travel unencrypted"
            );
        }
        let http = self.ctx.http().map_err(|e| failed(e.to_string()))?;
        let call = Call {
            http: &http,
            endpoint: &endpoint,
            profile: &profile,
            now,
        };
        let command = reauth_command(&origin.name);
        let now_s = now.timestamp();
        let mut access = profile.access_token.clone();
        let mut expire = profile.access_token_expire;
        let mut refreshed = false;
        let has_refresh = !profile.refresh_token.is_empty();
        let mut may_refresh = has_refresh;
        if (access.is_empty() || expire - ACCESS_TOKEN_REFRESH_MARGIN <= now_s) && has_refresh {
            may_refresh = false;
            match call.refresh().await {
                Ok(tokens) => {
                    (access, expire, refreshed) =
                        (tokens.access_token.clone(), tokens.expire, true);
                    self.save(lock, tokens_update(&tokens));
                }
                Err(e) if !access.is_empty() && expire > now_s => tracing::warn!(
                    "{e}; trying the current access token, valid until {}",
                    unix_to_rfc3339(expire)
                ),
                Err(e) => return Err(e),
            }
        }
        if !refreshed && (access.is_empty() || expire <= now_s) {
            let state = if access.is_empty() || expire == 0 {
                "has no OAuth access token".to_owned()
            } else {
                format!(
                    "has an OAuth access token that expired at {}",
                    unix_to_rfc3339(expire)
                )
            };
            return Err(failed(format!(
                "{origin} {state} and no refresh token, and it holds no valid STS credentials; sign in again with `{command}` (this plugin never prompts)"
            )));
        }
        let sts = match call.exchange(&access).await {
            Ok(sts) => sts,
            Err(ExchangeError::TokenRefused(why)) if may_refresh => {
                tracing::debug!("{why}; refreshing the access token and trying once more");
                let tokens = call.refresh().await?;
                self.save(lock, tokens_update(&tokens));
                call.exchange(&tokens.access_token)
                    .await
                    .map_err(|e| match e {
                        ExchangeError::TokenRefused(why) => {
                            failed(format!("{why}; sign in again with `{command}`"))
                        }
                        ExchangeError::Other(e) => e,
                    })?
            }
            Err(ExchangeError::TokenRefused(why)) => {
                return Err(failed(format!("{why}; sign in again with `{command}`")));
            }
            Err(ExchangeError::Other(e)) => return Err(e),
        };
        self.save(lock, CredentialUpdate::default().with_sts(&sts));
        Ok(sts.credentials())
    }

    /// Writes `update` back; a failure is a warning (the credentials still serve this run).
    fn save(&self, lock: &ConfigLock, update: CredentialUpdate) {
        if let Err(e) = lock.write_back(self.ctx.fs(), &self.profile.origin.name, &update) {
            tracing::warn!(
                "the refreshed OAuth credentials of {} are used but could not be saved: {e}",
                self.profile.origin
            );
        }
    }
}

fn tokens_update(tokens: &Tokens) -> CredentialUpdate {
    CredentialUpdate {
        oauth_access_token: Some(tokens.access_token.clone()),
        oauth_refresh_token: Some(tokens.refresh_token.clone()),
        oauth_access_token_expire: Some(tokens.expire),
        ..CredentialUpdate::default()
    }
}

#[async_trait]
impl AccessCredentialProvider for OAuthProvider {
    async fn provide(&self) -> Result<AccessCredentials, ProviderError> {
        let now = self.ctx.clock().now();
        if let Some(credentials) = self.profile.cached.as_ref().and_then(|c| c.usable_at(now)) {
            tracing::debug!(profile = %self.profile.origin, "cached OAuth STS credentials are valid");
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

/// The two calls, with what they share.
struct Call<'a> {
    http: &'a reqwest::Client,
    endpoint: &'a Endpoint,
    profile: &'a OAuthProfile,
    now: DateTime<Utc>,
}

impl Call<'_> {
    /// Sends `request` and reads the answer with the cap.
    async fn send(
        &self,
        shown: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Answer, ProviderError> {
        let response = request
            .send()
            .await
            .map_err(|e| failed(format!("{shown} failed: {}", error_chain(&e))))?;
        read_answer(response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge { .. } => failed(format!(
                    "{shown}: the answer is larger than {} KiB, not an OAuth answer",
                    MAX_RESPONSE_BYTES / 1024
                )),
                BodyError::Read(_) => failed(format!("{shown}: {e}")),
            })
    }

    /// `POST /v1/token` with the refresh token.
    async fn refresh(&self) -> Result<Tokens, ProviderError> {
        let now = self.now;
        let origin = &self.profile.origin;
        let url = self.endpoint.url_for("/v1/token");
        let shown = format!("POST {url}");
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", self.profile.site.client_id())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", self.profile.refresh_token.expose())
            .finish();
        tracing::debug!(profile = %origin, %url, "refreshing the OAuth access token");
        let request = self
            .http
            .post(&url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(form);
        let answer = self.send(&shown, request).await?;
        let secrets = [
            self.profile.refresh_token.expose(),
            self.profile.access_token.expose(),
        ];
        if answer.status != 200 {
            let summary = error_summary(
                &answer,
                ["error", "code"],
                ["error_description", "message"],
                &secrets,
            );
            return Err(failed(match answer.status {
                400 | 401 | 403 => format!(
                    "{shown} refused the OAuth refresh token of {origin} ({summary}); sign in again with `{}`",
                    reauth_command(&origin.name)
                ),
                _ => format!(
                    "{shown} answered {summary}; the OAuth server had a problem, retry later"
                ),
            }));
        }
        parse_tokens(&answer.body, now.timestamp()).map_err(|why| {
            failed(format!(
                "{shown} answered HTTP 200 ({} bytes) without a usable token: {why}",
                answer.body.len()
            ))
        })
    }

    /// `POST /v1/exchange` with the bearer access token.
    async fn exchange(&self, access_token: &Secret) -> Result<CachedSts, ExchangeError> {
        let origin = &self.profile.origin;
        let url = self.endpoint.url_for("/v1/exchange");
        let shown = format!("POST {url}");
        tracing::debug!(profile = %origin, %url, "exchanging the OAuth access token for STS credentials");
        let request = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .bearer_auth(access_token.expose());
        let answer = self
            .send(&shown, request)
            .await
            .map_err(ExchangeError::Other)?;
        let secrets = [
            access_token.expose(),
            self.profile.access_token.expose(),
            self.profile.refresh_token.expose(),
        ];
        if answer.status != 200 {
            let summary = error_summary(
                &answer,
                ["error", "code"],
                ["error_description", "message"],
                &secrets,
            );
            let code = serde_json::from_slice::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
                .unwrap_or_default();
            let refused = answer.status == 401
                || matches!(
                    code.as_str(),
                    "expired_token" | "invalid_token" | "invalid_grant"
                );
            let message = format!("{shown} answered {summary}");
            return Err(if refused {
                ExchangeError::TokenRefused(format!(
                    "{message}: the OAuth access token of {origin} was refused"
                ))
            } else if answer.status >= 500 {
                ExchangeError::Other(failed(format!(
                    "{message}; the OAuth server had a problem, retry later"
                )))
            } else {
                ExchangeError::Other(failed(format!(
                    "{message}; if it persists, sign in again with `{}`",
                    reauth_command(&origin.name)
                )))
            });
        }
        let (sts, expiration) = parse_exchange(&answer.body).map_err(|why| {
            ExchangeError::Other(failed(format!(
                "{shown} answered HTTP 200 ({} bytes) without usable credentials: {why}",
                answer.body.len()
            )))
        })?;
        usable_upstream(&shown, expiration, self.now)
            .map_err(|why| ExchangeError::Other(failed(why)))?;
        Ok(sts)
    }
}

/// Reads `{access_token, refresh_token?, expires_in?}`; values are never quoted in errors.
fn parse_tokens(body: &[u8], now: i64) -> Result<Tokens, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "the body is not JSON".to_owned())?;
    let text = |name: &str| match value.get(name) {
        Some(serde_json::Value::String(s)) => s.trim().to_owned(),
        _ => String::new(),
    };
    let access_token = text("access_token");
    if access_token.is_empty() {
        return Err("it has no access_token".into());
    }
    let expires_in = match value.get("expires_in") {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .unwrap_or(0)
    .clamp(0, 10 * 365 * 86_400);
    Ok(Tokens {
        access_token: Secret::new(access_token),
        refresh_token: Secret::new(text("refresh_token")),
        expire: now + expires_in,
    })
}

/// Reads `{accessKeyId, accessKeySecret, securityToken, expiration}`.
fn parse_exchange(body: &[u8]) -> Result<(CachedSts, DateTime<Utc>), String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "the body is not JSON".to_owned())?;
    let object = value.as_object().ok_or("the body is not a JSON object")?;
    credentials_from(
        object,
        [
            "accessKeyId",
            "accessKeySecret",
            "securityToken",
            "expiration",
        ],
    )
}

#[cfg(test)]
mod tests;
