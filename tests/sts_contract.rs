//! Contract tests for the STS adapter: the requests it sends (method, path, every parameter,
//! headers, body, and a signature recomputed by a separate implementation written here from
//! `apis.md` §4.2), how it reads every kind of answer, and where requests go.

mod support;

use ack_ram_adapters::http::{Endpoint, HttpSettings, build_client};
use ack_ram_adapters::sts::{
    AssumeRoleRequest, CallerIdentity, OidcRequest, StsClient, StsError, resolve_endpoint,
};
use ack_ram_domain::ports::{Clock, ProviderError};
use ack_ram_domain::{AccessCredentials, Secret};
use ack_ram_emulator::roa as independent;
use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use support::{AK_ID, AK_SECRET, STS_TOKEN};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const USER_AGENT: &str = "ack-ram-tool-tests";
const ROLE_ARN: &str = "acs:ram::1234567890123456:role/ack-dev";
const OIDC_PROVIDER_ARN: &str = "acs:ram::1234567890123456:oidc-provider/ack-rrsa-c0123";
/// A JWT-shaped token with the trailing newline a token file usually has.
const OIDC_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl\n";
const NEW_ID: &str = "STS.NUgYrLnoC37mZZCNnAbez";
const NEW_SECRET: &str = "CVwjCkNzTMupZ8NbTCxCBRq3K16jtcWFTJAyBEv2";
const NEW_TOKEN: &str = "CAIS+AF1q6Ft5B2yfSjIr5a/new==";

// ---------------------------------------------------------------------------------------------
// An independent RPC signer, written from the reference (apis.md §4.2). Only the HMAC-SHA1
// primitive is borrowed, from the emulator's separately written verifier.

/// Keeps A-Z a-z 0-9 - _ . ~; every other byte becomes %XX with upper-case hex.
fn rfc3986(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn sorted_query(params: &BTreeMap<String, String>, skip_signature: bool) -> String {
    params
        .iter()
        .filter(|(k, _)| !(skip_signature && k.as_str() == "Signature"))
        .map(|(k, v)| format!("{}={}", rfc3986(k), rfc3986(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn expected_signature(secret: &str, params: &BTreeMap<String, String>) -> String {
    let canonicalized = sorted_query(params, true);
    let string_to_sign = format!("POST&{}&{}", rfc3986("/"), rfc3986(&canonicalized));
    independent::signature(&format!("{secret}&"), &string_to_sign)
}

#[test]
fn independent_signer_reproduces_vector_c() {
    let params: BTreeMap<String, String> = [
        ("AccessKeyId", "LTAI5tEXAMPLEKEYID"),
        ("Action", "AssumeRole"),
        ("Format", "JSON"),
        ("RoleArn", ROLE_ARN),
        ("RoleSessionName", "ack-ram-tool"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
        ("SignatureVersion", "1.0"),
        ("Timestamp", "2024-03-10T09:56:17Z"),
        ("Version", "2015-04-01"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(
        expected_signature("EXAMPLEsecretEXAMPLEsecret123456", &params),
        "0fdkqin8x0ItFeHNaw8BzkpL6+0="
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers.

struct FixedClock(DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 10, 9, 56, 17)
        .single()
        .unwrap_or_else(|| panic!("valid time"))
}

fn client_for(endpoint: Endpoint, timeout: Duration) -> StsClient {
    let mut settings = HttpSettings::new(USER_AGENT);
    settings.timeout = timeout;
    let http = build_client(&settings).unwrap_or_else(|e| panic!("{e}"));
    StsClient::new(http, endpoint, Arc::new(FixedClock(now())))
}

fn client(server: &MockServer) -> StsClient {
    let endpoint = Endpoint::parse(&server.uri()).unwrap_or_else(|e| panic!("{e}"));
    client_for(endpoint, Duration::from_secs(10))
}

fn access_key() -> AccessCredentials {
    AccessCredentials::access_key(AK_ID, Secret::new(AK_SECRET))
}

fn sts_base() -> AccessCredentials {
    AccessCredentials::sts("STS.BaseId", Secret::new(AK_SECRET), Secret::new(STS_TOKEN))
}

fn assume(external_id: Option<&str>, duration_seconds: Option<u32>) -> AssumeRoleRequest {
    AssumeRoleRequest {
        role_arn: ROLE_ARN.into(),
        session_name: "ack-ram-tool".into(),
        external_id: external_id.map(str::to_owned),
        duration_seconds,
    }
}

fn oidc() -> OidcRequest {
    OidcRequest {
        role_arn: ROLE_ARN.into(),
        oidc_provider_arn: OIDC_PROVIDER_ARN.into(),
        oidc_token: Secret::new(OIDC_TOKEN),
        session_name: "rrsa-session".into(),
        duration_seconds: None,
    }
}

fn credentials_answer(expiration: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "RequestId": "3D57EAD2-8723-1F26-B69C-F8707D8B565D",
        "AssumedRoleUser": {
            "AssumedRoleId": "397793158823220000:ack-ram-tool",
            "Arn": "acs:ram::1234567890123456:role/ack-dev/ack-ram-tool"
        },
        "Credentials": {
            "AccessKeyId": NEW_ID,
            "AccessKeySecret": NEW_SECRET,
            "SecurityToken": NEW_TOKEN,
            "Expiration": expiration
        }
    }))
}

async fn mount(server: &MockServer, response: ResponseTemplate, calls: u64) {
    Mock::given(method("POST"))
        .and(path("/"))
        .respond_with(response)
        .expect(calls)
        .mount(server)
        .await;
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

async fn only_request(server: &MockServer) -> Request {
    let mut received = requests(server).await;
    assert_eq!(received.len(), 1, "exactly one request");
    received.remove(0)
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The query parameters, each key at most once.
fn params(req: &Request) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in req.url.query_pairs() {
        let previous = out.insert(k.to_string(), v.to_string());
        assert!(previous.is_none(), "parameter {k} sent twice");
    }
    out
}

fn keys(params: &BTreeMap<String, String>) -> Vec<&str> {
    params.keys().map(String::as_str).collect()
}

/// Everything every STS request shares: POST /, the headers, the common parameters, a query
/// string that is sorted and strictly encoded.
fn assert_common(req: &Request, action: &str) -> BTreeMap<String, String> {
    assert_eq!(req.method.as_str(), "POST");
    assert_eq!(req.url.path(), "/");
    assert_eq!(
        header(req, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(header(req, "accept-encoding"), Some("identity"));
    assert_eq!(header(req, "user-agent"), Some(USER_AGENT));
    let p = params(req);
    assert_eq!(
        req.url.query().unwrap_or_default(),
        sorted_query(&p, false),
        "the query is sorted and encoded with the RPC encoder"
    );
    assert_eq!(p.get("Action").map(String::as_str), Some(action));
    assert_eq!(p.get("Version").map(String::as_str), Some("2015-04-01"));
    assert_eq!(p.get("Format").map(String::as_str), Some("JSON"));
    assert_eq!(
        p.get("Timestamp").map(String::as_str),
        Some("2024-03-10T09:56:17Z")
    );
    let nonce = p.get("SignatureNonce").cloned().unwrap_or_default();
    assert!(
        nonce.len() == 32
            && nonce
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "nonce {nonce:?}"
    );
    p
}

/// A signed request: the signing parameters and a signature that the independent signer
/// recomputes.
fn assert_signed(req: &Request, creds: &AccessCredentials) -> BTreeMap<String, String> {
    let p = params(req);
    assert_eq!(
        p.get("AccessKeyId").map(String::as_str),
        Some(creds.access_key_id.as_str())
    );
    assert_eq!(
        p.get("SecurityToken").map(String::as_str),
        creds.security_token.as_ref().map(Secret::expose)
    );
    assert_eq!(
        p.get("SignatureMethod").map(String::as_str),
        Some("HMAC-SHA1")
    );
    assert_eq!(p.get("SignatureVersion").map(String::as_str), Some("1.0"));
    let want = expected_signature(creds.access_key_secret.expose(), &p);
    assert_eq!(p.get("Signature"), Some(&want), "signature recomputes");
    assert!(req.body.is_empty(), "a signed call has an empty body");
    assert_eq!(
        header(req, "content-length"),
        Some("0"),
        "as the Go tool, an explicit empty body"
    );
    assert_eq!(req.headers.get_all("content-length").iter().count(), 1);
    p
}

fn api_details(
    result: Result<impl std::fmt::Debug, StsError>,
) -> ack_ram_domain::ports::ApiErrorDetails {
    match result {
        Err(StsError::Api(details)) => details,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn provider_message(error: StsError) -> (String, String) {
    match ProviderError::from(error) {
        ProviderError::Failed {
            source_name,
            message,
        } => (source_name, message),
        ProviderError::Api {
            source_name,
            details,
        } => (source_name, details.to_string()),
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn assert_no_secret(text: &str) {
    for secret in [
        AK_SECRET,
        STS_TOKEN,
        OIDC_TOKEN.trim_end(),
        NEW_SECRET,
        NEW_TOKEN,
    ] {
        assert!(!text.contains(secret), "a secret leaked into {text:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// AssumeRole.

#[tokio::test]
async fn assume_role_with_an_access_key_is_complete_and_signed() {
    let server = MockServer::start().await;
    mount(&server, credentials_answer("2024-03-10T10:56:17Z"), 1).await;
    let got = client(&server)
        .assume_role(&access_key(), &assume(Some("ext-42"), None))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.access_key_id, NEW_ID);
    assert_eq!(got.access_key_secret.expose(), NEW_SECRET);
    assert_eq!(
        got.security_token.as_ref().map(Secret::expose),
        Some(NEW_TOKEN)
    );
    assert_eq!(
        got.expiration.map(|t| t.to_rfc3339()).as_deref(),
        Some("2024-03-10T10:56:17+00:00")
    );

    let req = only_request(&server).await;
    let p = assert_common(&req, "AssumeRole");
    assert_signed(&req, &access_key());
    assert_eq!(
        keys(&p),
        [
            "AccessKeyId",
            "Action",
            "ExternalId",
            "Format",
            "RoleArn",
            "RoleSessionName",
            "Signature",
            "SignatureMethod",
            "SignatureNonce",
            "SignatureVersion",
            "Timestamp",
            "Version",
        ]
    );
    assert_eq!(p.get("RoleArn").map(String::as_str), Some(ROLE_ARN));
    assert_eq!(
        p.get("RoleSessionName").map(String::as_str),
        Some("ack-ram-tool")
    );
    assert_eq!(p.get("ExternalId").map(String::as_str), Some("ext-42"));
    assert!(
        req.url
            .query()
            .unwrap_or_default()
            .contains("RoleArn=acs%3Aram%3A%3A1234567890123456%3Arole%2Fack-dev&"),
        "the role ARN is encoded as in the reference"
    );
}

#[tokio::test]
async fn assume_role_with_sts_credentials_signs_the_security_token() {
    let server = MockServer::start().await;
    mount(&server, credentials_answer("2024-03-10T10:56:17.5Z"), 1).await;
    let got = client(&server)
        .assume_role(&sts_base(), &assume(None, Some(900)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        got.expiration.map(|t| t.to_rfc3339()).as_deref(),
        Some("2024-03-10T10:56:17.500+00:00")
    );

    let req = only_request(&server).await;
    assert_common(&req, "AssumeRole");
    let p = assert_signed(&req, &sts_base());
    assert_eq!(
        keys(&p),
        [
            "AccessKeyId",
            "Action",
            "DurationSeconds",
            "Format",
            "RoleArn",
            "RoleSessionName",
            "SecurityToken",
            "Signature",
            "SignatureMethod",
            "SignatureNonce",
            "SignatureVersion",
            "Timestamp",
            "Version",
        ]
    );
    assert_eq!(p.get("SecurityToken").map(String::as_str), Some(STS_TOKEN));
    assert_eq!(p.get("DurationSeconds").map(String::as_str), Some("900"));
    // The token is covered by the signature: without it the signature would differ.
    let mut without = p.clone();
    without.remove("SecurityToken");
    assert_ne!(
        p.get("Signature"),
        Some(&expected_signature(AK_SECRET, &without))
    );
    // `+` and `/` of the token travel escaped.
    assert!(
        req.url
            .query()
            .unwrap_or_default()
            .contains("SecurityToken=CAISTestSecurityToken%2Fabc%2Bdef%3D%3D&")
    );
}

#[tokio::test]
async fn every_request_has_a_fresh_nonce() {
    let server = MockServer::start().await;
    mount(&server, credentials_answer("2024-03-10T10:56:17Z"), 2).await;
    let sts = client(&server);
    for _ in 0..2 {
        sts.assume_role(&access_key(), &assume(None, None))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let nonces: Vec<String> = requests(&server)
        .await
        .iter()
        .map(|r| params(r).get("SignatureNonce").cloned().unwrap_or_default())
        .collect();
    assert_eq!(nonces.len(), 2);
    assert_ne!(nonces[0], nonces[1]);
}

#[tokio::test]
async fn an_endpoint_path_prefix_is_kept_and_the_signature_still_covers_slash() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/sts/"))
        .respond_with(credentials_answer("2024-03-10T10:56:17Z"))
        .expect(1)
        .mount(&server)
        .await;
    let endpoint =
        Endpoint::parse(&format!("{}/sts", server.uri())).unwrap_or_else(|e| panic!("{e}"));
    client_for(endpoint, Duration::from_secs(10))
        .assume_role(&access_key(), &assume(None, None))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_signed(&only_request(&server).await, &access_key());
}

// ---------------------------------------------------------------------------------------------
// AssumeRoleWithOIDC.

#[tokio::test]
async fn assume_role_with_oidc_is_anonymous_and_sends_the_token_in_the_body() {
    let server = MockServer::start().await;
    mount(&server, credentials_answer("2024-03-10T10:56:17Z"), 1).await;
    let got = client(&server)
        .assume_role_with_oidc(&oidc())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.access_key_id, NEW_ID);
    assert_eq!(
        got.security_token.as_ref().map(Secret::expose),
        Some(NEW_TOKEN)
    );

    let req = only_request(&server).await;
    let p = assert_common(&req, "AssumeRoleWithOIDC");
    assert_eq!(
        keys(&p),
        [
            "Action",
            "Format",
            "OIDCProviderArn",
            "RoleArn",
            "RoleSessionName",
            "SignatureNonce",
            "Timestamp",
            "Version",
        ],
        "no AccessKeyId, SecurityToken, SignatureMethod, SignatureVersion or Signature"
    );
    assert_eq!(p.get("RoleArn").map(String::as_str), Some(ROLE_ARN));
    assert_eq!(
        p.get("OIDCProviderArn").map(String::as_str),
        Some(OIDC_PROVIDER_ARN)
    );
    assert_eq!(
        p.get("RoleSessionName").map(String::as_str),
        Some("rrsa-session")
    );
    assert!(
        !req.url.query().unwrap_or_default().contains("eyJ"),
        "the token is not in the URL"
    );
    let body = String::from_utf8(req.body.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(body, format!("OIDCToken={}", rfc3986(OIDC_TOKEN)));
    assert_eq!(
        header(&req, "content-length"),
        Some(body.len().to_string().as_str())
    );
    let form = independent::decode_query(&body);
    assert_eq!(
        form,
        vec![("OIDCToken".to_owned(), OIDC_TOKEN.to_owned())],
        "the token arrives exactly as given, trailing newline included"
    );
}

#[tokio::test]
async fn oidc_duration_is_sent_when_set() {
    let server = MockServer::start().await;
    mount(&server, credentials_answer("2024-03-10T10:56:17Z"), 1).await;
    let request = OidcRequest {
        duration_seconds: Some(3600),
        ..oidc()
    };
    client(&server)
        .assume_role_with_oidc(&request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let p = params(&only_request(&server).await);
    assert_eq!(p.get("DurationSeconds").map(String::as_str), Some("3600"));
}

#[tokio::test]
async fn oidc_errors_never_show_the_token() {
    let server = MockServer::start().await;
    let message = format!("The OIDC token {} has expired.", OIDC_TOKEN.trim_end());
    mount(
        &server,
        ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "Code": "AuthenticationFail.OIDCToken.Expired", "Message": message, "RequestId": "R-O"
        })),
        1,
    )
    .await;
    let error = client(&server)
        .assume_role_with_oidc(&oidc())
        .await
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    let (source, text) = provider_message(error);
    assert_eq!(source, "STS AssumeRoleWithOIDC");
    assert!(
        text.contains("AuthenticationFail.OIDCToken.Expired"),
        "{text}"
    );
    assert!(text.contains("R-O"), "{text}");
    assert_no_secret(&text);
}

// ---------------------------------------------------------------------------------------------
// GetCallerIdentity.

#[tokio::test]
async fn get_caller_identity_is_signed_and_parsed() {
    let server = MockServer::start().await;
    mount(
        &server,
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "IdentityType": "AssumedRoleUser",
            "AccountId": "1234567890123456",
            "RequestId": "R-ID",
            "PrincipalId": "300800000000000000:ack-ram-tool",
            "RoleId": "300800000000000000",
            "Arn": "acs:ram::1234567890123456:assumed-role/ack-dev/ack-ram-tool"
        })),
        1,
    )
    .await;
    let got = client(&server)
        .get_caller_identity(&sts_base())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        got,
        CallerIdentity {
            account_id: "1234567890123456".into(),
            arn: "acs:ram::1234567890123456:assumed-role/ack-dev/ack-ram-tool".into(),
            identity_type: "AssumedRoleUser".into(),
            principal_id: Some("300800000000000000:ack-ram-tool".into()),
            user_id: None,
            role_id: Some("300800000000000000".into()),
            request_id: Some("R-ID".into()),
        }
    );
    let req = only_request(&server).await;
    let p = assert_common(&req, "GetCallerIdentity");
    assert_signed(&req, &sts_base());
    assert_eq!(
        keys(&p),
        [
            "AccessKeyId",
            "Action",
            "Format",
            "SecurityToken",
            "Signature",
            "SignatureMethod",
            "SignatureNonce",
            "SignatureVersion",
            "Timestamp",
            "Version",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Error answers.

#[tokio::test]
async fn no_permission_is_an_api_error_with_code_message_and_request_id() {
    let server = MockServer::start().await;
    mount(
        &server,
        ResponseTemplate::new(403).set_body_json(serde_json::json!({
            "RequestId": "7A2C1E3B-0000-4C3D-9E8F-ABCDEF012345",
            "HostId": "sts.aliyuncs.com",
            "Code": "NoPermission",
            "Message": "You are not authorized to do this action. You should be authorized by RAM.",
            "Recommend": "https://next.api.aliyun.com/troubleshoot?q=NoPermission"
        })),
        1,
    )
    .await;
    let result = client(&server)
        .assume_role(&sts_base(), &assume(None, None))
        .await;
    let details = api_details(result.clone());
    assert_eq!(details.action, "AssumeRole");
    assert_eq!(details.status, 403);
    assert_eq!(details.code.as_deref(), Some("NoPermission"));
    assert_eq!(
        details.request_id.as_deref(),
        Some("7A2C1E3B-0000-4C3D-9E8F-ABCDEF012345")
    );
    let (source, text) = provider_message(result.err().unwrap_or_else(|| panic!("error")));
    assert_eq!(source, "STS AssumeRole");
    for part in [
        "AssumeRole",
        "HTTP 403",
        "NoPermission",
        "You are not authorized",
        "RequestId 7A2C1E3B-0000-4C3D-9E8F-ABCDEF012345",
    ] {
        assert!(text.contains(part), "{part:?} missing from {text:?}");
    }
    assert!(
        !text.contains("Recommend") && !text.contains("HostId"),
        "{text}"
    );
    assert_no_secret(&text);
}

#[tokio::test]
async fn server_errors_in_camel_case_are_read() {
    let server = MockServer::start().await;
    mount(
        &server,
        ResponseTemplate::new(500).set_body_json(serde_json::json!({
            "code": "InternalError", "message": "The request processing has failed due to some unknown error.", "requestId": "R-500"
        })),
        1,
    )
    .await;
    let details = api_details(
        client(&server)
            .assume_role(&access_key(), &assume(None, None))
            .await,
    );
    assert_eq!(
        (
            details.status,
            details.code.as_deref(),
            details.request_id.as_deref()
        ),
        (500, Some("InternalError"), Some("R-500"))
    );
    assert!(
        details
            .message
            .as_deref()
            .is_some_and(|m| m.contains("unknown error"))
    );
}

#[tokio::test]
async fn a_non_json_gateway_page_is_summarised_not_dumped() {
    let server = MockServer::start().await;
    let page = "<html><body>502 Bad Gateway: upstream sts-internal-7 refused</body></html>";
    mount(
        &server,
        ResponseTemplate::new(502)
            .insert_header("x-acs-request-id", "H-502")
            .set_body_raw(page, "text/html"),
        1,
    )
    .await;
    let result = client(&server)
        .assume_role(&access_key(), &assume(None, None))
        .await;
    let details = api_details(result.clone());
    assert_eq!(details.status, 502);
    assert_eq!(details.code, None);
    assert_eq!(details.request_id.as_deref(), Some("H-502"));
    let (_, text) = provider_message(result.err().unwrap_or_else(|| panic!("error")));
    assert!(
        text.contains(&format!("not JSON (text/html, {} bytes)", page.len())),
        "{text}"
    );
    assert!(
        !text.contains("upstream") && !text.contains("<html>"),
        "{text}"
    );
}

#[tokio::test]
async fn a_signature_mismatch_never_echoes_the_string_to_sign() {
    let server = MockServer::start().await;
    // STS quotes its string to sign, which carries every parameter, the token included.
    let message = format!(
        "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3D{AK_ID}%26SecurityToken%3D{}",
        rfc3986(&rfc3986(STS_TOKEN))
    );
    mount(
        &server,
        ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "Code": "SignatureDoesNotMatch", "Message": message, "RequestId": "R-SIG"
        })),
        1,
    )
    .await;
    let error = client(&server)
        .assume_role(&sts_base(), &assume(None, None))
        .await
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    let (_, text) = provider_message(error);
    assert!(
        text.contains("SignatureDoesNotMatch") && text.contains("R-SIG"),
        "{text}"
    );
    assert!(!text.contains("CAIS"), "{text}");
    assert_no_secret(&text);
}

#[tokio::test]
async fn a_missing_credentials_field_is_named() {
    for field in [
        "AccessKeyId",
        "AccessKeySecret",
        "SecurityToken",
        "Expiration",
    ] {
        let server = MockServer::start().await;
        let mut body = serde_json::json!({
            "RequestId": "R-MISSING",
            "Credentials": {
                "AccessKeyId": NEW_ID, "AccessKeySecret": NEW_SECRET,
                "SecurityToken": NEW_TOKEN, "Expiration": "2024-03-10T10:56:17Z"
            }
        });
        if let Some(credentials) = body["Credentials"].as_object_mut() {
            credentials.remove(field);
        }
        mount(&server, ResponseTemplate::new(200).set_body_json(body), 1).await;
        let result = client(&server)
            .assume_role(&access_key(), &assume(None, None))
            .await;
        match result {
            Err(StsError::InvalidResponse { action, message }) => {
                assert_eq!(action, "AssumeRole");
                assert!(
                    message.contains(&format!("Credentials.{field}")),
                    "{message}"
                );
                assert!(message.contains("R-MISSING"), "{message}");
                assert_no_secret(&message);
            }
            other => panic!("{field}: expected InvalidResponse, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn success_bodies_that_are_not_credentials_are_refused() {
    for (response, want) in [
        (
            ResponseTemplate::new(200).set_body_raw("<html>ok</html>", "text/html"),
            "not JSON (text/html, 15 bytes)",
        ),
        (
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"RequestId": "R"})),
            "no Credentials object",
        ),
    ] {
        let server = MockServer::start().await;
        mount(&server, response, 1).await;
        let error = client(&server)
            .assume_role_with_oidc(&oidc())
            .await
            .err()
            .unwrap_or_else(|| panic!("expected an error"));
        assert!(
            matches!(
                error,
                StsError::InvalidResponse {
                    action: "AssumeRoleWithOIDC",
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains(want), "{error}");
    }
}

#[tokio::test]
async fn an_expiration_with_an_offset_is_rejected() {
    for expiration in [
        "2024-03-10T18:56:17+08:00",
        "2024-03-10T10:56:17",
        "tomorrow",
    ] {
        let server = MockServer::start().await;
        mount(&server, credentials_answer(expiration), 1).await;
        let result = client(&server)
            .assume_role(&access_key(), &assume(None, None))
            .await;
        match result {
            Err(StsError::InvalidResponse { message, .. }) => {
                assert!(message.contains("Credentials.Expiration"), "{message}");
                assert!(message.contains(expiration), "{message}");
            }
            other => panic!("{expiration}: expected InvalidResponse, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_oversized_answer_is_refused() {
    let server = MockServer::start().await;
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(1024 * 1024 + 10));
    mount(
        &server,
        ResponseTemplate::new(200).set_body_raw(huge, "application/json"),
        1,
    )
    .await;
    let result = client(&server).get_caller_identity(&access_key()).await;
    match result {
        Err(StsError::InvalidResponse { action, message }) => {
            assert_eq!(action, "GetCallerIdentity");
            assert!(message.contains("larger than"), "{message}");
        }
        other => panic!("expected InvalidResponse, got {other:?}"),
    }
}

#[tokio::test]
async fn a_stalled_server_is_a_transport_error() {
    let server = MockServer::start().await;
    mount(
        &server,
        credentials_answer("2024-03-10T10:56:17Z").set_delay(Duration::from_secs(5)),
        1,
    )
    .await;
    let endpoint = Endpoint::parse(&server.uri()).unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let result = client_for(endpoint, Duration::from_millis(300))
        .assume_role(&access_key(), &assume(None, None))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the timeout applies"
    );
    match result {
        Err(error @ StsError::Transport { .. }) => {
            let text = error.to_string();
            assert!(text.contains("timed out"), "{text}");
            assert!(text.contains(&server.uri()), "{text}");
            assert!(
                !text.contains("Signature="),
                "no URL in the message: {text}"
            );
            let (source, _) = provider_message(error);
            assert_eq!(source, "STS AssumeRole");
        }
        other => panic!("expected Transport, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_transport_error() {
    // Bind a port, then free it, so nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    drop(listener);
    let endpoint = Endpoint::parse(&format!("http://{address}")).unwrap_or_else(|e| panic!("{e}"));
    let result = client_for(endpoint, Duration::from_secs(5))
        .get_caller_identity(&access_key())
        .await;
    match result {
        Err(StsError::Transport {
            action, message, ..
        }) => {
            assert_eq!(action, "GetCallerIdentity");
            assert!(!message.contains(AK_ID), "{message}");
        }
        other => panic!("expected Transport, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Endpoint resolution.

fn resolved(
    explicit: Option<&str>,
    region: Option<&str>,
    vpc: bool,
    scheme: Option<&str>,
) -> String {
    let region = region
        .filter(|r| !r.is_empty())
        .map(|r| ack_ram_domain::RegionId::parse(r).unwrap_or_else(|e| panic!("{e}")));
    resolve_endpoint(explicit, region.as_ref(), vpc, scheme)
        .map(|e| e.to_string())
        .unwrap_or_else(|e| format!("error: {e}"))
}

#[test]
fn endpoint_resolution_follows_the_reference() {
    for (explicit, region, vpc, scheme, want) in [
        (None, None, false, None, "https://sts.aliyuncs.com"),
        (None, Some(""), true, None, "https://sts.aliyuncs.com"),
        (
            None,
            Some("cn-beijing"),
            false,
            None,
            "https://sts.cn-beijing.aliyuncs.com",
        ),
        (
            None,
            Some("cn-beijing"),
            true,
            None,
            "https://sts-vpc.cn-beijing.aliyuncs.com",
        ),
        (
            None,
            Some("cn-hangzhou-finance"),
            false,
            None,
            "https://sts.cn-hangzhou.aliyuncs.com",
        ),
        (
            None,
            Some("cn-hangzhou-finance"),
            true,
            None,
            "https://sts-vpc.cn-hangzhou.aliyuncs.com",
        ),
        (
            Some("sts.ap-southeast-1.aliyuncs.com"),
            Some("cn-beijing"),
            true,
            None,
            "https://sts.ap-southeast-1.aliyuncs.com",
        ),
        (
            Some(""),
            Some("cn-beijing"),
            false,
            None,
            "https://sts.cn-beijing.aliyuncs.com",
        ),
        (
            Some("127.0.0.1:8080"),
            None,
            false,
            Some("HTTP"),
            "http://127.0.0.1:8080",
        ),
        (
            None,
            Some("cn-shanghai"),
            false,
            Some("http"),
            "http://sts.cn-shanghai.aliyuncs.com",
        ),
        (
            Some("https://sts.example.com/"),
            None,
            false,
            Some("HTTP"),
            "https://sts.example.com",
        ),
        (
            Some("http://127.0.0.1:9/"),
            None,
            false,
            Some("HTTPS"),
            "http://127.0.0.1:9",
        ),
        (
            Some("sts.example.com"),
            None,
            false,
            Some("HTTPS"),
            "https://sts.example.com",
        ),
    ] {
        assert_eq!(
            resolved(explicit, region, vpc, scheme),
            want,
            "{explicit:?} {region:?} {vpc} {scheme:?}"
        );
    }
    assert!(resolved(Some("ftp://x"), None, false, None).starts_with("error: "));
    assert!(resolved(None, None, false, Some("gopher")).starts_with("error: "));
}

#[tokio::test]
async fn a_resolved_http_endpoint_is_called() {
    let server = MockServer::start().await;
    mount(&server, credentials_answer("2024-03-10T10:56:17Z"), 1).await;
    let host = server.uri().trim_start_matches("http://").to_owned();
    let endpoint =
        resolve_endpoint(Some(&host), None, false, Some("HTTP")).unwrap_or_else(|e| panic!("{e}"));
    let sts = client_for(endpoint, Duration::from_secs(10));
    assert_eq!(sts.endpoint().to_string(), server.uri());
    sts.assume_role(&access_key(), &assume(None, None))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}
