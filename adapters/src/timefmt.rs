//! The strict timestamp format of STS and credential documents.
//!
//! STS, the credentials URI protocol and the aliyun CLI write expirations as
//! `YYYY-MM-DDTHH:MM:SS[.fraction]Z`; the Go SDK refuses anything else (numeric offsets
//! included), and so do we, in one place.

use chrono::{DateTime, NaiveDateTime, Utc};

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, exactly (no offsets, no lower-case `t`/`z`, four-digit
/// year).
pub fn parse_utc_z(raw: &str) -> Option<DateTime<Utc>> {
    let body = raw.strip_suffix('Z')?;
    let bytes = body.as_bytes();
    let (fixed, fraction) = bytes.split_at_checked(19)?;
    let shape_ok = fixed.iter().enumerate().all(|(i, b)| match i {
        4 | 7 => *b == b'-',
        10 => *b == b'T',
        13 | 16 => *b == b':',
        _ => b.is_ascii_digit(),
    });
    let fraction_ok = match fraction {
        [] => true,
        [b'.', digits @ ..] => !digits.is_empty() && digits.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    if !shape_ok || !fraction_ok {
        return None;
    }
    NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}
