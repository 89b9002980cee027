//! Micro-benchmarks of the pieces the hit and cold paths spend their CPU in, so a regression
//! shows up in isolation: `cargo bench -p ack-ram-adapters`.

use ack_ram_adapters::ack::{extract_client_credential, roa};
use ack_ram_adapters::sts::rpc;
use ack_ram_adapters::token::{TokenRequest, presign};
use ack_ram_domain::policy::assess;
use ack_ram_domain::{AccessCredentials, ApiVersion, CertificateLifetime, ExecCredential, Secret};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use divan::black_box;

fn main() {
    divan::main();
}

const CERT: &str = include_str!("../../tests/fixtures/client.crt");
const KEY: &str = include_str!("../../tests/fixtures/client.key");

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[divan::bench]
fn roa_sign() -> String {
    let headers = pairs(&[
        ("accept", "application/json"),
        ("date", "Sun, 10 Mar 2024 09:56:17 GMT"),
        ("x-acs-signature-nonce", "4d5f0c9a1b2e3f405162738495a6b7c8"),
        ("x-acs-signature-method", "HMAC-SHA1"),
        ("x-acs-signature-version", "1.0"),
        ("x-acs-version", "2015-12-15"),
        ("x-acs-action", "DescribeClusterUserKubeconfig"),
    ]);
    let query = pairs(&[
        ("PrivateIpAddress", "true"),
        ("TemporaryDurationMinutes", "180"),
    ]);
    let to_sign = roa::string_to_sign(&roa::SignableRequest {
        method: "GET",
        path: black_box("/k8s/c0123456789abcdef0123456789abcdef/user_config"),
        query: &query,
        headers: &headers,
    });
    roa::sign(black_box("EXAMPLEsecretEXAMPLEsecret123456"), &to_sign)
}

#[divan::bench]
fn sts_rpc_sign() -> String {
    let params = pairs(&[
        ("AccessKeyId", "LTAI5tEXAMPLEKEYID"),
        ("Action", "AssumeRole"),
        ("Format", "JSON"),
        ("RoleArn", "acs:ram::1234567890123456:role/ack-dev"),
        ("RoleSessionName", "ack-ram-tool"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
        ("SignatureVersion", "1.0"),
        ("Timestamp", "2024-03-10T09:56:17Z"),
        ("Version", "2015-04-01"),
    ]);
    rpc::sign(
        black_box("EXAMPLEsecretEXAMPLEsecret123456"),
        &rpc::string_to_sign("POST", &params),
    )
}

#[divan::bench]
fn token_presign(bencher: divan::Bencher) {
    let credentials = AccessCredentials::access_key("LTAI5tEXAMPLEKEYID", Secret::new("secret"));
    bencher.bench(|| {
        presign(&TokenRequest {
            cluster_id: black_box("c0123456789abcdef0123456789abcdef"),
            credentials: &credentials,
            now: DateTime::<Utc>::UNIX_EPOCH,
            nonce: None,
            extra_query: &[],
            user_agent: "bench",
        })
    });
}

#[divan::bench]
fn kubeconfig_extraction(bencher: divan::Bencher) {
    let b64 = |t: &str| base64::engine::general_purpose::STANDARD.encode(t);
    let yaml = format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: https://192.168.0.10:6443\n  name: kubernetes\ncontexts:\n- context:\n    cluster: kubernetes\n    user: \"1234567890123456\"\n  name: ctx\ncurrent-context: ctx\nkind: Config\npreferences: {{}}\nusers:\n- name: \"1234567890123456\"\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n",
        ca = b64(CERT),
        cert = b64(CERT),
        key = b64(KEY)
    );
    bencher.bench(|| extract_client_credential(black_box(&yaml)));
}

#[divan::bench]
fn freshness_decision() -> bool {
    let now = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
    matches!(
        assess(
            black_box(now + Duration::minutes(90)),
            CertificateLifetime::default(),
            black_box(now)
        ),
        ack_ram_domain::policy::Freshness::Fresh { .. }
    )
}

#[divan::bench]
fn cache_file_parse_and_render(bencher: divan::Bencher) {
    let credential = ack_ram_domain::ClusterCredential {
        client_certificate_pem: CERT.into(),
        client_key_pem: Secret::new(KEY),
        expiration: DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000),
    };
    let json = ExecCredential::new(ApiVersion::V1Beta1, credential).to_json();
    bencher.bench(|| {
        let parsed = ExecCredential::parse_cached(black_box(json.as_bytes()));
        parsed.map(|c| ExecCredential::new(ApiVersion::V1Beta1, c).to_json())
    });
}
