//! Alibaba Cloud's percent-encoding, shared by every signer (ROA paths, STS RPC, ACS3 tokens).
//!
//! RFC 3986 unreserved characters (`A-Z a-z 0-9 - _ . ~`) stay, every other byte becomes `%XX`
//! with upper-case hex, so a space is `%20` and never `+`. The SDKs get there by form-encoding
//! and then replacing `+`, `*` and `%7E`; the result is the same.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The characters left as they are.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes `s`.
pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// The parameters sorted by key, then value (byte-wise), encoded and joined as `k=v&k=v`.
pub fn canonical_query(params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| {
        a.0.as_bytes()
            .cmp(b.0.as_bytes())
            .then_with(|| a.1.as_bytes().cmp(b.1.as_bytes()))
    });
    let mut out = String::with_capacity(512);
    for (i, (key, value)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&encode(key));
        out.push('=');
        out.push_str(&encode(value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reserved_characters_are_escaped_upper_case() {
        assert_eq!(encode("a b+c*d~e/f:g%"), "a%20b%2Bc%2Ad~e%2Ff%3Ag%25");
        assert_eq!(encode("ü"), "%C3%BC");
        let q = |p: &[(&str, &str)]| {
            canonical_query(
                &p.iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            q(&[("b", "2"), ("a", "x y"), ("B", "1")]),
            "B=1&a=x%20y&b=2"
        );
    }

    proptest! {
        #[test]
        fn encoding_round_trips_and_keeps_only_unreserved(s in any::<String>()) {
            let encoded = encode(&s);
            let decoded = percent_encoding::percent_decode_str(&encoded).decode_utf8();
            prop_assert_eq!(decoded.as_deref().ok(), Some(s.as_str()));
            let bytes = encoded.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    prop_assert!(i + 3 <= bytes.len());
                    let hex = &encoded[i + 1..i + 3];
                    prop_assert!(hex.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()), "{}", hex);
                    i += 3;
                } else {
                    prop_assert!(bytes[i].is_ascii_alphanumeric() || b"-_.~".contains(&bytes[i]));
                    i += 1;
                }
            }
        }
    }
}
