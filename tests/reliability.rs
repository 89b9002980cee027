//! Under load and faults: one refresh for many callers, crash-safe writes, stale-but-valid
//! fallback, retries of transient failures only, and hostile inputs that never lose a good
//! cached certificate. Every guarantee in docs/reliability.md points at a test here.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn plugin(sandbox: &Sandbox, endpoint: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ack-ram-tool"));
    cmd.env_clear()
        .env("HOME", sandbox.home.path())
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", AK_SECRET)
        .args([
            "credential-plugin",
            "get-credential",
            "--cluster-id",
            CLUSTER,
        ])
        .args(["--cs-endpoint", endpoint])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_processes_on_a_cold_cache_make_one_api_call() {
    for round in 0..3 {
        let server = MockServer::start().await;
        mount(
            &server,
            success(&in_hours(3)).set_delay(Duration::from_millis(400)),
            1,
        )
        .await;
        let sandbox = Sandbox::new();
        let uri = server.uri();
        let outputs = tokio::task::spawn_blocking(move || {
            let children: Vec<_> = (0..32)
                .map(|_| {
                    plugin(&sandbox, &uri)
                        .spawn()
                        .unwrap_or_else(|e| panic!("spawn: {e}"))
                })
                .collect();
            let outputs: Vec<_> = children
                .into_iter()
                .map(|c| c.wait_with_output().unwrap_or_else(|e| panic!("wait: {e}")))
                .collect();
            (outputs, sandbox)
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let (outputs, _sandbox) = outputs;
        for out in &outputs {
            assert!(out.status.success(), "round {round}: {}", stderr(out));
        }
        let first = &outputs[0].stdout;
        assert!(
            outputs.iter().all(|o| &o.stdout == first),
            "round {round}: identical output"
        );
        let cred: serde_json::Value =
            serde_json::from_slice(first).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cred["status"]["clientKeyData"], CLIENT_KEY);
        assert_eq!(
            server.received_requests().await.map(|r| r.len()),
            Some(1),
            "round {round}: exactly one API request"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_writer_at_any_moment_never_leaves_a_broken_cache_file() {
    let delay = Duration::from_millis(60);
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("/user_config$"))
        .respond_with(success(&in_hours(3)).set_delay(delay))
        .mount(&server)
        .await;
    let sandbox = Sandbox::new();
    let file = sandbox.cache_file("v1beta1");
    let uri = server.uri();
    let sandbox = tokio::task::spawn_blocking(move || {
        let mut killed_before_done = 0;
        for i in 0..40u64 {
            // Remove the entry so every run writes; kill at a spread of moments around the
            // answer (start-up ~5-20 ms, then the 60 ms delay, then the write).
            let _ = std::fs::remove_file(&file);
            let mut child = plugin(&sandbox, &uri)
                .spawn()
                .unwrap_or_else(|e| panic!("{e}"));
            std::thread::sleep(Duration::from_millis(40 + (i * 7919) % 60));
            let _ = child.kill(); // SIGKILL
            let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
            if !out.status.success() {
                killed_before_done += 1;
            }
            if let Ok(text) = std::fs::read_to_string(&file) {
                let parsed: serde_json::Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("run {i}: torn cache file ({e}): {text:?}"));
                assert_eq!(parsed["status"]["clientKeyData"], CLIENT_KEY, "run {i}");
            }
        }
        assert!(killed_before_done > 0, "some runs were interrupted");
        sandbox
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    // The next run recovers and leaves a valid entry.
    let out = run(sandbox.get_credential(&server.uri())).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(sandbox.cache_file("v1beta1")).unwrap_or_default();
    assert_eq!(format!("{text}\n"), stdout(&out));
}

#[tokio::test]
async fn a_failed_refresh_inside_the_window_serves_the_cache_and_an_expired_one_fails() {
    let cases: Vec<(&str, ResponseTemplate, u64)> = vec![
        (
            "503",
            api_error(503, "ServiceUnavailable", "down", "REQ-503"),
            3,
        ),
        ("500", api_error(500, "InternalError", "boom", "REQ-500"), 3),
        (
            "timeout",
            success(&in_hours(3)).set_delay(Duration::from_secs(3)),
            3,
        ),
    ];
    for (name, response, attempts) in cases {
        for still_valid in [true, false] {
            let server = MockServer::start().await;
            mount(&server, response.clone(), attempts).await;
            let sandbox = Sandbox::new();
            let expiration = if still_valid {
                in_minutes(20)
            } else {
                in_minutes(-5)
            };
            write_cache(
                &sandbox.cache_file("v1beta1"),
                "v1beta1",
                &expiration,
                CLIENT_CERT,
                CLIENT_KEY,
            );
            let before = std::fs::read(sandbox.cache_file("v1beta1")).unwrap_or_default();
            let mut cmd = sandbox.get_credential(&server.uri());
            cmd.env("ACK_RAM_TOOL_HTTP_TIMEOUT_MS", "300")
                .args(["--log-level", "error"]);
            let out = run(cmd).await;
            let err = stderr(&out);
            if still_valid {
                assert!(out.status.success(), "{name}: {err}");
                assert_eq!(
                    exec_credential(&out)["status"]["expirationTimestamp"],
                    expiration.as_str()
                );
                assert!(
                    err.contains("WARN") && err.contains("still valid for 19 min"),
                    "{name}: {err}"
                );
            } else {
                assert_eq!(out.status.code(), Some(1), "{name}");
                assert_eq!(stdout(&out), "");
                assert!(
                    err.starts_with("error: could not get a client certificate"),
                    "{name}: {err}"
                );
            }
            let after = std::fs::read(sandbox.cache_file("v1beta1")).unwrap_or_default();
            assert_eq!(before, after, "{name}: the cached credential is untouched");
        }
    }
}

#[tokio::test]
async fn throttling_is_retried_and_auth_errors_are_not() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(api_error(503, "Throttling.User", "slow down", "REQ-T"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server, success(&in_hours(3)), 1).await;
    let sandbox = Sandbox::new();
    let out = run(sandbox.get_credential(&server.uri())).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "a recovered blip is invisible");
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(3));

    let server = MockServer::start().await;
    mount(
        &server,
        api_error(403, "Forbidden.RAM", "denied", "REQ-F"),
        1,
    )
    .await;
    let out = run(Sandbox::new().get_credential(&server.uri())).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(1));
}

/// One row of the fault matrix: what the API answers and what the user must see.
struct Fault {
    name: &'static str,
    response: ResponseTemplate,
    error: &'static str,
}

fn answer(config: String, expiration: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(serde_json::json!({"config": config, "expiration": expiration}))
}

fn user_with(cert_data: &str, key_data: &str) -> String {
    format!(
        "kind: Config\nusers:\n- name: u\n  user:\n    client-certificate-data: {cert_data}\n    client-key-data: {key_data}\n"
    )
}

#[tokio::test]
async fn hostile_answers_are_one_clear_paragraph_and_never_cost_the_cached_certificate() {
    let later = in_hours(3);
    let faults = vec![
        Fault {
            name: "malformed JSON",
            response: ResponseTemplate::new(200).set_body_raw("{\"config\": [", "application/json"),
            error: "not the expected JSON",
        },
        Fault {
            name: "truncated body",
            response: ResponseTemplate::new(200)
                .set_body_raw("{\"config\": \"apiVersion: v1\\nusers:", "application/json"),
            error: "not the expected JSON",
        },
        Fault {
            name: "huge body",
            response: ResponseTemplate::new(200)
                .set_body_raw(vec![b' '; 3 * 1024 * 1024], "application/json"),
            error: "larger than 1048576 bytes",
        },
        Fault {
            name: "YAML that is not a kubeconfig",
            response: answer("- a\n- list\n".into(), &later),
            error: "not valid YAML",
        },
        Fault {
            name: "kubeconfig without user certificate data",
            response: answer(
                "kind: Config\nusers:\n- name: u\n  user:\n    token: abc\n".into(),
                &later,
            ),
            error: "no client-certificate-data",
        },
        Fault {
            name: "base64 that is not base64",
            response: answer(user_with("not_base64%%%", &b64(CLIENT_KEY)), &later),
            error: "not valid base64",
        },
        Fault {
            name: "PEM that is not PEM",
            response: answer(user_with(&b64("hello world"), &b64(CLIENT_KEY)), &later),
            error: "does not decode to PEM",
        },
        Fault {
            name: "a certificate that is not X.509",
            response: answer(
                user_with(
                    &b64("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
                    &b64(CLIENT_KEY),
                ),
                &later,
            ),
            error: "does not parse as X.509",
        },
        Fault {
            name: "expiration in the past",
            response: answer(
                user_with(&b64(CLIENT_CERT), &b64(CLIENT_KEY)),
                "2001-01-01T00:00:00Z",
            ),
            error: "is not in the future",
        },
        Fault {
            name: "unparseable expiration",
            response: answer(
                user_with(&b64(CLIENT_CERT), &b64(CLIENT_KEY)),
                "next tuesday",
            ),
            error: "not an RFC 3339 time",
        },
        Fault {
            name: "non-JSON error page",
            response: ResponseTemplate::new(502)
                .set_body_raw("<html>bad gateway</html>", "text/html"),
            error: "not JSON (text/html",
        },
    ];
    for fault in faults {
        // Without a cache: exit 1, one paragraph, nothing cached.
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(fault.response.clone())
            .mount(&server)
            .await;
        let sandbox = Sandbox::new();
        let mut cmd = sandbox.get_credential(&server.uri());
        cmd.env("ACK_RAM_TOOL_RETRY_MAX_ATTEMPTS", "1");
        let out = run(cmd).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", fault.name);
        assert_eq!(stdout(&out), "", "{}", fault.name);
        assert!(
            err.contains(fault.error),
            "{}: want {:?} in {err}",
            fault.name,
            fault.error
        );
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{}: one paragraph: {err}",
            fault.name
        );
        assert!(
            !err.contains(&key_body()),
            "{}: no key material",
            fault.name
        );
        assert!(
            !sandbox.cache_file("v1beta1").exists(),
            "{}: nothing cached",
            fault.name
        );

        // With a still-valid cached certificate: it is served, and the file is untouched.
        let sandbox = Sandbox::new();
        let still_valid = in_minutes(20);
        write_cache(
            &sandbox.cache_file("v1beta1"),
            "v1beta1",
            &still_valid,
            CLIENT_CERT,
            CLIENT_KEY,
        );
        let before = std::fs::read(sandbox.cache_file("v1beta1")).unwrap_or_default();
        let mut cmd = sandbox.get_credential(&server.uri());
        cmd.env("ACK_RAM_TOOL_RETRY_MAX_ATTEMPTS", "1");
        let out = run(cmd).await;
        assert!(out.status.success(), "{}: {}", fault.name, stderr(&out));
        assert_eq!(
            exec_credential(&out)["status"]["expirationTimestamp"],
            still_valid.as_str(),
            "{}",
            fault.name
        );
        assert!(
            stderr(&out).contains(fault.error),
            "{}: the warning says why",
            fault.name
        );
        assert_eq!(
            std::fs::read(sandbox.cache_file("v1beta1")).unwrap_or_default(),
            before,
            "{}",
            fault.name
        );
    }
}

#[tokio::test]
async fn a_certificate_expiring_before_the_reported_expiration_is_trusted_for_its_own_life() {
    // The fixture certificate's notAfter is in 2126; the API claims 2200.
    let server = MockServer::start().await;
    mount(
        &server,
        answer(
            user_with(&b64(CLIENT_CERT), &b64(CLIENT_KEY)),
            "2200-01-01T00:00:00Z",
        ),
        1,
    )
    .await;
    let sandbox = Sandbox::new();
    let out = run(sandbox.get_credential(&server.uri())).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let expiration = exec_credential(&out)["status"]["expirationTimestamp"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(expiration.starts_with("2126-"), "{expiration}");
}

#[tokio::test]
async fn unsafe_or_unwritable_cache_locations_still_serve_the_credential_and_say_why() {
    use std::os::unix::fs::PermissionsExt;
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    type Setup = Box<dyn Fn(&Sandbox)>;
    let mut cases: Vec<(&str, Setup, &str)> = vec![
        (
            "group/world-writable cache directory",
            Box::new(|s: &Sandbox| {
                std::fs::create_dir_all(s.cache_dir()).unwrap_or_else(|e| panic!("{e}"));
                std::fs::set_permissions(s.cache_dir(), std::fs::Permissions::from_mode(0o777))
                    .unwrap_or_else(|e| panic!("{e}"));
            }),
            "writable by group or others (mode 777)",
        ),
        (
            "group-writable directory behind a symlink",
            Box::new(|s: &Sandbox| {
                let real = s.home.path().join("dotfiles-cache");
                std::fs::create_dir_all(&real).unwrap_or_else(|e| panic!("{e}"));
                std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o770))
                    .unwrap_or_else(|e| panic!("{e}"));
                std::fs::create_dir_all(s.cache_dir().parent().unwrap_or(s.home.path()))
                    .unwrap_or_else(|e| panic!("{e}"));
                std::os::unix::fs::symlink(&real, s.cache_dir()).unwrap_or_else(|e| panic!("{e}"));
            }),
            "dotfiles-cache",
        ),
        (
            "cache path that cannot be created",
            Box::new(|s: &Sandbox| {
                std::fs::create_dir_all(s.home.path().join(".kube/cache"))
                    .unwrap_or_else(|e| panic!("{e}"));
                std::fs::write(
                    s.home.path().join(".kube/cache/ack-ram-tool"),
                    "a file, not a directory",
                )
                .unwrap_or_else(|e| panic!("{e}"));
            }),
            "could not create the cache directory",
        ),
    ];
    if is_root {
        cases.push((
            "cache directory owned by another user",
            Box::new(|s: &Sandbox| {
                std::fs::create_dir_all(s.cache_dir()).unwrap_or_else(|e| panic!("{e}"));
                std::os::unix::fs::chown(s.cache_dir(), Some(4321), Some(4321))
                    .unwrap_or_else(|e| panic!("{e}"));
            }),
            "belongs to another user (uid 4321",
        ));
    }
    for (name, setup, warning) in cases {
        let server = MockServer::start().await;
        mount(&server, success(&in_hours(3)), 1).await;
        let sandbox = Sandbox::new();
        setup(&sandbox);
        let out = run(sandbox.get_credential(&server.uri())).await;
        let err = stderr(&out);
        assert!(out.status.success(), "{name}: {err}");
        assert_eq!(
            exec_credential(&out)["status"]["clientKeyData"],
            CLIENT_KEY,
            "{name}"
        );
        assert!(
            err.contains("WARN") && err.contains(warning),
            "{name}: want {warning:?} in {err}"
        );
        assert!(
            !sandbox.cache_file("v1beta1").is_file(),
            "{name}: no key written there"
        );
    }

    if is_root {
        // A cache file planted by another user is not served; it is replaced by our own.
        let server = MockServer::start().await;
        mount(&server, success(&in_hours(3)), 1).await;
        let sandbox = Sandbox::new();
        write_cache(
            &sandbox.cache_file("v1beta1"),
            "v1beta1",
            &in_hours(5),
            "PLANTED",
            "PLANTED",
        );
        std::os::unix::fs::chown(sandbox.cache_file("v1beta1"), Some(4321), None)
            .unwrap_or_else(|e| panic!("{e}"));
        let out = run(sandbox.get_credential(&server.uri())).await;
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(!stdout(&out).contains("PLANTED"));
        assert!(
            stderr(&out).contains("belongs to another user"),
            "{}",
            stderr(&out)
        );
    }
}
