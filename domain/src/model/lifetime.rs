//! The requested client-certificate lifetime (`--expiration`).
//!
//! The flag takes a Go duration (`3h0m0s`, `90m`, `1h30m`, `0`) because existing kubeconfigs
//! carry it in that form. `0` asks the server for its default, long-lived certificate. Any other
//! value must be a whole number of minutes from 15 to 4320 (72h): the Go tool truncates sub-minute
//! parts silently and words its range check wrongly; we refuse them and state the range.

use std::fmt;
use std::str::FromStr;

/// Shortest lifetime the ACK API issues, in minutes.
pub const MIN_MINUTES: u32 = 15;
/// Longest lifetime the ACK API issues, in minutes (3 days).
pub const MAX_MINUTES: u32 = 4320;

const NANOS_PER_MINUTE: u128 = 60 * 1_000_000_000;

/// A validated certificate lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CertificateLifetime {
    /// `0`: omit `TemporaryDurationMinutes`; the server picks a long-lived certificate.
    ServerDefault,
    /// A temporary certificate of this many minutes (15..=4320).
    Minutes(u32),
}

impl Default for CertificateLifetime {
    /// The Go tool's default, `3h0m0s`.
    fn default() -> Self {
        Self::Minutes(180)
    }
}

/// Why an `--expiration` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifetimeError {
    #[error(
        "{input:?} is not a Go duration ({reason}); write it like 3h, 90m or 1h30m, or 0 for the server default"
    )]
    Syntax { input: String, reason: &'static str },
    #[error(
        "{input:?} is not a whole number of minutes; the certificate lifetime is set in minutes ({MIN_MINUTES} to {MAX_MINUTES}, i.e. 15m to 72h), or 0 for the server default"
    )]
    NotWholeMinutes { input: String },
    #[error(
        "{input:?} is outside the allowed range: the certificate lifetime must be from {MIN_MINUTES} to {MAX_MINUTES} minutes (15m to 72h), or 0 for the server default"
    )]
    OutOfRange { input: String },
}

impl CertificateLifetime {
    /// Parses a Go duration string and validates it as a certificate lifetime.
    pub fn parse(input: &str) -> Result<Self, LifetimeError> {
        let nanos = parse_go_duration(input).map_err(|e| match e {
            DurationError::Syntax(reason) => LifetimeError::Syntax {
                input: input.to_owned(),
                reason,
            },
            DurationError::Overflow => LifetimeError::OutOfRange {
                input: input.to_owned(),
            },
        })?;
        if nanos == 0 {
            return Ok(Self::ServerDefault);
        }
        if nanos < 0 {
            return Err(LifetimeError::OutOfRange {
                input: input.to_owned(),
            });
        }
        let nanos = nanos.unsigned_abs();
        if nanos % NANOS_PER_MINUTE != 0 {
            return Err(LifetimeError::NotWholeMinutes {
                input: input.to_owned(),
            });
        }
        match u32::try_from(nanos / NANOS_PER_MINUTE) {
            Ok(m) if (MIN_MINUTES..=MAX_MINUTES).contains(&m) => Ok(Self::Minutes(m)),
            _ => Err(LifetimeError::OutOfRange {
                input: input.to_owned(),
            }),
        }
    }

    /// Minutes to send as `TemporaryDurationMinutes`; `None` means the parameter is omitted.
    pub fn temporary_minutes(self) -> Option<u32> {
        match self {
            Self::ServerDefault => None,
            Self::Minutes(m) => Some(m),
        }
    }

    /// The lifetime as a duration (zero for the server default).
    pub fn as_duration(self) -> chrono::Duration {
        chrono::Duration::minutes(i64::from(self.temporary_minutes().unwrap_or(0)))
    }
}

impl FromStr for CertificateLifetime {
    type Err = LifetimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Formats like Go's `time.Duration.String()`, which is what kubeconfigs carry: `3h0m0s`,
/// `15m0s`, `0s`.
impl fmt::Display for CertificateLifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ServerDefault => f.write_str("0s"),
            Self::Minutes(m) if *m >= 60 => write!(f, "{}h{}m0s", m / 60, m % 60),
            Self::Minutes(m) => write!(f, "{m}m0s"),
        }
    }
}

enum DurationError {
    Syntax(&'static str),
    Overflow,
}

/// Parses Go's `time.ParseDuration` syntax into nanoseconds, with Go's limits (±2^63-1 ns).
fn parse_go_duration(input: &str) -> Result<i128, DurationError> {
    use DurationError::{Overflow, Syntax};
    let (negative, mut rest) = match input.as_bytes().first() {
        Some(b'-') => (true, &input[1..]),
        Some(b'+') => (false, &input[1..]),
        _ => (false, input),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(Syntax("empty duration"));
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, after_int) = rest.split_at(int_len);
        let (frac_part, after_num) = match after_int.strip_prefix('.') {
            Some(after_dot) => {
                let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
                after_dot.split_at(frac_len)
            }
            None => ("", after_int),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(Syntax("expected a number"));
        }
        let unit_len = after_num
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(after_num.len(), |(i, _)| i);
        let (unit, after_unit) = after_num.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3600 * 1_000_000_000,
            "" => return Err(Syntax("missing unit")),
            _ => return Err(Syntax("unknown unit; use h, m, s, ms, us or ns")),
        };
        let int_value: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| Overflow)?
        };
        let mut value = int_value.checked_mul(scale).ok_or(Overflow)?;
        // Fractions are scaled digit by digit, exactly, as Go does (extra precision is dropped).
        let mut unit_fraction = scale;
        for digit in frac_part.bytes() {
            unit_fraction /= 10;
            if unit_fraction == 0 {
                break;
            }
            value += u128::from(digit - b'0') * unit_fraction;
        }
        total = total.checked_add(value).ok_or(Overflow)?;
        if total > i64::MAX as u128 {
            return Err(Overflow);
        }
        rest = after_unit;
    }
    let total = total as i128;
    Ok(if negative { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn minutes(s: &str) -> Result<Option<u32>, LifetimeError> {
        CertificateLifetime::parse(s).map(CertificateLifetime::temporary_minutes)
    }

    #[test]
    fn accepts_go_durations_in_range() {
        for (input, want) in [
            ("3h0m0s", Some(180)),
            ("3h", Some(180)),
            ("90m", Some(90)),
            ("1h30m", Some(90)),
            ("1.5h", Some(90)),
            ("15m", Some(15)),
            ("4320m", Some(4320)),
            ("72h", Some(4320)),
            ("72h0m0s", Some(4320)),
            ("+20m", Some(20)),
            ("900s", Some(15)),
            ("0", None),
            ("0s", None),
            ("-0", None),
            ("0h0m", None),
        ] {
            assert_eq!(minutes(input), Ok(want), "{input}");
        }
    }

    #[test]
    fn rejects_bad_syntax() {
        for bad in [
            "", "3d", "180", "3 h", "3H", "1h30", "h", ".h", "--1h", "1e3h",
        ] {
            assert!(
                matches!(minutes(bad), Err(LifetimeError::Syntax { .. })),
                "{bad:?}: {:?}",
                minutes(bad)
            );
        }
    }

    #[test]
    fn rejects_out_of_range_and_partial_minutes_with_the_range_in_the_message() {
        for bad in ["14m", "72h1m", "-3h", "30s", "9999999h"] {
            let err = minutes(bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("15") && err.contains("4320"), "{bad}: {err}");
        }
        assert!(matches!(
            minutes("15m59s"),
            Err(LifetimeError::NotWholeMinutes { .. })
        ));
        assert!(matches!(
            minutes("14m59s"),
            Err(LifetimeError::NotWholeMinutes { .. })
        ));
    }

    #[test]
    fn displays_like_go() {
        for (input, shown) in [
            ("3h", "3h0m0s"),
            ("90m", "1h30m0s"),
            ("15m", "15m0s"),
            ("72h", "72h0m0s"),
            ("0", "0s"),
        ] {
            assert_eq!(
                CertificateLifetime::parse(input).map(|l| l.to_string()),
                Ok(shown.to_owned())
            );
        }
        assert_eq!(CertificateLifetime::default().to_string(), "3h0m0s");
    }

    proptest! {
        #[test]
        fn every_valid_minute_count_round_trips(m in MIN_MINUTES..=MAX_MINUTES) {
            let l = CertificateLifetime::Minutes(m);
            prop_assert_eq!(CertificateLifetime::parse(&l.to_string()), Ok(l));
            prop_assert_eq!(CertificateLifetime::parse(&format!("{m}m")), Ok(l));
        }

        #[test]
        fn parser_never_panics(s in "\\PC{0,24}") {
            let _ = CertificateLifetime::parse(&s);
        }
    }
}
