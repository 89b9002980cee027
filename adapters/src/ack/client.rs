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
        let nonce = crate::nonce::hex_nonce();
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
        let response =
            builder
                .send()
                .await
                .map_err(|e| match crate::http::redirect_refused(&e) {
                    Some(refused) => IssueError::Redirected {
                        endpoint: self.endpoint.to_string(),
                        status: refused.status,
                        location_host: refused.host.clone(),
                    },
                    None => self.transport(error_chain(&e)),
                })?;
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

/// The answer parsers take whatever the network delivered (up to 1 MiB): no panic, values no
/// larger than the body, short messages that never quote the private key. Bodies are built
/// around the real test certificate and key, cut or changed, so that the X.509 and PEM checks
/// are reached and not only the first JSON or YAML error.
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::fuzz_support::{check_message, config, field, long_string, mutations};
    use base64::Engine;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    const CERT: &str = include_str!("../../../tests/fixtures/client.crt");
    const KEY: &str = include_str!("../../../tests/fixtures/client.key");
    const EXPIRATION: &str = "2030-01-01T00:00:00Z";

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// The DER inside a one-block PEM text.
    fn der(pem_text: &str) -> Vec<u8> {
        let body: String = pem_text
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn pem(label: &str, der: &[u8]) -> String {
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            b64(der)
        )
    }

    /// What `client-*-data` may hold: the real PEM's base64, or a broken variant of it.
    fn data(real: &'static str, label: &'static str) -> BoxedStrategy<String> {
        let der = der(real);
        let cut_der = der.clone();
        let n = der.len();
        let encoded = b64(real.as_bytes());
        let cut_encoded = encoded.clone();
        prop_oneof![
            3 => Just(encoded.clone()),
            1 => (0..=encoded.len()).prop_map(move |k| cut_encoded[..k].to_owned()),
            // Well-formed PEM around cut or changed DER: reaches the X.509 and key parsers.
            2 => (0..=n).prop_map(move |k| b64(pem(label, &cut_der[..k]).as_bytes())),
            2 => (0..n, any::<u8>()).prop_map(move |(i, b)| {
                let mut changed = der.clone();
                changed[i] = b;
                b64(pem(label, &changed).as_bytes())
            }),
            1 => ("[A-Z ]{0,24}", vec(any::<u8>(), 0..512))
                .prop_map(|(label, bytes)| b64(pem(&label, &bytes).as_bytes())),
            1 => long_string().prop_map(|label| b64(pem(&label, b"x").as_bytes())),
            1 => vec(any::<u8>(), 0..1024).prop_map(|bytes| b64(&bytes)),
            1 => "[A-Za-z0-9+/= -]{0,200}",
        ]
        .boxed()
    }

    /// The shape of the ACK API's kubeconfig (`tests/support/mod.rs`).
    fn kubeconfig(cert: &str, key: &str) -> String {
        format!(
            "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: https://192.168.0.10:6443\n  name: kubernetes\ncontexts:\n- context:\n    cluster: kubernetes\n    user: \"1234567890123456\"\n  name: ctx\ncurrent-context: ctx\nkind: Config\npreferences: {{}}\nusers:\n- name: \"1234567890123456\"\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n",
            ca = b64(CERT.as_bytes())
        )
    }

    fn valid_kubeconfig() -> String {
        kubeconfig(&b64(CERT.as_bytes()), &b64(KEY.as_bytes()))
    }

    fn config_yaml() -> BoxedStrategy<String> {
        let valid = valid_kubeconfig();
        prop_oneof![
            6 => (data(CERT, "CERTIFICATE"), data(KEY, "PRIVATE KEY"))
                .prop_map(|(cert, key)| kubeconfig(&cert, &key)),
            // The key where the certificate belongs, and the other way round.
            1 => Just(kubeconfig(&b64(KEY.as_bytes()), &b64(KEY.as_bytes()))),
            1 => Just(kubeconfig(&b64(CERT.as_bytes()), &b64(CERT.as_bytes()))),
            2 => (0..=valid.len()).prop_map(move |n| valid[..n].to_owned()),
            1 => any::<String>(),
            1 => long_string(),
        ]
        .boxed()
    }

    fn body() -> BoxedStrategy<Vec<u8>> {
        let valid = json!({"config": valid_kubeconfig(), "expiration": EXPIRATION})
            .to_string()
            .into_bytes();
        let expiration = prop_oneof![
            3 => Just(Some(json!(EXPIRATION))),
            1 => Just(Some(json!("2000-01-01T00:00:00+08:00"))),
            2 => field(json!(EXPIRATION)),
        ];
        prop_oneof![
            4 => (config_yaml(), expiration).prop_map(|(config, expiration)| {
                let mut object = Map::new();
                object.insert("config".into(), Value::String(config));
                if let Some(expiration) = expiration {
                    object.insert("expiration".into(), expiration);
                }
                Value::Object(object).to_string().into_bytes()
            }),
            1 => (field(json!(valid_kubeconfig())), field(json!(EXPIRATION))).prop_map(
                |(config, expiration)| {
                    json!({"config": config, "expiration": expiration}).to_string().into_bytes()
                }
            ),
            2 => mutations(valid),
            1 => long_string().prop_map(|s| Value::String(s).to_string().into_bytes()),
        ]
        .boxed()
    }

    /// Pieces of the private key that no message may show: a line of its PEM and a stretch of
    /// the base64 the kubeconfig carries it in.
    fn key_pieces() -> [String; 2] {
        let line = KEY.lines().nth(1).unwrap_or_default().to_owned();
        let encoded = b64(KEY.as_bytes());
        [line, encoded[80..120].to_owned()]
    }

    /// Finding (reported, not fixed here): the expiration, a PEM label and a body that is one
    /// JSON string are quoted whole, so those messages grow with the body (1 MiB cap).
    fn check(message: &str, body: &[u8]) -> Result<(), TestCaseError> {
        let [line, stretch] = key_pieces();
        check_message(
            message,
            body.len(),
            &[
                "the expiration \"",
                "is a PEM \"",
                "invalid type: string \"",
            ],
            &[&line, &stretch],
        )
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn success_answers_never_panic_and_stay_bounded(body in body()) {
            match parse_success(&body) {
                Ok(credential) => {
                    prop_assert!(credential.client_certificate_pem.len() <= body.len());
                    prop_assert!(credential.client_key_pem.expose().len() <= body.len());
                    let reported = DateTime::parse_from_rfc3339(EXPIRATION)
                        .unwrap_or_else(|e| panic!("{e}"));
                    prop_assert!(credential.expiration <= reported);
                }
                Err(error) => check(&error.to_string(), &body)?,
            }
            match parse_kubeconfig_answer(&body) {
                Ok(answer) => prop_assert!(answer.config.expose().len() <= body.len()),
                Err(error) => check(&error.to_string(), &body)?,
            }
        }
    }
}
