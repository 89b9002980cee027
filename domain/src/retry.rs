//! When and how long to wait before trying the ACK API again.
//!
//! Only transient failures are retried: the network (connect errors, timeouts), HTTP 5xx, 429,
//! and `Throttling*` codes. An authentication or parameter error (any other 4xx) or an unusable
//! answer would fail the same way again, so it is returned at once. Waits grow exponentially
//! from `base_delay` up to `max_delay`, with jitter so that many processes started together do
//! not retry in lockstep, and the whole sequence respects an overall deadline.

use crate::ports::IssueError;
use std::time::Duration;

/// How often and how long to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 means no retry).
    pub max_attempts: u32,
    /// The wait before the first retry (before jitter).
    pub base_delay: Duration,
    /// The longest single wait.
    pub max_delay: Duration,
    /// No retry starts after this much time has passed since the first attempt.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    /// Sized for a person waiting on kubectl: three attempts within about ten seconds.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(2),
            deadline: Duration::from_secs(10),
        }
    }
}

/// Whether an error may pass if the same request is sent again.
pub fn is_transient(error: &IssueError) -> bool {
    match error {
        IssueError::Transport { .. } => true,
        IssueError::Api(api) => {
            api.status >= 500
                || api.status == 429
                || api
                    .code
                    .as_deref()
                    .is_some_and(|c| c.starts_with("Throttling"))
        }
        IssueError::InvalidResponse(_) | IssueError::Redirected { .. } => false,
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1`, after `attempt` failed attempts (1-based), or
    /// `None` when no further attempt should be made. `jitter` is a number in `[0, 1)` (random
    /// in production, fixed in tests); the wait is scaled into `[50%, 100%]` of the backoff.
    pub fn next_delay(&self, attempt: u32, elapsed: Duration, jitter: f64) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let exponent = attempt.saturating_sub(1).min(16);
        let backoff = self
            .base_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay);
        let jitter = jitter.clamp(0.0, 1.0);
        let delay = backoff.mul_f64(0.5 + jitter / 2.0);
        (elapsed + delay < self.deadline).then_some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::ApiErrorDetails;
    use proptest::prelude::*;

    fn api(status: u16, code: &str) -> IssueError {
        IssueError::Api(ApiErrorDetails {
            action: "X".into(),
            status,
            code: Some(code.into()),
            message: None,
            request_id: None,
        })
    }

    #[test]
    fn only_transient_errors_are_retried() {
        assert!(is_transient(&IssueError::Transport {
            endpoint: "e".into(),
            message: "timed out".into()
        }));
        assert!(is_transient(&api(503, "ServiceUnavailable")));
        assert!(is_transient(&api(500, "InternalError")));
        assert!(is_transient(&api(429, "TooManyRequests")));
        assert!(is_transient(&api(400, "Throttling.User")));
        assert!(!is_transient(&api(403, "Forbidden.RAM")));
        assert!(!is_transient(&api(400, "SignatureDoesNotMatch")));
        assert!(!is_transient(&api(404, "ErrorClusterNotFound")));
        assert!(!is_transient(&IssueError::InvalidResponse("x".into())));
        assert!(!is_transient(&IssueError::Redirected {
            endpoint: "https://cs.example".into(),
            status: 307,
            location_host: "attacker.example".into(),
        }));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            deadline: Duration::from_secs(60),
        };
        let full = |n| p.next_delay(n, Duration::ZERO, 1.0);
        assert_eq!(full(1), Some(Duration::from_millis(100)));
        assert_eq!(full(2), Some(Duration::from_millis(200)));
        assert_eq!(full(3), Some(Duration::from_millis(400)));
        assert_eq!(full(4), Some(Duration::from_millis(500)));
        assert_eq!(
            p.next_delay(1, Duration::ZERO, 0.0),
            Some(Duration::from_millis(50))
        );
        assert_eq!(p.next_delay(10, Duration::ZERO, 0.5), None);
    }

    #[test]
    fn the_deadline_stops_retries() {
        let p = RetryPolicy::default();
        assert!(p.next_delay(1, Duration::from_secs(9), 0.0).is_some());
        assert_eq!(p.next_delay(1, Duration::from_millis(9_990), 1.0), None);
    }

    proptest! {
        #[test]
        fn delays_are_bounded_and_attempts_finite(
            attempt in 0u32..100,
            elapsed_ms in 0u64..20_000,
            jitter in 0.0f64..1.0,
            max_attempts in 1u32..8,
        ) {
            let p = RetryPolicy { max_attempts, ..RetryPolicy::default() };
            let elapsed = Duration::from_millis(elapsed_ms);
            if let Some(d) = p.next_delay(attempt, elapsed, jitter) {
                prop_assert!(attempt < max_attempts);
                prop_assert!(d <= p.max_delay);
                prop_assert!(d >= p.base_delay.min(p.max_delay) / 2);
                prop_assert!(elapsed + d < p.deadline);
            }
        }
    }
}
