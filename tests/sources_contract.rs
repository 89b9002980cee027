//! Contract tests for three credential sources: the ECS metadata service (IMDS) and a credentials
//! URI against wiremock (the requests they send, how they read every kind of answer, how fast
//! they give up), and the external credential process against small shell scripts.
//!
//! Proxies come from the environment snapshot, so that IMDS never uses one is checked in-process
//! against a snapshot with every proxy variable set.

mod support;

use ack_ram_adapters::env::Environment;
use ack_ram_adapters::http::{HttpSettings, build_client};
use ack_ram_adapters::sources::credentials_uri::CredentialsUriProvider;
use ack_ram_adapters::sources::imds::{ImdsConfig, ImdsProvider};
use ack_ram_domain::ports::{AccessCredentialProvider, ProviderError};
use ack_ram_domain::{AccessCredentials, Secret};
use std::time::{Duration, Instant};
use support::{AK_ID, AK_SECRET, STS_TOKEN};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN_PATH: &str = "/latest/api/token";
const ROLES_PATH: &str = "/latest/meta-data/ram/security-credentials/";
const TOKEN_HEADER: &str = "x-aliyun-ecs-metadata-token";
const TTL_HEADER: &str = "x-aliyun-ecs-metadata-token-ttl-seconds";
const EXPIRATION: &str = "2024-03-10T15:56:17Z";

/// The message of a `Failed`, checking the source name; panics on anything else.
fn failure(result: Result<AccessCredentials, ProviderError>, source: &str) -> String {
    match result {
        Err(ProviderError::Failed {
            source_name,
            message,
        }) => {
            assert_eq!(source_name, source, "{message}");
            for secret in [AK_SECRET, STS_TOKEN] {
                assert!(!message.contains(secret), "secret in message: {message}");
            }
            message
        }
        other => panic!("expected a failure of {source}, got {other:?}"),
    }
}

fn credentials_document() -> serde_json::Value {
    serde_json::json!({
        "AccessKeyId": AK_ID,
        "AccessKeySecret": AK_SECRET,
        "SecurityToken": STS_TOKEN,
        "Expiration": EXPIRATION,
        "LastUpdated": "2024-03-10T09:56:17Z",
        "Code": "Success",
    })
}

fn expected_sts() -> AccessCredentials {
    AccessCredentials {
        expiration: Some(EXPIRATION.parse().unwrap_or_else(|e| panic!("{e}"))),
        ..AccessCredentials::sts(AK_ID, Secret::new(AK_SECRET), Secret::new(STS_TOKEN))
    }
}

// ---------------------------------------------------------------------------------------------
// ECS instance metadata (IMDS)
// ---------------------------------------------------------------------------------------------

mod imds {
    use super::*;

    const SOURCE: &str = "ECS instance metadata (IMDS)";

    pub fn config(server: &MockServer) -> ImdsConfig {
        ImdsConfig {
            endpoint: server.uri(),
            ..ImdsConfig::default()
        }
    }

    pub fn provider(config: ImdsConfig) -> ImdsProvider {
        ImdsProvider::new(config, "ack-ram-tool-tests").unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn mount_role_and_credentials(server: &MockServer, role: &str) {
        Mock::given(method("GET"))
            .and(path(ROLES_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_string(format!("{role}\n")))
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("{ROLES_PATH}{role}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(credentials_document()))
            .mount(server)
            .await;
    }

    async fn requests(server: &MockServer) -> Vec<Request> {
        server.received_requests().await.unwrap_or_default()
    }

    fn token_of(request: &Request) -> Option<String> {
        request
            .headers
            .get(TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    #[tokio::test]
    async fn v2_token_then_role_discovery_then_credentials() {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .and(path(TOKEN_PATH))
            .and(header(TTL_HEADER, "3600"))
            .respond_with(ResponseTemplate::new(200).set_body_string("session-token-1\n"))
            .expect(1)
            .mount(&server)
            .await;
        mount_role_and_credentials(&server, "ack-node-role").await;

        let p = provider(config(&server));
        assert_eq!(p.provide().await, Ok(expected_sts()));
        // A second call in the same process reuses the token.
        assert_eq!(p.provide().await, Ok(expected_sts()));

        let seen: Vec<(String, String, Option<String>)> = requests(&server)
            .await
            .iter()
            .map(|r| (r.method.to_string(), r.url.path().to_owned(), token_of(r)))
            .collect();
        let token = Some("session-token-1".to_owned());
        let role_path = format!("{ROLES_PATH}ack-node-role");
        assert_eq!(
            seen,
            vec![
                ("PUT".into(), TOKEN_PATH.into(), None),
                ("GET".into(), ROLES_PATH.into(), token.clone()),
                ("GET".into(), role_path.clone(), token.clone()),
                ("GET".into(), ROLES_PATH.into(), token.clone()),
                ("GET".into(), role_path, token),
            ]
        );
    }

    #[tokio::test]
    async fn v2_refused_falls_back_to_v1_and_asks_only_once() {
        for status in [403, 404] {
            let server = MockServer::start().await;
            Mock::given(method("PUT"))
                .and(path(TOKEN_PATH))
                .respond_with(ResponseTemplate::new(status))
                .expect(1)
                .mount(&server)
                .await;
            mount_role_and_credentials(&server, "r").await;

            let p = provider(config(&server));
            assert_eq!(p.provide().await, Ok(expected_sts()), "{status}");
            assert_eq!(p.provide().await, Ok(expected_sts()), "{status}");

            let all = requests(&server).await;
            assert_eq!(
                all.iter().filter(|r| r.method.as_str() == "PUT").count(),
                1,
                "{status}"
            );
            assert!(
                all.iter().all(|r| token_of(r).is_none()),
                "no token header after a refusal ({status})"
            );
        }
    }

    #[tokio::test]
    async fn other_token_failures_fail() {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .and(path(TOKEN_PATH))
            .respond_with(ResponseTemplate::new(400))
            .expect(1)
            .mount(&server)
            .await;
        mount_role_and_credentials(&server, "r").await;
        let m = failure(provider(config(&server)).provide().await, SOURCE);
        assert!(
            m.contains("HTTP 400") && m.contains("PUT /latest/api/token"),
            "{m}"
        );
    }

    #[tokio::test]
    async fn v2_disabled_sends_no_put() {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .respond_with(ResponseTemplate::new(200).set_body_string("t"))
            .expect(0)
            .mount(&server)
            .await;
        mount_role_and_credentials(&server, "r").await;
        let env: Environment = [
            ("ALIBABA_CLOUD_IMDS_ENDPOINT", server.uri()),
            ("ALIBABA_CLOUD_IMDSV2_DISABLED", "true".to_owned()),
        ]
        .into_iter()
        .collect();
        let p = provider(ImdsConfig::from_env(&env, None));
        assert_eq!(p.provide().await, Ok(expected_sts()));
        assert!(
            requests(&server)
                .await
                .iter()
                .all(|r| token_of(r).is_none())
        );
    }

    #[tokio::test]
    async fn explicit_role_skips_discovery() {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .respond_with(ResponseTemplate::new(200).set_body_string("tok"))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(ROLES_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_string("discovered"))
            .expect(0)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("{ROLES_PATH}given")))
            .and(header(TOKEN_HEADER, "tok"))
            .respond_with(ResponseTemplate::new(200).set_body_json(credentials_document()))
            .expect(1)
            .mount(&server)
            .await;
        let env: Environment = [
            ("ALIBABA_CLOUD_IMDS_ENDPOINT", server.uri()),
            ("ALIBABA_CLOUD_ECS_METADATA", "from-env".to_owned()),
        ]
        .into_iter()
        .collect();
        let p = provider(ImdsConfig::from_env(&env, Some("given".into())));
        assert_eq!(p.provide().await, Ok(expected_sts()));
    }

    #[tokio::test]
    async fn several_roles_listed_uses_the_first() {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .respond_with(ResponseTemplate::new(404))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(ROLES_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_string("\n first \nsecond\n"))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("{ROLES_PATH}first")))
            .respond_with(ResponseTemplate::new(200).set_body_json(credentials_document()))
            .expect(1)
            .mount(&server)
            .await;
        assert_eq!(
            provider(config(&server)).provide().await,
            Ok(expected_sts())
        );
    }

    #[tokio::test]
    async fn no_role_attached_is_said_plainly() {
        for listing in [ResponseTemplate::new(404), ResponseTemplate::new(200)] {
            let server = MockServer::start().await;
            Mock::given(method("PUT"))
                .respond_with(ResponseTemplate::new(200).set_body_string("tok"))
                .mount(&server)
                .await;
            Mock::given(method("GET"))
                .and(path(ROLES_PATH))
                .respond_with(listing)
                .expect(1)
                .mount(&server)
                .await;
            let m = failure(provider(config(&server)).provide().await, SOURCE);
            assert!(m.contains("no RAM role attached"), "{m}");
        }
    }

    #[tokio::test]
    async fn an_explicit_role_that_is_not_attached() {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .respond_with(ResponseTemplate::new(403))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(404))
            .expect(1)
            .mount(&server)
            .await;
        let mut c = config(&server);
        c.role_name = Some("wrong-role".into());
        let m = failure(provider(c).provide().await, SOURCE);
        assert!(m.contains("\"wrong-role\" is not attached"), "{m}");
    }

    #[tokio::test]
    async fn a_code_other_than_success_is_named() {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .respond_with(ResponseTemplate::new(200).set_body_string("tok"))
            .mount(&server)
            .await;
        let mut doc = credentials_document();
        doc["Code"] = "InternalError".into();
        Mock::given(method("GET"))
            .and(path(format!("{ROLES_PATH}r")))
            .respond_with(ResponseTemplate::new(200).set_body_json(doc))
            .mount(&server)
            .await;
        let mut c = config(&server);
        c.role_name = Some("r".into());
        let m = failure(provider(c).provide().await, SOURCE);
        assert!(m.contains("\"InternalError\""), "{m}");
    }

    #[tokio::test]
    async fn missing_fields_are_named() {
        for (drop, named) in [
            ("AccessKeyId", "no AccessKeyId"),
            ("AccessKeySecret", "no AccessKeySecret"),
        ] {
            let server = MockServer::start().await;
            Mock::given(method("PUT"))
                .respond_with(ResponseTemplate::new(404))
                .mount(&server)
                .await;
            let mut doc = credentials_document();
            doc.as_object_mut().map(|o| o.remove(drop));
            Mock::given(method("GET"))
                .and(path(format!("{ROLES_PATH}r")))
                .respond_with(ResponseTemplate::new(200).set_body_json(doc))
                .mount(&server)
                .await;
            let mut c = config(&server);
            c.role_name = Some("r".into());
            let m = failure(provider(c).provide().await, SOURCE);
            assert!(m.contains(named), "{m}");
        }
    }

    #[tokio::test]
    async fn a_5xx_is_retried_once() {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .respond_with(ResponseTemplate::new(404))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("{ROLES_PATH}r")))
            .respond_with(ResponseTemplate::new(503))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("{ROLES_PATH}r")))
            .respond_with(ResponseTemplate::new(200).set_body_json(credentials_document()))
            .with_priority(2)
            .mount(&server)
            .await;
        let mut c = config(&server);
        c.role_name = Some("r".into());
        assert_eq!(provider(c).provide().await, Ok(expected_sts()));
        let gets = requests(&server)
            .await
            .iter()
            .filter(|r| r.method.as_str() == "GET")
            .count();
        assert_eq!(gets, 2);
    }

    #[tokio::test]
    async fn a_lasting_5xx_gives_up_after_the_configured_attempts() {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .respond_with(ResponseTemplate::new(404))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(500))
            .expect(2)
            .mount(&server)
            .await;
        let m = failure(provider(config(&server)).provide().await, SOURCE);
        assert!(m.contains("HTTP 500"), "{m}");
    }

    #[tokio::test]
    async fn a_4xx_is_never_retried() {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .respond_with(ResponseTemplate::new(404))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(400))
            .expect(1)
            .mount(&server)
            .await;
        let m = failure(provider(config(&server)).provide().await, SOURCE);
        assert!(m.contains("HTTP 400"), "{m}");
    }

    #[tokio::test]
    async fn a_stalled_service_times_out_quickly() {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(10)))
            .mount(&server)
            .await;
        let mut c = config(&server);
        c.timeout = Duration::from_millis(200);
        let started = Instant::now();
        let m = failure(provider(c).provide().await, SOURCE);
        // Two attempts of 200 ms and one pause of 100 ms.
        assert!(started.elapsed() < Duration::from_secs(2), "{m}");
        assert!(
            m.contains("timed out") && m.contains("after 2 attempts"),
            "{m}"
        );
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_fails_in_under_a_second_and_says_why() {
        let c = ImdsConfig {
            endpoint: "http://127.0.0.1:9".into(),
            ..ImdsConfig::default()
        };
        let started = Instant::now();
        let m = failure(provider(c).provide().await, SOURCE);
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}: {m}");
        assert!(
            m.starts_with("could not reach the ECS metadata service at http://127.0.0.1:9: "),
            "{m}"
        );
        assert!(
            m.ends_with(
                "; this works only on an ECS instance (or set ALIBABA_CLOUD_IMDS_ENDPOINT)"
            ),
            "{m}"
        );
    }

    /// Proxies come from the environment snapshot, never from the process: a client built
    /// from a snapshot with proxy variables sends a remote request to the proxy, while the
    /// metadata client, configured from the same snapshot, never has a proxy at all.
    #[tokio::test]
    async fn imds_never_uses_a_proxy() {
        let imds = MockServer::start().await;
        Mock::given(method("PUT"))
            .respond_with(ResponseTemplate::new(404))
            .mount(&imds)
            .await;
        mount_role_and_credentials(&imds, "r").await;
        let proxy = MockServer::start().await;
        let env: Environment = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
            .into_iter()
            .map(|name| (name, proxy.uri()))
            .collect();

        // Control: an ordinary client from that snapshot does go through the proxy.
        let http = build_client(&HttpSettings::new("control").with_proxy_from(&env))
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = http
            .get("http://imds-control.example.test/control")
            .send()
            .await;
        // IMDS does not.
        let p = provider(ImdsConfig {
            endpoint: imds.uri(),
            role_name: Some("r".into()),
            ..ImdsConfig::from_env(&env, None)
        });
        assert_eq!(p.provide().await, Ok(expected_sts()));

        let through_proxy: Vec<String> = requests(&proxy)
            .await
            .iter()
            .map(|r| r.url.path().to_owned())
            .collect();
        assert_eq!(
            through_proxy,
            vec!["/control".to_owned()],
            "only the control request may reach the proxy"
        );
        assert!(
            !requests(&imds).await.is_empty(),
            "IMDS was reached directly"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Credentials URI
// ---------------------------------------------------------------------------------------------

mod credentials_uri {
    use super::*;

    const SOURCE: &str = "credentials URI";

    async fn fetch(
        server: &MockServer,
        answer: ResponseTemplate,
    ) -> Result<AccessCredentials, ProviderError> {
        Mock::given(method("GET"))
            .and(path("/creds"))
            .respond_with(answer)
            .expect(1)
            .mount(server)
            .await;
        let http = build_client(&HttpSettings::new("ack-ram-tool-tests"))
            .unwrap_or_else(|e| panic!("{e}"));
        let uri = format!("{}/creds?token=query-secret", server.uri());
        CredentialsUriProvider::new(http, &uri)
            .unwrap_or_else(|e| panic!("{e}"))
            .provide()
            .await
    }

    fn failure(result: Result<AccessCredentials, ProviderError>) -> String {
        let m = super::failure(result, SOURCE);
        assert!(!m.contains("query-secret"), "{m}");
        m
    }

    #[tokio::test]
    async fn full_document() {
        let server = MockServer::start().await;
        let c = fetch(
            &server,
            ResponseTemplate::new(200).set_body_json(credentials_document()),
        )
        .await;
        assert_eq!(c, Ok(expected_sts()));
        let requests = server.received_requests().await.unwrap_or_default();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].url.query(), Some("token=query-secret"));
        assert!(requests[0].headers.get("authorization").is_none());
    }

    #[tokio::test]
    async fn minimal_document() {
        let server = MockServer::start().await;
        let c = fetch(
            &server,
            ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "AccessKeyId": AK_ID, "AccessKeySecret": AK_SECRET,
            })),
        )
        .await;
        assert_eq!(
            c,
            Ok(AccessCredentials::access_key(AK_ID, Secret::new(AK_SECRET)))
        );
    }

    #[tokio::test]
    async fn fractional_expiration_is_accepted() {
        let server = MockServer::start().await;
        let mut doc = credentials_document();
        doc["Expiration"] = "2024-03-10T15:56:17.250Z".into();
        let c = fetch(&server, ResponseTemplate::new(200).set_body_json(doc)).await;
        assert_eq!(
            c.map(|c| c.expiration.map(|t| t.timestamp_millis())),
            Ok(Some(1_710_086_177_250))
        );
    }

    #[tokio::test]
    async fn non_200_names_status_type_and_size_never_the_body() {
        let server = MockServer::start().await;
        let body = format!("<html>oops {AK_SECRET}</html>");
        let m = failure(
            fetch(
                &server,
                ResponseTemplate::new(503).set_body_raw(body.clone(), "text/html"),
            )
            .await,
        );
        assert!(m.contains(&format!("{}/creds", server.uri())), "{m}");
        assert!(m.contains("HTTP 503"), "{m}");
        assert!(
            m.contains(&format!("text/html, {} bytes", body.len())),
            "{m}"
        );
        assert!(!m.contains("oops"), "{m}");
    }

    #[tokio::test]
    async fn non_json_is_described_not_dumped() {
        let server = MockServer::start().await;
        let m = failure(
            fetch(
                &server,
                ResponseTemplate::new(200).set_body_raw("AccessKeyId=x", "text/plain"),
            )
            .await,
        );
        assert!(m.contains("not JSON (text/plain, 13 bytes)"), "{m}");
        assert!(!m.contains("AccessKeyId=x"), "{m}");
    }

    #[tokio::test]
    async fn missing_fields_are_named() {
        let server = MockServer::start().await;
        let m = failure(
            fetch(
                &server,
                ResponseTemplate::new(200).set_body_json(serde_json::json!({
                    "AccessKeyId": AK_ID, "SecurityToken": STS_TOKEN,
                })),
            )
            .await,
        );
        assert!(m.contains("no AccessKeySecret"), "{m}");
    }

    #[tokio::test]
    async fn expiration_with_an_offset_is_rejected() {
        let server = MockServer::start().await;
        let mut doc = credentials_document();
        doc["Expiration"] = "2024-03-10T23:56:17+08:00".into();
        let m = failure(fetch(&server, ResponseTemplate::new(200).set_body_json(doc)).await);
        assert!(m.contains("\"2024-03-10T23:56:17+08:00\""), "{m}");
    }

    #[tokio::test]
    async fn a_code_other_than_success_is_named() {
        let server = MockServer::start().await;
        let mut doc = credentials_document();
        doc["Code"] = "Forbidden".into();
        let m = failure(fetch(&server, ResponseTemplate::new(200).set_body_json(doc)).await);
        assert!(m.contains("Code is \"Forbidden\""), "{m}");
    }

    #[tokio::test]
    async fn an_oversized_answer_is_refused() {
        let server = MockServer::start().await;
        let m = failure(
            fetch(
                &server,
                ResponseTemplate::new(200).set_body_string("x".repeat(70 * 1024)),
            )
            .await,
        );
        assert!(m.contains("larger than 64 KiB"), "{m}");
    }

    #[tokio::test]
    async fn an_unreachable_uri_is_named_without_its_query() {
        let http = build_client(&HttpSettings::new("t")).unwrap_or_else(|e| panic!("{e}"));
        let p =
            CredentialsUriProvider::new(http, "http://user:pw@127.0.0.1:9/c?token=query-secret")
                .unwrap_or_else(|e| panic!("{e}"));
        let m = failure(p.provide().await);
        assert!(
            m.starts_with("could not reach http://127.0.0.1:9/c: "),
            "{m}"
        );
        assert!(!m.contains("pw"), "{m}");
    }
}

// ---------------------------------------------------------------------------------------------
// External credential process
// ---------------------------------------------------------------------------------------------

#[cfg(unix)]
mod process {
    use super::*;
    use ack_ram_adapters::sources::process::{ProcessConfig, run_credential_process};
    use serde_json::{Map, Value};
    use std::path::{Path, PathBuf};

    const SOURCE: &str = "credential process";

    /// A temporary directory with scripts. Scripts are run as `/bin/sh <script>` (or through a
    /// symlink to `/bin/sh`), never executed directly: executing a file this process just
    /// wrote races with other tests' forks ("Text file busy").
    struct Scripts {
        dir: tempfile::TempDir,
    }

    impl Scripts {
        fn new() -> Self {
            let dir = tempfile::Builder::new()
                .prefix("sources contract ")
                .tempdir()
                .unwrap_or_else(|e| panic!("{e}"));
            Self { dir }
        }

        fn write(&self, name: &str, body: &str) -> PathBuf {
            let path = self.dir.path().join(name);
            std::fs::write(&path, body).unwrap_or_else(|e| panic!("{e}"));
            path
        }

        fn path(&self) -> &Path {
            self.dir.path()
        }
    }

    fn env(extra: &[(&str, &str)]) -> Environment {
        [("PATH", "/usr/bin:/bin")]
            .iter()
            .chain(extra)
            .copied()
            .collect()
    }

    fn quoted(path: &Path) -> String {
        format!("'{}'", path.display())
    }

    async fn run(
        command: &str,
        env: &Environment,
        timeout: Duration,
    ) -> Result<Map<String, Value>, ProviderError> {
        run_credential_process(
            &ProcessConfig {
                command: command.to_owned(),
                timeout,
            },
            env,
        )
        .await
    }

    fn failure(result: Result<Map<String, Value>, ProviderError>) -> String {
        match result {
            Err(ProviderError::Failed {
                source_name,
                message,
            }) => {
                assert_eq!(source_name, SOURCE, "{message}");
                message
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    fn sts_json() -> String {
        format!(
            r#"{{"mode":"StsToken","access_key_id":"{AK_ID}","access_key_secret":"{AK_SECRET}","sts_token":"{STS_TOKEN}"}}"#
        )
    }

    #[tokio::test]
    async fn pure_json() {
        let s = Scripts::new();
        let script = s.write("creds.sh", &format!("printf '%s\\n' '{}'\n", sts_json()));
        let out = run(
            &format!("/bin/sh {}", quoted(&script)),
            &env(&[]),
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let expected: Value = serde_json::from_str(&sts_json()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Value::Object(out), expected);
    }

    #[tokio::test]
    async fn json_embedded_in_other_output() {
        let s = Scripts::new();
        let script = s.write(
            "creds.sh",
            &format!(
                "echo 'Signing in... {{ok}}'\nprintf '%s' '{}'\necho ' done'\n",
                sts_json()
            ),
        );
        let out = run(
            &format!("/bin/sh {}", quoted(&script)),
            &env(&[]),
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.get("mode"), Some(&Value::from("StsToken")));
        assert_eq!(out.get("access_key_id"), Some(&Value::from(AK_ID)));
    }

    #[tokio::test]
    async fn quoted_arguments_arrive_intact_and_the_program_is_found_on_path() {
        let s = Scripts::new();
        let bin = s.path().join("bin dir");
        std::fs::create_dir(&bin).unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::fs::symlink("/bin/sh", bin.join("creds-helper"))
            .unwrap_or_else(|e| panic!("{e}"));
        let script = s.write(
            "args.sh",
            "printf '{\"mode\":\"AK\",\"argc\":\"%s\",\"a\":\"%s\",\"b\":\"%s\",\"c\":\"%s\"}' \"$#\" \"$1\" \"$2\" \"$3\"\n",
        );
        let search_path = format!("{}:/usr/bin:/bin", bin.display());
        let command = format!(
            r#"creds-helper {} "two words" 'single $quoted' plain\ escaped"#,
            quoted(&script)
        );
        let out = run(
            &command,
            &env(&[("PATH", &search_path)]),
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.get("argc"), Some(&Value::from("3")));
        assert_eq!(out.get("a"), Some(&Value::from("two words")));
        assert_eq!(out.get("b"), Some(&Value::from("single $quoted")));
        assert_eq!(out.get("c"), Some(&Value::from("plain escaped")));
    }

    #[tokio::test]
    async fn the_environment_is_the_snapshot_only() {
        let s = Scripts::new();
        let script = s.write(
            "env.sh",
            "printf '{\"mode\":\"AK\",\"marker\":\"%s\",\"inherited\":\"%s\"}' \"$CREDS_MARKER\" \"${CARGO_MANIFEST_DIR:-}\"\n",
        );
        let out = run(
            &format!("/bin/sh {}", quoted(&script)),
            &env(&[("CREDS_MARKER", "from the snapshot")]),
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.get("marker"), Some(&Value::from("from the snapshot")));
        // Cargo sets CARGO_MANIFEST_DIR for this test process; the child must not see it.
        assert_eq!(out.get("inherited"), Some(&Value::from("")));
    }

    #[tokio::test]
    async fn stdin_is_empty() {
        let s = Scripts::new();
        let script = s.write(
            "stdin.sh",
            "if read -r line; then got=yes; else got=no; fi\nprintf '{\"mode\":\"AK\",\"stdin\":\"%s\"}' \"$got\"\n",
        );
        let out = run(
            &format!("/bin/sh {}", quoted(&script)),
            &env(&[]),
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.get("stdin"), Some(&Value::from("no")));
    }

    #[tokio::test]
    async fn failure_shows_status_and_stderr_tail_never_stdout() {
        let s = Scripts::new();
        let script = s.write(
            "fail.sh",
            &format!(
                "printf '%s' '{}'\nfor i in 01 02 03 04 05 06 07 08 09 10 11 12 13 14 15; do echo \"problem $i\" >&2; done\nexit 3\n",
                sts_json()
            ),
        );
        let m = failure(
            run(
                &format!("/bin/sh {} --secret-arg=hunter2", quoted(&script)),
                &env(&[]),
                Duration::from_secs(10),
            )
            .await,
        );
        assert!(m.starts_with("`sh` failed (exit status: 3)"), "{m}");
        assert!(m.contains("problem 15") && m.contains("problem 06"), "{m}");
        assert!(!m.contains("problem 05"), "only the last lines: {m}");
        for leak in [AK_ID, AK_SECRET, STS_TOKEN, "hunter2", "StsToken"] {
            assert!(!m.contains(leak), "{leak} leaked: {m}");
        }
    }

    #[tokio::test]
    async fn a_slow_process_is_killed_at_the_timeout() {
        let s = Scripts::new();
        let script = s.write("slow.sh", "sleep 5\necho '{\"mode\":\"AK\"}'\n");
        let started = Instant::now();
        let m = failure(
            run(
                &format!("/bin/sh {}", quoted(&script)),
                &env(&[]),
                Duration::from_millis(300),
            )
            .await,
        );
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
        assert!(
            m.contains("`sh` did not finish within 300ms and was killed"),
            "{m}"
        );
    }

    /// Whether a process is still running (a zombie waiting to be reaped is not: in a container
    /// nobody may ever reap it).
    fn alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            // The state follows the command name, which is in parentheses.
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
        })
    }

    #[tokio::test]
    async fn a_timeout_kills_the_whole_process_tree() {
        let s = Scripts::new();
        let pid_file = s.path().join("grandchild.pid");
        let script = s.write(
            "tree.sh",
            &format!("sleep 30 &\necho $! > '{}'\nwait\n", pid_file.display()),
        );
        let m = failure(
            run(
                &format!("/bin/sh {}", quoted(&script)),
                &env(&[]),
                Duration::from_millis(500),
            )
            .await,
        );
        assert!(m.contains("was killed"), "{m}");
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap_or_else(|e| panic!("{e}"))
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(pid), "the grandchild {pid} outlived the timeout");
    }

    #[tokio::test]
    async fn relative_path_entries_are_never_searched() {
        let s = Scripts::new();
        std::os::unix::fs::symlink("/bin/sh", s.path().join("planted-helper"))
            .unwrap_or_else(|e| panic!("{e}"));
        // The scripts directory, written relative to the current directory.
        let cwd = std::env::current_dir().unwrap_or_else(|e| panic!("{e}"));
        let up = "../".repeat(cwd.components().count().saturating_sub(1));
        let relative = format!(
            "{up}{}",
            s.path().display().to_string().trim_start_matches('/')
        );
        assert!(
            Path::new(&relative).join("planted-helper").exists(),
            "{relative}"
        );
        for path in [
            relative.clone(),
            format!(":{relative}"),
            format!(".:{relative}:"),
        ] {
            let m = failure(
                run(
                    "planted-helper -c 'echo {}'",
                    &[("PATH", path.as_str())].into_iter().collect(),
                    Duration::from_secs(5),
                )
                .await,
            );
            assert!(
                m.contains("was not found in the absolute directories of PATH"),
                "{path}: {m}"
            );
        }
        // The same directory, absolute, is searched: the planted program runs (and fails).
        let absolute = s.path().display().to_string();
        let m = failure(
            run(
                "planted-helper -c 'exit 3'",
                &[("PATH", absolute.as_str())].into_iter().collect(),
                Duration::from_secs(5),
            )
            .await,
        );
        assert!(m.contains("failed (exit status: 3)"), "{m}");
    }

    #[tokio::test]
    async fn garbage_and_empty_stdout_are_refused_by_size() {
        let s = Scripts::new();
        let line = "access_key_secret=hunter2 {not json}";
        let garbage = s.write("garbage.sh", &format!("echo '{line}'\n"));
        let m = failure(
            run(
                &format!("/bin/sh {}", quoted(&garbage)),
                &env(&[]),
                Duration::from_secs(10),
            )
            .await,
        );
        assert!(
            m.contains(&format!(
                "printed {} bytes on stdout that are not a JSON credential object",
                line.len() + 1
            )),
            "{m}"
        );
        assert!(!m.contains("hunter2"), "{m}");

        let empty = s.write("empty.sh", "exit 0\n");
        let m = failure(
            run(
                &format!("/bin/sh {}", quoted(&empty)),
                &env(&[]),
                Duration::from_secs(10),
            )
            .await,
        );
        assert!(m.contains("printed nothing on stdout"), "{m}");
    }

    #[tokio::test]
    async fn huge_stdout_is_refused() {
        let s = Scripts::new();
        let script = s.write("huge.sh", "head -c 3000000 /dev/zero | tr '\\0' 'a'\n");
        let m = failure(
            run(
                &format!("/bin/sh {}", quoted(&script)),
                &env(&[]),
                Duration::from_secs(10),
            )
            .await,
        );
        assert!(m.contains("more than 1024 KiB on stdout"), "{m}");
    }

    #[tokio::test]
    async fn command_line_problems_are_clear() {
        let m = failure(run("get-creds 'unbalanced", &env(&[]), Duration::from_secs(1)).await);
        assert!(m.contains("cannot be split") && m.contains("quotes"), "{m}");
        assert!(!m.contains("unbalanced"), "{m}");

        let m = failure(run("   ", &env(&[]), Duration::from_secs(1)).await);
        assert!(m.contains("empty"), "{m}");

        let m = failure(
            run(
                "no-such-credential-helper --token=hunter2",
                &env(&[]),
                Duration::from_secs(1),
            )
            .await,
        );
        assert_eq!(
            m,
            "`no-such-credential-helper` was not found in the absolute directories of PATH (relative entries such as `.` are never searched)"
        );

        let m = failure(run("/nonexistent/dir/helper", &env(&[]), Duration::from_secs(1)).await);
        assert!(m.contains("`helper` is not an executable file"), "{m}");
    }
}
