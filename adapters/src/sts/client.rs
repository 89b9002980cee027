//! The STS client: signed `AssumeRole` and `GetCallerIdentity`, anonymous `AssumeRoleWithOIDC`,
//! and the translation of STS answers into credentials or a precise [`StsError`].
//!
//! Requests are shaped as the Go tool sends them (`apis.md` §4.1 and §5): `POST /` with every
//! parameter in the query string. Unlike the Go tool, the HTTP status is checked, so an error
//! answer is reported with its code, message and RequestId instead of "unexpected body".

use super::rpc;
use crate::api_error::secrets_of;
use crate::http::{Answer, BodyError, Endpoint, error_chain, read_answer};
use ack_ram_domain::ports::{ApiErrorDetails, Clock, ProviderError};
use ack_ram_domain::{AccessCredentials, Secret};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::sync::Arc;

/// The STS API version this client speaks.
pub const API_VERSION: &str = "2015-04-01";
/// Largest answer read from STS; a credential answer is about 2 KiB.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

const ASSUME_ROLE: &str = "AssumeRole";
const ASSUME_ROLE_WITH_OIDC: &str = "AssumeRoleWithOIDC";
const GET_CALLER_IDENTITY: &str = "GetCallerIdentity";

/// Client for the STS API.
pub struct StsClient {
    http: reqwest::Client,
    endpoint: Endpoint,
    clock: Arc<dyn Clock>,
}

/// What to ask of `AssumeRole`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssumeRoleRequest {
    /// The role to assume, `acs:ram::<account>:role/<name>`.
    pub role_arn: String,
    /// `RoleSessionName`.
    pub session_name: String,
    /// `ExternalId`, sent only when set.
    pub external_id: Option<String>,
    /// `DurationSeconds`, sent only when set (STS defaults to 3600).
    pub duration_seconds: Option<u32>,
}

/// What to ask of `AssumeRoleWithOIDC` (RRSA).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcRequest {
    /// The role to assume.
    pub role_arn: String,
    /// The OIDC identity provider registered in RAM.
    pub oidc_provider_arn: String,
    /// The OIDC token, sent exactly as given (the caller decides about trimming).
    pub oidc_token: Secret,
    /// `RoleSessionName`.
    pub session_name: String,
    /// `DurationSeconds`, sent only when set.
    pub duration_seconds: Option<u32>,
}

/// Who the credentials belong to, as `GetCallerIdentity` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The Alibaba Cloud account (UID).
    pub account_id: String,
    /// The caller's ARN.
    pub arn: String,
    /// `Account`, `RAMUser` or `AssumedRoleUser`.
    pub identity_type: String,
    /// `PrincipalId`, when reported.
    pub principal_id: Option<String>,
    /// `UserId` (RAM users), when reported.
    pub user_id: Option<String>,
    /// `RoleId` (assumed roles), when reported.
    pub role_id: Option<String>,
    /// The request id of the answer.
    pub request_id: Option<String>,
}

/// Why an STS call produced nothing usable. Never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StsError {
    /// STS answered with an error status.
    #[error("{0}")]
    Api(ApiErrorDetails),
    /// STS could not be reached or did not answer in time.
    #[error("could not reach STS at {endpoint} for {action}: {message}")]
    Transport {
        /// The API action that was attempted.
        action: &'static str,
        /// The endpoint that was tried.
        endpoint: String,
        /// What happened.
        message: String,
    },
    /// STS answered 2xx with something that is not what the action returns.
    #[error("STS {action} returned an unusable answer: {message}")]
    InvalidResponse {
        /// The API action.
        action: &'static str,
        /// What is wrong with the answer.
        message: String,
    },
}

impl StsError {
    /// The API action the error belongs to, e.g. `AssumeRole`.
    pub fn action(&self) -> &str {
        match self {
            StsError::Api(details) => &details.action,
            StsError::Transport { action, .. } | StsError::InvalidResponse { action, .. } => action,
        }
    }
}

impl From<StsError> for ProviderError {
    fn from(error: StsError) -> Self {
        let source_name = format!("STS {}", error.action());
        match error {
            StsError::Api(details) => ProviderError::Api {
                source_name,
                details: Box::new(details),
            },
            other => ProviderError::Failed {
                source_name,
                message: other.to_string(),
            },
        }
    }
}

impl StsClient {
    /// A client that sends requests to `endpoint` with `http`, dating them with `clock`.
    pub fn new(http: reqwest::Client, endpoint: Endpoint, clock: Arc<dyn Clock>) -> Self {
        Self {
            http,
            endpoint,
            clock,
        }
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Signed `AssumeRole` with `base`; returns the role's STS credentials with their expiration.
    pub async fn assume_role(
        &self,
        base: &AccessCredentials,
        request: &AssumeRoleRequest,
    ) -> Result<AccessCredentials, StsError> {
        let mut params = self.common_params(ASSUME_ROLE);
        params.push(("RoleArn".into(), request.role_arn.clone()));
        params.push(("RoleSessionName".into(), request.session_name.clone()));
        if let Some(external_id) = &request.external_id {
            params.push(("ExternalId".into(), external_id.clone()));
        }
        if let Some(seconds) = request.duration_seconds {
            params.push(("DurationSeconds".into(), seconds.to_string()));
        }
        tracing::debug!(
            endpoint = %self.endpoint,
            access_key_id = %base.access_key_id,
            sts = base.security_token.is_some(),
            role_arn = %request.role_arn,
            session_name = %request.session_name,
            external_id = request.external_id.is_some(),
            "calling {ASSUME_ROLE}"
        );
        let query = sign_params(params, base);
        let answer = self.post(ASSUME_ROLE, &query, None).await?;
        let json = check(ASSUME_ROLE, answer, &secrets_of(base))?;
        parse_credentials(ASSUME_ROLE, &json)
    }

    /// Anonymous (unsigned) `AssumeRoleWithOIDC`: query parameters plus the form body
    /// `OIDCToken=<token>`.
    pub async fn assume_role_with_oidc(
        &self,
        request: &OidcRequest,
    ) -> Result<AccessCredentials, StsError> {
        let mut params = self.common_params(ASSUME_ROLE_WITH_OIDC);
        params.push(("RoleArn".into(), request.role_arn.clone()));
        params.push(("OIDCProviderArn".into(), request.oidc_provider_arn.clone()));
        params.push(("RoleSessionName".into(), request.session_name.clone()));
        if let Some(seconds) = request.duration_seconds {
            params.push(("DurationSeconds".into(), seconds.to_string()));
        }
        tracing::debug!(
            endpoint = %self.endpoint,
            role_arn = %request.role_arn,
            oidc_provider_arn = %request.oidc_provider_arn,
            session_name = %request.session_name,
            "calling {ASSUME_ROLE_WITH_OIDC}"
        );
        let query = rpc::canonicalized_query(&params);
        // The token leaves here, in the body, on purpose.
        let body = format!(
            "OIDCToken={}",
            rpc::percent_encode(request.oidc_token.expose())
        );
        let answer = self.post(ASSUME_ROLE_WITH_OIDC, &query, Some(body)).await?;
        let json = check(
            ASSUME_ROLE_WITH_OIDC,
            answer,
            &[request.oidc_token.expose()],
        )?;
        parse_credentials(ASSUME_ROLE_WITH_OIDC, &json)
    }

    /// Signed `GetCallerIdentity`: who `credentials` belong to.
    pub async fn get_caller_identity(
        &self,
        credentials: &AccessCredentials,
    ) -> Result<CallerIdentity, StsError> {
        let params = self.common_params(GET_CALLER_IDENTITY);
        tracing::debug!(
            endpoint = %self.endpoint,
            access_key_id = %credentials.access_key_id,
            sts = credentials.security_token.is_some(),
            "calling {GET_CALLER_IDENTITY}"
        );
        let query = sign_params(params, credentials);
        let answer = self.post(GET_CALLER_IDENTITY, &query, None).await?;
        let json = check(GET_CALLER_IDENTITY, answer, &secrets_of(credentials))?;
        parse_identity(&json)
    }

    /// The parameters every call carries.
    fn common_params(&self, action: &str) -> Vec<(String, String)> {
        vec![
            ("Action".into(), action.into()),
            ("Version".into(), API_VERSION.into()),
            ("Format".into(), "JSON".into()),
            (
                "Timestamp".into(),
                self.clock.now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            ),
            ("SignatureNonce".into(), crate::nonce::hex_nonce()),
        ]
    }

    fn transport(&self, action: &'static str, message: String) -> StsError {
        StsError::Transport {
            action,
            endpoint: self.endpoint.to_string(),
            message,
        }
    }

    /// `POST /?<query>` with the STS headers and an optional form body.
    async fn post(
        &self,
        action: &'static str,
        query: &str,
        body: Option<String>,
    ) -> Result<Answer, StsError> {
        let url = format!("{}?{query}", self.endpoint.url_for("/"));
        let body = body.unwrap_or_default();
        let mut builder = self
            .http
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT_ENCODING, "identity");
        if body.is_empty() {
            // A POST without a length is refused by some proxies (411); the Go tool sends 0.
            builder = builder.header(reqwest::header::CONTENT_LENGTH, "0");
        }
        let response = builder
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport(action, error_chain(&e)))?;
        let answer = read_answer(response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge { .. } => StsError::InvalidResponse {
                    action,
                    message: e.to_string(),
                },
                BodyError::Read(_) => self.transport(action, e.to_string()),
            })?;
        tracing::debug!(
            status = answer.status,
            bytes = answer.body.len(),
            "{action} answered"
        );
        Ok(answer)
    }
}

/// Adds the signing parameters and the signature; returns the query string to send.
fn sign_params(mut params: Vec<(String, String)>, credentials: &AccessCredentials) -> String {
    params.push(("AccessKeyId".into(), credentials.access_key_id.clone()));
    if let Some(token) = &credentials.security_token {
        // The token leaves here, as a signed parameter, on purpose.
        params.push(("SecurityToken".into(), token.expose().to_owned()));
    }
    params.push(("SignatureMethod".into(), "HMAC-SHA1".into()));
    params.push(("SignatureVersion".into(), "1.0".into()));
    let to_sign = rpc::string_to_sign("POST", &params);
    let signature = rpc::sign(credentials.access_key_secret.expose(), &to_sign);
    params.push(("Signature".into(), signature));
    rpc::canonicalized_query(&params)
}

/// Turns an error status into [`StsError::Api`] and a success body into JSON.
fn check(action: &'static str, answer: Answer, secrets: &[&str]) -> Result<Value, StsError> {
    if !(200..300).contains(&answer.status) {
        return Err(StsError::Api(api_error(action, &answer, secrets)));
    }
    serde_json::from_slice(&answer.body).map_err(|_| StsError::InvalidResponse {
        action,
        message: format!(
            "the body is not JSON ({}, {} bytes)",
            answer.content_type,
            answer.body.len()
        ),
    })
}

/// A non-empty string (or number) field of a JSON object.
fn text(object: &Value, name: &str) -> Option<String> {
    match object.get(name)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads the error fields of an STS error answer, scrubbed of `secrets`.
fn api_error(action: &'static str, answer: &Answer, secrets: &[&str]) -> ApiErrorDetails {
    crate::api_error::from_answer(action, "STS", answer, secrets)
}

fn request_id_suffix(json: &Value) -> String {
    text(json, "RequestId")
        .map(|id| format!(" (RequestId {id})"))
        .unwrap_or_default()
}

/// Reads `Credentials.{AccessKeyId, AccessKeySecret, SecurityToken, Expiration}`.
fn parse_credentials(action: &'static str, json: &Value) -> Result<AccessCredentials, StsError> {
    let invalid = |message: String| StsError::InvalidResponse {
        action,
        message: format!("{message}{}", request_id_suffix(json)),
    };
    let credentials = json
        .get("Credentials")
        .filter(|c| c.is_object())
        .ok_or_else(|| invalid("the answer has no Credentials object".into()))?;
    let field = |name: &str| {
        text(credentials, name)
            .ok_or_else(|| invalid(format!("the answer has no Credentials.{name}")))
    };
    let access_key_id = field("AccessKeyId")?;
    let access_key_secret = Secret::new(field("AccessKeySecret")?);
    let security_token = Secret::new(field("SecurityToken")?);
    let raw_expiration = field("Expiration")?;
    let expiration = parse_expiration(&raw_expiration).ok_or_else(|| {
        invalid(format!(
            "Credentials.Expiration {raw_expiration:?} is not a UTC time of the form YYYY-MM-DDTHH:MM:SS[.fraction]Z"
        ))
    })?;
    Ok(AccessCredentials {
        expiration: Some(expiration),
        ..AccessCredentials::sts(access_key_id, access_key_secret, security_token)
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, with a literal `Z` (numeric offsets are refused, as by
/// the Go tool).
fn parse_expiration(value: &str) -> Option<DateTime<Utc>> {
    crate::timefmt::parse_utc_z(value)
}

fn parse_identity(json: &Value) -> Result<CallerIdentity, StsError> {
    let required = |name: &str| {
        text(json, name).ok_or_else(|| StsError::InvalidResponse {
            action: GET_CALLER_IDENTITY,
            message: format!("the answer has no {name}{}", request_id_suffix(json)),
        })
    };
    Ok(CallerIdentity {
        account_id: required("AccountId")?,
        arn: required("Arn")?,
        identity_type: required("IdentityType")?,
        principal_id: text(json, "PrincipalId"),
        user_id: text(json, "UserId"),
        role_id: text(json, "RoleId"),
        request_id: text(json, "RequestId"),
    })
}

#[cfg(test)]
mod tests;

/// The success-answer parsers take whatever STS (or whatever answered in its place) sent, up to
/// 1 MiB: no panic, values no larger than the body, short messages without the secret.
#[cfg(test)]
mod fuzz;
