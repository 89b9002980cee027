use super::*;
use proptest::prelude::*;
use serde_json::Value;

const VECTOR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/vectors/token-v3.json"
);

fn vector() -> Value {
    let text = std::fs::read_to_string(VECTOR).unwrap_or_else(|e| panic!("{VECTOR}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

fn text(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn object_pairs(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .iter()
        .map(|(k, v)| (k.clone(), text(v)))
        .collect()
}

fn parse_date(raw: &str) -> DateTime<Utc> {
    crate::timefmt::parse_utc_z(raw).unwrap_or_else(|| panic!("bad date {raw}"))
}

/// The JSON inside a token, as text.
fn token_json(token: &str) -> String {
    let body = token
        .strip_prefix(TOKEN_PREFIX)
        .unwrap_or_else(|| panic!("no prefix: {token}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8(bytes).unwrap_or_else(|e| panic!("{e}"))
}

fn decode(token: &Token) -> Value {
    serde_json::from_str(&token_json(token.value.expose())).unwrap_or_else(|e| panic!("{e}"))
}

/// Re-signs a decoded token with `secret` and checks the Authorization header against it.
fn assert_signature_verifies(decoded: &Value, secret: &str) {
    let headers = object_pairs(&decoded["headers"]);
    let authorization = headers
        .iter()
        .find(|(k, _)| k == "Authorization")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no Authorization in {decoded}"));
    let (canonical, names) = v3::canonical_request(
        &text(&decoded["method"]),
        &text(&decoded["path"]),
        &object_pairs(&decoded["query"]),
        &headers,
        v3::EMPTY_PAYLOAD_SHA256,
    );
    let signature = v3::signature(secret, &v3::string_to_sign(&canonical));
    assert!(
        authorization.ends_with(&format!(",SignedHeaders={names},Signature={signature}")),
        "{authorization} vs {names} {signature}"
    );
}

fn vector_request_parts(doc: &Value) -> (AccessCredentials, DateTime<Utc>, String, String) {
    let decoded = &doc["decoded_token"];
    let credentials = AccessCredentials::access_key(
        text(&doc["access_key_id"]),
        Secret::new(text(&doc["access_key_secret"])),
    );
    (
        credentials,
        parse_date(&text(&decoded["headers"]["x-acs-date"])),
        text(&decoded["clusterId"]),
        text(&decoded["headers"]["user-agent"]),
    )
}

#[test]
fn vector_canonical_request_string_to_sign_and_signature() {
    let doc = vector();
    let decoded = &doc["decoded_token"];
    // Every header of the token, Authorization aside; user-agent must be left out by the
    // canonicalisation itself.
    let headers: Vec<(String, String)> = object_pairs(&decoded["headers"])
        .into_iter()
        .filter(|(k, _)| k != "Authorization")
        .collect();
    let (canonical, names) = v3::canonical_request(
        &text(&decoded["method"]),
        &text(&decoded["path"]),
        &object_pairs(&decoded["query"]),
        &headers,
        &v3::payload_sha256_hex(b""),
    );
    assert_eq!(canonical, text(&doc["canonical_request"]));
    assert_eq!(
        names,
        "x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-version"
    );
    let to_sign = v3::string_to_sign(&canonical);
    assert_eq!(to_sign, text(&doc["string_to_sign"]));
    let signature = v3::signature(&text(&doc["access_key_secret"]), &to_sign);
    assert_eq!(signature, text(&doc["signature"]));
    assert_eq!(
        text(&decoded["headers"]["Authorization"]),
        format!(
            "ACS3-HMAC-SHA256 Credential=mockAccessKeyId,SignedHeaders={names},Signature={signature}"
        )
    );
}

#[test]
fn vector_token_is_rebuilt_byte_for_byte() {
    let doc = vector();
    let (credentials, now, cluster_id, user_agent) = vector_request_parts(&doc);
    let request = TokenRequest {
        cluster_id: &cluster_id,
        credentials: &credentials,
        now,
        nonce: None,
        extra_query: &[],
        user_agent: &user_agent,
    };
    let token = presign(&request);
    assert_eq!(
        token.value.expose(),
        text(&doc["exec_credential"]["status"]["token"])
    );
    assert_eq!(
        token.expiration,
        parse_date(&text(
            &doc["exec_credential"]["status"]["expirationTimestamp"]
        ))
    );
    // A fraction of a second later: same second on the wire, same token.
    let later = presign(&TokenRequest {
        now: now + TimeDelta::milliseconds(999),
        ..request
    });
    assert_eq!(later, token);
    // The decoded JSON matches the vector's decoded token.
    assert_eq!(decode(&token), doc["decoded_token"]);
}

#[test]
fn sts_credentials_sign_and_carry_the_security_token() {
    let credentials = AccessCredentials::sts(
        "STS.id",
        Secret::new("sts-secret"),
        Secret::new(" CAIS+token/== "),
    );
    let token = presign(&TokenRequest {
        cluster_id: "c1",
        credentials: &credentials,
        now: parse_date("2024-01-02T03:04:05Z"),
        nonce: None,
        extra_query: &[],
        user_agent: "ua",
    });
    let decoded = decode(&token);
    // Carried as given, signed trimmed.
    assert_eq!(
        decoded["headers"]["x-acs-security-token"],
        " CAIS+token/== "
    );
    let authorization = text(&decoded["headers"]["Authorization"]);
    assert!(authorization.starts_with("ACS3-HMAC-SHA256 Credential=STS.id,SignedHeaders=x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;x-acs-version,Signature="));
    assert_signature_verifies(&decoded, "sts-secret");
    assert!(!token_json(token.value.expose()).contains("sts-secret"));
    assert_eq!(token.expiration, parse_date("2024-01-02T03:14:05Z"));
}

#[test]
fn access_keys_and_empty_security_tokens_carry_no_security_token() {
    let plain = AccessCredentials::access_key("id", Secret::new("secret"));
    let empty = AccessCredentials::sts("id", Secret::new("secret"), Secret::new(""));
    let sign = |credentials: &AccessCredentials| {
        presign(&TokenRequest {
            cluster_id: "c1",
            credentials,
            now: parse_date("2024-01-02T03:04:05Z"),
            nonce: None,
            extra_query: &[],
            user_agent: "ua",
        })
    };
    let token = sign(&plain);
    assert_eq!(sign(&empty), token);
    let decoded = decode(&token);
    let names: Vec<String> = object_pairs(&decoded["headers"])
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        names,
        [
            "Authorization",
            "user-agent",
            "x-acs-action",
            "x-acs-content-sha256",
            "x-acs-date",
            "x-acs-version"
        ]
    );
    assert_signature_verifies(&decoded, "secret");
}

#[test]
fn a_nonce_is_signed_and_carried_only_when_given() {
    let credentials = AccessCredentials::access_key("id", Secret::new("secret"));
    let request = TokenRequest {
        cluster_id: "c1",
        credentials: &credentials,
        now: parse_date("2024-01-02T03:04:05Z"),
        nonce: Some("0f1e2d3c"),
        extra_query: &[],
        user_agent: "ua",
    };
    let decoded = decode(&presign(&request));
    assert_eq!(decoded["headers"]["x-acs-signature-nonce"], "0f1e2d3c");
    assert!(
        text(&decoded["headers"]["Authorization"])
            .contains("x-acs-date;x-acs-signature-nonce;x-acs-version")
    );
    assert_signature_verifies(&decoded, "secret");
    let without = presign(&TokenRequest {
        nonce: None,
        ..request
    });
    assert_eq!(
        presign(&TokenRequest {
            nonce: Some(""),
            ..request
        }),
        without
    );
    assert!(decode(&without)["headers"]["x-acs-signature-nonce"].is_null());
}

#[test]
fn extra_query_pairs_are_signed_and_carried() {
    let credentials = AccessCredentials::access_key("id", Secret::new("secret"));
    let extra = pairs(&[("zone", "a b&c"), ("bar", "x*y~z+1")]);
    let token = presign(&TokenRequest {
        cluster_id: "c1",
        credentials: &credentials,
        now: parse_date("2024-01-02T03:04:05Z"),
        nonce: None,
        extra_query: &extra,
        user_agent: "ua",
    });
    let json = token_json(token.value.expose());
    assert!(
        json.contains(r#""query":{"ACKClusterId":"c1","bar":"x*y~z+1","zone":"a b\u0026c"}"#),
        "{json}"
    );
    let decoded = decode(&token);
    assert_signature_verifies(&decoded, "secret");
    let (canonical, _) = v3::canonical_request(
        "POST",
        "/",
        &object_pairs(&decoded["query"]),
        &[],
        v3::EMPTY_PAYLOAD_SHA256,
    );
    assert!(canonical.starts_with("POST\n/\nACKClusterId=c1&bar=x%2Ay~z%2B1&zone=a%20b%26c\n"));
    // The cluster id cannot be overridden through an extra pair of the same key.
    let hijack = pairs(&[("ACKClusterId", "other")]);
    let token = presign(&TokenRequest {
        cluster_id: "c1",
        credentials: &credentials,
        now: parse_date("2024-01-02T03:04:05Z"),
        nonce: None,
        extra_query: &hijack,
        user_agent: "ua",
    });
    assert_eq!(
        decode(&token)["query"],
        serde_json::json!({"ACKClusterId": "c1"})
    );
}

#[test]
fn extra_query_from_the_environment() {
    let env: Environment = [
        ("FOO_BAR", "test1"),
        ("FOO_FUZZ", "test2"),
        ("FOO_EMPTY", ""),
        ("FOO_", "no key"),
        ("OTHER_BAR", "x"),
        ("foo_lower", "prefix is case-sensitive"),
        ("ACK_RAM_TOOL_TOKEN_EXTRA_KEY_PREFIX", "FOO_"),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        extra_query_from_env(&env, "FOO_"),
        pairs(&[("bar", "test1"), ("fuzz", "test2")])
    );
    assert!(extra_query_from_env(&env, "").is_empty());
    assert!(extra_query_from_env(&env, "NOPE_").is_empty());
    // Keys that lower-case alike: the later name (byte order) wins.
    let env: Environment = [("P_KEY", "upper"), ("P_key", "lower")]
        .into_iter()
        .collect();
    assert_eq!(extra_query_from_env(&env, "P_"), pairs(&[("key", "lower")]));
}

#[test]
fn json_is_escaped_as_go_does() {
    let credentials = AccessCredentials::access_key("id", Secret::new("secret"));
    let token = presign(&TokenRequest {
        cluster_id: "c1",
        credentials: &credentials,
        now: parse_date("2024-01-02T03:04:05Z"),
        nonce: None,
        extra_query: &[],
        user_agent: "a<b>&\u{2028}\u{2029}\"é\n",
    });
    let json = token_json(token.value.expose());
    assert!(
        json.contains(r#""user-agent":"a\u003cb\u003e\u0026\u2028\u2029\"é\n""#),
        "{json}"
    );
    assert_eq!(
        decode(&token)["headers"]["user-agent"],
        "a<b>&\u{2028}\u{2029}\"é\n"
    );
}

#[test]
fn debug_never_shows_the_token() {
    let credentials = AccessCredentials::access_key("id", Secret::new("secret"));
    let token = presign(&TokenRequest {
        cluster_id: "c1",
        credentials: &credentials,
        now: parse_date("2024-01-02T03:04:05Z"),
        nonce: None,
        extra_query: &[],
        user_agent: "ua",
    });
    let shown = format!("{token:?}");
    assert!(shown.contains("***"), "{shown}");
    assert!(!shown.contains(TOKEN_PREFIX), "{shown}");
}

#[test]
fn canonical_headers_group_trim_and_sort() {
    let headers = pairs(&[
        ("X-Acs-B", " 2 "),
        ("x-acs-b", "1"),
        ("Content-Type", "text/plain"),
        ("Accept", "application/json"),
        ("user-agent", "ua"),
        ("HOST", "sts.aliyuncs.com"),
        ("x-acs-a", "\tz"),
    ]);
    let (canonical, names) = v3::canonical_request("GET", "/p", &[], &headers, "h");
    assert_eq!(names, "content-type;host;x-acs-a;x-acs-b");
    assert_eq!(
        canonical,
        "GET\n/p\n\ncontent-type:text/plain\nhost:sts.aliyuncs.com\nx-acs-a:z\nx-acs-b:1,2\n\ncontent-type;host;x-acs-a;x-acs-b\nh"
    );
}

#[test]
fn encoding_edge_cases() {
    assert_eq!(v3::percent_encode("a b"), "a%20b");
    assert_eq!(v3::percent_encode("a+b*c~d"), "a%2Bb%2Ac~d");
    assert_eq!(v3::percent_encode("é/"), "%C3%A9%2F");
    assert_eq!(
        v3::canonical_query(&pairs(&[("b", ""), ("a", "x y"), ("B", "1")])),
        "B=1&a=x%20y&b="
    );
}

/// A deterministic shuffle driven by the seed.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed;
    for i in (1..items.len()).rev() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = (state >> 33) as usize % (i + 1);
        items.swap(i, j);
    }
}

proptest! {
    #[test]
    fn header_order_and_name_case_never_change_the_signature(
        headers in proptest::collection::btree_map("x-acs-[a-z0-9-]{1,12}", any::<String>(), 0..10),
        query in proptest::collection::btree_map("[A-Za-z0-9_]{1,12}", any::<String>(), 0..6),
        seed in any::<u64>(),
        upper in any::<bool>(),
        secret in "[A-Za-z0-9]{8,40}",
    ) {
        let ordered: Vec<(String, String)> = headers.into_iter().collect();
        let mut shuffled: Vec<(String, String)> = ordered
            .iter()
            .map(|(k, v)| (if upper { k.to_ascii_uppercase() } else { k.clone() }, v.clone()))
            .collect();
        shuffle(&mut shuffled, seed);
        let query_ordered: Vec<(String, String)> = query.into_iter().collect();
        let mut query_shuffled = query_ordered.clone();
        shuffle(&mut query_shuffled, seed.rotate_left(17));
        let sign = |q: &[(String, String)], h: &[(String, String)]| {
            let (canonical, names) = v3::canonical_request("POST", "/", q, h, v3::EMPTY_PAYLOAD_SHA256);
            (names, v3::signature(&secret, &v3::string_to_sign(&canonical)))
        };
        prop_assert_eq!(sign(&query_ordered, &ordered), sign(&query_shuffled, &shuffled));
    }

    #[test]
    fn every_token_decodes_and_verifies(
        cluster_id in "[a-z0-9]{1,40}",
        user_agent in any::<String>(),
        extra in proptest::collection::btree_map("[a-z0-9_]{1,12}", "\\PC{1,20}", 0..4),
        security_token in proptest::option::of("[A-Za-z0-9+/=]{1,60}"),
        secret in "[A-Za-z0-9]{8,40}",
        seconds in 0i64..4_000_000_000,
    ) {
        let credentials = match &security_token {
            Some(t) => AccessCredentials::sts("id", Secret::new(secret.clone()), Secret::new(t.clone())),
            None => AccessCredentials::access_key("id", Secret::new(secret.clone())),
        };
        let extra: Vec<(String, String)> = extra.into_iter().collect();
        let now = DateTime::from_timestamp(seconds, 0).unwrap_or_else(|| panic!("{seconds}"));
        let token = presign(&TokenRequest {
            cluster_id: &cluster_id,
            credentials: &credentials,
            now,
            nonce: None,
            extra_query: &extra,
            user_agent: &user_agent,
        });
        prop_assert_eq!(token.expiration, now + TOKEN_LIFETIME);
        let decoded = decode(&token);
        prop_assert_eq!(&decoded["clusterId"], &Value::from(cluster_id.clone()));
        prop_assert_eq!(&decoded["headers"]["user-agent"], &Value::from(user_agent.clone()));
        prop_assert_eq!(
            decoded["headers"]["x-acs-security-token"].as_str(),
            security_token.as_deref()
        );
        prop_assert_eq!(object_pairs(&decoded["query"]).len(), extra.len() + 1);
        assert_signature_verifies(&decoded, &secret);
        prop_assert!(!token_json(token.value.expose()).contains(&secret));
    }
}
