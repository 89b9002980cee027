//! The ACK OpenAPI client: a signed `GET /k8s/<cluster>/user_config`, and the translation of its
//! answer into a `ClusterCredential` or a precise `IssueError`.

use super::kubeconfig::extract_client_credential;
use super::roa::{self, SignableRequest};
#[cfg(test)]
use crate::http::Answer;
use crate::http::{BodyError, Endpoint, error_chain, read_answer};
use ack_ram_domain::ports::{Clock, ClusterCredentialIssuer, IssueError, IssueRequest};
use ack_ram_domain::{AccessCredentials, ClusterCredential, ClusterId};
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

    /// Why a request got no answer: a refused redirect, or a transport failure.
    fn send_error(&self, error: &reqwest::Error) -> IssueError {
        match crate::http::redirect_refused(error) {
            Some(refused) => IssueError::Redirected {
                endpoint: self.endpoint.to_string(),
                status: refused.status,
                location_host: refused.host.clone(),
            },
            None => self.transport(error_chain(error)),
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
        let mut query: Vec<(String, String)> = Vec::new();
        if request.private_address {
            query.push(("PrivateIpAddress".into(), "true".into()));
        }
        if let Some(minutes) = request.lifetime.temporary_minutes() {
            query.push(("TemporaryDurationMinutes".into(), minutes.to_string()));
        }
        query.sort();
        tracing::debug!(cluster = %request.cluster_id, "calling {ACTION}");
        self.signed_get(ACTION, &resource, &query, credentials)
            .await
    }

    /// A ROA-signed `GET` of `resource` (below the endpoint's path prefix) with `query` (sorted
    /// by key), for the CS action `action`: the answer's body when it is a 2xx, else the API's
    /// error scrubbed of the credentials' secrets. Shared by every CS call of this crate.
    pub(super) async fn signed_get(
        &self,
        action: &'static str,
        resource: &str,
        query: &[(String, String)],
        credentials: &AccessCredentials,
    ) -> Result<Vec<u8>, IssueError> {
        // The signature covers the path as sent, including an endpoint's path prefix.
        let path = format!("{}{resource}", self.endpoint.path_prefix());
        let date = httpdate::fmt_http_date(self.clock.now().into());
        let nonce = crate::nonce::hex_nonce();
        let mut headers: Vec<(String, String)> = vec![
            ("accept".into(), "application/json".into()),
            ("date".into(), date),
            ("x-acs-signature-nonce".into(), nonce),
            ("x-acs-signature-method".into(), "HMAC-SHA1".into()),
            ("x-acs-signature-version".into(), "1.0".into()),
            ("x-acs-version".into(), API_VERSION.into()),
            ("x-acs-action".into(), action.into()),
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
            query,
            headers: &headers,
        });
        let signature = roa::sign(credentials.access_key_secret.expose(), &to_sign);
        headers.push((
            "authorization".into(),
            format!("acs {}:{signature}", credentials.access_key_id),
        ));

        let mut url = self.endpoint.url_for(resource);
        if !query.is_empty() {
            url.push('?');
            url.push_str(
                &url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(query)
                    .finish(),
            );
        }
        let mut builder = self.http.get(url);
        for (name, value) in &headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        tracing::debug!(
            endpoint = %self.endpoint,
            access_key_id = %credentials.access_key_id,
            sts = credentials.security_token.is_some(),
            "calling {action}"
        );
        let response = builder.send().await.map_err(|e| self.send_error(&e))?;
        let answer = read_answer(response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge { .. } => IssueError::InvalidResponse(e.to_string()),
                BodyError::Read(_) => self.transport(e.to_string()),
            })?;
        tracing::debug!(
            status = answer.status,
            bytes = answer.body.len(),
            "{action} answered"
        );
        if !(200..300).contains(&answer.status) {
            return Err(IssueError::Api(crate::api_error::from_answer(
                action,
                "the ACK API",
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

/// The read-only action `doctor` uses to check that an identity may see a cluster.
const DETAIL_ACTION: &str = "DescribeClusterDetail";
/// Largest answer [`AckClient::reach`] reads (and throws away).
const REACH_MAX_BYTES: usize = 64 * 1024;

/// What `DescribeClusterDetail` says about a cluster: the fields `doctor` shows (absent or
/// `null` ones are `None`; every other field is ignored).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ClusterDetail {
    pub cluster_id: Option<String>,
    pub name: Option<String>,
    pub region_id: Option<String>,
    pub state: Option<String>,
    pub cluster_type: Option<String>,
    pub current_version: Option<String>,
}

/// How the endpoint answered [`AckClient::reach`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reached {
    /// The HTTP status (any status means the endpoint is reachable).
    pub status: u16,
    /// The time in the answer's `Date` header, for a clock-skew check.
    pub server_date: Option<DateTime<Utc>>,
}

impl AckClient {
    /// Calls `DescribeClusterDetail` (`GET /clusters/{ClusterId}`, ROA-signed): read-only, it
    /// issues no certificate. A refusal is [`IssueError::Api`] with the answer's status and code
    /// (403 when the identity lacks `cs:DescribeClusterDetail`, 404 for an unknown cluster).
    pub async fn describe_cluster_detail(
        &self,
        cluster_id: &ClusterId,
        credentials: &AccessCredentials,
    ) -> Result<ClusterDetail, IssueError> {
        let resource = format!(
            "/clusters/{}",
            roa::encode_path_segment(cluster_id.as_str())
        );
        tracing::debug!(cluster = %cluster_id, "calling {DETAIL_ACTION}");
        let body = self
            .signed_get(DETAIL_ACTION, &resource, &[], credentials)
            .await?;
        // Position only: a parser message may quote the body.
        serde_json::from_slice(&body).map_err(|e| {
            IssueError::InvalidResponse(format!(
                "the {DETAIL_ACTION} answer is not the expected JSON ({} bytes; error at line {}, column {})",
                body.len(),
                e.line(),
                e.column()
            ))
        })
    }

    /// Whether the endpoint answers at all: an unsigned `GET` of its root, which sends nothing
    /// about the caller. Any HTTP status counts as an answer; the body is read (capped) and
    /// dropped. Its `Date` lets `doctor` compare clocks without signing anything.
    pub async fn reach(&self) -> Result<Reached, IssueError> {
        let url = self.endpoint.url_for("/");
        tracing::debug!(endpoint = %self.endpoint, "probing the ACK endpoint (unsigned GET /)");
        let response = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| self.send_error(&e))?;
        let status = response.status().as_u16();
        let server_date = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .map(DateTime::<Utc>::from);
        if let Err(e) = crate::http::read_body_capped(response, REACH_MAX_BYTES).await {
            tracing::debug!("the probe's answer was not read whole: {e}");
        }
        tracing::debug!(status, "the ACK endpoint answered the probe");
        Ok(Reached {
            status,
            server_date,
        })
    }
}

/// `DescribeClusterDetail` and the probe against the emulator, whose signature check is its own.
#[cfg(test)]
mod detail_tests;

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

/// Reads a `DescribeClusterUserKubeconfig` error answer, scrubbed of the request's secrets.
#[cfg(test)]
fn api_error(answer: &Answer, secrets: &[&str]) -> ack_ram_domain::ports::ApiErrorDetails {
    crate::api_error::from_answer(ACTION, "the ACK API", answer, secrets)
}

#[cfg(test)]
mod tests;

/// The answer parsers take whatever the network delivered (up to 1 MiB): no panic, values no
/// larger than the body, short messages that never quote the private key. Bodies are built
/// around the real test certificate and key, cut or changed, so that the X.509 and PEM checks
/// are reached and not only the first JSON or YAML error.
#[cfg(test)]
mod fuzz;
