use super::super::cloudsso::tests::{context, now};
use super::*;
use crate::env::Environment;
use wiremock::matchers::{body_string, header, method, path as url_path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const ACCESS: &str = "oauth-access/canary+1==";
const REFRESH: &str = "oauth-refresh/canary+2==";

fn write_config(dir: &std::path::Path, extra: serde_json::Value) -> std::path::PathBuf {
    let mut profile = serde_json::json!({
        "name": "default", "mode": "OAuth", "region_id": "cn-beijing", "oauth_site_type": "CN",
        "oauth_access_token": ACCESS, "oauth_refresh_token": REFRESH,
        "oauth_access_token_expire": now().timestamp() + 3600,
        "access_key_id": "STS.old", "access_key_secret": "old", "sts_token": "old",
        "sts_expiration": now().timestamp() - 1, "endpoint": "kept",
    });
    if let (Some(p), Some(e)) = (profile.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    let doc = serde_json::json!({"current": "other", "profiles": [
        {"name": "other", "mode": "AK", "access_key_id": "LTAI", "access_key_secret": "x"}, profile],
        "meta_path": ""});
    let path = dir.join("config.json");
    std::fs::write(&path, doc.to_string()).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn provider(path: &std::path::Path, server: &MockServer) -> OAuthProvider {
    let loaded =
        super::super::aliyun_cli::load(&crate::context::OsFs, path, Some("default"), None, "s")
            .unwrap_or_else(|e| panic!("{e}"));
    let super::super::CredentialSpec::OAuth(profile) = loaded.spec else {
        panic!("{:?}", loaded.spec)
    };
    let env: Environment = [(ENDPOINT_VARIABLE, server.uri())].into_iter().collect();
    OAuthProvider::new(*profile, context(env), Duration::from_secs(5))
}

fn read(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default()).unwrap_or_default()
}

fn exchange_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "requestId": "R", "accessKeyId": "STS.new", "accessKeySecret": "new-secret",
        "securityToken": "new-token", "expiration": "2027-01-15T09:00:00Z"}))
}

fn refresh_ok(refresh: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "access_token": "new-access", "refresh_token": refresh, "expires_in": 3600, "token_type": "Bearer"}))
}

#[tokio::test]
async fn a_valid_access_token_is_exchanged_without_a_refresh() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(url_path("/v1/exchange"))
        .and(header("authorization", format!("Bearer {ACCESS}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_string(""))
        .respond_with(exchange_ok())
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write_config(dir.path(), serde_json::json!({}));
    let before = read(&path);
    let credentials = provider(&path, &server)
        .provide()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(credentials.access_key_id, "STS.new");
    let mut expected = before;
    let p = &mut expected["profiles"][1];
    p["access_key_id"] = "STS.new".into();
    p["access_key_secret"] = "new-secret".into();
    p["sts_token"] = "new-token".into();
    p["sts_expiration"] = DateTime::parse_from_rfc3339("2027-01-15T09:00:00Z")
        .map(|t| t.timestamp())
        .unwrap_or_default()
        .into();
    assert_eq!(read(&path), expected);
}

#[tokio::test]
async fn a_token_inside_the_margin_is_refreshed_with_the_site_client_then_exchanged() {
    let server = MockServer::start().await;
    let form = format!(
        "client_id=4038181954557748008&grant_type=refresh_token&refresh_token={}",
        url::form_urlencoded::byte_serialize(REFRESH.as_bytes()).collect::<String>()
    );
    Mock::given(method("POST"))
        .and(url_path("/v1/token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string(form))
        .respond_with(refresh_ok("rotated-refresh"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(url_path("/v1/exchange"))
        .and(header("authorization", "Bearer new-access"))
        .respond_with(exchange_ok())
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write_config(
        dir.path(),
        serde_json::json!({"oauth_access_token_expire": now().timestamp() + 1200}),
    );
    provider(&path, &server)
        .provide()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let p = &read(&path)["profiles"][1];
    assert_eq!(p["oauth_access_token"], "new-access");
    assert_eq!(p["oauth_refresh_token"], "rotated-refresh");
    assert_eq!(p["oauth_access_token_expire"], now().timestamp() + 3600);
    assert_eq!(p["access_key_id"], "STS.new");
    assert_eq!(p["endpoint"], "kept");
}

#[tokio::test]
async fn an_empty_refresh_token_in_the_answer_never_erases_the_stored_one() {
    let server = MockServer::start().await;
    Mock::given(url_path("/v1/token"))
        .respond_with(refresh_ok(""))
        .mount(&server)
        .await;
    Mock::given(url_path("/v1/exchange"))
        .respond_with(exchange_ok())
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write_config(
        dir.path(),
        serde_json::json!({"oauth_access_token_expire": 0}),
    );
    provider(&path, &server)
        .provide()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read(&path)["profiles"][1]["oauth_refresh_token"], REFRESH);
}

#[tokio::test]
async fn without_a_refresh_token_a_still_valid_access_token_is_exchanged() {
    let server = MockServer::start().await;
    Mock::given(url_path("/v1/exchange"))
        .respond_with(exchange_ok())
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write_config(
        dir.path(),
        serde_json::json!({"oauth_refresh_token": "", "oauth_access_token_expire": now().timestamp() + 60}),
    );
    provider(&path, &server)
        .provide()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(1));
}

#[tokio::test]
async fn unrecoverable_tokens_name_the_reauth_command_with_the_profile() {
    // Expired access token, no refresh token: nothing is sent.
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write_config(
        dir.path(),
        serde_json::json!({"oauth_refresh_token": "", "oauth_access_token_expire": now().timestamp()}),
    );
    let before = std::fs::read_to_string(&path).unwrap_or_default();
    let err = provider(&path, &server)
        .provide()
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("expired at")
            && err.contains("`aliyun configure --mode OAuth --profile default`"),
        "{err}"
    );
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(0));
    assert_eq!(std::fs::read_to_string(&path).unwrap_or_default(), before);

    // A refused refresh token: the server's words, scrubbed, and the command.
    Mock::given(url_path("/v1/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_grant", "error_description": format!("refresh token {REFRESH} expired")})))
        .mount(&server)
        .await;
    let path = write_config(
        dir.path(),
        serde_json::json!({"oauth_access_token_expire": now().timestamp() - 5}),
    );
    let before = std::fs::read_to_string(&path).unwrap_or_default();
    let err = provider(&path, &server)
        .provide()
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("HTTP 400 invalid_grant: refresh token *** expired")
            && err.contains("--profile default`"),
        "{err}"
    );
    assert!(!err.contains("canary"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap_or_default(), before);
}

#[tokio::test]
async fn a_refused_access_token_is_refreshed_once_and_the_rotation_kept_even_if_the_exchange_fails()
{
    let server = MockServer::start().await;
    Mock::given(url_path("/v1/token"))
        .respond_with(refresh_ok("rotated"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(url_path("/v1/exchange"))
        .respond_with(|request: &Request| {
            let bearer = request.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
            if bearer == "Bearer new-access" {
                ResponseTemplate::new(503).set_body_string("<html>busy</html>")
            } else {
                ResponseTemplate::new(401).set_body_json(serde_json::json!({
                    "error": "expired_token", "error_description": "The access token is expired.", "requestId": "R-1"}))
            }
        })
        .expect(2)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write_config(dir.path(), serde_json::json!({}));
    let err = provider(&path, &server)
        .provide()
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("HTTP 503 (") && err.contains("retry later"),
        "{err}"
    );
    let p = &read(&path)["profiles"][1];
    assert_eq!(
        p["oauth_refresh_token"], "rotated",
        "the rotated token is saved"
    );
    assert_eq!(p["access_key_id"], "STS.old", "no STS written");
}

#[test]
fn sites_and_their_clients() {
    assert_eq!(OAuthSite::parse("cn"), Some(OAuthSite::Cn));
    assert_eq!(
        OAuthSite::parse("INTL").map(OAuthSite::client_id),
        Some("4103531455503354461")
    );
    assert_eq!(OAuthSite::parse("EU"), None);
    assert_eq!(OAuthSite::Intl.endpoint(), "https://oauth.alibabacloud.com");
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(crate::fuzz_support::config())]

        #[test]
        fn token_and_exchange_answers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), json in crate::fuzz_support::any_json()) {
            let _ = parse_tokens(&body, 0);
            let _ = parse_exchange(&body);
            let text = json.to_string();
            if let Ok(tokens) = parse_tokens(text.as_bytes(), 0) {
                prop_assert!(!tokens.access_token.is_empty());
                prop_assert!((0..=10 * 365 * 86_400).contains(&tokens.expire));
            }
            let _ = parse_exchange(text.as_bytes());
        }
    }
}

#[tokio::test]
async fn a_redirecting_oauth_server_gets_the_token_nowhere_else_and_nothing_is_written() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(307).insert_header(
            "location",
            format!("{}/v1/exchange", elsewhere.uri()).as_str(),
        ))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write_config(dir.path(), serde_json::json!({}));
    let before = std::fs::read(&path).unwrap_or_default();
    let err = provider(&path, &server)
        .provide()
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("307"), "{err}");
    for secret in [ACCESS, REFRESH] {
        assert!(!err.contains(secret), "{err}");
    }
    assert_eq!(
        elsewhere.received_requests().await.map(|r| r.len()),
        Some(0),
        "the redirect target got the bearer token"
    );
    assert_eq!(std::fs::read(&path).unwrap_or_default(), before);
}

#[tokio::test]
async fn an_unusable_endpoint_override_is_an_error_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write_config(dir.path(), serde_json::json!({}));
    let loaded =
        super::super::aliyun_cli::load(&crate::context::OsFs, &path, Some("default"), None, "s")
            .unwrap_or_else(|e| panic!("{e}"));
    let super::super::CredentialSpec::OAuth(profile) = loaded.spec else {
        panic!("{:?}", loaded.spec)
    };
    for hostile in [
        "ftp://oauth.example",
        "https://u:p@oauth.example",
        "oauth.example?x=1",
    ] {
        let env: Environment = [(ENDPOINT_VARIABLE, hostile)].into_iter().collect();
        let provider = OAuthProvider::new((*profile).clone(), context(env), Duration::from_secs(5));
        let err = provider
            .provide()
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(ENDPOINT_VARIABLE), "{hostile}: {err}");
        assert!(!err.contains(ACCESS), "{err}");
    }
}
