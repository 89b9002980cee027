//! The CloudSSO portal (`POST /cloud-credentials`) and the OAuth server (`POST /v1/token`,
//! `POST /v1/exchange`): token checks, expiry and rotation, queued errors and counters, driven
//! over HTTP and the control API, and the credentials they hand out known to STS and ACK.

use std::error::Error;

use ack_ram_emulator::{
    DEMO_OAUTH_ACCESS_TOKEN, DEMO_OAUTH_REFRESH_TOKEN, DEMO_SSO_ACCESS_TOKEN, Emulator,
    EmulatorConfig, OAUTH_CLIENT_IDS, OAuthCall, role_id,
};

type AnyResult<T> = Result<T, Box<dyn Error>>;

fn client() -> AnyResult<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder().no_proxy().build()?)
}

async fn post(
    endpoint: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> AnyResult<(u16, serde_json::Value)> {
    let mut request = client()?
        .post(format!("{endpoint}{path}"))
        .body(body.to_owned());
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let body = response.bytes().await?;
    Ok((status, serde_json::from_slice(&body).unwrap_or_default()))
}

async fn get(endpoint: &str, path: &str) -> AnyResult<serde_json::Value> {
    let response = client()?.get(format!("{endpoint}{path}")).send().await?;
    Ok(serde_json::from_slice(&response.bytes().await?)?)
}

const BODY: &str = r#"{"AccountId":"1234567890123456","AccessConfigurationId":"ac-EXAMPLE0000"}"#;

async fn sso(
    endpoint: &str,
    bearer: Option<&str>,
    body: &str,
) -> AnyResult<(u16, serde_json::Value)> {
    let auth = bearer.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth.as_str()));
    }
    post(endpoint, "/cloud-credentials", &headers, body).await
}

#[tokio::test]
async fn the_sso_portal_checks_the_bearer_token_and_its_expiry() -> AnyResult<()> {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let endpoint = emulator.endpoint();

    let (status, body) = sso(&endpoint, None, BODY).await?;
    assert_eq!(
        (status, body["ErrorCode"].as_str()),
        (401, Some("InvalidAuthorization"))
    );
    assert!(body["RequestId"].is_string());
    let (status, body) = sso(&endpoint, Some("wrong"), BODY).await?;
    assert_eq!(
        (status, body["ErrorCode"].as_str()),
        (401, Some("InvalidAccessToken"))
    );
    for (bad, code) in [
        ("[]", "InvalidParameter"),
        (
            r#"{"AccessConfigurationId":"ac-1"}"#,
            "MissingParameter.AccountId",
        ),
        (
            r#"{"AccountId":"12ab","AccessConfigurationId":"ac-1"}"#,
            "InvalidParameter.AccountId",
        ),
        (
            r#"{"AccountId":"1"}"#,
            "MissingParameter.AccessConfigurationId",
        ),
    ] {
        let (status, body) = sso(&endpoint, Some(DEMO_SSO_ACCESS_TOKEN), bad).await?;
        assert_eq!(
            (status, body["ErrorCode"].as_str()),
            (400, Some(code)),
            "{bad}"
        );
    }

    let (status, body) = sso(&endpoint, Some(DEMO_SSO_ACCESS_TOKEN), BODY).await?;
    assert_eq!(status, 200, "{body}");
    let credential = &body["CloudCredential"];
    let key = credential["AccessKeyId"].as_str().unwrap_or_default();
    assert!(
        key.starts_with("STS.")
            && credential["SecurityToken"]
                .as_str()
                .is_some_and(|t| t.starts_with("CAIS"))
    );
    assert!(
        credential["Expiration"]
            .as_str()
            .is_some_and(|e| e.ends_with('Z'))
    );
    let identity = emulator
        .caller_identity(key)
        .ok_or("the key is registered")?;
    assert_eq!(identity.account_id, "1234567890123456");
    assert_eq!(
        identity.arn,
        "acs:ram::1234567890123456:assumed-role/aliyunreservedsso-ac-example0000/sso-user"
    );
    assert_eq!(
        identity.certificate_cn,
        role_id("acs:ram::1234567890123456:role/aliyunreservedsso-ac-example0000")
    );

    // Over the control API: a queued error, then an expired token.
    let (status, view) = post(
        &endpoint,
        "/__emulator/sso",
        &[],
        r#"{"fail_next":{"status":503,"code":"ServiceUnavailable"}}"#,
    )
    .await?;
    assert_eq!((status, view["pending_errors"].as_u64()), (200, Some(1)));
    let (status, body) = sso(&endpoint, Some(DEMO_SSO_ACCESS_TOKEN), BODY).await?;
    assert_eq!(
        (status, body["ErrorCode"].as_str()),
        (503, Some("ServiceUnavailable"))
    );
    let (status, _) = post(
        &endpoint,
        "/__emulator/sso",
        &[],
        r#"{"expire_access_token":true}"#,
    )
    .await?;
    assert_eq!(status, 200);
    let (status, body) = sso(&endpoint, Some(DEMO_SSO_ACCESS_TOKEN), BODY).await?;
    assert_eq!(
        (status, body["ErrorCode"].as_str()),
        (401, Some("AccessTokenExpired"))
    );
    let (status, body) = post(&endpoint, "/__emulator/sso", &[], r#"{"nope":1}"#).await?;
    assert!(status == 400 && body["error"].as_str().is_some_and(|e| e.contains("nope")));

    let stats = get(&endpoint, "/__emulator/stats").await?;
    assert_eq!(stats["sso_request_count"], 9);
    assert_eq!(stats["sso_issued_count"], 1);
    assert_eq!(
        (emulator.sso_request_count(), emulator.sso_issued_count()),
        (9, 1)
    );
    assert_eq!(stats["request_count"], 0, "ACK counters untouched");
    Ok(())
}

async fn token(endpoint: &str, client: &str, refresh: &str) -> AnyResult<(u16, serde_json::Value)> {
    let form = format!("client_id={client}&grant_type=refresh_token&refresh_token={refresh}");
    post(
        endpoint,
        "/v1/token",
        &[("content-type", "application/x-www-form-urlencoded")],
        &form,
    )
    .await
}

async fn exchange(endpoint: &str, access: &str) -> AnyResult<(u16, serde_json::Value)> {
    let auth = format!("Bearer {access}");
    post(
        endpoint,
        "/v1/exchange",
        &[
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ],
        "",
    )
    .await
}

#[tokio::test]
async fn the_oauth_server_refreshes_rotates_and_exchanges() -> AnyResult<()> {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let endpoint = emulator.endpoint();
    let [cn, _intl] = OAUTH_CLIENT_IDS;

    let (status, body) = exchange(&endpoint, DEMO_OAUTH_ACCESS_TOKEN).await?;
    assert_eq!(status, 200, "{body}");
    let key = body["accessKeyId"].as_str().unwrap_or_default();
    assert!(
        key.starts_with("STS.")
            && body["securityToken"].is_string()
            && body["requestId"].is_string()
    );
    assert!(emulator.caller_identity(key).is_some());
    let (status, body) = exchange(&endpoint, "unknown").await?;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );

    let (status, body) = token(&endpoint, "123", DEMO_OAUTH_REFRESH_TOKEN).await?;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = token(&endpoint, cn, DEMO_OAUTH_REFRESH_TOKEN).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3 * 3600);
    let rotated = body["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let access = body["access_token"].as_str().unwrap_or_default().to_owned();
    assert_ne!(rotated, DEMO_OAUTH_REFRESH_TOKEN);
    assert_eq!(
        emulator.oauth_refresh_token().as_deref(),
        Some(rotated.as_str())
    );
    let (status, body) = token(&endpoint, cn, DEMO_OAUTH_REFRESH_TOKEN).await?;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "the old one is spent"
    );
    assert_eq!(exchange(&endpoint, &access).await?.0, 200);

    // Expired access tokens, a revoked refresh token and queued errors, over the control API.
    let (status, _) = post(
        &endpoint,
        "/__emulator/oauth",
        &[],
        r#"{"expire_access_tokens":true}"#,
    )
    .await?;
    assert_eq!(status, 200);
    let (status, body) = exchange(&endpoint, &access).await?;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("expired_token"))
    );
    assert_eq!(body["error_description"], "The access token is expired.");
    let (status, _) = post(
        &endpoint,
        "/__emulator/oauth",
        &[],
        r#"{"refresh_token":null}"#,
    )
    .await?;
    assert_eq!(status, 200);
    assert_eq!(token(&endpoint, cn, &rotated).await?.0, 400);
    emulator.fail_next_oauth(OAuthCall::Exchange, 1, 500, "server_error", "boom");
    let (status, view) = post(
        &endpoint,
        "/__emulator/oauth",
        &[],
        r#"{"access_token":"fresh","refresh_token":"r2","rotate_refresh_token":false}"#,
    )
    .await?;
    assert_eq!(status, 200);
    assert_eq!(view["pending_errors"]["exchange"], 1);
    assert_eq!(exchange(&endpoint, "fresh").await?.0, 500);
    assert_eq!(exchange(&endpoint, "fresh").await?.0, 200);
    let (status, body) = token(&endpoint, cn, "r2").await?;
    assert_eq!(
        (status, body["refresh_token"].as_str()),
        (200, Some("r2")),
        "not rotated"
    );

    let stats = get(&endpoint, "/__emulator/stats").await?;
    assert_eq!(stats["oauth_token_request_count"], 5);
    assert_eq!(stats["oauth_exchange_request_count"], 6);
    assert_eq!(stats["oauth_issued_count"], 3);
    assert_eq!(stats["sts_request_count"], 0);
    Ok(())
}
