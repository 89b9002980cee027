//! Independent ROA (HMAC-SHA1, signature version 1.0) verifier.
//!
//! This module exists so that the emulator can check the signature of every request the way
//! the real CS gateway does, and so that the other crates' tests have a second, independently
//! written implementation to compare their signer against (it deliberately shares no code with
//! the adapters crate). It works from the request *as received on the wire*: the path exactly as
//! sent, the raw (form-encoded) query string and the header list in any letter case.
//!
//! Rules (see `shared/reference/apis.md` §3):
//!
//! ```text
//! string_to_sign = METHOD "\n" accept "\n" content-md5 "\n" content-type "\n" date "\n"
//!                  + for each x-acs-* header, lower-cased name, sorted byte-wise: "name:value\n"
//!                  + path-as-sent [ "?" + sorted "k=v" (just "k" for an empty value) joined by "&" ]
//! signature      = base64(HMAC-SHA1(secret, string_to_sign))
//! ```

/// Builds the ROA string to sign for a request as received.
///
/// * `method`: the HTTP method (`GET`), used verbatim.
/// * `path_as_sent`: the request path exactly as it appeared on the request line (still
///   percent-encoded, without the query).
/// * `raw_query`: the query string as received, without the leading `?` (form-encoded: `+` is a
///   space, `%XX` an escaped byte). It is decoded and the raw values are signed.
/// * `headers`: every request header, names in any case. `accept`, `content-md5`,
///   `content-type` and `date` are looked up case-insensitively (first match; missing ones
///   contribute empty strings); every `x-acs-*` header enters the canonical header block with a
///   lower-cased name and its value exactly as sent.
pub fn string_to_sign(
    method: &str,
    path_as_sent: &str,
    raw_query: &str,
    headers: &[(String, String)],
) -> String {
    let mut out = String::with_capacity(512);
    out.push_str(method);
    out.push('\n');
    for name in ["accept", "content-md5", "content-type", "date"] {
        out.push_str(header_value(headers, name).unwrap_or(""));
        out.push('\n');
    }
    out.push_str(&canonical_headers(headers));
    out.push_str(&canonical_resource(path_as_sent, raw_query));
    out
}

/// Base64 (standard alphabet, padded) of HMAC-SHA1 keyed with the AccessKey secret.
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    crate::hmac_b64::sign(secret.as_bytes(), string_to_sign)
}

/// Checks a base64 signature in constant time. An undecodable signature never matches.
pub fn verify(secret: &str, string_to_sign: &str, signature_b64: &str) -> bool {
    crate::hmac_b64::verify(secret.as_bytes(), string_to_sign, signature_b64)
}

/// First value of a header, name compared case-insensitively.
pub fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The `x-acs-*` block: `name:value\n` per header, names lower-cased and sorted byte-wise
/// (a stable sort, so repeated headers keep their order).
pub fn canonical_headers(headers: &[(String, String)]) -> String {
    let mut acs: Vec<(String, &str)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str()))
        .filter(|(k, _)| k.starts_with("x-acs-"))
        .collect();
    acs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = String::new();
    for (k, v) in acs {
        out.push_str(&k);
        out.push(':');
        out.push_str(v);
        out.push('\n');
    }
    out
}

/// Path as sent, then `?` and the decoded query sorted by key byte-wise (omitted when the query
/// has no parameters).
pub fn canonical_resource(path_as_sent: &str, raw_query: &str) -> String {
    let mut params = decode_query(raw_query);
    if params.is_empty() {
        return path_as_sent.to_owned();
    }
    params.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let rendered: Vec<String> = params
        .into_iter()
        .map(|(k, v)| if v.is_empty() { k } else { format!("{k}={v}") })
        .collect();
    format!("{path_as_sent}?{}", rendered.join("&"))
}

/// Decodes an `application/x-www-form-urlencoded` query (`+` is a space, `%XX` a byte) into
/// ordered key/value pairs. Empty segments are skipped; a key without `=` has an empty value;
/// a malformed escape is kept literally; invalid UTF-8 is replaced (U+FFFD).
pub fn decode_query(raw_query: &str) -> Vec<(String, String)> {
    raw_query
        .split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| match segment.split_once('=') {
            Some((k, v)) => (form_decode(k), form_decode(v)),
            None => (form_decode(segment), String::new()),
        })
        .collect()
}

/// Decodes one form-encoded component (`+` is a space, `%XX` a byte).
pub fn form_decode(component: &str) -> String {
    decode(component, true)
}

/// Decodes `%XX` escapes only (for path segments, where `+` is a literal plus).
pub fn percent_decode(component: &str) -> String {
    decode(component, false)
}

fn decode(component: &str, plus_as_space: bool) -> String {
    let bytes = component.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match (
                bytes.get(i + 1).copied().and_then(hex_digit),
                bytes.get(i + 2).copied().and_then(hex_digit),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const PATH_A: &str = "/k8s/c0123456789abcdef0123456789abcdef/user_config";
    const QUERY_A: &str = "PrivateIpAddress=true&TemporaryDurationMinutes=180";

    fn base_headers() -> Vec<(String, String)> {
        h(&[
            ("Host", "cs.cn-beijing.aliyuncs.com"),
            ("Date", "Sun, 10 Mar 2024 09:56:17 GMT"),
            ("Accept", "application/json"),
            ("x-acs-signature-nonce", "4d5f0c9a1b2e3f405162738495a6b7c8"),
            ("x-acs-signature-method", "HMAC-SHA1"),
            ("x-acs-signature-version", "1.0"),
            ("x-acs-version", "2015-12-15"),
            ("x-acs-action", "DescribeClusterUserKubeconfig"),
            (
                "User-Agent",
                "AlibabaCloud (linux; amd64) Golang/1.23.0 Core/0.01 TeaDSL/2",
            ),
        ])
    }

    #[test]
    fn vector_a_plain_access_key() {
        let sts = string_to_sign("GET", PATH_A, QUERY_A, &base_headers());
        assert_eq!(
            sts,
            "GET\napplication/json\n\n\nSun, 10 Mar 2024 09:56:17 GMT\n\
             x-acs-action:DescribeClusterUserKubeconfig\n\
             x-acs-signature-method:HMAC-SHA1\n\
             x-acs-signature-nonce:4d5f0c9a1b2e3f405162738495a6b7c8\n\
             x-acs-signature-version:1.0\n\
             x-acs-version:2015-12-15\n\
             /k8s/c0123456789abcdef0123456789abcdef/user_config?PrivateIpAddress=true&TemporaryDurationMinutes=180"
        );
        let sig = signature("EXAMPLEsecretEXAMPLEsecret123456", &sts);
        assert_eq!(sig, "XaGDLXsXpmYQJOn8RPA/u6tVL7M=");
        assert!(verify("EXAMPLEsecretEXAMPLEsecret123456", &sts, &sig));
        assert!(!verify("wrong", &sts, &sig));
        assert!(!verify(
            "EXAMPLEsecretEXAMPLEsecret123456",
            &sts,
            "not base64!"
        ));
    }

    #[test]
    fn vector_b_sts_token() {
        let mut headers = base_headers();
        headers.push(("x-acs-accesskey-id".into(), "LTAI5tEXAMPLEKEYID".into()));
        headers.push((
            "x-acs-security-token".into(),
            "EXAMPLE/TOKEN+value==".into(),
        ));
        let sts = string_to_sign("GET", PATH_A, QUERY_A, &headers);
        assert_eq!(
            sts,
            "GET\napplication/json\n\n\nSun, 10 Mar 2024 09:56:17 GMT\n\
             x-acs-accesskey-id:LTAI5tEXAMPLEKEYID\n\
             x-acs-action:DescribeClusterUserKubeconfig\n\
             x-acs-security-token:EXAMPLE/TOKEN+value==\n\
             x-acs-signature-method:HMAC-SHA1\n\
             x-acs-signature-nonce:4d5f0c9a1b2e3f405162738495a6b7c8\n\
             x-acs-signature-version:1.0\n\
             x-acs-version:2015-12-15\n\
             /k8s/c0123456789abcdef0123456789abcdef/user_config?PrivateIpAddress=true&TemporaryDurationMinutes=180"
        );
        assert_eq!(
            signature("EXAMPLEsecretEXAMPLEsecret123456", &sts),
            "VDTVa8EVARUHXEvyF4UkrxByKHA="
        );
    }

    /// Every vector captured from the official Go SDK (`shared/reference/vectors/roa.json`,
    /// copied into the repository's `tests/fixtures/vectors/`).
    #[test]
    fn go_sdk_vectors() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/vectors/roa.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => panic!("cannot read the ROA vectors at {} ({e})", path.display()),
        };
        let doc: serde_json::Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => panic!("{} is not valid JSON: {e}", path.display()),
        };
        let Some(vectors) = doc["vectors"].as_array() else {
            panic!("{} has no `vectors` array", path.display())
        };
        assert!(
            vectors.len() >= 7,
            "expected at least 7 vectors, got {}",
            vectors.len()
        );
        // The top-level request is a vector too.
        let mut all: Vec<&serde_json::Value> = vec![&doc];
        all.extend(vectors.iter());
        for v in all {
            let name = v["name"].as_str().unwrap_or("top-level");
            let req = &v["request"];
            let headers: Vec<(String, String)> = req["headers"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            let sts = string_to_sign(
                req["method"].as_str().unwrap_or_default(),
                req["path"].as_str().unwrap_or_default(),
                req["raw_query"].as_str().unwrap_or_default(),
                &headers,
            );
            assert_eq!(
                sts,
                v["string_to_sign"].as_str().unwrap_or_default(),
                "{name}"
            );
            let secret = v["access_key_secret"].as_str().unwrap_or_default();
            let sig = signature(secret, &sts);
            assert_eq!(sig, v["signature"].as_str().unwrap_or_default(), "{name}");
            let id = v["access_key_id"].as_str().unwrap_or_default();
            assert_eq!(
                format!("acs {id}:{sig}"),
                header_value(&headers, "authorization").unwrap_or_default(),
                "{name}"
            );
            // The decoded query matches the vector's `query` map.
            let decoded = decode_query(req["raw_query"].as_str().unwrap_or_default());
            let expected = req["query"]
                .as_object()
                .map(|m| m.len())
                .unwrap_or_default();
            assert_eq!(decoded.len(), expected, "{name}");
            for (k, val) in decoded {
                assert_eq!(req["query"][&k].as_str(), Some(val.as_str()), "{name}: {k}");
            }
        }
    }

    #[test]
    fn form_decoding() {
        assert_eq!(form_decode("x+y%2Bz%26w%3Dv%2F~%2A%25"), "x y+z&w=v/~*%");
        assert_eq!(form_decode("%C3%bc"), "ü");
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(form_decode("%zz"), "%zz");
        assert_eq!(percent_decode("a+b%20c%2A"), "a+b c*");
        assert_eq!(
            decode_query("a&b=&c=1&&d=x=y"),
            vec![
                ("a".to_owned(), String::new()),
                ("b".to_owned(), String::new()),
                ("c".to_owned(), "1".to_owned()),
                ("d".to_owned(), "x=y".to_owned()),
            ]
        );
    }

    #[test]
    fn resource_rules() {
        assert_eq!(canonical_resource("/p", ""), "/p");
        assert_eq!(
            canonical_resource("/p", "b=2&a=1&B=0&E="),
            "/p?B=0&E&a=1&b=2"
        );
    }
}
