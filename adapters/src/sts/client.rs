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
        let mut message = error.to_string();
        if let StsError::Api(details) = &error
            && let Some(hint) = hint(details)
        {
            message.push_str("; ");
            message.push_str(hint);
        }
        ProviderError::Failed {
            source_name,
            message,
        }
    }
}

/// What to do next for the error codes people actually meet.
fn hint(details: &ApiErrorDetails) -> Option<&'static str> {
    let code = details.code.as_deref()?;
    let assuming = details.action != GET_CALLER_IDENTITY;
    Some(match code {
        "NoPermission" | "Forbidden" | "Forbidden.RAM" | "NotAuthorized" if assuming => {
            "check that the role's trust policy allows this caller and that the caller may call sts:AssumeRole"
        }
        "EntityNotExist.Role" | "InvalidParameter.RoleArn" => {
            "check the role ARN (acs:ram::<account id>:role/<role name>)"
        }
        "InvalidAccessKeyId.NotFound" | "InvalidAccessKeyId.Inactive" | "SignatureDoesNotMatch" => {
            "check the AccessKey id and secret of the base credentials"
        }
        "InvalidSecurityToken.Expired" | "InvalidSecurityToken.Malformed" => {
            "the base STS token is expired or malformed; refresh the base credentials"
        }
        "InvalidTimeStamp.Expired" => "check that the system clock is correct",
        "AuthenticationFail.OIDCToken.Expired" | "AuthenticationFail.OIDCToken.Invalid" => {
            "check the OIDC token file (ALIBABA_CLOUD_OIDC_TOKEN_FILE) and that it is refreshed"
        }
        _ => return None,
    })
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
            ("SignatureNonce".into(), hex_nonce()),
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

/// 32 lower-case hex characters, fresh per request.
fn hex_nonce() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_error::scrub;

    fn answer(status: u16, body: &str, content_type: &str) -> Answer {
        Answer {
            status,
            content_type: content_type.into(),
            header_request_id: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn expiration_needs_a_literal_z() {
        let ok = |s: &str| parse_expiration(s).map(|t| t.to_rfc3339());
        assert_eq!(
            ok("2024-03-10T10:56:17Z").as_deref(),
            Some("2024-03-10T10:56:17+00:00")
        );
        assert_eq!(
            ok("2024-03-10T10:56:17.123Z").as_deref(),
            Some("2024-03-10T10:56:17.123+00:00")
        );
        for bad in [
            "2024-03-10T10:56:17+08:00",
            "2024-03-10T10:56:17+00:00",
            "2024-03-10T10:56:17z",
            "2024-03-10T10:56:17",
            "2024-03-10 10:56:17Z",
            "2024-03-10T10:56:17.Z",
            "2024-13-10T10:56:17Z",
            "+2024-03-10T10:56:17Z",
            "20240-03-10T10:56:17Z",
            "soon",
            "",
        ] {
            assert_eq!(parse_expiration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn error_fields_in_both_spellings() {
        let e = api_error(
            ASSUME_ROLE,
            &answer(
                403,
                r#"{"RequestId":"R-1","HostId":"sts.aliyuncs.com","Code":"NoPermission","Message":"You are not authorized to do this action.","Recommend":"https://x"}"#,
                "application/json",
            ),
            &[],
        );
        assert_eq!(
            e.to_string(),
            "AssumeRole answered HTTP 403 NoPermission: You are not authorized to do this action (RequestId R-1)"
        );
        let e = api_error(
            ASSUME_ROLE,
            &answer(400, r#"{"requestId":"R-2","code":"Bad","message":"m"}"#, ""),
            &[],
        );
        assert_eq!(
            (
                e.code.as_deref(),
                e.message.as_deref(),
                e.request_id.as_deref()
            ),
            (Some("Bad"), Some("m"), Some("R-2"))
        );
    }

    #[test]
    fn echoed_strings_to_sign_and_secrets_are_scrubbed() {
        let token = "CAIS/tok+en==";
        let message = format!(
            "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&SecurityToken%3D{}",
            rpc::percent_encode(&rpc::percent_encode(token))
        );
        let body = serde_json::json!({"Code": "SignatureDoesNotMatch", "Message": message, "RequestId": "R"});
        let e = api_error(
            ASSUME_ROLE,
            &answer(400, &body.to_string(), "application/json"),
            &["secret", token],
        );
        let shown = e.to_string();
        assert!(shown.contains("(string to sign omitted)"), "{shown}");
        assert!(!shown.contains("CAIS"), "{shown}");
        assert_eq!(scrub("x CAIS/tok+en== y", &[token]), "x *** y");
        assert_eq!(
            scrub("token eyJ.x.y expired", &["eyJ.x.y\n"]),
            "token *** expired"
        );
        assert_eq!(
            scrub(&format!("x {} y", rpc::percent_encode(token)), &[token]),
            "x *** y"
        );
        assert_eq!(scrub(&"a".repeat(1000), &[]).chars().count(), 403);
    }

    #[test]
    fn non_json_errors_are_summarised_not_dumped() {
        let mut a = answer(502, "<html>gateway page</html>", "text/html");
        a.header_request_id = Some("H-1".into());
        let e = api_error(ASSUME_ROLE, &a, &[]);
        let shown = e.to_string();
        assert!(shown.contains("not JSON (text/html, 25 bytes)"), "{shown}");
        assert!(!shown.contains("gateway page"), "{shown}");
        assert_eq!(e.request_id.as_deref(), Some("H-1"));
    }

    #[test]
    fn credentials_must_be_complete() {
        let full = serde_json::json!({
            "RequestId": "R-9",
            "Credentials": {
                "AccessKeyId": "STS.id", "AccessKeySecret": "s", "SecurityToken": "t",
                "Expiration": "2024-03-10T10:56:17Z"
            }
        });
        let got = parse_credentials(ASSUME_ROLE, &full).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.access_key_id, "STS.id");
        assert_eq!(got.security_token.as_ref().map(Secret::expose), Some("t"));
        for (name, want) in [
            ("AccessKeyId", "no Credentials.AccessKeyId (RequestId R-9)"),
            ("AccessKeySecret", "no Credentials.AccessKeySecret"),
            ("SecurityToken", "no Credentials.SecurityToken"),
            ("Expiration", "no Credentials.Expiration"),
        ] {
            for replacement in [Value::Null, Value::String(String::new())] {
                let mut body = full.clone();
                body["Credentials"][name] = replacement;
                let got = parse_credentials(ASSUME_ROLE, &body)
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                assert!(got.contains(want), "{got}");
            }
        }
        let got = parse_credentials(ASSUME_ROLE, &serde_json::json!({"RequestId": "R"}))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            got,
            "STS AssumeRole returned an unusable answer: the answer has no Credentials object (RequestId R)"
        );
    }

    #[test]
    fn provider_errors_name_the_action_and_the_details() {
        let e = StsError::Api(ApiErrorDetails {
            action: ASSUME_ROLE.into(),
            status: 403,
            code: Some("NoPermission".into()),
            message: Some("denied".into()),
            request_id: Some("R-1".into()),
        });
        let ProviderError::Failed {
            source_name,
            message,
        } = ProviderError::from(e)
        else {
            panic!("not Failed")
        };
        assert_eq!(source_name, "STS AssumeRole");
        assert!(
            message.starts_with(
                "AssumeRole answered HTTP 403 NoPermission: denied (RequestId R-1); check"
            ),
            "{message}"
        );
        let e = StsError::Api(ApiErrorDetails {
            action: GET_CALLER_IDENTITY.into(),
            status: 403,
            code: Some("NoPermission".into()),
            message: None,
            request_id: None,
        });
        assert_eq!(
            ProviderError::from(e).to_string(),
            "STS GetCallerIdentity: GetCallerIdentity answered HTTP 403 NoPermission",
            "no assume-role hint for another action"
        );
        let e = StsError::Transport {
            action: GET_CALLER_IDENTITY,
            endpoint: "https://sts.aliyuncs.com".into(),
            message: "timed out".into(),
        };
        assert_eq!(
            ProviderError::from(e).to_string(),
            "STS GetCallerIdentity: could not reach STS at https://sts.aliyuncs.com for GetCallerIdentity: timed out"
        );
    }

    #[test]
    fn identity_needs_account_arn_and_type() {
        let body = serde_json::json!({
            "IdentityType": "RAMUser", "AccountId": "1234567890123456",
            "Arn": "acs:ram::1234567890123456:user/dev", "PrincipalId": "2000",
            "UserId": "2000", "RequestId": "R-3"
        });
        let got = parse_identity(&body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.user_id.as_deref(), Some("2000"));
        assert_eq!(got.role_id, None);
        let mut missing = body.clone();
        missing["Arn"] = Value::Null;
        let got = parse_identity(&missing)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(got.contains("no Arn (RequestId R-3)"), "{got}");
    }

    #[test]
    fn nonces_are_fresh_hex() {
        let (a, b) = (hex_nonce(), hex_nonce());
        assert_eq!(a.len(), 32);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }
}

/// The success-answer parsers take whatever STS (or whatever answered in its place) sent, up to
/// 1 MiB: no panic, values no larger than the body, short messages without the secret.
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::fuzz_support::{CANARY, check_message, config, mutations, object_of, string_bytes};
    use proptest::prelude::*;
    use serde_json::json;

    /// Finding (reported, not fixed here): `Credentials.Expiration` and the `RequestId` are
    /// quoted whole, so those messages grow with the answer.
    const ECHOES: &[&str] = &["Credentials.Expiration \"", "(RequestId "];

    /// Finding (reported, not fixed here): the `RequestId` suffix is quoted raw (Display, not
    /// Debug), so a control character in it, such as an ESC sequence, reaches the terminal.
    /// Masked here so that the rest of the message is still checked for them.
    fn check_error(error: &StsError, len: usize, secrets: &[&str]) -> Result<(), TestCaseError> {
        let message = error.to_string();
        let masked = match message.find("(RequestId ") {
            Some(at) => {
                let (head, tail) = message.split_at(at);
                let tail: String = tail
                    .chars()
                    .map(|c| if c.is_control() { '?' } else { c })
                    .collect();
                format!("{head}{tail}")
            }
            None => message,
        };
        check_message(&masked, len, ECHOES, secrets)
    }

    fn answer(body: Vec<u8>) -> Answer {
        Answer {
            status: 200,
            content_type: "application/json".into(),
            header_request_id: None,
            body,
        }
    }

    fn assume_role_body() -> BoxedStrategy<Vec<u8>> {
        let valid = json!({
            "RequestId": "R-1",
            "AssumedRoleUser": {"Arn": "acs:ram::1:role/r/s", "AssumedRoleId": "3:s"},
            "Credentials": {
                "AccessKeyId": "STS.id", "AccessKeySecret": CANARY, "SecurityToken": CANARY,
                "Expiration": "2030-01-01T00:00:00Z",
            },
        });
        let credentials = object_of(vec![
            ("AccessKeyId", json!("STS.id")),
            ("AccessKeySecret", json!(CANARY)),
            ("SecurityToken", json!(CANARY)),
            ("Expiration", json!("2030-01-01T00:00:00.123Z")),
        ]);
        let outer = (
            object_of(vec![("RequestId", json!("R-1"))]),
            prop_oneof![4 => credentials, 1 => object_of(vec![])],
        )
            .prop_map(|(mut outer, credentials)| {
                if let Some(object) = outer.as_object_mut() {
                    object.insert("Credentials".into(), credentials);
                }
                outer.to_string().into_bytes()
            });
        prop_oneof![3 => outer, 1 => mutations(valid.to_string().into_bytes())].boxed()
    }

    fn identity_body() -> BoxedStrategy<Vec<u8>> {
        let fields = vec![
            ("AccountId", json!("1234567890")),
            ("Arn", json!("acs:ram::1234567890:user/alice")),
            ("IdentityType", json!("RAMUser")),
            ("PrincipalId", json!("2345")),
            ("UserId", json!("2345")),
            ("RoleId", json!("")),
            ("RequestId", json!("R-2")),
        ];
        let valid: serde_json::Map<String, Value> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        prop_oneof![
            3 => object_of(fields).prop_map(|v| v.to_string().into_bytes()),
            1 => mutations(Value::Object(valid).to_string().into_bytes()),
        ]
        .boxed()
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn assume_role_answers_never_panic_and_stay_bounded(body in assume_role_body()) {
            let len = body.len();
            let parsed = check(ASSUME_ROLE, answer(body), &[])
                .and_then(|json| parse_credentials(ASSUME_ROLE, &json));
            match parsed {
                Ok(credentials) => {
                    let held = credentials.access_key_id.len()
                        + credentials.access_key_secret.expose().len()
                        + credentials.security_token.as_ref().map_or(0, |t| t.expose().len());
                    prop_assert!(held <= len);
                    prop_assert!(credentials.expiration.is_some());
                }
                Err(error) => check_error(&error, len, &[CANARY])?,
            }
        }

        #[test]
        fn caller_identity_answers_never_panic_and_stay_bounded(body in identity_body()) {
            let len = body.len();
            let parsed = check(GET_CALLER_IDENTITY, answer(body), &[]).and_then(|json| {
                let size = string_bytes(&json);
                parse_identity(&json).map(|identity| (identity, size))
            });
            match parsed {
                Ok((identity, size)) => {
                    prop_assert!(size <= len);
                    let held = [
                        Some(&identity.account_id),
                        Some(&identity.arn),
                        Some(&identity.identity_type),
                        identity.principal_id.as_ref(),
                        identity.user_id.as_ref(),
                        identity.role_id.as_ref(),
                        identity.request_id.as_ref(),
                    ]
                    .into_iter()
                    .flatten()
                    .map(String::len)
                    .sum::<usize>();
                    // Numbers are accepted and printed back: `1e5` becomes `100000.0`.
                    prop_assert!(held <= 4 * len + 64);
                    prop_assert!(!identity.account_id.is_empty() && !identity.arn.is_empty());
                }
                Err(error) => check_error(&error, len, &[])?,
            }
        }
    }
}
