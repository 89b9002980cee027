//! The ACK OpenAPI client: a signed `GET /k8s/<cluster>/user_config`, and the translation of its
//! answer into a `ClusterCredential` or a precise `IssueError`.

use super::kubeconfig::extract_client_credential;
use super::roa::{self, SignableRequest};
use crate::http::{Answer, BodyError, Endpoint, error_chain, read_answer};
use ack_ram_domain::ports::{
    ApiErrorDetails, Clock, ClusterCredentialIssuer, IssueError, IssueRequest,
};
use ack_ram_domain::{AccessCredentials, ClusterCredential};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::sync::Arc;

/// The CS API version this client speaks.
const API_VERSION: &str = "2015-12-15";
const ACTION: &str = "DescribeClusterUserKubeconfig";
/// Largest answer read from the API; a kubeconfig is a few KiB.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Client for the ACK (CS) OpenAPI.
pub struct AckClient {
    http: reqwest::Client,
    endpoint: Endpoint,
    clock: Arc<dyn Clock>,
}

#[derive(Deserialize)]
struct SuccessBody {
    config: Option<String>,
    expiration: Option<String>,
}

impl AckClient {
    /// A client that sends requests to `endpoint` with `http`, dating them with `clock`.
    pub fn new(http: reqwest::Client, endpoint: Endpoint, clock: Arc<dyn Clock>) -> Self {
        Self {
            http,
            endpoint,
            clock,
        }
    }

    fn transport(&self, message: String) -> IssueError {
        IssueError::Transport {
            endpoint: self.endpoint.to_string(),
            message,
        }
    }
}

impl AckClient {
    /// Calls `DescribeClusterUserKubeconfig` and returns the answer's body (checked for HTTP
    /// errors, not yet parsed). `get-kubeconfig` uses the kubeconfig itself; `issue` extracts
    /// the client certificate from it.
    pub async fn describe_user_kubeconfig(
        &self,
        request: &IssueRequest,
        credentials: &AccessCredentials,
    ) -> Result<Vec<u8>, IssueError> {
        let resource = format!(
            "/k8s/{}/user_config",
            roa::encode_path_segment(request.cluster_id.as_str())
        );
        // The signature covers the path as sent, including an endpoint's path prefix.
        let path = format!("{}{resource}", self.endpoint.path_prefix());
        let mut query: Vec<(String, String)> = Vec::new();
        if request.private_address {
            query.push(("PrivateIpAddress".into(), "true".into()));
        }
        if let Some(minutes) = request.lifetime.temporary_minutes() {
            query.push(("TemporaryDurationMinutes".into(), minutes.to_string()));
        }
        query.sort();

        let date = httpdate::fmt_http_date(self.clock.now().into());
        let nonce = hex_nonce();
        let mut headers: Vec<(String, String)> = vec![
            ("accept".into(), "application/json".into()),
            ("date".into(), date),
            ("x-acs-signature-nonce".into(), nonce),
            ("x-acs-signature-method".into(), "HMAC-SHA1".into()),
            ("x-acs-signature-version".into(), "1.0".into()),
            ("x-acs-version".into(), API_VERSION.into()),
            ("x-acs-action".into(), ACTION.into()),
        ];
        if let Some(token) = &credentials.security_token {
            headers.push((
                "x-acs-accesskey-id".into(),
                credentials.access_key_id.clone(),
            ));
            headers.push(("x-acs-security-token".into(), token.expose().to_owned()));
        }
        let to_sign = roa::string_to_sign(&SignableRequest {
            method: "GET",
            path: &path,
            query: &query,
            headers: &headers,
        });
        let signature = roa::sign(credentials.access_key_secret.expose(), &to_sign);
        headers.push((
            "authorization".into(),
            format!("acs {}:{signature}", credentials.access_key_id),
        ));

        let mut url = self.endpoint.url_for(&resource);
        if !query.is_empty() {
            url.push('?');
            url.push_str(
                &url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&query)
                    .finish(),
            );
        }
        let mut builder = self.http.get(url);
        for (name, value) in &headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        tracing::debug!(
            endpoint = %self.endpoint,
            cluster = %request.cluster_id,
            access_key_id = %credentials.access_key_id,
            sts = credentials.security_token.is_some(),
            "calling {ACTION}"
        );
        let response = builder
            .send()
            .await
            .map_err(|e| self.transport(error_chain(&e)))?;
        let answer = read_answer(response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge { .. } => IssueError::InvalidResponse(e.to_string()),
                BodyError::Read(_) => self.transport(e.to_string()),
            })?;
        tracing::debug!(
            status = answer.status,
            bytes = answer.body.len(),
            "{ACTION} answered"
        );
        if !(200..300).contains(&answer.status) {
            return Err(IssueError::Api(api_error(
                &answer,
                &crate::api_error::secrets_of(credentials),
            )));
        }
        Ok(answer.body)
    }
}

#[async_trait]
impl ClusterCredentialIssuer for AckClient {
    async fn issue(
        &self,
        request: &IssueRequest,
        credentials: &AccessCredentials,
    ) -> Result<ClusterCredential, IssueError> {
        let body = self.describe_user_kubeconfig(request, credentials).await?;
        parse_success(&body)
    }
}

/// The kubeconfig and expiration of a successful answer.
#[derive(Debug)]
pub struct KubeconfigAnswer {
    /// The kubeconfig YAML as the API returned it (it embeds a private key: handle as secret).
    pub config: ack_ram_domain::Secret,
    /// When the embedded certificate expires.
    pub expiration: DateTime<Utc>,
}

/// Reads the kubeconfig out of a successful answer, checking it holds a usable certificate.
pub fn parse_kubeconfig_answer(body: &[u8]) -> Result<KubeconfigAnswer, IssueError> {
    let credential = parse_success(body)?;
    let parsed: SuccessBody =
        serde_json::from_slice(body).map_err(|e| IssueError::InvalidResponse(e.to_string()))?;
    Ok(KubeconfigAnswer {
        config: ack_ram_domain::Secret::new(parsed.config.unwrap_or_default()),
        expiration: credential.expiration,
    })
}

fn parse_success(body: &[u8]) -> Result<ClusterCredential, IssueError> {
    let invalid = |m: String| IssueError::InvalidResponse(m);
    let parsed: SuccessBody = serde_json::from_slice(body).map_err(|e| {
        invalid(format!(
            "the body is not the expected JSON ({} bytes; {})",
            body.len(),
            e
        ))
    })?;
    let config = parsed
        .config
        .filter(|c| !c.is_empty())
        .ok_or_else(|| invalid("the answer has no kubeconfig (field \"config\")".into()))?;
    let raw_expiration = parsed
        .expiration
        .filter(|e| !e.is_empty())
        .ok_or_else(|| invalid("the answer has no expiration (field \"expiration\")".into()))?;
    let expiration = DateTime::parse_from_rfc3339(&raw_expiration)
        .map_err(|_| {
            invalid(format!(
                "the expiration {raw_expiration:?} is not an RFC 3339 time"
            ))
        })?
        .with_timezone(&Utc);
    let (client_certificate_pem, client_key_pem) =
        extract_client_credential(&config).map_err(|e| invalid(e.to_string()))?;
    let not_after = certificate_not_after(&client_certificate_pem).map_err(invalid)?;
    check_private_key_pem(client_key_pem.expose()).map_err(invalid)?;
    // Trust the earlier of the two: a certificate is useless after its notAfter whatever the
    // API says, and the API may know of an earlier revocation.
    if (not_after - expiration).num_seconds().abs() > 60 {
        tracing::debug!(
            reported = %expiration,
            not_after = %not_after,
            "the reported expiration and the certificate's notAfter disagree; using the earlier"
        );
    }
    Ok(ClusterCredential {
        client_certificate_pem,
        client_key_pem,
        expiration: expiration.min(not_after),
    })
}

/// The notAfter of a PEM X.509 certificate.
fn certificate_not_after(pem_text: &str) -> Result<DateTime<Utc>, String> {
    let not_pem = || "the client certificate is not a PEM-encoded X.509 certificate".to_owned();
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes()).map_err(|_| not_pem())?;
    if pem.label != "CERTIFICATE" {
        return Err(format!(
            "the client certificate is a PEM {:?} block, not a CERTIFICATE",
            pem.label
        ));
    }
    let cert = pem
        .parse_x509()
        .map_err(|e| format!("the client certificate does not parse as X.509 ({e})"))?;
    DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
        .ok_or_else(|| "the client certificate's notAfter is out of range".to_owned())
}

/// Checks that the key is a PEM private-key block (without echoing any of it).
fn check_private_key_pem(pem_text: &str) -> Result<(), String> {
    match x509_parser::pem::parse_x509_pem(pem_text.as_bytes()) {
        Ok((_, pem)) if pem.label.ends_with("PRIVATE KEY") && !pem.contents.is_empty() => Ok(()),
        Ok((_, pem)) => Err(format!(
            "the client key is a PEM {:?} block, not a private key",
            pem.label
        )),
        Err(_) => Err("the client key is not a PEM-encoded private key".to_owned()),
    }
}

/// Reads an ACK error answer, scrubbed of the request's secrets.
fn api_error(answer: &Answer, secrets: &[&str]) -> ApiErrorDetails {
    crate::api_error::from_answer(ACTION, "the ACK API", answer, secrets)
}

fn hex_nonce() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &[u8], content_type: &str, request_id: Option<String>) -> Answer {
        Answer {
            status,
            content_type: content_type.to_owned(),
            header_request_id: request_id,
            body: body.to_vec(),
        }
    }

    #[test]
    fn error_fields_in_both_spellings() {
        let e = api_error(
            &answer(
                404,
                br#"{"code":"ErrorClusterNotFound","message":"cluster c1 not found","requestId":"R-1","status":404}"#,
                "application/json",
                None,
            ),
            &[],
        );
        assert_eq!(e.code.as_deref(), Some("ErrorClusterNotFound"));
        assert_eq!(e.request_id.as_deref(), Some("R-1"));
        assert_eq!(
            e.to_string(),
            "DescribeClusterUserKubeconfig answered HTTP 404 ErrorClusterNotFound: cluster c1 not found (RequestId R-1)"
        );
        let e = api_error(
            &answer(
                403,
                br#"{"Code":"Forbidden.RAM","Message":"denied","RequestId":"R-2"}"#,
                "",
                None,
            ),
            &[],
        );
        assert_eq!(
            (e.code.as_deref(), e.request_id.as_deref()),
            (Some("Forbidden.RAM"), Some("R-2"))
        );
    }

    #[test]
    fn non_json_errors_are_summarised_not_dumped() {
        let e = api_error(
            &answer(
                502,
                b"<html>secret-looking gateway page</html>",
                "text/html",
                Some("H-1".into()),
            ),
            &[],
        );
        let shown = e.to_string();
        assert!(shown.contains("not JSON (text/html, 40 bytes)"), "{shown}");
        assert!(!shown.contains("gateway page"));
        assert_eq!(e.request_id.as_deref(), Some("H-1"));
    }

    #[test]
    fn an_echoed_security_token_is_masked() {
        let body = serde_json::json!({
            "code": "SignatureDoesNotMatch",
            "message": "Specified signature is not matched with our calculation. server string to sign is:GET\\n...x-acs-security-token:CAIS/tok+en==",
            "requestId": "R",
        });
        let e = api_error(
            &answer(400, body.to_string().as_bytes(), "application/json", None),
            &["sekret", "CAIS/tok+en=="],
        );
        let shown = e.to_string();
        assert!(
            !shown.contains("CAIS") && shown.contains("(string to sign omitted)"),
            "{shown}"
        );
    }

    #[test]
    fn success_bodies_must_be_complete() {
        for (body, want) in [
            (&b"not json"[..], "not the expected JSON"),
            (br#"{"expiration":"2030-01-01T00:00:00Z"}"#, "no kubeconfig"),
            (br#"{"config":"users: []"}"#, "no expiration"),
            (
                br#"{"config":"users: []","expiration":"soon"}"#,
                "not an RFC 3339",
            ),
            (
                br#"{"config":"users: []","expiration":"2030-01-01T00:00:00Z"}"#,
                "no users",
            ),
        ] {
            let got = parse_success(body)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(got.contains(want), "{got}");
        }
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

    const CERT: &str = include_str!("../../../tests/fixtures/client.crt");
    const KEY: &str = include_str!("../../../tests/fixtures/client.key");

    fn body_with(cert: &str, key: &str, expiration: &str) -> Vec<u8> {
        use base64::Engine;
        let b64 = |t: &str| base64::engine::general_purpose::STANDARD.encode(t);
        serde_json::json!({
            "config": format!("users:\n- name: u\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n", b64(cert), b64(key)),
            "expiration": expiration,
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn the_earlier_of_expiration_and_not_after_wins() {
        let issued = parse_success(&body_with(CERT, KEY, "2030-01-01T00:00:00Z"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(issued.expiration.to_rfc3339(), "2030-01-01T00:00:00+00:00");
        let not_after = certificate_not_after(CERT).unwrap_or_else(|e| panic!("{e}"));
        let far = parse_success(&body_with(CERT, KEY, "2999-01-01T00:00:00Z"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(far.expiration, not_after);
    }

    #[test]
    fn pem_that_is_not_a_certificate_or_key_is_refused() {
        let fake_cert =
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
        for (cert, key, want) in [
            (fake_cert, KEY, "does not parse as X.509"),
            (KEY, KEY, "not a CERTIFICATE"),
            (CERT, CERT, "not a private key"),
        ] {
            let err = parse_success(&body_with(cert, key, "2030-01-01T00:00:00Z"))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(want), "{want}: {err}");
        }
    }
}
