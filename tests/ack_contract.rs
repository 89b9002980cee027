//! Contract tests for the ACK adapter: the request it sends (method, path, query, every header,
//! a signature recomputed by an independent verifier) and how it reads every kind of answer.

mod support;

use ack_ram_adapters::ack::{AckClient, roa};
use ack_ram_adapters::clock::SystemClock;
use ack_ram_adapters::http::{Endpoint, HttpSettings, build_client};
use ack_ram_domain::ports::{ClusterCredentialIssuer, IssueError, IssueRequest};
use ack_ram_domain::{AccessCredentials, CertificateLifetime, ClusterId, Secret};
use ack_ram_emulator::roa as independent;
use std::sync::Arc;
use std::time::Duration;
use support::*;
use wiremock::{MockServer, Request, ResponseTemplate};

fn client(server: &MockServer, timeout: Duration) -> AckClient {
    let mut settings = HttpSettings::new("ack-ram-tool-tests");
    settings.timeout = timeout;
    let http = build_client(&settings).unwrap_or_else(|e| panic!("{e}"));
    let endpoint = Endpoint::parse(&server.uri()).unwrap_or_else(|e| panic!("{e}"));
    AckClient::new(http, endpoint, Arc::new(SystemClock))
}

fn request(lifetime: CertificateLifetime, private_address: bool) -> IssueRequest {
    IssueRequest {
        cluster_id: ClusterId::parse(CLUSTER).unwrap_or_else(|e| panic!("{e}")),
        lifetime,
        private_address,
    }
}

fn access_key() -> AccessCredentials {
    AccessCredentials::access_key(AK_ID, Secret::new(AK_SECRET))
}

fn sts() -> AccessCredentials {
    AccessCredentials::sts("STS.TestId", Secret::new(AK_SECRET), Secret::new(STS_TOKEN))
}

fn headers(req: &Request) -> Vec<(String, String)> {
    req.headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

async fn only_request(server: &MockServer) -> Request {
    let mut received = server.received_requests().await.unwrap_or_default();
    assert_eq!(received.len(), 1, "exactly one request");
    received.remove(0)
}

/// Checks everything the reference says the request carries, and recomputes the signature.
fn assert_signed_request(req: &Request, creds: &AccessCredentials, query: &str) {
    assert_eq!(req.method.as_str(), "GET");
    assert_eq!(req.url.path(), format!("/k8s/{CLUSTER}/user_config"));
    assert_eq!(req.url.query().unwrap_or_default(), query);
    let h = headers(req);
    assert_eq!(header(&h, "accept"), Some("application/json"));
    assert_eq!(header(&h, "x-acs-signature-method"), Some("HMAC-SHA1"));
    assert_eq!(header(&h, "x-acs-signature-version"), Some("1.0"));
    assert_eq!(header(&h, "x-acs-version"), Some("2015-12-15"));
    assert_eq!(
        header(&h, "x-acs-action"),
        Some("DescribeClusterUserKubeconfig")
    );
    assert_eq!(
        header(&h, "content-type"),
        None,
        "a GET carries no content type"
    );
    let nonce = header(&h, "x-acs-signature-nonce").unwrap_or_default();
    assert!(
        nonce.len() == 32 && nonce.chars().all(|c| c.is_ascii_hexdigit()),
        "nonce {nonce:?}"
    );
    let date = header(&h, "date").unwrap_or_default();
    let sent = httpdate::parse_http_date(date).unwrap_or_else(|e| panic!("date {date:?}: {e}"));
    let skew = std::time::SystemTime::now()
        .duration_since(sent)
        .unwrap_or_default();
    assert!(skew < Duration::from_secs(60), "date header is now");
    assert!(date.ends_with(" GMT"));
    match &creds.security_token {
        Some(token) => {
            assert_eq!(header(&h, "x-acs-security-token"), Some(token.expose()));
            assert_eq!(
                header(&h, "x-acs-accesskey-id"),
                Some(creds.access_key_id.as_str())
            );
        }
        None => {
            assert_eq!(header(&h, "x-acs-security-token"), None);
            assert_eq!(header(&h, "x-acs-accesskey-id"), None);
        }
    }
    let to_sign = independent::string_to_sign("GET", req.url.path(), query, &h);
    let expected = format!(
        "acs {}:{}",
        creds.access_key_id,
        independent::signature(creds.access_key_secret.expose(), &to_sign)
    );
    assert_eq!(header(&h, "authorization"), Some(expected.as_str()));
}

#[test]
fn signer_reproduces_every_go_sdk_vector() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/vectors/roa.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let vectors = doc["vectors"].as_array().cloned().unwrap_or_default();
    assert!(vectors.len() >= 7, "all vectors loaded");
    for v in vectors {
        let name = v["name"].as_str().unwrap_or_default();
        let req = &v["request"];
        let to_pairs = |o: &serde_json::Value| -> Vec<(String, String)> {
            o.as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        };
        let headers = to_pairs(&req["headers"]);
        let query = to_pairs(&req["query"]);
        let to_sign = roa::string_to_sign(&roa::SignableRequest {
            method: req["method"].as_str().unwrap_or_default(),
            path: req["path"].as_str().unwrap_or_default(),
            query: &query,
            headers: &headers,
        });
        assert_eq!(
            to_sign,
            v["string_to_sign"].as_str().unwrap_or_default(),
            "{name}"
        );
        let signature = roa::sign(
            v["access_key_secret"].as_str().unwrap_or_default(),
            &to_sign,
        );
        assert_eq!(
            signature,
            v["signature"].as_str().unwrap_or_default(),
            "{name}"
        );
        assert_eq!(
            format!(
                "acs {}:{signature}",
                v["access_key_id"].as_str().unwrap_or_default()
            ),
            header(&headers, "authorization").unwrap_or_default(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn access_key_request_is_complete_and_signed() {
    let server = MockServer::start().await;
    mount(&server, success("2030-03-10T12:56:17Z"), 1).await;
    let issued = client(&server, Duration::from_secs(10))
        .issue(
            &request(CertificateLifetime::Minutes(180), true),
            &access_key(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(issued.client_certificate_pem, CLIENT_CERT);
    assert_eq!(issued.client_key_pem.expose(), CLIENT_KEY);
    assert_eq!(issued.expiration.to_rfc3339(), "2030-03-10T12:56:17+00:00");
    assert_signed_request(
        &only_request(&server).await,
        &access_key(),
        "PrivateIpAddress=true&TemporaryDurationMinutes=180",
    );
}

#[tokio::test]
async fn sts_credentials_add_and_sign_the_token_headers() {
    let server = MockServer::start().await;
    mount(&server, success("2030-03-10T12:56:17Z"), 1).await;
    client(&server, Duration::from_secs(10))
        .issue(&request(CertificateLifetime::Minutes(15), true), &sts())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_signed_request(
        &only_request(&server).await,
        &sts(),
        "PrivateIpAddress=true&TemporaryDurationMinutes=15",
    );
}

#[tokio::test]
async fn server_default_lifetime_sends_no_duration_and_public_address_no_flag() {
    let server = MockServer::start().await;
    mount(&server, success("2099-01-01T00:00:00Z"), 1).await;
    client(&server, Duration::from_secs(10))
        .issue(
            &request(CertificateLifetime::ServerDefault, false),
            &access_key(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_signed_request(&only_request(&server).await, &access_key(), "");
}

#[tokio::test]
async fn api_errors_carry_status_code_message_and_request_id() {
    for (status, code) in [
        (403, "Forbidden.RAM"),
        (404, "ErrorClusterNotFound"),
        (500, "InternalError"),
    ] {
        let server = MockServer::start().await;
        mount(&server, api_error(status, code, "it failed", "REQ-123"), 1).await;
        let err = client(&server, Duration::from_secs(10))
            .issue(
                &request(CertificateLifetime::Minutes(180), true),
                &access_key(),
            )
            .await
            .err();
        let Some(IssueError::Api(api)) = err else {
            panic!("{err:?}")
        };
        assert_eq!(api.status, status);
        assert_eq!(api.code.as_deref(), Some(code));
        assert_eq!(api.message.as_deref(), Some("it failed"));
        assert_eq!(api.request_id.as_deref(), Some("REQ-123"));
    }
}

#[tokio::test]
async fn broken_answers_are_clear_errors() {
    let huge = "x".repeat(ack_ram_adapters::ack::MAX_RESPONSE_BYTES + 10);
    let cases: Vec<(ResponseTemplate, &str)> = vec![
        (ResponseTemplate::new(200).set_body_string("{\"config\": \"trunc"), "not the expected JSON"),
        (ResponseTemplate::new(200).set_body_string(huge), "larger than"),
        (
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"config": "kind: Config\n", "expiration": "2030-01-01T00:00:00Z"})),
            "no users",
        ),
        (
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"config": kubeconfig_yaml(CLIENT_CERT, CLIENT_KEY)})),
            "no expiration",
        ),
        (
            ResponseTemplate::new(502).set_body_raw("<html>Bad gateway</html>", "text/html"),
            "not JSON (text/html",
        ),
    ];
    for (response, want) in cases {
        let server = MockServer::start().await;
        mount(&server, response, 1).await;
        let err = client(&server, Duration::from_secs(10))
            .issue(
                &request(CertificateLifetime::Minutes(180), true),
                &access_key(),
            )
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(want), "want {want:?} in {err:?}");
        assert!(!err.contains(&key_body()), "never echoes key material");
    }
}

#[tokio::test]
async fn a_stalled_server_times_out() {
    let server = MockServer::start().await;
    mount(
        &server,
        success("2030-01-01T00:00:00Z").set_delay(Duration::from_secs(5)),
        1,
    )
    .await;
    let err = client(&server, Duration::from_millis(300))
        .issue(
            &request(CertificateLifetime::Minutes(180), true),
            &access_key(),
        )
        .await
        .err();
    assert!(
        matches!(&err, Some(IssueError::Transport { message, .. }) if message.contains("timed out")),
        "{err:?}"
    );
}
