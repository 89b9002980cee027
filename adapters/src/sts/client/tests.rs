use super::*;
use crate::api_error::scrub;

fn answer(status: u16, body: &str, content_type: &str) -> Answer {
    Answer {
        status,
        content_type: content_type.into(),
        header_request_id: None,
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn expiration_needs_a_literal_z() {
    let ok = |s: &str| parse_expiration(s).map(|t| t.to_rfc3339());
    assert_eq!(
        ok("2024-03-10T10:56:17Z").as_deref(),
        Some("2024-03-10T10:56:17+00:00")
    );
    assert_eq!(
        ok("2024-03-10T10:56:17.123Z").as_deref(),
        Some("2024-03-10T10:56:17.123+00:00")
    );
    for bad in [
        "2024-03-10T10:56:17+08:00",
        "2024-03-10T10:56:17+00:00",
        "2024-03-10T10:56:17z",
        "2024-03-10T10:56:17",
        "2024-03-10 10:56:17Z",
        "2024-03-10T10:56:17.Z",
        "2024-13-10T10:56:17Z",
        "+2024-03-10T10:56:17Z",
        "20240-03-10T10:56:17Z",
        "soon",
        "",
    ] {
        assert_eq!(parse_expiration(bad), None, "{bad:?}");
    }
}

#[test]
fn error_fields_in_both_spellings() {
    let e = api_error(
        ASSUME_ROLE,
        &answer(
            403,
            r#"{"RequestId":"R-1","HostId":"sts.aliyuncs.com","Code":"NoPermission","Message":"You are not authorized to do this action.","Recommend":"https://x"}"#,
            "application/json",
        ),
        &[],
    );
    assert_eq!(
        e.to_string(),
        "AssumeRole answered HTTP 403 NoPermission: You are not authorized to do this action (RequestId R-1)"
    );
    let e = api_error(
        ASSUME_ROLE,
        &answer(400, r#"{"requestId":"R-2","code":"Bad","message":"m"}"#, ""),
        &[],
    );
    assert_eq!(
        (
            e.code.as_deref(),
            e.message.as_deref(),
            e.request_id.as_deref()
        ),
        (Some("Bad"), Some("m"), Some("R-2"))
    );
}

#[test]
fn echoed_strings_to_sign_and_secrets_are_scrubbed() {
    let token = "CAIS/tok+en==";
    let message = format!(
        "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&SecurityToken%3D{}",
        rpc::percent_encode(&rpc::percent_encode(token))
    );
    let body =
        serde_json::json!({"Code": "SignatureDoesNotMatch", "Message": message, "RequestId": "R"});
    let e = api_error(
        ASSUME_ROLE,
        &answer(400, &body.to_string(), "application/json"),
        &["secret", token],
    );
    let shown = e.to_string();
    assert!(shown.contains("(string to sign omitted)"), "{shown}");
    assert!(!shown.contains("CAIS"), "{shown}");
    assert_eq!(scrub("x CAIS/tok+en== y", &[token]), "x *** y");
    assert_eq!(
        scrub("token eyJ.x.y expired", &["eyJ.x.y\n"]),
        "token *** expired"
    );
    assert_eq!(
        scrub(&format!("x {} y", rpc::percent_encode(token)), &[token]),
        "x *** y"
    );
    assert_eq!(scrub(&"a".repeat(1000), &[]).chars().count(), 403);
}

#[test]
fn non_json_errors_are_summarised_not_dumped() {
    let mut a = answer(502, "<html>gateway page</html>", "text/html");
    a.header_request_id = Some("H-1".into());
    let e = api_error(ASSUME_ROLE, &a, &[]);
    let shown = e.to_string();
    assert!(shown.contains("not JSON (text/html, 25 bytes)"), "{shown}");
    assert!(!shown.contains("gateway page"), "{shown}");
    assert_eq!(e.request_id.as_deref(), Some("H-1"));
}

#[test]
fn credentials_must_be_complete() {
    let full = serde_json::json!({
        "RequestId": "R-9",
        "Credentials": {
            "AccessKeyId": "STS.id", "AccessKeySecret": "s", "SecurityToken": "t",
            "Expiration": "2024-03-10T10:56:17Z"
        }
    });
    let got = parse_credentials(ASSUME_ROLE, &full).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.access_key_id, "STS.id");
    assert_eq!(got.security_token.as_ref().map(Secret::expose), Some("t"));
    for (name, want) in [
        ("AccessKeyId", "no Credentials.AccessKeyId (RequestId R-9)"),
        ("AccessKeySecret", "no Credentials.AccessKeySecret"),
        ("SecurityToken", "no Credentials.SecurityToken"),
        ("Expiration", "no Credentials.Expiration"),
    ] {
        for replacement in [Value::Null, Value::String(String::new())] {
            let mut body = full.clone();
            body["Credentials"][name] = replacement;
            let got = parse_credentials(ASSUME_ROLE, &body)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(got.contains(want), "{got}");
        }
    }
    let got = parse_credentials(ASSUME_ROLE, &serde_json::json!({"RequestId": "R"}))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(
        got,
        "STS AssumeRole returned an unusable answer: the answer has no Credentials object (RequestId R)"
    );
}

#[test]
fn provider_errors_name_the_action_and_the_details() {
    let e = StsError::Api(ApiErrorDetails {
        action: ASSUME_ROLE.into(),
        status: 403,
        code: Some("NoPermission".into()),
        message: Some("denied".into()),
        request_id: Some("R-1".into()),
    });
    let ProviderError::Api {
        source_name,
        details,
    } = ProviderError::from(e)
    else {
        panic!("not Api")
    };
    assert_eq!(source_name, "STS AssumeRole");
    assert_eq!(details.code.as_deref(), Some("NoPermission"));
    assert_eq!(
        details.to_string(),
        "AssumeRole answered HTTP 403 NoPermission: denied (RequestId R-1)"
    );
    let e = StsError::Api(ApiErrorDetails {
        action: GET_CALLER_IDENTITY.into(),
        status: 403,
        code: Some("NoPermission".into()),
        message: None,
        request_id: None,
    });
    assert_eq!(
        ProviderError::from(e).to_string(),
        "STS GetCallerIdentity: GetCallerIdentity answered HTTP 403 NoPermission",
        "the advice is the renderer's business"
    );
    let e = StsError::Transport {
        action: GET_CALLER_IDENTITY,
        endpoint: "https://sts.aliyuncs.com".into(),
        message: "timed out".into(),
    };
    assert_eq!(
        ProviderError::from(e).to_string(),
        "STS GetCallerIdentity: could not reach STS at https://sts.aliyuncs.com for GetCallerIdentity: timed out"
    );
}

#[test]
fn identity_needs_account_arn_and_type() {
    let body = serde_json::json!({
        "IdentityType": "RAMUser", "AccountId": "1234567890123456",
        "Arn": "acs:ram::1234567890123456:user/dev", "PrincipalId": "2000",
        "UserId": "2000", "RequestId": "R-3"
    });
    let got = parse_identity(&body).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.user_id.as_deref(), Some("2000"));
    assert_eq!(got.role_id, None);
    let mut missing = body.clone();
    missing["Arn"] = Value::Null;
    let got = parse_identity(&missing)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(got.contains("no Arn (RequestId R-3)"), "{got}");
}
