//! The RPC request signature (HMAC-SHA1, signature version 1.0) that STS requires.
//!
//! No maintained Rust crate implements Alibaba Cloud's signatures, so this is written here from
//! `shared/reference/apis.md` §4.2 and checked against vector C of §4.3 and a request captured
//! from the Go tool (`tests/fixtures/vectors/sts-assume-role.json`).
//!
//! ```text
//! canonicalized query = parameters sorted by key (byte-wise), each key and value percent-encoded
//!                       (unreserved A-Z a-z 0-9 - _ . ~ kept, every other byte %XX upper-case,
//!                       space %20), joined as k=v with &
//! string to sign      = METHOD "&%2F&" percent_encode(canonicalized query)
//! signature           = base64(HMAC-SHA1(AccessKeySecret + "&", string to sign))
//! ```
//!
//! The Go SDK encodes a space as `+` and then replaces `+` with `%20`; encoding the space as
//! `%20` directly gives the same bytes (a literal `+` is `%2B` either way).

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// Percent-encoding with Alibaba's RPC rules (unreserved `A-Za-z0-9-_.~` kept, `%XX` upper-case,
/// space -> `%20`).
pub fn percent_encode(s: &str) -> String {
    crate::percent::encode(s)
}

/// Sorted, encoded `k=v&...` (the canonicalized query). Also the query string that is sent.
pub fn canonicalized_query(params: &[(String, String)]) -> String {
    crate::percent::canonical_query(params)
}

/// `METHOD&%2F&` + percent_encode(canonicalized query).
pub fn string_to_sign(method: &str, params: &[(String, String)]) -> String {
    format!(
        "{method}&%2F&{}",
        percent_encode(&canonicalized_query(params))
    )
}

/// base64(HMAC-SHA1(secret + "&", string_to_sign)).
pub fn sign(access_key_secret: &str, string_to_sign: &str) -> String {
    let key = format!("{access_key_secret}&");
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key.as_bytes()) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Vector C of `apis.md` §4.3, parameters deliberately out of order.
    #[test]
    fn reference_vector_c() {
        let params = pairs(&[
            ("Version", "2015-04-01"),
            ("Timestamp", "2024-03-10T09:56:17Z"),
            ("RoleArn", "acs:ram::1234567890123456:role/ack-dev"),
            ("AccessKeyId", "LTAI5tEXAMPLEKEYID"),
            ("Action", "AssumeRole"),
            ("Format", "JSON"),
            ("RoleSessionName", "ack-ram-tool"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
            ("SignatureVersion", "1.0"),
        ]);
        assert_eq!(
            canonicalized_query(&params),
            "AccessKeyId=LTAI5tEXAMPLEKEYID&Action=AssumeRole&Format=JSON&RoleArn=acs%3Aram%3A%3A1234567890123456%3Arole%2Fack-dev&RoleSessionName=ack-ram-tool&SignatureMethod=HMAC-SHA1&SignatureNonce=0f1e2d3c4b5a69788796a5b4c3d2e1f0&SignatureVersion=1.0&Timestamp=2024-03-10T09%3A56%3A17Z&Version=2015-04-01"
        );
        let to_sign = string_to_sign("POST", &params);
        assert_eq!(
            to_sign,
            "POST&%2F&AccessKeyId%3DLTAI5tEXAMPLEKEYID%26Action%3DAssumeRole%26Format%3DJSON%26RoleArn%3Dacs%253Aram%253A%253A1234567890123456%253Arole%252Fack-dev%26RoleSessionName%3Dack-ram-tool%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D0f1e2d3c4b5a69788796a5b4c3d2e1f0%26SignatureVersion%3D1.0%26Timestamp%3D2024-03-10T09%253A56%253A17Z%26Version%3D2015-04-01"
        );
        let signature = sign("EXAMPLEsecretEXAMPLEsecret123456", &to_sign);
        assert_eq!(signature, "0fdkqin8x0ItFeHNaw8BzkpL6+0=");
        let mut all = params.clone();
        all.push(("Signature".into(), signature));
        assert!(
            canonicalized_query(&all).contains("&Signature=0fdkqin8x0ItFeHNaw8BzkpL6%2B0%3D&"),
            "URL form of the signature"
        );
    }

    /// The request the Go tool sent, captured on loopback.
    #[test]
    fn go_tool_request() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/vectors/sts-assume-role.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        let text_of = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
        let request = &doc["request"];
        let sent: Vec<(String, String)> = request["query"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), text_of(v)))
            .collect();
        assert_eq!(sent.len(), 11, "every parameter loaded");
        let unsigned: Vec<(String, String)> = sent
            .iter()
            .filter(|(k, _)| k != "Signature")
            .cloned()
            .collect();
        assert_eq!(
            canonicalized_query(&unsigned),
            text_of(&doc["canonicalized_query"])
        );
        let to_sign = string_to_sign(&text_of(&request["method"]), &unsigned);
        assert_eq!(to_sign, text_of(&doc["string_to_sign"]));
        let signature = sign(&text_of(&doc["access_key_secret"]), &to_sign);
        assert_eq!(signature, text_of(&doc["signature"]));
        assert_eq!(
            sent.iter().find(|(k, _)| k == "Signature").map(|(_, v)| v),
            Some(&signature)
        );
        // The query string the Go tool put on the wire is what this module builds.
        assert_eq!(canonicalized_query(&sent), text_of(&request["raw_query"]));
    }

    #[test]
    fn encoding_edge_cases() {
        assert_eq!(percent_encode("a b"), "a%20b");
        assert_eq!(percent_encode("a+b*c~d"), "a%2Bb%2Ac~d");
        assert_eq!(percent_encode("é/"), "%C3%A9%2F");
        assert_eq!(percent_encode(""), "");
        assert_eq!(
            canonicalized_query(&pairs(&[("b", ""), ("a", "x y")])),
            "a=x%20y&b="
        );
    }

    proptest! {
        #[test]
        fn parameter_order_never_changes_the_signature(
            params in proptest::collection::btree_map("[A-Za-z]{1,12}", any::<String>(), 0..10),
            seed in any::<u64>(),
            secret in "[A-Za-z0-9]{8,40}",
        ) {
            let ordered: Vec<(String, String)> = params.into_iter().collect();
            let mut shuffled = ordered.clone();
            // A deterministic shuffle driven by the seed.
            let mut state = seed;
            for i in (1..shuffled.len()).rev() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let j = (state >> 33) as usize % (i + 1);
                shuffled.swap(i, j);
            }
            prop_assert_eq!(
                sign(&secret, &string_to_sign("POST", &ordered)),
                sign(&secret, &string_to_sign("POST", &shuffled))
            );
        }

        #[test]
        fn unreserved_set_is_exactly_kept(c in any::<char>()) {
            let s = c.to_string();
            let unreserved = c.is_ascii_alphanumeric() || "-_.~".contains(c);
            let encoded = percent_encode(&s);
            if unreserved {
                prop_assert_eq!(encoded, s);
            } else {
                let expected: String = s.bytes().map(|b| format!("%{b:02X}")).collect();
                prop_assert_eq!(encoded, expected);
            }
        }
    }

    #[test]
    fn every_ascii_character_is_classified() {
        for b in 0u8..=127 {
            let s = char::from(b).to_string();
            let kept = b.is_ascii_alphanumeric() || b"-_.~".contains(&b);
            let want = if kept { s.clone() } else { format!("%{b:02X}") };
            assert_eq!(percent_encode(&s), want, "byte {b}");
        }
    }
}
