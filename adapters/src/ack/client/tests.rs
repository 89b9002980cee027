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

const CERT: &str = include_str!("../../../../tests/fixtures/client.crt");
const KEY: &str = include_str!("../../../../tests/fixtures/client.key");

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
    let fake_cert = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
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
