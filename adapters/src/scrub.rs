//! One scrubber for every text that may echo a request.
//!
//! Services, gateways and proxies repeat what they were sent: a `SignatureDoesNotMatch` message
//! quotes the signed parameters, a gateway page quotes the URL, and a hostile server can put
//! anything in a header such as `x-acs-request-id`. A secret comes back raw, percent-encoded
//! once or twice with hex in either case, form-encoded (a space as `+`), or base64-encoded,
//! possibly in the middle of a larger blob. [`Scrubber`] masks all of these with `***`, so no
//! secret reaches an error message or a log line through an echo.
//!
//! Percent and form encodings are matched byte by byte (each byte of a secret may appear raw,
//! as `%hh` or as `%25hh`, mixed within one occurrence) rather than by listing forms, so every
//! mix is covered. Base64 forms are turned into extra patterns matched the same way, so a
//! base64 echo that was then percent-encoded is masked too.

use base64::Engine;
use base64::engine::GeneralPurpose;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use std::fmt;

/// What a masked range becomes.
const MASK: &str = "***";

/// Shortest base64 form that is masked: shorter ones come from secrets of at most 5 bytes
/// (whose raw form is still masked) and would mask ordinary words.
const MIN_BASE64_CHARS: usize = 8;

/// Masks a fixed set of secrets in any encoding they may be echoed in.
///
/// Its `Debug` shows how many patterns it holds, never the patterns.
pub struct Scrubber {
    /// Byte strings to mask: each secret, trimmed, and its base64 forms.
    patterns: Vec<Vec<u8>>,
    /// Which text bytes can start a match (a quick filter for long texts).
    starts: [bool; 256],
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrubber")
            .field("patterns", &self.patterns.len())
            .finish()
    }
}

impl Scrubber {
    /// A scrubber for `secrets`. Secrets that are empty or only white space are ignored; each
    /// secret is also masked trimmed.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut patterns = Vec::new();
        for secret in secrets {
            if secret.trim().is_empty() {
                continue;
            }
            for form in [secret, secret.trim()] {
                patterns.push(form.as_bytes().to_vec());
                patterns.extend(
                    base64_forms(form.as_bytes())
                        .into_iter()
                        .filter(|f| f.len() >= MIN_BASE64_CHARS)
                        .map(String::into_bytes),
                );
            }
        }
        patterns.sort_unstable();
        patterns.dedup();
        let mut starts = [false; 256];
        for first in patterns.iter().filter_map(|p| p.first()) {
            starts[usize::from(*first)] = true;
        }
        if starts[usize::from(b' ')] || starts[usize::from(b'+')] {
            starts[usize::from(b' ')] = true;
            starts[usize::from(b'+')] = true;
        }
        starts[usize::from(b'%')] = !patterns.is_empty();
        Self { patterns, starts }
    }

    /// Whether there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// `text` with every occurrence of every secret, in any supported encoding, replaced by
    /// `***`. Overlapping occurrences become one `***`.
    pub fn scrub(&self, text: &str) -> String {
        if self.is_empty() {
            return text.to_owned();
        }
        let mut frontier = Frontier::default();
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let mut pending: Option<(usize, usize)> = None;
        for start in 0..text.len() {
            if let Some((from, to)) = pending
                && start >= to
            {
                out.push_str(text.get(copied..from).unwrap_or_default());
                out.push_str(MASK);
                copied = to;
                pending = None;
            }
            let can_start = text
                .as_bytes()
                .get(start)
                .is_some_and(|b| self.starts[usize::from(*b)]);
            if !can_start || !text.is_char_boundary(start) {
                continue;
            }
            let end = self
                .patterns
                .iter()
                .filter_map(|p| longest_match(text, start, p, &mut frontier))
                .max();
            if let Some(end) = end {
                pending = Some(match pending {
                    Some((from, to)) => (from, to.max(end)),
                    None => (start, end),
                });
            }
        }
        if let Some((from, to)) = pending {
            out.push_str(text.get(copied..from).unwrap_or_default());
            out.push_str(MASK);
            copied = to;
        }
        out.push_str(text.get(copied..).unwrap_or_default());
        out
    }
}

/// The base64 encodings of `secret`, standard and URL-safe, padded or not, and the cores that
/// stay the same wherever the secret sits inside a larger encoded blob.
///
/// Inside a blob the secret starts at one of 3 byte alignments; for `k` bytes before it, the
/// characters from `ceil(8k/6)` to `floor(8(k+n)/6)` of the encoding depend on the secret only.
fn base64_forms(secret: &[u8]) -> Vec<String> {
    let mut forms: Vec<String> = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .map(|engine| engine.encode(secret))
        .collect();
    let unpadded: [&GeneralPurpose; 2] = [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD];
    for k in 0..3usize {
        let mut shifted = vec![0u8; k];
        shifted.extend_from_slice(secret);
        let from = (8 * k).div_ceil(6);
        let to = 8 * (k + secret.len()) / 6;
        for engine in unpadded {
            if let Some(core) = engine.encode(&shifted).get(from..to) {
                forms.push(core.to_owned());
            }
        }
    }
    forms
}

/// Scratch space of the matcher: the text positions reachable after the bytes matched so far.
#[derive(Default)]
struct Frontier {
    now: Vec<usize>,
    next: Vec<usize>,
}

/// The end of the longest match of `pattern` at byte `start` of `text`, where each byte of the
/// pattern may appear raw, as `%hh` or `%25hh` (hex in either case), and a space and a `+`
/// stand for each other (form encoding). Only ends on a character boundary count.
fn longest_match(text: &str, start: usize, pattern: &[u8], f: &mut Frontier) -> Option<usize> {
    let bytes = text.as_bytes();
    f.now.clear();
    f.now.push(start);
    for &want in pattern {
        f.next.clear();
        for &at in &f.now {
            step(bytes, at, want, &mut f.next);
        }
        if f.next.is_empty() {
            return None;
        }
        f.next.sort_unstable();
        f.next.dedup();
        std::mem::swap(&mut f.now, &mut f.next);
    }
    f.now
        .iter()
        .copied()
        .filter(|&end| text.is_char_boundary(end))
        .max()
}

/// Pushes every position after one encoded occurrence of `want` at `at`.
fn step(bytes: &[u8], at: usize, want: u8, next: &mut Vec<usize>) {
    let alternative = match want {
        b' ' => Some(b'+'),
        b'+' => Some(b' '),
        _ => None,
    };
    let here = bytes.get(at).copied();
    for b in std::iter::once(want).chain(alternative) {
        if here == Some(b) {
            next.push(at + 1);
        }
        if here == Some(b'%') {
            if hex_at(bytes, at + 1) == Some(b) {
                next.push(at + 3);
            }
            if bytes.get(at + 1..at + 3) == Some(b"25") && hex_at(bytes, at + 3) == Some(b) {
                next.push(at + 5);
            }
        }
    }
}

/// The byte written as two hex digits (either case) at `at`.
fn hex_at(bytes: &[u8], at: usize) -> Option<u8> {
    let digit = |i: usize| char::from(*bytes.get(i)?).to_digit(16);
    let value = digit(at)? * 16 + digit(at + 1)?;
    u8::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// How one byte of a secret is written in a test echo.
    #[derive(Clone, Copy, Debug)]
    enum Enc {
        Raw,
        Upper,
        Lower,
        DoubleUpper,
        DoubleLower,
        /// `+` for a space, raw otherwise.
        Plus,
    }

    const ENCS: [Enc; 6] = [
        Enc::Raw,
        Enc::Upper,
        Enc::Lower,
        Enc::DoubleUpper,
        Enc::DoubleLower,
        Enc::Plus,
    ];

    fn encoded(secret: &str, how: impl Fn(usize, u8) -> Enc) -> String {
        let mut out = String::new();
        for (i, b) in secret.bytes().enumerate() {
            match how(i, b) {
                Enc::Raw => out.push(char::from(b)),
                Enc::Upper => out.push_str(&format!("%{b:02X}")),
                Enc::Lower => out.push_str(&format!("%{b:02x}")),
                Enc::DoubleUpper => out.push_str(&format!("%25{b:02X}")),
                Enc::DoubleLower => out.push_str(&format!("%25{b:02x}")),
                Enc::Plus if b == b' ' => out.push('+'),
                Enc::Plus => out.push(char::from(b)),
            }
        }
        out
    }

    fn unreserved(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b"-_.~".contains(&b)
    }

    /// Upper- and lower-case percent encodings of an ASCII secret.
    fn percent_forms(secret: &str) -> [String; 2] {
        let pick = |enc| move |_, b| if unreserved(b) { Enc::Raw } else { enc };
        [
            encoded(secret, pick(Enc::Upper)),
            encoded(secret, pick(Enc::Lower)),
        ]
    }

    /// Every form of `secret` that must never survive scrubbing.
    fn forbidden(secret: &str) -> Vec<String> {
        let mut forms = vec![secret.to_owned(), crate::percent::encode(secret)];
        forms.extend(percent_forms(secret));
        forms.push(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect());
        forms.extend(
            base64_forms(secret.as_bytes())
                .into_iter()
                .filter(|f| f.len() >= MIN_BASE64_CHARS),
        );
        forms
    }

    fn scrub(text: &str, secrets: &[&str]) -> String {
        Scrubber::new(secrets.iter().copied()).scrub(text)
    }

    #[test]
    fn raw_and_trimmed_secrets_are_masked() {
        assert_eq!(scrub("a s3cr3t b s3cr3t", &["s3cr3t"]), "a *** b ***");
        assert_eq!(
            scrub("token eyJ.x.y expired", &["eyJ.x.y\n"]),
            "token *** expired"
        );
        assert_eq!(scrub("abab", &["ab"]), "******");
        assert_eq!(scrub("xaaay", &["aa"]), "x***y");
    }

    #[test]
    fn percent_encodings_in_any_case_and_depth_are_masked() {
        let token = "CAIS/tok+en==";
        for echo in [
            "CAIS%2Ftok%2Ben%3D%3D",
            "CAIS%2ftok%2ben%3d%3d",
            "CAIS%2Ftok%2ben%3D%3d",
            "CAIS%252Ftok%252Ben%253D%253D",
            "CAIS%252ftok%252ben%253d%253d",
            "%43AIS/tok%2B%65n=%253d",
            "CAIS/tok en==",
            "CAIS/tok%20en==",
        ] {
            assert_eq!(scrub(&format!("x {echo} y"), &[token]), "x *** y", "{echo}");
        }
        assert_eq!(scrub("x CAIS%2Ftok%2 y", &[token]), "x CAIS%2Ftok%2 y");
    }

    #[test]
    fn form_encoded_spaces_are_masked() {
        let secret = "pass word here";
        for echo in ["pass+word+here", "pass%20word%2Bhere", "pass%2520word+here"] {
            assert_eq!(scrub(&format!("<{echo}>"), &[secret]), "<***>", "{echo}");
        }
    }

    #[test]
    fn secrets_with_a_percent_sign_are_masked_in_every_depth() {
        let secret = "a%b%c";
        for echo in ["a%b%c", "a%25b%c", "a%2525b%25c", "a%25%62%2525c"] {
            assert_eq!(scrub(&format!("<{echo}>"), &[secret]), "<***>", "{echo}");
        }
    }

    #[test]
    fn base64_forms_and_cores_inside_blobs_are_masked() {
        let secret = "my-very-secret-token";
        let std = STANDARD.encode(secret);
        assert_eq!(scrub(&format!("x {std} y"), &[secret]), "x *** y");
        let url = URL_SAFE_NO_PAD.encode(secret);
        assert_eq!(scrub(&format!("x {url} y"), &[secret]), "x *** y");
        let escaped = crate::percent::encode(&STANDARD.encode("\u{fb}\u{ff}secret?>")); // has + and /
        assert!(escaped.contains('%'), "{escaped}");
        assert_eq!(scrub(&escaped, &["\u{fb}\u{ff}secret?>"]), "***");
        for prefix in ["", "a", "ab", "abc", "abcd"] {
            let blob = STANDARD.encode(format!("{prefix}{{\"token\":\"{secret}\"}}"));
            let shown = scrub(&blob, &[secret]);
            assert!(shown.contains(MASK), "{prefix:?}: {shown}");
            for form in forbidden(secret) {
                assert!(!shown.contains(&form), "{prefix:?}: {shown} has {form}");
            }
        }
    }

    #[test]
    fn short_secrets_do_not_mask_short_base64_words() {
        // "s" is "cw" in base64: too short to mask anywhere but raw.
        assert_eq!(scrub("cwd is s", &["s"]), "cwd i*** ***");
    }

    #[test]
    fn text_without_secrets_is_unchanged() {
        let text = "You are not authorized (RequestId 8A1D-44F2) %41 %2B + ü 日本 \u{1F600}";
        assert_eq!(scrub(text, &["topsecret", "", "   "]), text);
        assert_eq!(scrub(text, &[]), text);
        assert!(Scrubber::new(["", " \n"]).is_empty());
    }

    #[test]
    fn multi_byte_secrets_are_masked_without_splitting_characters() {
        let secret = "pässwörd";
        let upper = crate::percent::encode(secret);
        let lower = upper.to_ascii_lowercase();
        let text = format!("1 {secret} 2 {upper} 3 {lower} 4 päss 5 日本");
        assert_eq!(scrub(&text, &[secret]), "1 *** 2 *** 3 *** 4 päss 5 日本");
        assert_eq!(scrub("é ǩ ©", &["é"]), "*** ǩ ©");
        assert_eq!(scrub("%C3©", &["é"]), "%C3©");
    }

    #[test]
    fn debug_does_not_show_secrets() {
        let shown = format!("{:?}", Scrubber::new(["hunter2hunter2"]));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("104"), "{shown}"); // no byte lists either
    }

    const SECRET: &str = "[A-Za-z0-9+/=_ .~!-]{8,48}";
    /// Surroundings made of characters that no encoding of a [`SECRET`] uses.
    const AROUND: &str = "[#:;,()<>\\[\\]\"'@]{0,12}";

    proptest! {
        #[test]
        fn every_encoding_of_a_secret_is_masked_exactly(
            secret in SECRET,
            before in AROUND,
            after in AROUND,
            mix in vec(0..ENCS.len(), 48),
        ) {
            let mut echoes = vec![
                secret.clone(),
                crate::percent::encode(&secret),
                crate::percent::encode(&crate::percent::encode(&secret)),
                url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
                encoded(&secret, |_, _| Enc::Lower),
                encoded(&secret, |_, _| Enc::DoubleLower),
                encoded(&secret, |i, _| ENCS[mix[i % mix.len()]]),
                STANDARD.encode(&secret),
                STANDARD_NO_PAD.encode(&secret),
                URL_SAFE.encode(&secret),
                URL_SAFE_NO_PAD.encode(&secret),
            ];
            echoes.extend(percent_forms(&secret));
            let scrubber = Scrubber::new([secret.as_str()]);
            for echo in echoes {
                let shown = scrubber.scrub(&format!("{before}{echo}{after}"));
                prop_assert_eq!(&shown, &format!("{before}***{after}"), "{}", echo);
            }
        }

        #[test]
        fn secrets_are_masked_in_any_surroundings(
            secret in SECRET,
            before in any::<String>(),
            after in any::<String>(),
            which in 0..4usize,
            mix in vec(0..ENCS.len(), 48),
        ) {
            let echo = match which {
                0 => secret.clone(),
                1 => encoded(&secret, |i, _| ENCS[mix[i % mix.len()]]),
                2 => url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
                _ => URL_SAFE.encode(&secret),
            };
            let shown = Scrubber::new([secret.as_str()]).scrub(&format!("{before}{echo}{after}"));
            for form in forbidden(&secret) {
                prop_assert!(!shown.contains(&form), "{} has {}", shown, form);
            }
        }

        #[test]
        fn base64_cores_inside_blobs_are_masked(
            secret in SECRET,
            before in vec(any::<u8>(), 0..16),
            after in vec(any::<u8>(), 0..16),
            url_safe in any::<bool>(),
            padded in any::<bool>(),
        ) {
            let engine = match (url_safe, padded) {
                (false, true) => STANDARD,
                (false, false) => STANDARD_NO_PAD,
                (true, true) => URL_SAFE,
                (true, false) => URL_SAFE_NO_PAD,
            };
            let blob = engine.encode([before.as_slice(), secret.as_bytes(), after.as_slice()].concat());
            let shown = Scrubber::new([secret.as_str()]).scrub(&format!("Bearer {blob}."));
            prop_assert!(shown.contains(MASK), "{}", shown);
            for form in forbidden(&secret) {
                prop_assert!(!shown.contains(&form), "{} has {}", shown, form);
            }
        }

        #[test]
        fn scrubbing_never_panics(text in any::<String>(), secrets in vec(any::<String>(), 0..4)) {
            let scrubber = Scrubber::new(secrets.iter().map(String::as_str));
            let _ = scrubber.scrub(&text);
        }

        #[test]
        fn any_substring_used_as_a_secret_is_masked(text in any::<String>(), a in any::<usize>(), b in any::<usize>()) {
            let chars: Vec<char> = text.chars().collect();
            if chars.is_empty() {
                return Ok(());
            }
            let (from, to) = (a % chars.len(), b % chars.len());
            let secret: String = chars[from.min(to)..=from.max(to)].iter().collect();
            if secret.trim().is_empty() || secret.contains('*') {
                // Nothing to mask (blank), or a mask could rebuild the secret.
                return Ok(());
            }
            let shown = Scrubber::new([secret.as_str()]).scrub(&text);
            prop_assert!(!shown.contains(&secret), "{} has {}", shown, secret);
            prop_assert!(shown.contains(MASK));
        }

        #[test]
        fn text_without_secrets_stays_the_same(
            secret in "[a-z]{8,32}",
            text in "[A-Z0-9 ,.:;()#!?%+\\[\\]]{0,200}",
        ) {
            prop_assert_eq!(Scrubber::new([secret.as_str()]).scrub(&text), text);
        }
    }
}
