//! Retries of the ACK call for transient failures, with the domain's [`RetryPolicy`].
//!
//! The policy decides (pure, tested without sleeping); this adapter waits with the injected
//! [`Sleep`] (the runtime's timer in production) and adds random jitter.

use crate::context::Sleep;
use ack_ram_domain::ports::{ClusterCredentialIssuer, IssueError, IssueRequest};
use ack_ram_domain::retry::{RetryPolicy, is_transient};
use ack_ram_domain::{AccessCredentials, ClusterCredential};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Instant;

/// An issuer that retries another one.
pub struct RetryingIssuer {
    inner: Box<dyn ClusterCredentialIssuer>,
    policy: RetryPolicy,
    sleep: Arc<dyn Sleep>,
}

impl RetryingIssuer {
    /// Retries `inner` under `policy`, waiting with `sleep`.
    pub fn new(
        inner: Box<dyn ClusterCredentialIssuer>,
        policy: RetryPolicy,
        sleep: Arc<dyn Sleep>,
    ) -> Self {
        Self {
            inner,
            policy,
            sleep,
        }
    }
}

#[async_trait]
impl ClusterCredentialIssuer for RetryingIssuer {
    async fn issue(
        &self,
        request: &IssueRequest,
        credentials: &AccessCredentials,
    ) -> Result<ClusterCredential, IssueError> {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            match self.inner.issue(request, credentials).await {
                Ok(credential) => return Ok(credential),
                Err(error) if is_transient(&error) => {
                    let jitter: f64 = rand::random();
                    let Some(delay) = self.policy.next_delay(attempt, started.elapsed(), jitter)
                    else {
                        return Err(error);
                    };
                    tracing::debug!(attempt, delay_ms = delay.as_millis() as u64, %error, "transient failure; retrying");
                    self.sleep.sleep(delay).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ack_ram_domain::ports::ApiErrorDetails;
    use ack_ram_domain::{CertificateLifetime, ClusterId, Secret};
    use std::sync::Mutex;
    use std::time::Duration;

    struct Scripted(
        Mutex<Vec<Result<ClusterCredential, IssueError>>>,
        Mutex<u32>,
    );

    #[async_trait]
    impl ClusterCredentialIssuer for Scripted {
        async fn issue(
            &self,
            _: &IssueRequest,
            _: &AccessCredentials,
        ) -> Result<ClusterCredential, IssueError> {
            *self.1.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(0)
        }
    }

    fn api(status: u16, code: &str) -> IssueError {
        IssueError::Api(ApiErrorDetails {
            action: "DescribeClusterUserKubeconfig".into(),
            status,
            code: Some(code.into()),
            message: None,
            request_id: None,
        })
    }

    fn ok() -> ClusterCredential {
        ClusterCredential {
            client_certificate_pem: "C".into(),
            client_key_pem: Secret::new("K"),
            expiration: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
        }
    }

    /// Records the waits instead of waiting.
    #[derive(Debug, Default)]
    struct Recorded(Mutex<Vec<Duration>>);

    impl Sleep for Recorded {
        fn sleep(&self, duration: Duration) -> crate::context::SleepFuture {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(duration);
            Box::pin(std::future::ready(()))
        }
    }

    async fn run(
        script: Vec<Result<ClusterCredential, IssueError>>,
    ) -> (Result<ClusterCredential, IssueError>, u32) {
        run_recorded(script).await.0
    }

    async fn run_recorded(
        script: Vec<Result<ClusterCredential, IssueError>>,
    ) -> ((Result<ClusterCredential, IssueError>, u32), Vec<Duration>) {
        let scripted = std::sync::Arc::new(Scripted(Mutex::new(script), Mutex::new(0)));
        struct Shared(std::sync::Arc<Scripted>);
        #[async_trait]
        impl ClusterCredentialIssuer for Shared {
            async fn issue(
                &self,
                r: &IssueRequest,
                c: &AccessCredentials,
            ) -> Result<ClusterCredential, IssueError> {
                self.0.issue(r, c).await
            }
        }
        let sleep = Arc::new(Recorded::default());
        let issuer = RetryingIssuer::new(
            Box::new(Shared(scripted.clone())),
            RetryPolicy::default(),
            sleep.clone(),
        );
        let request = IssueRequest {
            cluster_id: ClusterId::parse("c1").unwrap_or_else(|e| panic!("{e}")),
            lifetime: CertificateLifetime::default(),
            private_address: true,
        };
        let result = issuer
            .issue(
                &request,
                &AccessCredentials::access_key("id", Secret::new("s")),
            )
            .await;
        let calls = *scripted.1.lock().unwrap_or_else(|e| e.into_inner());
        let waits = sleep.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        ((result, calls), waits)
    }

    #[tokio::test]
    async fn waits_follow_the_policy_without_sleeping() {
        let ((result, calls), waits) = run_recorded(vec![
            Err(api(503, "Throttling")),
            Err(api(503, "Throttling")),
            Ok(ok()),
        ])
        .await;
        assert_eq!((result, calls), (Ok(ok()), 3));
        // Backoff 250 ms then 500 ms, each scaled into [50%, 100%] by the jitter.
        assert_eq!(waits.len(), 2, "{waits:?}");
        assert!((125..=250).contains(&waits[0].as_millis()), "{waits:?}");
        assert!((250..=500).contains(&waits[1].as_millis()), "{waits:?}");
    }

    #[tokio::test]
    async fn transient_failures_are_retried_up_to_the_limit() {
        let (result, calls) = run(vec![
            Err(api(503, "Throttling")),
            Err(api(503, "Throttling")),
            Ok(ok()),
        ])
        .await;
        assert_eq!((result, calls), (Ok(ok()), 3));
        let (result, calls) = run(vec![
            Err(api(500, "E")),
            Err(api(500, "E")),
            Err(api(500, "E")),
            Ok(ok()),
        ])
        .await;
        assert_eq!((result, calls), (Err(api(500, "E")), 3));
    }

    #[tokio::test]
    async fn permanent_failures_are_not() {
        let (result, calls) = run(vec![Err(api(403, "Forbidden.RAM")), Ok(ok())]).await;
        assert_eq!((result, calls), (Err(api(403, "Forbidden.RAM")), 1));
    }
}
