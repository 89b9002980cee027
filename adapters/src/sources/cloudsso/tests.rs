use super::*;
use crate::env::Environment;
use crate::http::HttpSettings;
use ack_ram_domain::ports::Clock;
use std::sync::Arc;
use wiremock::matchers::{body_string, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub(crate) const TOKEN: &str = "sso-access-token/canary+7f3a==";

#[derive(Debug)]
pub(crate) struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

pub(crate) fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
}

pub(crate) fn context(env: Environment) -> Context {
    Context::new(env, HttpSettings::new("ack-ram-tool-test"))
        .with_clock(Arc::new(FixedClock(now())))
}

fn write_config(dir: &std::path::Path, profile: serde_json::Value) -> std::path::PathBuf {
    let path = dir.join("config.json");
    let doc = serde_json::json!({
        "current": "sso",
        "profiles": [profile, {"name": "other", "mode": "AK", "access_key_id": "LTAI", "access_key_secret": "x"}],
        "meta_path": "",
        "x_unknown": {"kept": true},
    });
    std::fs::write(&path, doc.to_string()).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn sso_profile(portal: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut profile = serde_json::json!({
        "name": "sso", "mode": "CloudSSO", "region_id": "cn-hangzhou",
        "cloud_sso_sign_in_url": format!("{portal}/start/login?x=1"),
        "cloud_sso_account_id": "1234567890123456",
        "cloud_sso_access_config": "ac-EXAMPLE0000",
        "access_token": TOKEN,
        "cloud_sso_access_token_expire": now().timestamp() + 3600,
        "read_timeout": 7,
    });
    if let (Some(p), Some(e)) = (profile.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    profile
}

fn provider(path: &std::path::Path) -> CloudSsoProvider {
    let loaded =
        super::super::aliyun_cli::load(&crate::context::OsFs, path, Some("sso"), None, "s")
            .unwrap_or_else(|e| panic!("{e}"));
    let super::super::CredentialSpec::CloudSso(profile) = loaded.spec else {
        panic!("{:?}", loaded.spec)
    };
    CloudSsoProvider::new(
        *profile,
        context(Environment::default()),
        Duration::from_secs(5),
    )
}

fn read(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default()).unwrap_or_default()
}

#[tokio::test]
async fn refresh_posts_the_bearer_token_and_writes_back_only_the_sts_fields() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/cloud-credentials"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("content-type", "application/json"))
        .and(header("accept", "application/json"))
        .and(body_string(
            r#"{"AccountId":"1234567890123456","AccessConfigurationId":"ac-EXAMPLE0000"}"#,
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "CloudCredential": {"AccessKeyId": "STS.new", "AccessKeySecret": "new-secret",
                "SecurityToken": "new-token", "Expiration": "2027-01-15T09:00:00Z"},
            "RequestId": "R-1"})))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write_config(
        dir.path(),
        sso_profile(
            &server.uri(),
            serde_json::json!({
            "access_key_id": "STS.old", "access_key_secret": "old", "sts_token": "old",
            "sts_expiration": now().timestamp() + 30}),
        ),
    );
    let before = read(&path);
    let credentials = provider(&path)
        .provide()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(credentials.access_key_id, "STS.new");
    assert_eq!(
        credentials.security_token.as_ref().map(Secret::expose),
        Some("new-token")
    );
    let after = read(&path);
    let mut expected = before.clone();
    let expiration = DateTime::parse_from_rfc3339("2027-01-15T09:00:00Z")
        .map(|t| t.timestamp())
        .unwrap_or_default();
    expected["profiles"][0]["access_key_id"] = "STS.new".into();
    expected["profiles"][0]["access_key_secret"] = "new-secret".into();
    expected["profiles"][0]["sts_token"] = "new-token".into();
    expected["profiles"][0]["sts_expiration"] = (expiration - 5).into();
    assert_eq!(after, expected);
}

#[tokio::test]
async fn valid_cached_sts_is_served_without_a_request() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write_config(
        dir.path(),
        sso_profile(
            &server.uri(),
            serde_json::json!({
            "access_key_id": "STS.cached", "access_key_secret": "s", "sts_token": "t",
            "sts_expiration": now().timestamp() + 61}),
        ),
    );
    let credentials = provider(&path)
        .provide()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(credentials.access_key_id, "STS.cached");
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(0));
    assert!(
        !dir.path().join("config.json.lock").exists(),
        "no lock on a hit"
    );
}

#[tokio::test]
async fn an_expired_access_token_names_the_login_command_and_sends_nothing() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write_config(
        dir.path(),
        sso_profile(
            &server.uri(),
            serde_json::json!({"cloud_sso_access_token_expire": now().timestamp()}),
        ),
    );
    let before = std::fs::read_to_string(&path).unwrap_or_default();
    let err = provider(&path)
        .provide()
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("expired at") && err.contains("`aliyun configure --profile sso`"),
        "{err}"
    );
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(0));
    assert_eq!(std::fs::read_to_string(&path).unwrap_or_default(), before);
}

#[tokio::test]
async fn every_error_status_is_one_scrubbed_line_and_writes_nothing() {
    for (status, body, expect) in [
        (
            401,
            serde_json::json!({"ErrorCode": "InvalidToken", "ErrorMessage": format!("token {TOKEN} expired."), "RequestId": "R-401"}),
            "HTTP 401 InvalidToken: token *** expired (RequestId R-401); the portal refused",
        ),
        (
            400,
            serde_json::json!({"ErrorCode": "EntityNotExists.AccessConfiguration", "ErrorMessage": "no"}),
            "HTTP 400 EntityNotExists.AccessConfiguration: no; check cloud_sso_account_id",
        ),
        (
            503,
            serde_json::json!({"ErrorCode": "ServiceUnavailable"}),
            "HTTP 503 ServiceUnavailable; the CloudSSO portal had a problem",
        ),
        (
            500,
            serde_json::json!({"unexpected": true}),
            "HTTP 500; the CloudSSO portal",
        ),
        (
            200,
            serde_json::json!({"RequestId": "R"}),
            "without usable credentials: it has no CloudCredential",
        ),
        (
            200,
            serde_json::json!({"CloudCredential": {"AccessKeyId": "STS.x", "AccessKeySecret": "s", "SecurityToken": "t", "Expiration": "soon"}}),
            "Expiration is not an RFC 3339 time",
        ),
        (304, serde_json::json!({}), "HTTP 304"),
        (
            200,
            serde_json::json!({"CloudCredential": {"AccessKeyId": "STS.x", "AccessKeySecret": "s", "SecurityToken": "t", "Expiration": "2020-01-01T00:00:00Z"}}),
            "the credentials it returned expired at 2020-01-01T00:00:00Z",
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&server)
            .await;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = write_config(
            dir.path(),
            sso_profile(&server.uri(), serde_json::json!({})),
        );
        let before = std::fs::read_to_string(&path).unwrap_or_default();
        let err = provider(&path)
            .provide()
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(expect), "{status}: {err}");
        assert!(!err.contains("canary") && !err.contains('\n'), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap_or_default(), before);
    }
}

#[tokio::test]
async fn html_and_redirects_are_errors_that_name_no_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", "http://evil.example/steal"),
        )
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write_config(
        dir.path(),
        sso_profile(&server.uri(), serde_json::json!({})),
    );
    let err = provider(&path)
        .provide()
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("302") && err.contains("evil.example") && err.contains("never followed"),
        "{err}"
    );
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(1));
}

#[test]
fn the_portal_is_scheme_host_and_port_of_the_sign_in_url() {
    let origin = ProfileOrigin {
        path: "/c.json".into(),
        name: "sso".into(),
    };
    let url = |u: &str| {
        portal(u, &origin)
            .map(|e| e.url_for("/cloud-credentials"))
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        url("https://signin-cn-shanghai.alibabacloudsso.com/start/login?a=b#c").as_deref(),
        Ok("https://signin-cn-shanghai.alibabacloudsso.com/cloud-credentials")
    );
    assert_eq!(
        url("http://u:p@127.0.0.1:8080/x").as_deref(),
        Ok("http://127.0.0.1:8080/cloud-credentials")
    );
    for bad in [
        "",
        "signin.example.com/start",
        "ftp://x/y",
        "file:///etc/passwd",
    ] {
        let err = url(bad).err().unwrap_or_default();
        assert!(
            err.contains("aliyun configure --profile sso --mode CloudSSO"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn debug_masks_the_token_and_the_cached_credentials() {
    let profile = CloudSsoProfile {
        origin: ProfileOrigin {
            path: "/c.json".into(),
            name: "sso".into(),
        },
        sign_in_url: "https://s.example".into(),
        account_id: "1".into(),
        access_config: "ac-1".into(),
        access_token: Secret::new("canary-7f3a"),
        access_token_expire: 1,
        cached: CachedSts::from_fields("STS.x", "canary-7f3a", "canary-7f3a", 1),
    };
    let shown = format!(
        "{:?}",
        super::super::CredentialSpec::CloudSso(Box::new(profile))
    );
    assert!(
        !shown.contains("canary") && shown.contains("STS.x"),
        "{shown}"
    );
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(crate::fuzz_support::config())]

        /// Any portal answer: no panic, and nothing accepted but a complete credential.
        #[test]
        fn portal_answers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), json in crate::fuzz_support::any_json()) {
            let _ = parse_cloud_credential(&body);
            let wrapped = serde_json::json!({"CloudCredential": json}).to_string();
            if let Ok((sts, _)) = parse_cloud_credential(wrapped.as_bytes()) {
                prop_assert!(!sts.access_key_id.is_empty() && !sts.security_token.is_empty());
            }
            let answer = Answer { status: 500, content_type: "x".into(), header_request_id: None, body };
            let summary = error_summary(&answer, ["ErrorCode"], ["ErrorMessage"], &[TOKEN]);
            prop_assert!(summary.len() < 2048 && !summary.contains(TOKEN));
        }
    }
}
