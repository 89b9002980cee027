//! Independent STS RPC (HMAC-SHA1, signature version 1.0) signer and verifier.
//!
//! This module exists so that the emulator's STS endpoint checks every `AssumeRole` /
//! `GetCallerIdentity` call the way the real STS gateway does, and so that the other crates'
//! tests have a second, independently written implementation to compare their RPC signer
//! against (it deliberately shares no code with the adapters crate, nor with [`crate::roa`]).
//! Rules (`shared/reference/apis.md` §4.2):
//!
//! ```text
//! encode(s)        = every byte outside A-Z a-z 0-9 - _ . ~ as %XX (upper-case hex); space = %20
//! canonical_query  = parameters except Signature, sorted by key byte-wise,
//!                    encode(k) "=" encode(v) joined by "&"
//! string_to_sign   = METHOD "&%2F&" encode(canonical_query)
//! signature        = base64(HMAC-SHA1(secret + "&", string_to_sign))
//! ```
//!
//! (The reference describes "space as `+`, then `+` → `%20`, `*` → `%2A`, `%7E` → `~`": with
//! this encoder that post-processing is exactly "space as `%20`", which is what is done here.)

/// Name of the parameter carrying the signature (excluded from the string to sign).
pub const SIGNATURE_PARAM: &str = "Signature";

/// Percent-encodes one key or value with the RPC rules: unreserved `A-Z a-z 0-9 - _ . ~` stay,
/// every other byte of the UTF-8 encoding becomes `%XX` (upper-case hex), space included.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(hex_upper(b >> 4));
            out.push(hex_upper(b & 0x0f));
        }
    }
    out
}

fn hex_upper(nibble: u8) -> char {
    char::from(if nibble < 10 {
        b'0' + nibble
    } else {
        b'A' + nibble - 10
    })
}

/// The canonicalized query: every parameter except `Signature`, sorted by key byte-wise (a
/// stable sort: a repeated key keeps its order), each pair `encode(k)=encode(v)`, joined by `&`.
pub fn canonicalized_query(params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params
        .iter()
        .filter(|(k, _)| k != SIGNATURE_PARAM)
        .collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    sorted
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `METHOD&%2F&` + the canonicalized query encoded once more.
pub fn string_to_sign(method: &str, params: &[(String, String)]) -> String {
    format!(
        "{method}&{}&{}",
        percent_encode("/"),
        percent_encode(&canonicalized_query(params))
    )
}

/// Base64 (standard alphabet, padded) of HMAC-SHA1 keyed with `secret + "&"`.
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    crate::hmac_b64::sign(format!("{secret}&").as_bytes(), string_to_sign)
}

/// Checks a base64 signature in constant time. An undecodable signature never matches.
pub fn verify(secret: &str, string_to_sign: &str, signature_b64: &str) -> bool {
    crate::hmac_b64::verify(
        format!("{secret}&").as_bytes(),
        string_to_sign,
        signature_b64,
    )
}

/// A complete signed query string (for test clients): the parameters plus `Signature`, sorted,
/// each key and value encoded with [`percent_encode`]. A `Signature` already in `params` is
/// replaced.
pub fn signed_query(method: &str, secret: &str, params: &[(String, String)]) -> String {
    let sig = signature(secret, &string_to_sign(method, params));
    let mut all: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != SIGNATURE_PARAM)
        .cloned()
        .collect();
    all.push((SIGNATURE_PARAM.to_owned(), sig));
    all.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    all.iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// apis.md §4.3, test vector C. Parameters deliberately not in sorted order.
    fn vector_c() -> Vec<(String, String)> {
        p(&[
            ("Version", "2015-04-01"),
            ("Action", "AssumeRole"),
            ("Timestamp", "2024-03-10T09:56:17Z"),
            ("AccessKeyId", "LTAI5tEXAMPLEKEYID"),
            ("Format", "JSON"),
            ("RoleArn", "acs:ram::1234567890123456:role/ack-dev"),
            ("RoleSessionName", "ack-ram-tool"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
            ("SignatureVersion", "1.0"),
        ])
    }

    const SECRET_C: &str = "EXAMPLEsecretEXAMPLEsecret123456";

    #[test]
    fn vector_c_canonicalized_query() {
        assert_eq!(
            canonicalized_query(&vector_c()),
            "AccessKeyId=LTAI5tEXAMPLEKEYID&Action=AssumeRole&Format=JSON&\
             RoleArn=acs%3Aram%3A%3A1234567890123456%3Arole%2Fack-dev&RoleSessionName=ack-ram-tool&\
             SignatureMethod=HMAC-SHA1&SignatureNonce=0f1e2d3c4b5a69788796a5b4c3d2e1f0&\
             SignatureVersion=1.0&Timestamp=2024-03-10T09%3A56%3A17Z&Version=2015-04-01"
        );
    }

    #[test]
    fn vector_c_string_to_sign_and_signature() {
        let sts = string_to_sign("POST", &vector_c());
        assert_eq!(
            sts,
            "POST&%2F&AccessKeyId%3DLTAI5tEXAMPLEKEYID%26Action%3DAssumeRole%26Format%3DJSON%26\
             RoleArn%3Dacs%253Aram%253A%253A1234567890123456%253Arole%252Fack-dev%26\
             RoleSessionName%3Dack-ram-tool%26SignatureMethod%3DHMAC-SHA1%26\
             SignatureNonce%3D0f1e2d3c4b5a69788796a5b4c3d2e1f0%26SignatureVersion%3D1.0%26\
             Timestamp%3D2024-03-10T09%253A56%253A17Z%26Version%3D2015-04-01"
        );
        assert_eq!(signature(SECRET_C, &sts), "0fdkqin8x0ItFeHNaw8BzkpL6+0=");
        assert!(verify(SECRET_C, &sts, "0fdkqin8x0ItFeHNaw8BzkpL6+0="));
        assert!(!verify("wrong", &sts, "0fdkqin8x0ItFeHNaw8BzkpL6+0="));
        assert!(!verify(SECRET_C, &sts, "not base64!"));
        // In the URL the signature is encoded like every other value.
        assert!(
            signed_query("POST", SECRET_C, &vector_c())
                .contains("&Signature=0fdkqin8x0ItFeHNaw8BzkpL6%2B0%3D&")
        );
    }

    #[test]
    fn signature_parameter_is_not_signed() {
        let mut with_sig = vector_c();
        with_sig.push(("Signature".into(), "0fdkqin8x0ItFeHNaw8BzkpL6+0=".into()));
        assert_eq!(
            string_to_sign("POST", &with_sig),
            string_to_sign("POST", &vector_c())
        );
    }

    /// A request captured from the Go tool (`shared/reference/vectors/sts-assume-role.json`),
    /// decoded from its raw query exactly as the server does.
    #[test]
    fn go_captured_request_verifies() {
        let raw = "AccessKeyId=mockAccessKeyId&Action=AssumeRole&Format=JSON&\
                   RoleArn=acs%3Aram%3A%3A1234567890123456%3Arole%2Fack-dev&RoleSessionName=ack-ram-tool&\
                   Signature=MuXQ1Czjh4uLvfcGTydKcCCZR%2Bc%3D&SignatureMethod=HMAC-SHA1&\
                   SignatureNonce=7b3a9493e21c276583fce39eaf67dfa3&SignatureVersion=1.0&\
                   Timestamp=2026-11-28T13%3A04%3A02Z&Version=2015-04-01";
        let params = crate::roa::decode_query(raw);
        let sig = params
            .iter()
            .find(|(k, _)| k == "Signature")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        assert_eq!(sig, "MuXQ1Czjh4uLvfcGTydKcCCZR+c=");
        assert!(verify(
            "mockAccessKeySecret",
            &string_to_sign("POST", &params),
            &sig
        ));
    }

    #[test]
    fn encoding_edge_cases() {
        assert_eq!(percent_encode("a b+c*d~e/f"), "a%20b%2Bc%2Ad~e%2Ff");
        assert_eq!(percent_encode("é"), "%C3%A9");
        assert_eq!(percent_encode("AZaz09-_.~"), "AZaz09-_.~");
        // Tokens carry `+`, `/` and `=`: they are signed encoded, never as a space.
        let params = p(&[("SecurityToken", "CAIS+a/b==")]);
        assert_eq!(
            canonicalized_query(&params),
            "SecurityToken=CAIS%2Ba%2Fb%3D%3D"
        );
        assert_eq!(
            string_to_sign("POST", &params),
            "POST&%2F&SecurityToken%3DCAIS%252Ba%252Fb%253D%253D"
        );
    }
}
