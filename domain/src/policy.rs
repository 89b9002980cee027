//! When a cached certificate may be served.
//!
//! A certificate is refreshed once the time left falls to the refresh window,
//! `max(20% of the requested lifetime, 10 minutes)`, the Go tool's rule. Inside that window it is
//! *refresh due* rather than unusable: if the refresh fails, the still-valid certificate is
//! served with a warning instead of breaking kubectl.

use crate::model::CertificateLifetime;
use chrono::{DateTime, Duration, Utc};

/// The floor of the refresh window.
pub const MIN_REFRESH_WINDOW: Duration = Duration::minutes(10);

/// What to do with a cached certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// More than the refresh window is left: serve it.
    Fresh { remaining: Duration },
    /// Still valid, but inside the refresh window: fetch a new one, keep this as a fallback.
    RefreshDue { remaining: Duration },
    /// Expired: useless.
    Expired,
}

/// The refresh window for a requested lifetime: `max(20% of it, 10 minutes)`.
pub fn refresh_window(lifetime: CertificateLifetime) -> Duration {
    let fifth = lifetime.as_duration() / 5;
    fifth.max(MIN_REFRESH_WINDOW)
}

/// Classifies a certificate expiring at `expiration`, requested with `lifetime`, at time `now`.
pub fn assess(
    expiration: DateTime<Utc>,
    lifetime: CertificateLifetime,
    now: DateTime<Utc>,
) -> Freshness {
    let remaining = expiration - now;
    if remaining <= Duration::zero() {
        Freshness::Expired
    } else if remaining <= refresh_window(lifetime) {
        Freshness::RefreshDue { remaining }
    } else {
        Freshness::Fresh { remaining }
    }
}

/// How long before its expiry an upstream credential (from a credentials URI, the ECS metadata
/// service or a credential process) stops being used: clocks drift, and a request signed with
/// a credential that expires on the way fails on the server anyway.
pub const UPSTREAM_EXPIRY_MARGIN: Duration = Duration::minutes(1);

/// Whether credentials that expire at `expiration` may still be sent at `now`: `Err` with how
/// long ago (or how soon) they expire when they are within [`UPSTREAM_EXPIRY_MARGIN`] of it.
/// Credentials without an expiration (long-lived AccessKeys) are always usable.
pub fn upstream_usable(
    expiration: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), UpstreamExpired> {
    match expiration {
        Some(at) if at - now <= UPSTREAM_EXPIRY_MARGIN => Err(UpstreamExpired {
            expiration: at,
            now,
        }),
        _ => Ok(()),
    }
}

/// Upstream credentials that are expired or about to expire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe_expired(.expiration, .now))]
pub struct UpstreamExpired {
    /// When they expire.
    pub expiration: DateTime<Utc>,
    /// The time they were judged at.
    pub now: DateTime<Utc>,
}

fn describe_expired(expiration: &DateTime<Utc>, now: &DateTime<Utc>) -> String {
    let at = expiration.format("%Y-%m-%dT%H:%M:%SZ");
    let left = *expiration - *now;
    if left <= Duration::zero() {
        format!(
            "the credentials it returned expired at {at}, {}s ago; they were not used",
            (-left).num_seconds()
        )
    } else {
        format!(
            "the credentials it returned expire at {at}, in {}s, too soon to use (less than {}s); they were not used",
            left.num_seconds(),
            UPSTREAM_EXPIRY_MARGIN.num_seconds()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::lifetime_for_tests as lt;
    use proptest::prelude::*;

    #[test]
    fn upstream_credentials_near_or_past_expiry_are_refused() {
        let now = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        assert_eq!(upstream_usable(None, now), Ok(()));
        assert_eq!(
            upstream_usable(Some(now + Duration::minutes(5)), now),
            Ok(())
        );
        let past = upstream_usable(Some(now - Duration::seconds(30)), now)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            past.contains("expired at") && past.contains("30s ago"),
            "{past}"
        );
        let soon = upstream_usable(Some(now + Duration::seconds(20)), now)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(soon.contains("in 20s, too soon"), "{soon}");
        assert!(upstream_usable(Some(now + UPSTREAM_EXPIRY_MARGIN), now).is_err());
    }

    #[test]
    fn windows_match_the_reference() {
        assert_eq!(refresh_window(lt(180)), Duration::minutes(36));
        assert_eq!(refresh_window(lt(60)), Duration::minutes(12));
        assert_eq!(refresh_window(lt(50)), Duration::minutes(10));
        assert_eq!(refresh_window(lt(15)), Duration::minutes(10));
        assert_eq!(refresh_window(lt(4320)), Duration::minutes(864));
        assert_eq!(
            refresh_window(CertificateLifetime::ServerDefault),
            Duration::minutes(10)
        );
    }

    #[test]
    fn boundaries_are_inclusive_like_the_go_tool() {
        let now = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20000);
        let three_h = lt(180);
        assert_eq!(assess(now, three_h, now), Freshness::Expired);
        assert_eq!(
            assess(now + Duration::minutes(36), three_h, now),
            Freshness::RefreshDue {
                remaining: Duration::minutes(36)
            }
        );
        assert_eq!(
            assess(
                now + Duration::minutes(36) + Duration::seconds(1),
                three_h,
                now
            ),
            Freshness::Fresh {
                remaining: Duration::minutes(36) + Duration::seconds(1)
            }
        );
    }

    fn lifetime() -> impl Strategy<Value = CertificateLifetime> {
        prop_oneof![
            Just(CertificateLifetime::ServerDefault),
            (15u32..=4320).prop_map(CertificateLifetime::Minutes)
        ]
    }

    proptest! {
        #[test]
        fn window_is_at_least_ten_minutes_and_a_fifth(l in lifetime()) {
            let w = refresh_window(l);
            prop_assert!(w >= MIN_REFRESH_WINDOW);
            prop_assert!(w >= l.as_duration() / 5);
            prop_assert!(w == MIN_REFRESH_WINDOW || w == l.as_duration() / 5);
        }

        #[test]
        fn classification_agrees_with_remaining_time(
            l in lifetime(),
            remaining_s in -100_000i64..400_000,
        ) {
            let now = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20000);
            let exp = now + Duration::seconds(remaining_s);
            match assess(exp, l, now) {
                Freshness::Expired => prop_assert!(remaining_s <= 0),
                Freshness::RefreshDue { remaining } => {
                    prop_assert!(remaining_s > 0);
                    prop_assert!(remaining <= refresh_window(l));
                    prop_assert_eq!(remaining, Duration::seconds(remaining_s));
                }
                Freshness::Fresh { remaining } => prop_assert!(remaining > refresh_window(l)),
            }
        }

        /// As time passes a certificate only ever gets staler: Fresh -> RefreshDue -> Expired.
        #[test]
        fn freshness_is_monotonic_in_time(
            l in lifetime(),
            exp_s in 0i64..400_000,
            t1 in 0i64..400_000,
            dt in 0i64..400_000,
        ) {
            let base = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20000);
            let exp = base + Duration::seconds(exp_s);
            let rank = |f: Freshness| match f {
                Freshness::Fresh { .. } => 0,
                Freshness::RefreshDue { .. } => 1,
                Freshness::Expired => 2,
            };
            let a = assess(exp, l, base + Duration::seconds(t1));
            let b = assess(exp, l, base + Duration::seconds(t1 + dt));
            prop_assert!(rank(a) <= rank(b));
        }
    }
}
