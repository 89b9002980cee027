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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::lifetime_for_tests as lt;
    use proptest::prelude::*;

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
