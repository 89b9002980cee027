//! `ack-ram-tool credential-plugin get-credential` end to end: the real binary against a local
//! ACK API (wiremock), in a sandboxed HOME with a clean environment.

mod support;

use support::*;
use wiremock::matchers::{method, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn first_run_fetches_and_caches_second_run_is_a_hit() {
    let server = MockServer::start().await;
    let expiration = in_hours(3);
    mount(&server, success(&expiration), 1).await;
    let sandbox = Sandbox::new();

    let first = run(sandbox.get_credential(&server.uri())).await;
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(stderr(&first), "", "silent when things work");
    let cred = exec_credential(&first);
    assert_eq!(cred["kind"], "ExecCredential");
    assert_eq!(cred["apiVersion"], "client.authentication.k8s.io/v1beta1");
    assert_eq!(cred["spec"]["interactive"], false);
    assert_eq!(cred["status"]["expirationTimestamp"], expiration.as_str());
    assert_eq!(cred["status"]["clientCertificateData"], CLIENT_CERT);
    assert_eq!(cred["status"]["clientKeyData"], CLIENT_KEY);
    assert!(stdout(&first).ends_with("}\n"));

    let file = sandbox.cache_file("v1beta1");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&sandbox.cache_dir()), 0o700);
    let cached = std::fs::read_to_string(&file).unwrap_or_default();
    assert_eq!(
        format!("{cached}\n"),
        stdout(&first),
        "the cache holds what was printed"
    );

    let second = run(sandbox.get_credential(&server.uri())).await;
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(stdout(&second), stdout(&first));
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(1));
}

#[tokio::test]
async fn force_refresh_fetches_anew_and_caches_by_flag_or_environment() {
    let server = MockServer::start().await;
    mount(&server, success(&in_hours(3)), 3).await;
    let sandbox = Sandbox::new();
    let first = run(sandbox.get_credential(&server.uri())).await;
    assert!(first.status.success(), "{}", stderr(&first));

    let mut forced = sandbox.get_credential(&server.uri());
    forced.arg("--force-refresh");
    let out = run(forced).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let mut forced = sandbox.get_credential(&server.uri());
    forced.env("ACK_RAM_TOOL_FORCE_REFRESH", "true");
    assert!(run(forced).await.status.success());
    let mut not_forced = sandbox.get_credential(&server.uri());
    not_forced
        .env("ACK_RAM_TOOL_FORCE_REFRESH", "true")
        .arg("--force-refresh=false");
    assert!(run(not_forced).await.status.success(), "the flag wins");
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(3));
    assert_eq!(mode(&sandbox.cache_file("v1beta1")), 0o600);
}

#[tokio::test]
async fn v1_and_v1beta1_are_printed_and_cached_separately() {
    let server = MockServer::start().await;
    mount(&server, success(&in_hours(3)), 2).await;
    let sandbox = Sandbox::new();
    for version in ["v1", "v1beta1"] {
        let mut cmd = sandbox.get_credential(&server.uri());
        cmd.args(["--api-version", version]);
        let out = run(cmd).await;
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            exec_credential(&out)["apiVersion"],
            format!("client.authentication.k8s.io/{version}")
        );
        assert!(sandbox.cache_file(version).is_file());
    }
}

#[tokio::test]
async fn expiration_zero_sends_no_temporary_duration() {
    let server = MockServer::start().await;
    mount(&server, success(&in_hours(24 * 365)), 1).await;
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.get_credential(&server.uri());
    cmd.args(["--expiration", "0"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let requests = server.received_requests().await.unwrap_or_default();
    assert_eq!(requests[0].url.query(), Some("PrivateIpAddress=true"));
}

#[tokio::test]
async fn lifetime_is_sent_in_minutes() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(query_param("TemporaryDurationMinutes", "90"))
        .and(query_param("PrivateIpAddress", "true"))
        .respond_with(success(&in_hours(2)))
        .expect(1)
        .mount(&server)
        .await;
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.get_credential(&server.uri());
    cmd.args(["--expiration", "1h30m"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test]
async fn a_certificate_inside_the_refresh_window_is_refetched() {
    let server = MockServer::start().await;
    let fresh = in_hours(3);
    mount(&server, success(&fresh), 1).await;
    let sandbox = Sandbox::new();
    // 3h lifetime: the window is 36 minutes; 20 minutes left means refresh.
    write_cache(
        &sandbox.cache_file("v1beta1"),
        "v1beta1",
        &in_minutes(20),
        "OLD CERT",
        "OLD KEY",
    );
    let out = run(sandbox.get_credential(&server.uri())).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        exec_credential(&out)["status"]["expirationTimestamp"],
        fresh.as_str()
    );
    let cached = std::fs::read_to_string(sandbox.cache_file("v1beta1")).unwrap_or_default();
    assert!(cached.contains(&fresh) && !cached.contains("OLD"));
}

#[tokio::test]
async fn a_failed_refresh_serves_the_still_valid_certificate_with_a_warning() {
    let server = MockServer::start().await;
    mount(
        &server,
        api_error(503, "ServiceUnavailable", "try later", "REQ-503"),
        3, // transient: the default policy makes 3 attempts before falling back
    )
    .await;
    let sandbox = Sandbox::new();
    let still_valid = in_minutes(20);
    write_cache(
        &sandbox.cache_file("v1beta1"),
        "v1beta1",
        &still_valid,
        CLIENT_CERT,
        CLIENT_KEY,
    );
    let out = run(sandbox.get_credential(&server.uri())).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        exec_credential(&out)["status"]["expirationTimestamp"],
        still_valid.as_str()
    );
    let err = stderr(&out);
    assert!(
        err.contains("WARN") && err.contains("REQ-503") && err.contains("still valid for"),
        "{err}"
    );
}

#[tokio::test]
async fn an_expired_certificate_and_a_failing_api_is_an_error() {
    let server = MockServer::start().await;
    mount(
        &server,
        api_error(500, "InternalError", "boom", "REQ-500"),
        3, // transient: retried before giving up
    )
    .await;
    let sandbox = Sandbox::new();
    write_cache(
        &sandbox.cache_file("v1beta1"),
        "v1beta1",
        &in_minutes(-1),
        CLIENT_CERT,
        CLIENT_KEY,
    );
    let out = run(sandbox.get_credential(&server.uri())).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("REQ-500"));
}

#[tokio::test]
async fn corrupt_cache_files_are_replaced() {
    for corrupt in [
        "",
        "{\"kind\": \"ExecCred",
        "{}",
        "null",
        "{\"status\":{}}",
        "\u{0}\u{1}binary",
    ] {
        let server = MockServer::start().await;
        mount(&server, success(&in_hours(3)), 1).await;
        let sandbox = Sandbox::new();
        let file = sandbox.cache_file("v1beta1");
        write_cache(&file, "v1beta1", "x", "x", "x");
        std::fs::write(&file, corrupt).unwrap_or_else(|e| panic!("{e}"));
        let out = run(sandbox.get_credential(&server.uri())).await;
        assert!(out.status.success(), "{corrupt:?}: {}", stderr(&out));
        let cached = std::fs::read_to_string(&file).unwrap_or_default();
        assert_eq!(format!("{cached}\n"), stdout(&out), "{corrupt:?} replaced");
    }
}

#[tokio::test]
async fn a_cache_file_written_by_the_go_tool_is_a_hit() {
    let server = MockServer::start().await;
    mount(&server, success(&in_hours(3)), 0).await;
    let sandbox = Sandbox::new();
    let fixture = include_str!(
        "fixtures/go-cache/c0123456789abcdef0123456789abcdef-exec-auth-credential-v1beta1.json"
    );
    let file = sandbox.cache_file("v1beta1");
    write_cache(&file, "v1beta1", "x", "x", "x");
    std::fs::write(&file, fixture).unwrap_or_else(|e| panic!("{e}"));
    let out = run(sandbox.get_credential(&server.uri())).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{fixture}\n"),
        "byte-identical to the Go tool's output"
    );
}

#[tokio::test]
async fn invalid_input_fails_before_any_network_call() {
    let server = MockServer::start().await;
    mount(&server, success(&in_hours(3)), 0).await;
    let sandbox = Sandbox::new();
    let cases: &[(&[&str], &str)] = &[
        (&["--cluster-id", "../x"], "for '--cluster-id"),
        (&["--cluster-id", "a/b"], "contains '/'"),
        (&["--cluster-id", "%2e%2e"], "contains '%'"),
        (&["--cluster-id", "a b"], "contains ' '"),
        (&["--cluster-id", "a\u{1}b"], "contains '\\u{1}'"),
        (&["--cluster-id", ""], "the cluster id is empty"),
        (&["--expiration", "3d"], "for '--expiration"),
        (&["--expiration", "10m"], "15 to 4320 minutes"),
        (&["--expiration", "73h"], "15 to 4320 minutes"),
        (&["--expiration", "90s"], "whole number of minutes"),
        (&["--api-version", "v2"], "use v1"),
        (
            &["--credential-type", "magic"],
            "possible values: auto, imds, ecs-role, keyring",
        ),
        (&["--cs-endpoint", "ftp://x"], "invalid ACK endpoint"),
    ];
    for (args, want) in cases {
        let mut cmd = sandbox.bare();
        cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", AK_SECRET)
            .args(["credential-plugin", "get-credential"])
            .args(*args);
        if !args.contains(&"--cluster-id") {
            cmd.args(["--cluster-id", CLUSTER]);
        }
        if !args.contains(&"--cs-endpoint") {
            cmd.args(["--cs-endpoint", &server.uri()]);
        }
        let out = run(cmd).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stdout(&out), "", "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(want), "{args:?}: want {want:?} in {err:?}");
        assert_eq!(err.trim_end().lines().count(), 1, "one paragraph: {err}");
    }
    assert!(!sandbox.cache_dir().exists(), "nothing written");
}

#[tokio::test]
async fn api_errors_are_one_paragraph_with_code_and_request_id() {
    for (status, code, hint) in [
        (403, "Forbidden.RAM", "cs:DescribeClusterUserKubeconfig"),
        (404, "ErrorClusterNotFound", "Check the cluster id"),
        (500, "InternalError", "retry later"),
    ] {
        let server = MockServer::start().await;
        let attempts = if status >= 500 { 3 } else { 1 }; // only transient errors are retried
        mount(
            &server,
            api_error(status, code, "the message", "REQ-42"),
            attempts,
        )
        .await;
        let sandbox = Sandbox::new();
        let out = run(sandbox.get_credential(&server.uri())).await;
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(stdout(&out), "");
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        for want in [
            &format!("HTTP {status}"),
            code,
            "the message",
            "RequestId REQ-42",
            hint,
            CLUSTER,
        ] {
            assert!(err.contains(want), "want {want:?} in {err}");
        }
        assert!(!sandbox.cache_file("v1beta1").exists());
    }
}

#[tokio::test]
async fn missing_credentials_say_what_to_set() {
    let server = MockServer::start().await;
    mount(&server, success(&in_hours(3)), 0).await;
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.bare();
    cmd.args([
        "credential-plugin",
        "get-credential",
        "-c",
        CLUSTER,
        "--cs-endpoint",
        &server.uri(),
    ]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("ALIBABA_CLOUD_ACCESS_KEY_ID"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_fresh_cache_needs_no_credentials_at_all() {
    let sandbox = Sandbox::new();
    let expiration = in_hours(2);
    write_cache(
        &sandbox.cache_file("v1beta1"),
        "v1beta1",
        &expiration,
        CLIENT_CERT,
        CLIENT_KEY,
    );
    let mut cmd = sandbox.bare();
    cmd.args([
        "credential-plugin",
        "get-credential",
        "-c",
        CLUSTER,
        "--cs-endpoint",
        "http://127.0.0.1:9",
    ]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        exec_credential(&out)["status"]["expirationTimestamp"],
        expiration.as_str()
    );
}

#[tokio::test]
async fn endpoint_and_cache_dir_come_from_env_and_config_file_with_flags_winning() {
    let server = MockServer::start().await;
    mount(&server, success(&in_hours(3)), 2).await;
    let sandbox = Sandbox::new();
    let config = sandbox.home.path().join(".config/ack-ram-tool/config.toml");
    std::fs::create_dir_all(config.parent().unwrap_or(sandbox.home.path()))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        &config,
        format!(
            "cs_endpoint = \"{}\"\ncredential_cache_dir = \"~/from-config\"\n",
            server.uri()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let base = |sandbox: &Sandbox| {
        let mut cmd = sandbox.bare();
        cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", AK_SECRET)
            .args(["credential-plugin", "get-credential", "-c", CLUSTER]);
        cmd
    };
    // Config file alone.
    let out = run(base(&sandbox)).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(sandbox.home.path().join("from-config").is_dir());
    // The environment beats the file (a dead endpoint proves which one was used).
    let mut cmd = base(&sandbox);
    cmd.env("ACK_RAM_TOOL_CS_ENDPOINT", "http://127.0.0.1:9")
        .args(["--credential-cache-dir", "~/from-flag"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("127.0.0.1:9"), "{}", stderr(&out));
    // A flag beats the environment.
    let mut cmd = base(&sandbox);
    cmd.env("ACK_RAM_TOOL_CS_ENDPOINT", "http://127.0.0.1:9")
        .args([
            "--cs-endpoint",
            &server.uri(),
            "--credential-cache-dir",
            "~/from-flag",
        ]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(sandbox.home.path().join("from-flag").is_dir());
    // A typo in the config file is named, not ignored.
    std::fs::write(&config, "cs_endpiont = \"x\"\n").unwrap_or_else(|e| panic!("{e}"));
    let out = run(base(&sandbox)).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cs_endpiont"), "{}", stderr(&out));
}

#[tokio::test]
async fn https_endpoints_verify_against_ssl_cert_file() {
    let emulator = ack_ram_emulator::Emulator::start(ack_ram_emulator::EmulatorConfig {
        tls: true,
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    emulator.add_access_key(AK_ID, AK_SECRET);
    let sandbox = Sandbox::new();
    let ca = sandbox.home.path().join("ca.pem");
    std::fs::write(&ca, emulator.ca_pem()).unwrap_or_else(|e| panic!("{e}"));

    // Without trusting the emulator's CA, TLS fails and says so.
    let out = run(sandbox.get_credential(&emulator.endpoint())).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).to_lowercase().contains("certificate"),
        "{}",
        stderr(&out)
    );

    // With SSL_CERT_FILE, host:port (HTTPS implied) works end to end against real signatures.
    let mut cmd = sandbox.get_credential(&emulator.host_port());
    cmd.env("SSL_CERT_FILE", &ca);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let cred = exec_credential(&out);
    assert!(
        cred["status"]["clientCertificateData"]
            .as_str()
            .unwrap_or_default()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    assert_eq!(emulator.issued_count(), 1);
}

#[tokio::test]
async fn http_proxy_is_honoured() {
    let proxy = MockServer::start().await;
    mount(&proxy, success(&in_hours(3)), 1).await;
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.get_credential("http://cs.cn-nowhere.example.invalid");
    cmd.env("HTTP_PROXY", proxy.uri());
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let requests = proxy.received_requests().await.unwrap_or_default();
    assert_eq!(
        requests[0].url.host_str(),
        Some("cs.cn-nowhere.example.invalid")
    );
}

#[tokio::test]
async fn help_and_usage_errors() {
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.bare();
    cmd.args(["credential-plugin", "get-credential", "--help"]);
    let out = run(cmd).await;
    assert!(out.status.success());
    assert!(stdout(&out).contains("--cluster-id"));
    let mut cmd = sandbox.bare();
    cmd.args(["credential-plugin", "get-credential"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--cluster-id"));
    let _ = ResponseTemplate::new(200);
}

fn assumed_role_body(ak: &str) -> serde_json::Value {
    serde_json::json!({
        "RequestId": "REQ-STS",
        "AssumedRoleUser": {"Arn": "acs:ram::1234567890123456:role/ack-dev/alice", "AssumedRoleId": "1:alice"},
        "Credentials": {
            "AccessKeyId": ak, "AccessKeySecret": format!("{ak}-secret"),
            "SecurityToken": format!("{ak}-token"), "Expiration": "2099-01-01T00:00:00Z"
        }
    })
}

#[tokio::test]
async fn a_ram_role_arn_profile_calls_sts_then_ack_and_names_the_cache_by_profile() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(query_param("Action", "AssumeRole"))
        .and(query_param(
            "RoleArn",
            "acs:ram::1234567890123456:role/ack-dev",
        ))
        .and(query_param("RoleSessionName", "alice"))
        .and(query_param("AccessKeyId", "LTAIprofile"))
        .respond_with(ResponseTemplate::new(200).set_body_json(assumed_role_body("STS.dev")))
        .expect(1)
        .mount(&server)
        .await;
    mount(&server, success(&in_hours(3)), 1).await;
    let sandbox = Sandbox::new();
    let config = sandbox.home.path().join(".aliyun/config.json");
    std::fs::create_dir_all(config.parent().unwrap_or(sandbox.home.path()))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        &config,
        serde_json::json!({"current": "default", "profiles": [
            {"name": "default", "mode": "AK", "access_key_id": "LTAIother", "access_key_secret": "x"},
            {"name": "dev", "mode": "RamRoleArn", "access_key_id": "LTAIprofile", "access_key_secret": AK_SECRET,
             "ram_role_arn": "acs:ram::1234567890123456:role/ack-dev", "ram_session_name": "alice"}
        ]})
        .to_string(),
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let mut cmd = sandbox.bare();
    cmd.args([
        "credential-plugin",
        "get-credential",
        "-c",
        CLUSTER,
        "--profile-name",
        "dev",
    ])
    .args([
        "--cs-endpoint",
        &server.uri(),
        "--sts-endpoint",
        &server.uri(),
    ]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(exec_credential(&out)["status"]["clientKeyData"], CLIENT_KEY);

    // The ACK call was signed with the assumed role's STS credentials.
    let requests = server.received_requests().await.unwrap_or_default();
    let ack = requests
        .iter()
        .find(|r| r.method.as_str() == "GET")
        .unwrap_or_else(|| panic!("no ACK request"));
    let header = |name: &str| {
        ack.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("x-acs-accesskey-id"), "STS.dev");
    assert_eq!(header("x-acs-security-token"), "STS.dev-token");
    assert!(header("authorization").starts_with("acs STS.dev:"));

    // The Go tool's name for --profile-name dev: sha1("dev").
    let by_profile = sandbox.cache_dir().join(format!(
        "{CLUSTER}-exec-auth-credential-v1beta1-34c6fceca75e456f25e7e99531e2425c6c1de443.json"
    ));
    assert!(
        by_profile.is_file(),
        "{:?}",
        std::fs::read_dir(sandbox.cache_dir()).map(|d| d.count())
    );
    assert!(
        !sandbox.cache_file("v1beta1").exists(),
        "not the default identity's file"
    );
}

#[tokio::test]
async fn each_role_arn_gets_its_own_cache_file() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(query_param("Action", "AssumeRole"))
        .respond_with(ResponseTemplate::new(200).set_body_json(assumed_role_body("STS.role")))
        .expect(2)
        .mount(&server)
        .await;
    mount(&server, success(&in_hours(3)), 3).await;
    let sandbox = Sandbox::new();
    let with_role = |role: Option<&str>| {
        let mut cmd = sandbox.get_credential(&server.uri());
        cmd.args(["--sts-endpoint", &server.uri()]);
        if let Some(role) = role {
            cmd.args(["--role-arn", role]);
        }
        cmd
    };
    for role in [
        None,
        Some("acs:ram::1234567890123456:role/ack-dev"),
        Some("acs:ram::1234567890123456:role/other"),
    ] {
        let out = run(with_role(role)).await;
        assert!(out.status.success(), "{role:?}: {}", stderr(&out));
    }
    let mut names: Vec<String> = std::fs::read_dir(sandbox.cache_dir())
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(
        names.contains(&format!(
            "{CLUSTER}-exec-auth-credential-v1beta1-a78ab02498e4cf3ff9015da8194457cd3dba562a.json"
        )),
        "the Go tool's name for the ack-dev role: {names:?}"
    );
    // Each identity is now a hit.
    let out = run(with_role(Some("acs:ram::1234567890123456:role/ack-dev"))).await;
    assert!(out.status.success());
}

#[tokio::test]
async fn auth_whoami_shows_the_resolved_identity() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(query_param("Action", "GetCallerIdentity"))
        .and(query_param("AccessKeyId", AK_ID))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "RequestId": "REQ-WHO", "AccountId": "1234567890123456", "IdentityType": "RAMUser",
            "Arn": "acs:ram::1234567890123456:user/alice", "PrincipalId": "2345", "UserId": "2345"
        })))
        .expect(2)
        .mount(&server)
        .await;
    let sandbox = Sandbox::new();
    let whoami = |format: &str| {
        let mut cmd = sandbox.bare();
        cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", AK_SECRET)
            .args([
                "auth",
                "whoami",
                "--sts-endpoint",
                &server.uri(),
                "-o",
                format,
            ]);
        cmd
    };
    let out = run(whoami("text")).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // The Go tool's rows (whoami.rs has the full layout).
    for want in [
        "AccountId     1234567890123456\n",
        "IdentityType  RAMUser\n",
        "Arn           acs:ram::1234567890123456:user/alice\n",
    ] {
        assert!(text.contains(want), "{text}");
    }
    let out = run(whoami("json")).await;
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json["accountId"], "1234567890123456");
    assert_eq!(json["arn"], "acs:ram::1234567890123456:user/alice");
}

#[tokio::test]
async fn no_credentials_anywhere_is_one_clear_paragraph() {
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.bare();
    cmd.args([
        "credential-plugin",
        "get-credential",
        "-c",
        CLUSTER,
        "--cs-endpoint",
        "http://127.0.0.1:9",
    ]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    for want in [
        "no Alibaba Cloud credentials found",
        ".aliyun/config.json",
        ".alibabacloud/credentials",
        "aliyun configure",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
}

#[tokio::test]
async fn kubernetes_exec_info_picks_the_version_unless_the_flag_does() {
    let server = MockServer::start().await;
    mount(&server, success(&in_hours(3)), 2).await;
    let sandbox = Sandbox::new();
    let v1 = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#;
    let v1beta1 = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{}}"#;
    for (info, flag, want) in [
        (Some(v1), None, "v1"),
        (Some(v1beta1), None, "v1beta1"),
        (Some(v1), Some("v1beta1"), "v1beta1"),
        (Some(v1beta1), Some("v1"), "v1"),
        (Some("{not json"), None, "v1beta1"),
        (None, None, "v1beta1"),
    ] {
        let mut cmd = sandbox.get_credential(&server.uri());
        if let Some(info) = info {
            cmd.env("KUBERNETES_EXEC_INFO", info);
        }
        if let Some(flag) = flag {
            cmd.args(["--api-version", flag]);
        }
        let out = run(cmd).await;
        assert!(out.status.success(), "{info:?} {flag:?}: {}", stderr(&out));
        assert_eq!(
            exec_credential(&out)["apiVersion"],
            format!("client.authentication.k8s.io/{want}"),
            "{info:?} {flag:?}"
        );
    }
    assert!(sandbox.cache_file("v1").is_file() && sandbox.cache_file("v1beta1").is_file());
}

#[tokio::test]
async fn get_token_prints_a_presigned_token_and_no_secret() {
    use base64::Engine;
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.bare();
    cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", AK_SECRET)
        .env("ACK_RAM_TOOL_TOKEN_EXTRA_KEY_PREFIX", "ACK_EXTRA_")
        .env("ACK_EXTRA_TEAM", "payments")
        .args([
            "credential-plugin",
            "get-token",
            "-c",
            CLUSTER,
            "--api-version",
            "v1",
        ]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains(AK_SECRET));
    let cred = exec_credential(&out);
    assert_eq!(cred["apiVersion"], "client.authentication.k8s.io/v1");
    assert!(cred["status"].get("clientKeyData").is_none());
    let token = cred["status"]["token"].as_str().unwrap_or_default();
    let payload = token
        .strip_prefix("k8s-ack-v2.")
        .unwrap_or_else(|| panic!("prefix: {token}"));
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .unwrap_or_else(|e| panic!("{e}"));
    let json: serde_json::Value =
        serde_json::from_slice(&decoded).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json["clusterId"], CLUSTER);
    assert_eq!(json["query"]["ACKClusterId"], CLUSTER);
    assert_eq!(json["query"]["team"], "payments");
    let auth = json["headers"]["Authorization"]
        .as_str()
        .unwrap_or_default();
    assert!(
        auth.starts_with(&format!(
            "ACS3-HMAC-SHA256 Credential={AK_ID},SignedHeaders="
        )),
        "{auth}"
    );
}

#[tokio::test]
async fn version_prints_the_build_in_text_and_json() {
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.bare();
    cmd.arg("version");
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!(
            "Version: {}\nGitCommit: ",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    assert!(text.contains("\nTarget: x86_64-"), "{text}");
    let mut cmd = sandbox.bare();
    cmd.args(["version", "-o", "json"]);
    let out = run(cmd).await;
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert!(json["gitCommit"].as_str().is_some_and(|c| !c.is_empty()));
    assert!(json["target"].as_str().is_some_and(|t| t.contains("linux")));
}
