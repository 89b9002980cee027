//! End-to-end tests of the emulator over real HTTP: a correctly signed request (built by hand
//! with the crate's own `roa` module) gets a kubeconfig whose certificate chains to `ca_pem()`,
//! and each kind of broken request fails with the code the real service uses.

use std::error::Error;
use std::time::{Duration, SystemTime};

use ack_ram_emulator::{
    CLIENT_CERT_ORGANIZATION, DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, Emulator, EmulatorConfig,
    account_uid, roa,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::Deserialize;

type TestResult = Result<(), Box<dyn Error>>;

const CLUSTER: &str = "c0123456789abcdef0123456789abcdef";

fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn client() -> Result<reqwest::Client, Box<dyn Error>> {
    install_provider();
    Ok(reqwest::Client::builder().no_proxy().build()?)
}

fn nonce() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).ok();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A request the way the Go SDK builds it; each field can be broken by a test.
#[derive(Clone)]
struct Call {
    cluster: String,
    query: String,
    key_id: String,
    secret: String,
    token: Option<String>,
    date: SystemTime,
    nonce: String,
    drop_header: Option<&'static str>,
    override_header: Option<(&'static str, String)>,
}

impl Call {
    fn new(query: &str) -> Call {
        Call {
            cluster: CLUSTER.to_owned(),
            query: query.to_owned(),
            key_id: DEMO_ACCESS_KEY_ID.to_owned(),
            secret: DEMO_ACCESS_KEY_SECRET.to_owned(),
            token: None,
            date: SystemTime::now(),
            nonce: nonce(),
            drop_header: None,
            override_header: None,
        }
    }

    async fn send(
        &self,
        client: &reqwest::Client,
        endpoint: &str,
    ) -> Result<(u16, serde_json::Value), Box<dyn Error>> {
        let path = format!("/k8s/{}/user_config", self.cluster);
        let mut headers: Vec<(String, String)> = vec![
            ("accept".into(), "application/json".into()),
            ("date".into(), httpdate::fmt_http_date(self.date)),
            ("x-acs-signature-nonce".into(), self.nonce.clone()),
            ("x-acs-signature-method".into(), "HMAC-SHA1".into()),
            ("x-acs-signature-version".into(), "1.0".into()),
            ("x-acs-version".into(), "2015-12-15".into()),
            (
                "x-acs-action".into(),
                "DescribeClusterUserKubeconfig".into(),
            ),
        ];
        if let Some(token) = &self.token {
            headers.push(("x-acs-accesskey-id".into(), self.key_id.clone()));
            headers.push(("x-acs-security-token".into(), token.clone()));
        }
        if let Some((name, value)) = &self.override_header {
            headers.retain(|(k, _)| k != name);
            headers.push(((*name).to_owned(), value.clone()));
        }
        let sts = roa::string_to_sign("GET", &path, &self.query, &headers);
        let sig = roa::signature(&self.secret, &sts);
        headers.push(("authorization".into(), format!("acs {}:{sig}", self.key_id)));
        if let Some(name) = self.drop_header {
            headers.retain(|(k, _)| k != name);
        }
        let url = if self.query.is_empty() {
            format!("{endpoint}{path}")
        } else {
            format!("{endpoint}{path}?{}", self.query)
        };
        let mut req = client.get(url);
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let body: serde_json::Value = serde_json::from_slice(&resp.bytes().await?)?;
        Ok((status, body))
    }
}

#[derive(Deserialize)]
struct Kubeconfig {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    clusters: Vec<NamedCluster>,
    contexts: Vec<NamedContext>,
    #[serde(rename = "current-context")]
    current_context: String,
    users: Vec<NamedUser>,
}
#[derive(Deserialize)]
struct NamedCluster {
    name: String,
    cluster: Cluster,
}
#[derive(Deserialize)]
struct Cluster {
    server: String,
    #[serde(rename = "certificate-authority-data")]
    ca_data: String,
}
#[derive(Deserialize)]
struct NamedContext {
    name: String,
    context: Context,
}
#[derive(Deserialize)]
struct Context {
    cluster: String,
    user: String,
}
#[derive(Deserialize)]
struct NamedUser {
    name: String,
    user: User,
}
#[derive(Deserialize)]
struct User {
    #[serde(rename = "client-certificate-data")]
    cert_data: String,
    #[serde(rename = "client-key-data")]
    key_data: String,
}

fn b64_text(s: &str) -> Result<String, Box<dyn Error>> {
    Ok(String::from_utf8(STANDARD.decode(s)?)?)
}

/// Checks a success body fully; returns (expiration, kubeconfig).
fn check_success(
    emulator: &Emulator,
    body: &serde_json::Value,
    key_id: &str,
) -> Result<(DateTime<Utc>, Kubeconfig), Box<dyn Error>> {
    let expiration_text = body["expiration"].as_str().ok_or("no expiration")?;
    assert!(expiration_text.ends_with('Z'), "{expiration_text}");
    let expiration: DateTime<Utc> = DateTime::parse_from_rfc3339(expiration_text)?.into();
    let config = body["config"].as_str().ok_or("no config")?;
    let kc: Kubeconfig = serde_saphyr::from_str(config)?;
    let uid = account_uid(key_id);

    assert_eq!(kc.api_version, "v1");
    assert_eq!(kc.kind, "Config");
    assert_eq!(kc.clusters.len(), 1);
    assert_eq!(kc.clusters[0].name, "kubernetes");
    assert_eq!(
        b64_text(&kc.clusters[0].cluster.ca_data)?,
        emulator.ca_pem()
    );
    assert_eq!(kc.contexts[0].context.cluster, "kubernetes");
    assert_eq!(kc.contexts[0].context.user, uid);
    assert_eq!(kc.contexts[0].name, format!("{uid}-{CLUSTER}"));
    assert_eq!(kc.current_context, kc.contexts[0].name);
    assert_eq!(kc.users[0].name, uid);

    // The certificate is signed by ca_pem(), names the account, and expires at `expiration`.
    let ca_pem = emulator.ca_pem();
    let (_, ca_block) = x509_parser::pem::parse_x509_pem(ca_pem.as_bytes())?;
    let ca = ca_block.parse_x509()?;
    let cert_pem = b64_text(&kc.users[0].user.cert_data)?;
    assert!(cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let (_, cert_block) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())?;
    let cert = cert_block.parse_x509()?;
    cert.verify_signature(Some(ca.public_key()))?;
    assert_eq!(cert.issuer(), ca.subject());
    assert_eq!(
        cert.validity().not_after.timestamp(),
        expiration.timestamp()
    );
    let now = Utc::now().timestamp();
    assert!(cert.validity().not_before.timestamp() < now - 60);
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .ok_or("no CN")?
        .as_str()?;
    assert_eq!(cn, uid);
    let org = cert
        .subject()
        .iter_organization()
        .next()
        .ok_or("no O")?
        .as_str()?;
    assert_eq!(org, CLIENT_CERT_ORGANIZATION);

    // The key is a PKCS#8 key matching the certificate.
    let key_pem = b64_text(&kc.users[0].user.key_data)?;
    assert!(key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let key = rcgen::KeyPair::from_pem(&key_pem)?;
    assert_eq!(
        key.public_key_raw(),
        cert.public_key().subject_public_key.data.as_ref()
    );
    Ok((expiration, kc))
}

#[tokio::test]
async fn signed_request_gets_kubeconfig_with_cert_from_ca() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let client = client()?;
    let before = Utc::now();
    let (status, body) = Call::new("PrivateIpAddress=true&TemporaryDurationMinutes=180")
        .send(&client, &emulator.endpoint())
        .await?;
    assert_eq!(status, 200, "{body}");
    let (expiration, kc) = check_success(&emulator, &body, DEMO_ACCESS_KEY_ID)?;
    let lifetime = (expiration - before).num_seconds();
    assert!(
        (180 * 60 - 2..=180 * 60 + 1).contains(&lifetime),
        "{lifetime}"
    );
    assert_eq!(
        kc.clusters[0].cluster.server,
        ack_ram_emulator::DEFAULT_PRIVATE_SERVER
    );
    assert_eq!(emulator.request_count(), 1);
    assert_eq!(emulator.issued_count(), 1);
    let recorded = emulator.requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].status, 200);
    assert_eq!(
        recorded[0].query,
        "PrivateIpAddress=true&TemporaryDurationMinutes=180"
    );
    emulator.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn without_duration_the_certificate_lasts_three_years() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    emulator.set_api_servers("https://10.0.0.1:6443", "https://172.16.0.1:6443");
    let before = Utc::now();
    let (status, body) = Call::new("").send(&client()?, &emulator.endpoint()).await?;
    assert_eq!(status, 200, "{body}");
    let (expiration, kc) = check_success(&emulator, &body, DEMO_ACCESS_KEY_ID)?;
    let days = (expiration - before).num_days();
    assert!((1094..=1095).contains(&days), "{days}");
    assert_eq!(kc.clusters[0].cluster.server, "https://10.0.0.1:6443");
    Ok(())
}

async fn expect_error(
    emulator: &Emulator,
    call: &Call,
    status: u16,
    code: &str,
) -> Result<serde_json::Value, Box<dyn Error>> {
    let (got, body) = call.send(&client()?, &emulator.endpoint()).await?;
    assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
    assert_eq!(body["status"].as_u64(), Some(u64::from(status)));
    let request_id = body["requestId"].as_str().ok_or("no requestId")?;
    assert_eq!(request_id.len(), 36, "{request_id}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    Ok(body)
}

#[tokio::test]
async fn bad_signature_is_rejected_with_the_string_to_sign() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let mut call = Call::new("TemporaryDurationMinutes=60");
    call.secret = "not-the-secret".into();
    let body = expect_error(&emulator, &call, 400, "SignatureDoesNotMatch").await?;
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("server string to sign is:GET\\napplication/json\\n\\n\\n"),
        "{message}"
    );
    assert!(message.ends_with(&format!(
        "/k8s/{CLUSTER}/user_config?TemporaryDurationMinutes=60"
    )));
    assert!(!message.contains(DEMO_ACCESS_KEY_SECRET));
    assert!(!message.contains('\n'));
    assert_eq!(emulator.request_count(), 1);
    assert_eq!(emulator.issued_count(), 0);
    Ok(())
}

#[tokio::test]
async fn extra_query_parameters_and_acs_headers_are_part_of_the_signature() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    // Query values with form escapes and an empty value, plus an extra x-acs header, as in the
    // Go SDK edge vectors.
    let mut call = Call::new("Empty=&TemporaryDurationMinutes=15&a=x+y%2Bz%26w%3Dv%2F~%2A%25");
    call.override_header = Some(("x-acs-custom", "Upper".into()));
    let (status, body) = call.send(&client()?, &emulator.endpoint()).await?;
    assert_eq!(status, 200, "{body}");
    // Signing the encoded value instead of the decoded one is a typical signer bug: it fails.
    let path = format!("/k8s/{CLUSTER}/user_config");
    let headers: Vec<(String, String)> = vec![
        ("accept".into(), "application/json".into()),
        ("date".into(), httpdate::fmt_http_date(SystemTime::now())),
        ("x-acs-signature-nonce".into(), nonce()),
        ("x-acs-signature-method".into(), "HMAC-SHA1".into()),
        ("x-acs-signature-version".into(), "1.0".into()),
        ("x-acs-version".into(), "2015-12-15".into()),
        (
            "x-acs-action".into(),
            "DescribeClusterUserKubeconfig".into(),
        ),
    ];
    let bad_sts = roa::string_to_sign("GET", &path, "a=x%2By", &headers);
    let sig = roa::signature(DEMO_ACCESS_KEY_SECRET, &bad_sts);
    let mut req = client()?
        .get(format!("{}{path}?a=x+y", emulator.endpoint()))
        .header("authorization", format!("acs {DEMO_ACCESS_KEY_ID}:{sig}"));
    for (k, v) in &headers {
        req = req.header(k, v);
    }
    let resp = req.send().await?;
    assert_eq!(resp.status().as_u16(), 400);
    let body: serde_json::Value = serde_json::from_slice(&resp.bytes().await?)?;
    assert_eq!(body["code"].as_str(), Some("SignatureDoesNotMatch"));
    Ok(())
}

#[tokio::test]
async fn unknown_access_key() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let mut call = Call::new("");
    call.key_id = "LTAI5tSomebodyElse".into();
    expect_error(&emulator, &call, 404, "InvalidAccessKeyId.NotFound").await?;
    Ok(())
}

#[tokio::test]
async fn skewed_date() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let mut call = Call::new("");
    call.date = SystemTime::now() - Duration::from_secs(16 * 60);
    expect_error(&emulator, &call, 400, "RequestTimeTooSkewed").await?;
    call.date = SystemTime::now() + Duration::from_secs(16 * 60);
    call.nonce = nonce();
    expect_error(&emulator, &call, 400, "RequestTimeTooSkewed").await?;
    // 14 minutes is still accepted.
    call.date = SystemTime::now() - Duration::from_secs(14 * 60);
    call.nonce = nonce();
    let (status, body) = call.send(&client()?, &emulator.endpoint()).await?;
    assert_eq!(status, 200, "{body}");
    Ok(())
}

#[tokio::test]
async fn replayed_nonce() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let call = Call::new("TemporaryDurationMinutes=15");
    let (status, body) = call.send(&client()?, &emulator.endpoint()).await?;
    assert_eq!(status, 200, "{body}");
    expect_error(&emulator, &call, 400, "SignatureNonceUsed").await?;
    assert_eq!((emulator.request_count(), emulator.issued_count()), (2, 1));
    Ok(())
}

#[tokio::test]
async fn bad_durations() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    for query in [
        "TemporaryDurationMinutes=14",
        "TemporaryDurationMinutes=4321",
        "TemporaryDurationMinutes=abc",
        "TemporaryDurationMinutes=60.5",
        "TemporaryDurationMinutes=",
        "PrivateIpAddress=maybe",
    ] {
        let body = expect_error(&emulator, &Call::new(query), 400, "InvalidParameter").await?;
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains(query.split('=').next().unwrap_or_default()))
        );
    }
    for ok in [
        "TemporaryDurationMinutes=15",
        "TemporaryDurationMinutes=4320",
    ] {
        let (status, body) = Call::new(ok).send(&client()?, &emulator.endpoint()).await?;
        assert_eq!(status, 200, "{ok}: {body}");
    }
    Ok(())
}

#[tokio::test]
async fn missing_or_wrong_protocol_headers() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    for header in [
        "date",
        "x-acs-signature-nonce",
        "x-acs-signature-method",
        "x-acs-signature-version",
        "x-acs-version",
        "x-acs-action",
        "authorization",
    ] {
        let mut call = Call::new("");
        call.drop_header = Some(header);
        let body = expect_error(&emulator, &call, 400, "MissingParameter").await?;
        assert!(body["message"].as_str().is_some_and(|m| m.contains(header)));
    }
    for (header, value) in [
        ("x-acs-signature-method", "HMAC-SHA256"),
        ("x-acs-signature-version", "2.0"),
        ("x-acs-version", "2018-04-18"),
        ("x-acs-action", "DescribeClusters"),
        ("date", "yesterday"),
    ] {
        let mut call = Call::new("");
        call.override_header = Some((header, value.to_owned()));
        expect_error(&emulator, &call, 400, "InvalidParameter").await?;
    }
    // A malformed authorization header.
    let (status, body) = {
        let path = format!("/k8s/{CLUSTER}/user_config");
        let resp = client()?
            .get(format!("{}{path}", emulator.endpoint()))
            .header("date", httpdate::fmt_http_date(SystemTime::now()))
            .header("x-acs-signature-nonce", nonce())
            .header("x-acs-signature-method", "HMAC-SHA1")
            .header("x-acs-signature-version", "1.0")
            .header("x-acs-version", "2015-12-15")
            .header("x-acs-action", "DescribeClusterUserKubeconfig")
            .header("authorization", "acs nocolon")
            .send()
            .await?;
        (
            resp.status().as_u16(),
            serde_json::from_slice::<serde_json::Value>(&resp.bytes().await?)?,
        )
    };
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("IncompleteSignature"))
    );
    assert_eq!(emulator.issued_count(), 0);
    Ok(())
}

#[tokio::test]
async fn unknown_cluster_when_clusters_are_listed() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig {
        clusters: Some(vec![CLUSTER.to_owned()]),
        ..EmulatorConfig::default()
    })
    .await?;
    let mut call = Call::new("");
    call.cluster = "c9999".into();
    let body = expect_error(&emulator, &call, 404, "ErrorClusterNotFound").await?;
    assert_eq!(body["message"].as_str(), Some("cluster c9999 not found"));
    let (status, _) = Call::new("").send(&client()?, &emulator.endpoint()).await?;
    assert_eq!(status, 200);
    Ok(())
}

#[tokio::test]
async fn invalid_looking_cluster_when_any_is_accepted() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let mut call = Call::new("");
    call.cluster = "Not%20A%20Cluster".into();
    expect_error(&emulator, &call, 404, "ErrorClusterNotFound").await?;
    Ok(())
}

#[tokio::test]
async fn security_tokens() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    emulator.add_security_token("STS.mockStsAccessKeyId", "mockStsSecret", "good/token+==");
    let sts = |token: Option<&str>| {
        let mut call = Call::new("TemporaryDurationMinutes=60");
        call.key_id = "STS.mockStsAccessKeyId".into();
        call.secret = "mockStsSecret".into();
        call.token = token.map(str::to_owned);
        call
    };
    let (status, body) = sts(Some("good/token+=="))
        .send(&client()?, &emulator.endpoint())
        .await?;
    assert_eq!(status, 200, "{body}");
    check_success_uid(&body, "STS.mockStsAccessKeyId")?;
    expect_error(
        &emulator,
        &sts(Some("bad")),
        403,
        "InvalidSecurityToken.MismatchWithAccessKey",
    )
    .await?;
    expect_error(&emulator, &sts(None), 400, "MissingSecurityToken").await?;
    // A plain AccessKey with a token it does not own.
    let mut call = Call::new("");
    call.token = Some("good/token+==".into());
    expect_error(
        &emulator,
        &call,
        403,
        "InvalidSecurityToken.MismatchWithAccessKey",
    )
    .await?;
    // x-acs-accesskey-id must agree with the authorization header.
    let mut call = sts(Some("good/token+=="));
    call.override_header = Some(("x-acs-accesskey-id", "STS.other".into()));
    expect_error(&emulator, &call, 400, "InvalidParameter").await?;
    Ok(())
}

fn check_success_uid(body: &serde_json::Value, key_id: &str) -> TestResult {
    let kc: Kubeconfig = serde_saphyr::from_str(body["config"].as_str().ok_or("no config")?)?;
    assert_eq!(kc.users[0].name, account_uid(key_id));
    Ok(())
}

#[tokio::test]
async fn injected_faults_and_unknown_routes() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    emulator.fail_next(
        1,
        400,
        "Throttling.User",
        "Request was denied due to user flow control.",
    );
    expect_error(&emulator, &Call::new(""), 400, "Throttling.User").await?;
    let (status, _) = Call::new("").send(&client()?, &emulator.endpoint()).await?;
    assert_eq!(status, 200);

    let resp = client()?
        .post(format!("{}/k8s/{CLUSTER}/user_config", emulator.endpoint()))
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 404);
    let body: serde_json::Value = serde_json::from_slice(&resp.bytes().await?)?;
    assert_eq!(body["code"].as_str(), Some("InvalidAction.NotFound"));
    let resp = client()?
        .get(format!("{}/", emulator.endpoint()))
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(emulator.request_count(), 2);
    Ok(())
}

#[tokio::test]
async fn tls_mode_serves_https_with_a_cert_from_the_ca() -> TestResult {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let emulator = Emulator::start(EmulatorConfig {
        tls: true,
        ..EmulatorConfig::default()
    })
    .await?;
    assert!(emulator.endpoint().starts_with("https://127.0.0.1:"));
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(
        emulator.ca_pem().as_bytes(),
    )?)?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    install_provider();
    let https = reqwest::Client::builder()
        .no_proxy()
        .tls_backend_preconfigured(tls)
        .build()?;
    let (status, body) = Call::new("TemporaryDurationMinutes=30")
        .send(&https, &emulator.endpoint())
        .await?;
    assert_eq!(status, 200, "{body}");
    check_success(&emulator, &body, DEMO_ACCESS_KEY_ID)?;
    // `localhost` is a SAN too.
    let localhost = emulator.endpoint().replace("127.0.0.1", "localhost");
    let (status, _) = Call::new("").send(&https, &localhost).await?;
    assert_eq!(status, 200);
    // A client that does not trust the CA fails the handshake.
    let untrusting = client()?;
    assert!(
        Call::new("")
            .send(&untrusting, &emulator.endpoint())
            .await
            .is_err()
    );
    Ok(())
}

#[tokio::test]
async fn response_delay_is_applied() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig {
        response_delay: Duration::from_millis(300),
        ..EmulatorConfig::default()
    })
    .await?;
    let client = client()?;
    let started = std::time::Instant::now();
    let calls = (0..4).map(|_| Call::new(""));
    let endpoint = emulator.endpoint();
    let results = futures_join_all(calls.map(|c| {
        let client = client.clone();
        let endpoint = endpoint.clone();
        async move {
            c.send(&client, &endpoint)
                .await
                .map(|r| r.0)
                .map_err(|e| e.to_string())
        }
    }))
    .await;
    let elapsed = started.elapsed();
    for r in results {
        assert_eq!(r?, 200);
    }
    // Concurrent requests are delayed in parallel, not serialised.
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1100), "{elapsed:?}");
    assert_eq!(emulator.issued_count(), 4);
    Ok(())
}

/// Minimal join_all so the tests need no futures crate.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futs: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}

#[test]
fn blocking_start_serves_while_the_caller_blocks() -> TestResult {
    let emulator = Emulator::start_blocking(EmulatorConfig::default())?;
    let endpoint = emulator.endpoint();
    // A plain blocking TCP exchange from this (non-async) thread.
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(emulator.local_addr())?;
    stream.write_all(b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    assert!(response.contains("InvalidAction.NotFound"));
    assert!(endpoint.starts_with("http://127.0.0.1:"));
    drop(emulator);
    Ok(())
}
