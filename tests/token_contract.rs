//! Contract tests for token mode (`get-token`): the shape of the token the ack-ram-authenticator
//! receives, and a re-computation of its signature whose canonicalisation is written here again
//! from `apis.md` §7, separately from the adapter. Only the SHA-256/HMAC primitives are
//! borrowed from `ack_ram_adapters::token::v3`; those are pinned by the Go tool's vector
//! (`tests/fixtures/vectors/token-v3.json`).

mod support;

use ack_ram_adapters::env::Environment;
use ack_ram_adapters::token::{self, Token, TokenRequest, extra_query_from_env, presign, v3};
use ack_ram_domain::{AccessCredentials, Secret};
use base64::Engine;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde_json::{Map, Value};
use support::{AK_ID, AK_SECRET, STS_TOKEN};

const VECTOR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/vectors/token-v3.json"
);
const CLUSTER_ID: &str = "c5e1c2d3f4a5b6c7d8e9f0a1b2c3d4e5f";
const USER_AGENT: &str = "ack-ram-tool-tests";
/// Header names allowed in a token (apis.md §7), plus `user-agent`.
const ALLOWED: [&str; 10] = [
    "x-acs-action",
    "x-acs-version",
    "authorization",
    "x-acs-signature-nonce",
    "x-acs-date",
    "x-acs-content-sha256",
    "x-acs-content-sm3",
    "x-acs-security-token",
    "ackclusterid",
    "user-agent",
];
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// ---------------------------------------------------------------------------------------------
// An independent canonicalisation, written from apis.md §7.

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

fn string_map(v: &Value) -> Map<String, Value> {
    v.as_object()
        .cloned()
        .unwrap_or_else(|| panic!("not an object: {v}"))
}

fn text(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

/// The canonical request of a decoded token, and its signed header names.
fn independent_canonical_request(decoded: &Value) -> (String, String) {
    let mut query: Vec<(String, String)> = string_map(&decoded["query"])
        .iter()
        .map(|(k, v)| (rfc3986(k), rfc3986(&text(v))))
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");

    let mut headers: Vec<(String, String)> = string_map(&decoded["headers"])
        .iter()
        .map(|(k, v)| (k.to_lowercase(), text(v).trim().to_owned()))
        .filter(|(k, _)| k.starts_with("x-acs-") || k == "host" || k == "content-type")
        .collect();
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let names = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical = format!(
        "{}\n{}\n{query}\n{canonical_headers}\n{names}\n{EMPTY_SHA256}",
        text(&decoded["method"]),
        text(&decoded["path"]),
    );
    (canonical, names)
}

/// The parts of an `Authorization` header: (credential, signed headers, signature).
fn parse_authorization(value: &str) -> (String, String, String) {
    let rest = value
        .strip_prefix("ACS3-HMAC-SHA256 Credential=")
        .unwrap_or_else(|| panic!("bad Authorization: {value}"));
    let (credential, rest) = rest
        .split_once(",SignedHeaders=")
        .unwrap_or_else(|| panic!("bad Authorization: {value}"));
    let (names, signature) = rest
        .split_once(",Signature=")
        .unwrap_or_else(|| panic!("bad Authorization: {value}"));
    assert_eq!(signature.len(), 64, "{value}");
    assert!(
        signature
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "{value}"
    );
    (credential.into(), names.into(), signature.into())
}

/// The JSON text inside a token (checks the prefix and padded standard base64).
fn token_json(token: &str) -> String {
    let body = token
        .strip_prefix("k8s-ack-v2.")
        .unwrap_or_else(|| panic!("no k8s-ack-v2. prefix: {token}"));
    assert_eq!(body.len() % 4, 0, "padded base64");
    assert!(
        body.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)),
        "standard alphabet"
    );
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8(bytes).unwrap_or_else(|e| panic!("{e}"))
}

fn decode(token: &Token) -> Value {
    serde_json::from_str(&token_json(token.value.expose())).unwrap_or_else(|e| panic!("{e}"))
}

/// Re-signs the decoded token independently and compares with its Authorization header.
fn assert_signature_verifies(decoded: &Value, id: &str, secret: &str) {
    let (canonical, names) = independent_canonical_request(decoded);
    let to_sign = v3::string_to_sign(&canonical);
    let (hash_line_1, hash_line_2) = to_sign
        .split_once('\n')
        .unwrap_or_else(|| panic!("{to_sign}"));
    assert_eq!(hash_line_1, "ACS3-HMAC-SHA256");
    assert_eq!(hash_line_2.len(), 64);
    let (credential, signed, signature) =
        parse_authorization(&text(&decoded["headers"]["Authorization"]));
    assert_eq!(credential, id);
    assert_eq!(signed, names);
    assert_eq!(signature, v3::signature(secret, &to_sign));
}

fn parse_date(raw: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%SZ")
        .unwrap_or_else(|e| panic!("{raw}: {e}"))
        .and_utc()
}

fn vector() -> Value {
    let text = std::fs::read_to_string(VECTOR).unwrap_or_else(|e| panic!("{VECTOR}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

fn sign_now(credentials: &AccessCredentials, extra: &[(String, String)]) -> (Token, DateTime<Utc>) {
    let now = Utc::now();
    let token = presign(&TokenRequest {
        cluster_id: CLUSTER_ID,
        credentials,
        now,
        nonce: None,
        extra_query: extra,
        user_agent: USER_AGENT,
    });
    (token, now)
}

// ---------------------------------------------------------------------------------------------
// The Go tool's vector.

#[test]
fn vector_canonical_request_is_rebuilt_independently() {
    let doc = vector();
    let (canonical, names) = independent_canonical_request(&doc["decoded_token"]);
    assert_eq!(canonical, text(&doc["canonical_request"]));
    let (credential, signed, signature) =
        parse_authorization(&text(&doc["decoded_token"]["headers"]["Authorization"]));
    assert_eq!(credential, text(&doc["access_key_id"]));
    assert_eq!(signed, names);
    assert_eq!(signature, text(&doc["signature"]));
}

#[test]
fn vector_string_to_sign_and_signature_are_reproduced() {
    let doc = vector();
    assert_eq!(
        v3::string_to_sign(&text(&doc["canonical_request"])),
        text(&doc["string_to_sign"])
    );
    assert_eq!(
        v3::signature(
            &text(&doc["access_key_secret"]),
            &text(&doc["string_to_sign"])
        ),
        text(&doc["signature"])
    );
    assert_signature_verifies(
        &doc["decoded_token"],
        &text(&doc["access_key_id"]),
        &text(&doc["access_key_secret"]),
    );
}

#[test]
fn vector_token_is_reproduced() {
    let doc = vector();
    let decoded = &doc["decoded_token"];
    let credentials = AccessCredentials::access_key(
        text(&doc["access_key_id"]),
        Secret::new(text(&doc["access_key_secret"])),
    );
    let token = presign(&TokenRequest {
        cluster_id: &text(&decoded["clusterId"]),
        credentials: &credentials,
        now: parse_date(&text(&decoded["headers"]["x-acs-date"])),
        nonce: None,
        extra_query: &[],
        user_agent: &text(&decoded["headers"]["user-agent"]),
    });
    let status = &doc["exec_credential"]["status"];
    assert_eq!(token.value.expose(), text(&status["token"]));
    assert_eq!(
        token.expiration,
        parse_date(&text(&status["expirationTimestamp"]))
    );
    assert_eq!(&token_json(token.value.expose()), &{
        // The vector's decoded token, compact, in the Go tool's key order.
        let raw = token_json(&text(&status["token"]));
        assert_eq!(
            serde_json::from_str::<Value>(&raw).unwrap_or_else(|e| panic!("{e}")),
            *decoded
        );
        raw
    });
}

// ---------------------------------------------------------------------------------------------
// Black-box shape.

#[test]
fn access_key_token_shape() {
    let credentials = AccessCredentials::access_key(AK_ID, Secret::new(AK_SECRET));
    let (token, now) = sign_now(&credentials, &[]);
    let json = token_json(token.value.expose());

    // Compact JSON, keys in the Go struct's order.
    assert!(!json.contains('\n') && !json.contains(": "), "{json}");
    assert!(json.starts_with(r#"{"clusterId":""#), "{json}");
    let positions: Vec<usize> = [
        r#""clusterId":"#,
        r#""method":"#,
        r#""path":"#,
        r#""query":"#,
        r#""headers":"#,
    ]
    .iter()
    .map(|key| json.find(key).unwrap_or_else(|| panic!("{key} in {json}")))
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{json}");

    let decoded = decode(&token);
    assert_eq!(string_map(&decoded).len(), 5, "{json}");
    assert_eq!(decoded["clusterId"], CLUSTER_ID);
    assert_eq!(decoded["method"], "POST");
    assert_eq!(decoded["path"], "/");
    assert_eq!(
        decoded["query"],
        serde_json::json!({ "ACKClusterId": CLUSTER_ID })
    );

    let headers = string_map(&decoded["headers"]);
    for name in headers.keys() {
        assert!(
            ALLOWED.contains(&name.to_lowercase().as_str()),
            "{name} may not travel"
        );
    }
    assert_eq!(headers.len(), 6, "{json}");
    assert_eq!(headers["x-acs-action"], "GetCallerIdentity");
    assert_eq!(headers["x-acs-version"], "2015-04-01");
    assert_eq!(headers["x-acs-content-sha256"], EMPTY_SHA256);
    assert_eq!(headers["user-agent"], USER_AGENT);
    assert!(headers.get("x-acs-security-token").is_none());

    let date = parse_date(&text(&headers["x-acs-date"]));
    assert!(
        (date - now).abs() < TimeDelta::minutes(1),
        "{date} vs {now}"
    );
    assert_eq!(token.expiration, date + TimeDelta::minutes(10));
    assert_eq!(token.expiration, date + token::TOKEN_LIFETIME);

    let (_, signed, _) = parse_authorization(&text(&headers["Authorization"]));
    assert_eq!(
        signed,
        "x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-version"
    );
    assert_signature_verifies(&decoded, AK_ID, AK_SECRET);

    assert!(!token.value.expose().contains(AK_SECRET));
    assert!(!json.contains(AK_SECRET));
    assert!(!format!("{token:?}").contains(token.value.expose()));
}

#[test]
fn sts_token_carries_the_security_token_and_nothing_else_secret() {
    let credentials = AccessCredentials::sts(AK_ID, Secret::new(AK_SECRET), Secret::new(STS_TOKEN));
    let (token, _) = sign_now(&credentials, &[]);
    let json = token_json(token.value.expose());
    let decoded = decode(&token);
    let headers = string_map(&decoded["headers"]);
    assert_eq!(headers["x-acs-security-token"], STS_TOKEN);
    assert_eq!(headers.len(), 7, "{json}");
    let (_, signed, _) = parse_authorization(&text(&headers["Authorization"]));
    assert_eq!(
        signed,
        "x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;x-acs-version"
    );
    assert_signature_verifies(&decoded, AK_ID, AK_SECRET);
    assert!(!json.contains(AK_SECRET));
    // The security token appears once, in its header.
    assert_eq!(json.matches(STS_TOKEN).count(), 1, "{json}");
}

#[test]
fn extra_query_pairs_travel_signed() {
    let env: Environment = [
        ("ACK_RAM_TOOL_TOKEN_EXTRA_KEY_PREFIX", "ACK_EXTRA_"),
        ("ACK_EXTRA_REGION", "cn-hangzhou"),
        ("ACK_EXTRA_NOTE", "a b&c+d/é"),
        ("ACK_EXTRA_EMPTY", ""),
    ]
    .into_iter()
    .collect();
    let prefix = env
        .get("ACK_RAM_TOOL_TOKEN_EXTRA_KEY_PREFIX")
        .unwrap_or_else(|| panic!("prefix"));
    let extra = extra_query_from_env(&env, prefix);
    assert_eq!(
        extra,
        [
            ("note".to_owned(), "a b&c+d/é".to_owned()),
            ("region".to_owned(), "cn-hangzhou".to_owned())
        ]
    );
    let credentials = AccessCredentials::access_key(AK_ID, Secret::new(AK_SECRET));
    let (token, _) = sign_now(&credentials, &extra);
    let decoded = decode(&token);
    assert_eq!(
        decoded["query"],
        serde_json::json!({
            "ACKClusterId": CLUSTER_ID,
            "note": "a b&c+d/é",
            "region": "cn-hangzhou"
        })
    );
    let (canonical, _) = independent_canonical_request(&decoded);
    assert!(
        canonical.contains(&format!(
            "\nACKClusterId={CLUSTER_ID}&note=a%20b%26c%2Bd%2F%C3%A9&region=cn-hangzhou\n"
        )),
        "{canonical}"
    );
    assert_signature_verifies(&decoded, AK_ID, AK_SECRET);
}

#[test]
fn tokens_differ_only_where_inputs_do() {
    let credentials = AccessCredentials::access_key(AK_ID, Secret::new(AK_SECRET));
    let at = parse_date("2030-05-06T07:08:09Z");
    let request = TokenRequest {
        cluster_id: CLUSTER_ID,
        credentials: &credentials,
        now: at,
        nonce: None,
        extra_query: &[],
        user_agent: USER_AGENT,
    };
    // Deterministic for fixed inputs.
    assert_eq!(presign(&request), presign(&request));
    // The user agent is not signed: same signature, different token.
    let other_agent = presign(&TokenRequest {
        user_agent: "other",
        ..request
    });
    let (_, _, sig_a) = parse_authorization(&text(
        &decode(&presign(&request))["headers"]["Authorization"],
    ));
    let (_, _, sig_b) =
        parse_authorization(&text(&decode(&other_agent)["headers"]["Authorization"]));
    assert_eq!(sig_a, sig_b);
    assert_ne!(presign(&request).value, other_agent.value);
    // A different second is a different signature.
    let later = presign(&TokenRequest {
        now: at + TimeDelta::seconds(1),
        ..request
    });
    let (_, _, sig_c) = parse_authorization(&text(&decode(&later)["headers"]["Authorization"]));
    assert_ne!(sig_a, sig_c);
    // A different secret is a different signature, and the independent check notices.
    let wrong = AccessCredentials::access_key(AK_ID, Secret::new("another-secret"));
    let forged = decode(&presign(&TokenRequest {
        credentials: &wrong,
        ..request
    }));
    let (canonical, _) = independent_canonical_request(&forged);
    let (_, _, claimed) = parse_authorization(&text(&forged["headers"]["Authorization"]));
    assert_ne!(
        claimed,
        v3::signature(AK_SECRET, &v3::string_to_sign(&canonical)),
        "a token signed with another secret must not verify"
    );
}
