//! Contract tests for three credential sources: the ECS metadata service (IMDS) and a credentials
//! URI against wiremock (the requests they send, how they read every kind of answer, how fast
//! they give up), and the external credential process against small shell scripts.
//!
//! Each source has a table: a row says what the server answers (or what the script does) and
//! what must come out, and one runner per source plays it. [`rows!`] makes every row its own
//! test, named after the row, so `cargo test` names a failing row. For every row the runner
//! asserts the outcome (credentials equal, or a failure of that source whose message passes
//! every [`Check`] and carries no secret), the time limit when the row has one, and, for the
//! HTTP sources, the exact requests that arrived. The few tests that do not fit a table (a
//! proxy, a process tree, relative PATH entries) follow their table.
//!
//! Proxies come from the environment snapshot, so that IMDS never uses one is checked in-process
//! against a snapshot with every proxy variable set.

mod support;

use Check::{EndsWith, Has, Is, Lacks, StartsWith};
use Outcome::{Fails, Gives};
use ack_ram_adapters::env::Environment;
use ack_ram_adapters::http::{HttpSettings, build_client};
use ack_ram_adapters::sources::credentials_uri::CredentialsUriProvider;
use ack_ram_adapters::sources::imds::{ImdsConfig, ImdsProvider};
use ack_ram_domain::ports::{AccessCredentialProvider, ProviderError};
use ack_ram_domain::{AccessCredentials, Secret};
use std::fmt::Debug;
use std::time::{Duration, Instant};
use support::{AK_ID, AK_SECRET, STS_TOKEN};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const EXPIRATION: &str = "2024-03-10T15:56:17Z";
/// The credentials URI's query, a secret that must never be echoed.
const QUERY_SECRET: &str = "query-secret";
/// What no failure message may contain.
const SECRETS: [&str; 4] = [AK_SECRET, STS_TOKEN, QUERY_SECRET, "hunter2"];

/// One test per row: `rows!(runner { row_name: row, ... })` calls `runner(row)` in a test named
/// `row_name`.
macro_rules! rows {
    ($runner:ident { $($name:ident: $row:expr),* $(,)? }) => {
        $(
            #[tokio::test]
            async fn $name() {
                $runner($row).await;
            }
        )*
    };
}

/// One thing a failure message must satisfy; `{server}` stands for the mock server's URI.
#[derive(Clone, Copy, Debug)]
enum Check {
    Has(&'static str),
    Lacks(&'static str),
    StartsWith(&'static str),
    EndsWith(&'static str),
    Is(&'static str),
}

/// What a row expects.
enum Outcome<T> {
    /// Success, with exactly this value.
    Gives(T),
    /// A failure of the source whose message passes every check.
    Fails(&'static [Check]),
}

/// Asserts that `result` is `expected`; `server` replaces `{server}` in the checks.
fn assert_outcome<T: PartialEq + Debug>(
    result: Result<T, ProviderError>,
    expected: &Outcome<T>,
    source: &str,
    server: &str,
) {
    match expected {
        Gives(want) => assert_eq!(result.as_ref(), Ok(want)),
        Fails(checks) => assert_failure(result, source, checks, server),
    }
}

/// Asserts that `result` is a failure of `source` whose message passes `checks` and holds none
/// of the [`SECRETS`].
fn assert_failure<T: Debug>(
    result: Result<T, ProviderError>,
    source: &str,
    checks: &[Check],
    server: &str,
) {
    let message = match result {
        Err(ProviderError::Failed {
            source_name,
            message,
        }) => {
            assert_eq!(source_name, source, "{message}");
            message
        }
        other => panic!("expected a failure of {source}, got {other:?}"),
    };
    for secret in SECRETS {
        assert!(!message.contains(secret), "secret in message: {message}");
    }
    for check in checks {
        let holds = match *check {
            Has(s) => message.contains(&s.replace("{server}", server)),
            Lacks(s) => !message.contains(&s.replace("{server}", server)),
            StartsWith(s) => message.starts_with(&s.replace("{server}", server)),
            EndsWith(s) => message.ends_with(&s.replace("{server}", server)),
            Is(s) => message == s.replace("{server}", server),
        };
        assert!(holds, "{check:?} does not hold for {message:?}");
    }
}

/// A credentials document as IMDS and credentials URIs serve it, with `changes` applied
/// (`None` removes the field).
fn document(changes: &[(&str, Option<&str>)]) -> serde_json::Value {
    let mut doc = serde_json::json!({
        "AccessKeyId": AK_ID,
        "AccessKeySecret": AK_SECRET,
        "SecurityToken": STS_TOKEN,
        "Expiration": EXPIRATION,
        "LastUpdated": "2024-03-10T09:56:17Z",
        "Code": "Success",
    });
    for (field, value) in changes {
        match (doc.as_object_mut(), value) {
            (Some(o), Some(v)) => {
                o.insert((*field).to_owned(), (*v).into());
            }
            (Some(o), None) => {
                o.remove(*field);
            }
            (None, _) => {}
        }
    }
    doc
}

/// A 200 answer with [`document`]`(changes)`.
fn json(changes: &[(&str, Option<&str>)]) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(document(changes))
}

/// An answer with `status` and a text body.
fn text(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_string(body)
}

/// An empty answer with `status`.
fn status(status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status)
}

/// What the full document gives.
fn expected_sts() -> AccessCredentials {
    AccessCredentials {
        expiration: Some(EXPIRATION.parse().unwrap_or_else(|e| panic!("{e}"))),
        ..AccessCredentials::sts(AK_ID, Secret::new(AK_SECRET), Secret::new(STS_TOKEN))
    }
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// ECS instance metadata (IMDS)
// ---------------------------------------------------------------------------------------------

mod imds {
    use super::*;

    const SOURCE: &str = "ECS instance metadata (IMDS)";
    const TOKEN_PATH: &str = "/latest/api/token";
    const ROLES_PATH: &str = "/latest/meta-data/ram/security-credentials/";
    const TOKEN_HEADER: &str = "x-aliyun-ecs-metadata-token";
    const TTL_HEADER: &str = "x-aliyun-ecs-metadata-token-ttl-seconds";

    /// A path as rows write it: `token` is the IMDSv2 token path, `roles/…` the role listing
    /// and a role's credentials.
    fn full_path(short: &str) -> String {
        match short.strip_prefix("roles/") {
            Some(role) => format!("{ROLES_PATH}{role}"),
            None if short == "token" => TOKEN_PATH.to_owned(),
            None => short.to_owned(),
        }
    }

    /// A request as rows write it: `METHOD path`, the path shortened as [`full_path`] reads
    /// it, then ` ttl=…` and ` token=…` when the IMDSv2 headers are present.
    fn render(request: &Request) -> String {
        let path = request.url.path();
        let short = match path.strip_prefix(ROLES_PATH) {
            Some(role) => format!("roles/{role}"),
            None if path == TOKEN_PATH => "token".to_owned(),
            None => path.to_owned(),
        };
        let mut line = format!("{} {short}", request.method);
        if let Some(query) = request.url.query() {
            line.push_str(&format!("?{query}"));
        }
        for (name, header) in [("ttl", TTL_HEADER), ("token", TOKEN_HEADER)] {
            if let Some(value) = request.headers.get(header) {
                line.push_str(&format!(
                    " {name}={}",
                    value.to_str().unwrap_or("<not text>")
                ));
            }
        }
        line
    }

    /// The answers to one method and path, in order; the last one repeats.
    struct Route {
        method: &'static str,
        path: &'static str,
        answers: Vec<ResponseTemplate>,
    }

    fn route<const N: usize>(
        method: &'static str,
        path: &'static str,
        answers: [ResponseTemplate; N],
    ) -> Route {
        Route {
            method,
            path,
            answers: answers.into(),
        }
    }

    async fn mount(server: &MockServer, route: &Route) {
        let last = route.answers.len().saturating_sub(1);
        for (i, answer) in route.answers.iter().enumerate() {
            let mock = Mock::given(method(route.method))
                .and(path(full_path(route.path)))
                .respond_with(answer.clone())
                .with_priority(u8::try_from(i + 1).unwrap_or(u8::MAX));
            let mock = if i < last {
                mock.up_to_n_times(1)
            } else {
                mock
            };
            mock.mount(server).await;
        }
    }

    struct Row {
        /// Environment variables besides `ALIBABA_CLOUD_IMDS_ENDPOINT`.
        env: &'static [(&'static str, &'static str)],
        /// The role name passed explicitly.
        role: Option<&'static str>,
        /// `ALIBABA_CLOUD_IMDS_ENDPOINT` instead of the mock server.
        endpoint: Option<&'static str>,
        /// The time allowed for one request instead of the default.
        timeout: Option<Duration>,
        routes: Vec<Route>,
        /// How many times the same provider is asked; every answer must be the expected one.
        calls: usize,
        expected: Outcome<AccessCredentials>,
        /// Every request the mock server received, in order, as [`render`] writes them.
        requests: &'static [&'static str],
        /// Each call's outcome arrives within this time.
        within: Option<Duration>,
    }

    impl Default for Row {
        fn default() -> Self {
            Self {
                env: &[],
                role: None,
                endpoint: None,
                timeout: None,
                routes: Vec::new(),
                calls: 1,
                expected: Gives(expected_sts()),
                requests: &[],
                within: None,
            }
        }
    }

    /// The provider under test.
    fn provider(config: ImdsConfig) -> ImdsProvider {
        ImdsProvider::new(config, "ack-ram-tool-tests").unwrap_or_else(|e| panic!("{e}"))
    }

    async fn imds(row: Row) {
        let server = MockServer::start().await;
        for route in &row.routes {
            mount(&server, route).await;
        }
        let mut env: Environment = row.env.iter().copied().collect();
        let endpoint = row.endpoint.map_or_else(|| server.uri(), str::to_owned);
        env.set("ALIBABA_CLOUD_IMDS_ENDPOINT", &endpoint);
        let mut config = ImdsConfig::from_env(&env, row.role.map(str::to_owned));
        if let Some(timeout) = row.timeout {
            config.timeout = timeout;
        }
        let p = provider(config);
        for _ in 0..row.calls {
            let started = Instant::now();
            let result = p.provide().await;
            if let Some(limit) = row.within {
                let elapsed = started.elapsed();
                assert!(elapsed < limit, "took {elapsed:?}: {result:?}");
            }
            assert_outcome(result, &row.expected, SOURCE, &server.uri());
        }
        let seen: Vec<String> = requests(&server).await.iter().map(render).collect();
        assert_eq!(seen, row.requests, "the requests received");
    }

    rows!(imds {
        // The token is fetched once and sent on every read; a second call reuses it.
        v2_token_then_role_discovery_then_credentials: Row {
            routes: vec![
                route("PUT", "token", [text(200, "session-token-1\n")]),
                route("GET", "roles/", [text(200, "ack-node-role\n")]),
                route("GET", "roles/ack-node-role", [json(&[])]),
            ],
            calls: 2,
            expected: Gives(expected_sts()),
            requests: &[
                "PUT token ttl=3600",
                "GET roles/ token=session-token-1",
                "GET roles/ack-node-role token=session-token-1",
                "GET roles/ token=session-token-1",
                "GET roles/ack-node-role token=session-token-1",
            ],
            ..Row::default()
        },
        // A refused token (403 or 404) means IMDSv1, remembered: the PUT is not repeated.
        v2_refused_with_403_falls_back_to_v1_and_asks_only_once: Row {
            routes: vec![
                route("PUT", "token", [status(403)]),
                route("GET", "roles/", [text(200, "r\n")]),
                route("GET", "roles/r", [json(&[])]),
            ],
            calls: 2,
            expected: Gives(expected_sts()),
            requests: &[
                "PUT token ttl=3600",
                "GET roles/",
                "GET roles/r",
                "GET roles/",
                "GET roles/r"
            ],
            ..Row::default()
        },
        v2_refused_with_404_falls_back_to_v1_and_asks_only_once: Row {
            routes: vec![
                route("PUT", "token", [status(404)]),
                route("GET", "roles/", [text(200, "r\n")]),
                route("GET", "roles/r", [json(&[])]),
            ],
            calls: 2,
            expected: Gives(expected_sts()),
            requests: &[
                "PUT token ttl=3600",
                "GET roles/",
                "GET roles/r",
                "GET roles/",
                "GET roles/r"
            ],
            ..Row::default()
        },
        other_token_failures_fail: Row {
            routes: vec![
                route("PUT", "token", [status(400)]),
                route("GET", "roles/", [text(200, "r\n")]),
                route("GET", "roles/r", [json(&[])]),
            ],
            expected: Fails(&[Has("HTTP 400"), Has("PUT /latest/api/token")]),
            requests: &["PUT token ttl=3600"],
            ..Row::default()
        },
        v2_disabled_sends_no_put: Row {
            env: &[("ALIBABA_CLOUD_IMDSV2_DISABLED", "true")],
            routes: vec![
                route("PUT", "token", [text(200, "t")]),
                route("GET", "roles/", [text(200, "r\n")]),
                route("GET", "roles/r", [json(&[])]),
            ],
            expected: Gives(expected_sts()),
            requests: &["GET roles/", "GET roles/r"],
            ..Row::default()
        },
        // The explicit role wins over ALIBABA_CLOUD_ECS_METADATA, and nothing is discovered.
        explicit_role_skips_discovery: Row {
            env: &[("ALIBABA_CLOUD_ECS_METADATA", "from-env")],
            role: Some("given"),
            routes: vec![
                route("PUT", "token", [text(200, "tok")]),
                route("GET", "roles/", [text(200, "discovered")]),
                route("GET", "roles/given", [json(&[])]),
            ],
            expected: Gives(expected_sts()),
            requests: &["PUT token ttl=3600", "GET roles/given token=tok"],
            ..Row::default()
        },
        several_roles_listed_uses_the_first: Row {
            routes: vec![
                route("PUT", "token", [status(404)]),
                route("GET", "roles/", [text(200, "\n first \nsecond\n")]),
                route("GET", "roles/first", [json(&[])]),
            ],
            expected: Gives(expected_sts()),
            requests: &["PUT token ttl=3600", "GET roles/", "GET roles/first"],
            ..Row::default()
        },
        no_role_attached_404_is_said_plainly: Row {
            routes: vec![
                route("PUT", "token", [text(200, "tok")]),
                route("GET", "roles/", [status(404)]),
            ],
            expected: Fails(&[Has("no RAM role attached")]),
            requests: &["PUT token ttl=3600", "GET roles/ token=tok"],
            ..Row::default()
        },
        no_role_attached_empty_listing_is_said_plainly: Row {
            routes: vec![
                route("PUT", "token", [text(200, "tok")]),
                route("GET", "roles/", [status(200)]),
            ],
            expected: Fails(&[Has("no RAM role attached")]),
            requests: &["PUT token ttl=3600", "GET roles/ token=tok"],
            ..Row::default()
        },
        an_explicit_role_that_is_not_attached: Row {
            role: Some("wrong-role"),
            routes: vec![
                route("PUT", "token", [status(403)]),
                route("GET", "roles/wrong-role", [status(404)]),
            ],
            expected: Fails(&[Has("\"wrong-role\" is not attached")]),
            requests: &["PUT token ttl=3600", "GET roles/wrong-role"],
            ..Row::default()
        },
        a_code_other_than_success_is_named: Row {
            role: Some("r"),
            routes: vec![
                route("PUT", "token", [text(200, "tok")]),
                route("GET", "roles/r", [json(&[("Code", Some("InternalError"))])]),
            ],
            expected: Fails(&[Has("\"InternalError\"")]),
            requests: &["PUT token ttl=3600", "GET roles/r token=tok"],
            ..Row::default()
        },
        a_missing_access_key_id_is_named: Row {
            role: Some("r"),
            routes: vec![
                route("PUT", "token", [status(404)]),
                route("GET", "roles/r", [json(&[("AccessKeyId", None)])]),
            ],
            expected: Fails(&[Has("no AccessKeyId")]),
            requests: &["PUT token ttl=3600", "GET roles/r"],
            ..Row::default()
        },
        a_missing_access_key_secret_is_named: Row {
            role: Some("r"),
            routes: vec![
                route("PUT", "token", [status(404)]),
                route("GET", "roles/r", [json(&[("AccessKeySecret", None)])]),
            ],
            expected: Fails(&[Has("no AccessKeySecret")]),
            requests: &["PUT token ttl=3600", "GET roles/r"],
            ..Row::default()
        },
        a_5xx_is_retried_once: Row {
            role: Some("r"),
            routes: vec![
                route("PUT", "token", [status(404)]),
                route("GET", "roles/r", [status(503), json(&[])]),
            ],
            expected: Gives(expected_sts()),
            requests: &["PUT token ttl=3600", "GET roles/r", "GET roles/r"],
            ..Row::default()
        },
        a_lasting_5xx_gives_up_after_the_configured_attempts: Row {
            routes: vec![
                route("PUT", "token", [status(404)]),
                route("GET", "roles/", [status(500)]),
            ],
            expected: Fails(&[Has("HTTP 500")]),
            requests: &["PUT token ttl=3600", "GET roles/", "GET roles/"],
            ..Row::default()
        },
        a_4xx_is_never_retried: Row {
            routes: vec![
                route("PUT", "token", [status(404)]),
                route("GET", "roles/", [status(400)]),
            ],
            expected: Fails(&[Has("HTTP 400")]),
            requests: &["PUT token ttl=3600", "GET roles/"],
            ..Row::default()
        },
        // Two attempts of 200 ms and one pause of 100 ms.
        a_stalled_service_times_out_quickly: Row {
            timeout: Some(Duration::from_millis(200)),
            routes: vec![route(
                "PUT",
                "token",
                [status(200).set_delay(Duration::from_secs(10))],
            )],
            expected: Fails(&[Has("timed out"), Has("after 2 attempts")]),
            requests: &["PUT token ttl=3600", "PUT token ttl=3600"],
            within: Some(Duration::from_secs(2)),
            ..Row::default()
        },
        an_unreachable_endpoint_fails_in_under_a_second_and_says_why: Row {
            endpoint: Some("http://127.0.0.1:9"),
            expected: Fails(&[
                StartsWith("could not reach the ECS metadata service at http://127.0.0.1:9: "),
                EndsWith(
                    "; this works only on an ECS instance (or set ALIBABA_CLOUD_IMDS_ENDPOINT)"
                ),
            ]),
            requests: &[],
            within: Some(Duration::from_secs(1)),
            ..Row::default()
        },
    });

    /// Proxies come from the environment snapshot, never from the process: a client built
    /// from a snapshot with proxy variables sends a remote request to the proxy, while the
    /// metadata client, configured from the same snapshot, never has a proxy at all.
    #[tokio::test]
    async fn imds_never_uses_a_proxy() {
        let imds = MockServer::start().await;
        for route in [
            route("PUT", "token", [status(404)]),
            route("GET", "roles/r", [json(&[])]),
        ] {
            mount(&imds, &route).await;
        }
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
        let direct: Vec<String> = requests(&imds).await.iter().map(render).collect();
        assert_eq!(
            direct,
            ["PUT token ttl=3600", "GET roles/r"],
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

    struct Row {
        /// The URI; `{server}` is the mock server.
        uri: &'static str,
        /// The answer to `GET /creds`; `None`: no request may arrive.
        answer: Option<ResponseTemplate>,
        expected: Outcome<AccessCredentials>,
    }

    impl Default for Row {
        fn default() -> Self {
            Self {
                uri: "{server}/creds?token=query-secret",
                answer: None,
                expected: Gives(expected_sts()),
            }
        }
    }

    /// Plays `row`; with an answer, exactly one `GET /creds` arrives, with the URI's query and
    /// no `Authorization` header.
    async fn credentials_uri(row: Row) {
        let server = MockServer::start().await;
        if let Some(answer) = &row.answer {
            Mock::given(method("GET"))
                .and(path("/creds"))
                .respond_with(answer.clone())
                .mount(&server)
                .await;
        }
        let http = build_client(&HttpSettings::new("ack-ram-tool-tests"))
            .unwrap_or_else(|e| panic!("{e}"));
        let uri = row.uri.replace("{server}", &server.uri());
        let result = CredentialsUriProvider::new(http, &uri)
            .unwrap_or_else(|e| panic!("{e}"))
            .provide()
            .await;
        assert_outcome(result, &row.expected, SOURCE, &server.uri());

        let received = requests(&server).await;
        let seen: Vec<(String, String, Option<String>, bool)> = received
            .iter()
            .map(|r| {
                (
                    r.method.to_string(),
                    r.url.path().to_owned(),
                    r.url.query().map(str::to_owned),
                    r.headers.get("authorization").is_some(),
                )
            })
            .collect();
        let want = match row.answer {
            Some(_) => vec![(
                "GET".to_owned(),
                "/creds".to_owned(),
                Some(format!("token={QUERY_SECRET}")),
                false,
            )],
            None => Vec::new(),
        };
        assert_eq!(seen, want, "(method, path, query, authorization sent)");
    }

    rows!(credentials_uri {
        full_document: Row {
            answer: Some(json(&[])),
            expected: Gives(expected_sts()),
            ..Row::default()
        },
        minimal_document: Row {
            answer: Some(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "AccessKeyId": AK_ID, "AccessKeySecret": AK_SECRET,
            }))),
            expected: Gives(AccessCredentials::access_key(AK_ID, Secret::new(AK_SECRET))),
            ..Row::default()
        },
        fractional_expiration_is_accepted: Row {
            answer: Some(json(&[("Expiration", Some("2024-03-10T15:56:17.250Z"))])),
            expected: Gives(AccessCredentials {
                expiration: chrono::DateTime::from_timestamp_millis(1_710_086_177_250),
                ..expected_sts()
            }),
            ..Row::default()
        },
        // The body is `<html>oops {AK_SECRET}</html>`: 11 + 32 + 7 bytes.
        non_200_names_status_type_and_size_never_the_body: Row {
            answer: Some(
                ResponseTemplate::new(503)
                    .set_body_raw(format!("<html>oops {AK_SECRET}</html>"), "text/html"),
            ),
            expected: Fails(&[
                Has("{server}/creds"),
                Has("HTTP 503"),
                Has("text/html, 50 bytes"),
                Lacks("oops"),
            ]),
            ..Row::default()
        },
        non_json_is_described_not_dumped: Row {
            answer: Some(ResponseTemplate::new(200).set_body_raw("AccessKeyId=x", "text/plain")),
            expected: Fails(&[
                Has("not JSON (text/plain, 13 bytes)"),
                Lacks("AccessKeyId=x")
            ]),
            ..Row::default()
        },
        missing_fields_are_named: Row {
            answer: Some(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "AccessKeyId": AK_ID, "SecurityToken": STS_TOKEN,
            }))),
            expected: Fails(&[Has("no AccessKeySecret")]),
            ..Row::default()
        },
        expiration_with_an_offset_is_rejected: Row {
            answer: Some(json(&[("Expiration", Some("2024-03-10T23:56:17+08:00"))])),
            expected: Fails(&[Has("\"2024-03-10T23:56:17+08:00\"")]),
            ..Row::default()
        },
        a_code_other_than_success_is_named: Row {
            answer: Some(json(&[("Code", Some("Forbidden"))])),
            expected: Fails(&[Has("Code is \"Forbidden\"")]),
            ..Row::default()
        },
        an_oversized_answer_is_refused: Row {
            answer: Some(text(200, &"x".repeat(70 * 1024))),
            expected: Fails(&[Has("larger than 64 KiB")]),
            ..Row::default()
        },
        an_unreachable_uri_is_named_without_its_query: Row {
            uri: "http://user:pw@127.0.0.1:9/c?token=query-secret",
            answer: None,
            expected: Fails(&[
                StartsWith("could not reach http://127.0.0.1:9/c: "),
                Lacks("pw")
            ]),
        },
    });
}

// ---------------------------------------------------------------------------------------------
// External credential process
// ---------------------------------------------------------------------------------------------

#[cfg(unix)]
mod process {
    use super::*;
    use ack_ram_adapters::sources::process::{ProcessConfig, run_credential_process};
    use serde_json::{Map, Value, json};
    use std::path::Path;

    const SOURCE: &str = "credential process";

    /// A temporary directory for scripts. Scripts are run as `/bin/sh <script>` (or through a
    /// symlink to `/bin/sh`), never executed directly: executing a file this process just
    /// wrote races with other tests' forks ("Text file busy").
    fn scripts_dir() -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("sources contract ")
            .tempdir()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn quoted(path: &Path) -> String {
        format!("'{}'", path.display())
    }

    /// The source under test.
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

    /// The STS credential object the scripts print as `{sts}`.
    fn sts() -> Value {
        json!({
            "mode": "StsToken",
            "access_key_id": AK_ID,
            "access_key_secret": AK_SECRET,
            "sts_token": STS_TOKEN,
        })
    }

    struct Row {
        /// The body of `script.sh` (none when empty); `{sts}` is [`sts`] as one line of JSON.
        script: &'static str,
        /// A symlink to `/bin/sh` at this path in the scripts directory: a program to find on
        /// PATH.
        sh_link: Option<&'static str>,
        /// The command line; `{script}` is the script's quoted path.
        command: &'static str,
        /// The environment besides `PATH=/usr/bin:/bin`; `{dir}` is the scripts directory.
        env: &'static [(&'static str, &'static str)],
        timeout: Duration,
        /// The JSON object the source returns, or its failure.
        expected: Outcome<Value>,
        /// The outcome arrives within this time.
        within: Option<Duration>,
    }

    impl Default for Row {
        fn default() -> Self {
            Self {
                script: "",
                sh_link: None,
                command: "/bin/sh {script}",
                env: &[],
                timeout: Duration::from_secs(10),
                expected: Fails(&[]),
                within: None,
            }
        }
    }

    async fn process(row: Row) {
        let dir = scripts_dir();
        let script = dir.path().join("script.sh");
        if !row.script.is_empty() {
            std::fs::write(&script, row.script.replace("{sts}", &sts().to_string()))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        if let Some(link) = row.sh_link {
            let link = dir.path().join(link);
            if let Some(parent) = link.parent() {
                std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
            }
            std::os::unix::fs::symlink("/bin/sh", link).unwrap_or_else(|e| panic!("{e}"));
        }
        let mut env: Environment = [("PATH", "/usr/bin:/bin")].into_iter().collect();
        for (name, value) in row.env {
            env.set(
                name,
                &value.replace("{dir}", &dir.path().display().to_string()),
            );
        }
        let command = row.command.replace("{script}", &quoted(&script));
        let started = Instant::now();
        let result = run(&command, &env, row.timeout).await.map(Value::Object);
        if let Some(limit) = row.within {
            let elapsed = started.elapsed();
            assert!(elapsed < limit, "took {elapsed:?}: {result:?}");
        }
        assert_outcome(result, &row.expected, SOURCE, "");
    }

    rows!(process {
        pure_json: Row {
            script: "printf '%s\\n' '{sts}'\n",
            expected: Gives(sts()),
            ..Row::default()
        },
        json_embedded_in_other_output: Row {
            script: "echo 'Signing in... {ok}'\nprintf '%s' '{sts}'\necho ' done'\n",
            expected: Gives(sts()),
            ..Row::default()
        },
        quoted_arguments_arrive_intact_and_the_program_is_found_on_path: Row {
            script: "printf '{\"mode\":\"AK\",\"argc\":\"%s\",\"a\":\"%s\",\"b\":\"%s\",\"c\":\"%s\"}' \"$#\" \"$1\" \"$2\" \"$3\"\n",
            sh_link: Some("bin dir/creds-helper"),
            command: r#"creds-helper {script} "two words" 'single $quoted' plain\ escaped"#,
            env: &[("PATH", "{dir}/bin dir:/usr/bin:/bin")],
            expected: Gives(json!({
                "mode": "AK",
                "argc": "3",
                "a": "two words",
                "b": "single $quoted",
                "c": "plain escaped",
            })),
            ..Row::default()
        },
        // Cargo sets CARGO_MANIFEST_DIR for this test process; the child must not see it.
        the_environment_is_the_snapshot_only: Row {
            script: "printf '{\"mode\":\"AK\",\"marker\":\"%s\",\"inherited\":\"%s\"}' \"$CREDS_MARKER\" \"${CARGO_MANIFEST_DIR:-}\"\n",
            env: &[("CREDS_MARKER", "from the snapshot")],
            expected: Gives(json!({"mode": "AK", "marker": "from the snapshot", "inherited": ""})),
            ..Row::default()
        },
        stdin_is_empty: Row {
            script: "if read -r line; then got=yes; else got=no; fi\nprintf '{\"mode\":\"AK\",\"stdin\":\"%s\"}' \"$got\"\n",
            expected: Gives(json!({"mode": "AK", "stdin": "no"})),
            ..Row::default()
        },
        failure_shows_status_and_stderr_tail_never_stdout: Row {
            script: "printf '%s' '{sts}'\nfor i in 01 02 03 04 05 06 07 08 09 10 11 12 13 14 15; do echo \"problem $i\" >&2; done\nexit 3\n",
            command: "/bin/sh {script} --secret-arg=hunter2",
            expected: Fails(&[
                StartsWith("`sh` failed (exit status: 3)"),
                Has("problem 15"),
                Has("problem 06"),
                Lacks("problem 05"),
                Lacks(AK_ID),
                Lacks("StsToken"),
            ]),
            ..Row::default()
        },
        a_slow_process_is_killed_at_the_timeout: Row {
            script: "sleep 5\necho '{\"mode\":\"AK\"}'\n",
            timeout: Duration::from_millis(300),
            expected: Fails(&[Has("`sh` did not finish within 300ms and was killed")]),
            within: Some(Duration::from_secs(3)),
            ..Row::default()
        },
        // The line and its newline: 37 bytes.
        garbage_stdout_is_refused_by_size: Row {
            script: "echo 'access_key_secret=hunter2 {not json}'\n",
            expected: Fails(&[Has(
                "printed 37 bytes on stdout that are not a JSON credential object",
            )]),
            ..Row::default()
        },
        empty_stdout_is_refused: Row {
            script: "exit 0\n",
            expected: Fails(&[Has("printed nothing on stdout")]),
            ..Row::default()
        },
        huge_stdout_is_refused: Row {
            script: "head -c 3000000 /dev/zero | tr '\\0' 'a'\n",
            expected: Fails(&[Has("more than 1024 KiB on stdout")]),
            ..Row::default()
        },
        unbalanced_quotes_are_clear: Row {
            command: "get-creds 'unbalanced",
            timeout: Duration::from_secs(1),
            expected: Fails(&[Has("cannot be split"), Has("quotes"), Lacks("unbalanced")]),
            ..Row::default()
        },
        a_blank_command_is_clear: Row {
            command: "   ",
            timeout: Duration::from_secs(1),
            expected: Fails(&[Has("empty")]),
            ..Row::default()
        },
        a_program_not_on_path_is_clear: Row {
            command: "no-such-credential-helper --token=hunter2",
            timeout: Duration::from_secs(1),
            expected: Fails(&[Is(
                "`no-such-credential-helper` was not found in the absolute directories of PATH (relative entries such as `.` are never searched)",
            )]),
            ..Row::default()
        },
        a_missing_program_path_is_clear: Row {
            command: "/nonexistent/dir/helper",
            timeout: Duration::from_secs(1),
            expected: Fails(&[Has("`helper` is not an executable file")]),
            ..Row::default()
        },
    });

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
        let dir = scripts_dir();
        let pid_file = dir.path().join("grandchild.pid");
        let script = dir.path().join("tree.sh");
        std::fs::write(
            &script,
            format!("sleep 30 &\necho $! > '{}'\nwait\n", pid_file.display()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let env: Environment = [("PATH", "/usr/bin:/bin")].into_iter().collect();
        let result = run(
            &format!("/bin/sh {}", quoted(&script)),
            &env,
            Duration::from_millis(500),
        )
        .await;
        assert_failure(result, SOURCE, &[Has("was killed")], "");
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
        let dir = scripts_dir();
        std::os::unix::fs::symlink("/bin/sh", dir.path().join("planted-helper"))
            .unwrap_or_else(|e| panic!("{e}"));
        // The scripts directory, written relative to the current directory.
        let cwd = std::env::current_dir().unwrap_or_else(|e| panic!("{e}"));
        let up = "../".repeat(cwd.components().count().saturating_sub(1));
        let relative = format!(
            "{up}{}",
            dir.path().display().to_string().trim_start_matches('/')
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
            println!("PATH={path}");
            let result = run(
                "planted-helper -c 'echo {}'",
                &[("PATH", path.as_str())].into_iter().collect(),
                Duration::from_secs(5),
            )
            .await;
            assert_failure(
                result,
                SOURCE,
                &[Has("was not found in the absolute directories of PATH")],
                "",
            );
        }
        // The same directory, absolute, is searched: the planted program runs (and fails).
        let absolute = dir.path().display().to_string();
        let result = run(
            "planted-helper -c 'exit 3'",
            &[("PATH", absolute.as_str())].into_iter().collect(),
            Duration::from_secs(5),
        )
        .await;
        assert_failure(result, SOURCE, &[Has("failed (exit status: 3)")], "");
    }
}
