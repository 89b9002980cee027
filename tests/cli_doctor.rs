//! `doctor`, black-box: the real binary in a sandboxed HOME against the emulator's ACK and STS.
//! A working setup passes every check (text and JSON, exit 0); a missing credential, a cache
//! directory others can write, an unknown or forbidden cluster and a skewed clock each fail with
//! their fix (exit 1); kubeconfig users that run another ack-ram-tool, cannot find it or carry
//! args that do not parse are reported; nothing secret reaches stdout or stderr at debug level.
//! Every run has a deadline (`Sandbox::bare`: 60 s) and talks to 127.0.0.1 only.

mod support;

use ack_ram_emulator::{Emulator, EmulatorConfig};
use serde_json::Value;
use std::path::Path;
use std::process::Output;
use std::time::Duration;
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_ack-ram-tool");
/// A proxy password that must never be printed.
const PROXY_PASSWORD: &str = "ProxyPassw0rdNeverShown";
/// A bearer token in a kubeconfig user that must never be printed.
const KUBE_TOKEN: &str = "KubeconfigBearerTokenNeverShown";

fn emulator(clusters: Option<Vec<String>>) -> Emulator {
    let emulator = Emulator::start_blocking(EmulatorConfig {
        clusters,
        ..EmulatorConfig::default()
    })
    .unwrap_or_else(|e| panic!("emulator: {e}"));
    emulator.add_access_key(AK_ID, AK_SECRET);
    emulator
}

/// `doctor` in `sandbox` against `endpoint` (ACK and STS), with the test AccessKey in the
/// environment, the keychain's bus when the test run has one, and IMDS pointed at a dead local
/// port should anything select it.
fn doctor(sandbox: &Sandbox, endpoint: &str, extra: &[&str]) -> assert_cmd::Command {
    doctor_at(sandbox, endpoint, endpoint, extra)
}

/// [`doctor`] with ACK at `cs` and STS at `sts`.
fn doctor_at(sandbox: &Sandbox, cs: &str, sts: &str, extra: &[&str]) -> assert_cmd::Command {
    let mut cmd = sandbox.bare();
    cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", AK_SECRET)
        .env("ALIBABA_CLOUD_IMDS_ENDPOINT", "127.0.0.1:9")
        .args(["doctor", "--cs-endpoint", cs, "--sts-endpoint", sts])
        .args(extra);
    if let Some(bus) = std::env::var_os("DBUS_SESSION_BUS_ADDRESS") {
        cmd.env("DBUS_SESSION_BUS_ADDRESS", bus);
    }
    cmd
}

fn output(mut cmd: assert_cmd::Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("spawn: {e}"))
}

/// The report's lines as (status, check, rest).
fn lines(out: &Output) -> Vec<(String, String, String)> {
    stdout(out)
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(|l| {
            let (status, rest) = l.split_once("  ").unwrap_or((l, ""));
            let (check, finding) = rest.trim_start().split_once(": ").unwrap_or((rest, ""));
            (status.to_owned(), check.to_owned(), finding.to_owned())
        })
        .collect()
}

/// The line of `check` and the fix printed under it.
fn line_of(out: &Output, check: &str) -> (String, String, Option<String>) {
    let text = stdout(out);
    let all: Vec<&str> = text.lines().collect();
    let at = all
        .iter()
        .position(|l| {
            l.get(6..)
                .is_some_and(|rest| rest.starts_with(&format!("{check}: ")))
        })
        .unwrap_or_else(|| panic!("no {check:?} line in:\n{text}"));
    let status = all[at][..4].trim().to_owned();
    let fix = all
        .get(at + 1)
        .and_then(|l| l.strip_prefix("      fix: "))
        .map(str::to_owned);
    (status, all[at].to_owned(), fix)
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// Writes a kubeconfig whose users run `users` as (name, command, args).
fn write_kubeconfig(path: &Path, users: &[(&str, &str, &[&str])]) {
    let mut yaml = String::from(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\ncontexts: []\nusers:\n",
    );
    for (name, command, args) in users {
        yaml.push_str(&format!(
            "- name: {name:?}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {command:?}\n      args: {}\n",
            serde_json::to_string(args).unwrap_or_default()
        ));
    }
    // A user holding a secret of its own, which doctor must never print.
    yaml.push_str(&format!(
        "- name: token-user\n  user:\n    token: {KUBE_TOKEN}\n"
    ));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(path, yaml).unwrap_or_else(|e| panic!("{e}"));
}

const GET_CREDENTIAL: &[&str] = &[
    "credential-plugin",
    "get-credential",
    "--cluster-id",
    CLUSTER,
];

/// A working setup: the cache directory 0700 with one fresh certificate, and a kubeconfig
/// whose user runs this binary with args that parse.
fn working_sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    write_cache(
        &sandbox.cache_file("v1beta1"),
        "v1beta1",
        &in_hours(2),
        CLIENT_CERT,
        CLIENT_KEY,
    );
    write_kubeconfig(
        &sandbox.home.path().join(".kube/config"),
        &[("ack", BIN, GET_CREDENTIAL)],
    );
    sandbox
}

/// The checks a working setup passes; the keychain may only warn (there is none unless the
/// test run started one: the file store does not need it).
fn assert_all_ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(out),
        stderr(out)
    );
    let lines = lines(out);
    let names: Vec<&str> = lines.iter().map(|(_, c, _)| c.as_str()).collect();
    assert_eq!(
        names,
        [
            "credentials",
            "identity",
            "ack endpoint",
            "clock",
            "cluster access",
            "proxy",
            "ca certificates",
            "cache directory",
            "cache entries",
            "keychain",
            "kubeconfig user \"ack\"",
        ],
        "{}",
        stdout(out)
    );
    for (status, check, finding) in &lines {
        let allowed = status == "ok" || (status == "warn" && check == "keychain");
        assert!(allowed, "{status} {check}: {finding}\n{}", stdout(out));
    }
    assert!(stderr(out).is_empty(), "{}", stderr(out));
}

#[test]
fn a_working_setup_passes_every_check_in_text_and_json() {
    let emulator = emulator(Some(vec![CLUSTER.to_owned()]));
    let sandbox = working_sandbox();
    let args = ["--cluster-id", CLUSTER];
    let out = output(doctor(&sandbox, &emulator.endpoint(), &args));
    println!("{}", stdout(&out));
    assert_all_ok(&out);
    let text = stdout(&out);
    for want in [
        "ok    credentials: environment variables: AccessKey LTAI…eyId\n",
        "ok    identity: acs:ram::",
        ":user/ack-ram-emulator (RAMUser, account ",
        &format!(
            "ok    ack endpoint: {} answers (HTTP 404, ",
            emulator.endpoint()
        ),
        "ok    clock: the local clock agrees with the ACK API's",
        &format!(
            "ok    cluster access: {CLUSTER} may be described by this identity: \"cluster-1\", ManagedKubernetes, running, cn-hangzhou, Kubernetes "
        ),
        "ok    proxy: https:// requests: direct (no proxy variable set); ",
        "ok    ca certificates: the system's trust roots",
        "ok    cache directory: ",
        "is private (mode 700)",
        "ok    cache entries: 1 cached certificate(s) (1 file, 0 keyring): 0 expired, 0 unusable\n",
        "ok    kubeconfig user \"ack\": in ",
        "runs this binary; its args parse\n",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
    // Read-only: DescribeClusterDetail issued nothing.
    assert_eq!(emulator.issued_count(), 0);
    assert!(
        emulator
            .requests()
            .iter()
            .any(|r| r.path == format!("/clusters/{CLUSTER}") && r.status == 200)
    );

    let out = output(doctor(
        &sandbox,
        &emulator.endpoint(),
        &[&args[..], &["-o", "json"]].concat(),
    ));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(&out)));
    let checks = report
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {report}"));
    assert_eq!(checks.len(), 11);
    for check in checks {
        let object = check.as_object().unwrap_or_else(|| panic!("{check}"));
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["check", "finding", "fix", "status"], "{check}");
        let ok =
            check["status"] == "ok" || (check["status"] == "warn" && check["check"] == "keychain");
        assert!(ok, "{check}");
    }
    assert_eq!(checks[4]["check"], "cluster access");
    assert_eq!(checks[4]["fix"], Value::Null);
}

#[test]
fn no_credentials_fail_with_the_fix() {
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.bare();
    cmd.args([
        "doctor",
        "--cs-endpoint",
        "http://127.0.0.1:9",
        "--cluster-id",
        CLUSTER,
    ]);
    let out = output(cmd);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let (status, line, fix) = line_of(&out, "credentials");
    assert_eq!(status, "fail", "{line}");
    assert!(
        line.contains("no Alibaba Cloud credentials found"),
        "{line}"
    );
    assert!(
        fix.as_deref().is_some_and(
            |f| f.contains("ALIBABA_CLOUD_ACCESS_KEY_ID") && f.contains("aliyun configure")
        ),
        "{fix:?}"
    );
    // Nothing to ask the cluster with; the endpoint (nothing listens) fails on its own.
    assert_eq!(line_of(&out, "cluster access").0, "warn");
    let (status, _, fix) = line_of(&out, "ack endpoint");
    assert_eq!(status, "fail");
    assert!(fix.is_some_and(|f| f.contains("HTTPS_PROXY")));
    let err = stderr(&out);
    assert!(err.contains("doctor checks failed"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn a_cache_directory_others_can_write_fails_and_loose_entries_warn() {
    let emulator = emulator(None);
    let sandbox = working_sandbox();
    chmod(&sandbox.cache_file("v1beta1"), 0o644);
    let out = output(doctor(&sandbox, &emulator.endpoint(), &[]));
    assert_eq!(line_of(&out, "cache directory").0, "ok", "{}", stdout(&out));
    let (status, line, fix) = line_of(&out, "cache entries");
    assert_eq!(status, "warn", "{line}");
    assert!(line.contains("1 not a private file"), "{line}");
    assert!(fix.is_some_and(|f| f.contains("cache clear")));
    assert_eq!(
        out.status.code(),
        Some(0),
        "warnings do not fail: {}",
        stdout(&out)
    );

    chmod(&sandbox.cache_dir(), 0o777);
    let out = output(doctor(&sandbox, &emulator.endpoint(), &[]));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let (status, line, fix) = line_of(&out, "cache directory");
    assert_eq!(status, "fail", "{line}");
    assert!(
        line.contains("writable by group or others (mode 777)"),
        "{line}"
    );
    assert_eq!(
        fix.as_deref(),
        Some(format!("chmod 700 {}", sandbox.cache_dir().display()).as_str())
    );
    chmod(&sandbox.cache_dir(), 0o700);
}

#[test]
fn an_unknown_or_forbidden_cluster_fails_naming_what_to_fix() {
    let emulator = emulator(Some(vec![CLUSTER.to_owned()]));
    let sandbox = working_sandbox();
    let out = output(doctor(
        &sandbox,
        &emulator.endpoint(),
        &["--cluster-id", "cffffffffffffffffffffffffffffffff"],
    ));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let (status, line, fix) = line_of(&out, "cluster access");
    assert_eq!(status, "fail", "{line}");
    assert!(
        line.contains("DescribeClusterDetail answered HTTP 404 ErrorClusterNotFound"),
        "{line}"
    );
    assert!(fix.is_some_and(|f| f.contains("Check the cluster id")));

    // The emulator's stand-in for an identity without the permission: a 403 for the next call.
    emulator.fail_next(
        1,
        403,
        "Forbidden.RAM",
        "User not authorized to operate on the specified resource.",
    );
    let out = output(doctor(&sandbox, &emulator.endpoint(), &["-c", CLUSTER]));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let (status, line, fix) = line_of(&out, "cluster access");
    assert_eq!(status, "fail", "{line}");
    assert!(line.contains("HTTP 403 Forbidden.RAM"), "{line}");
    assert!(line.contains("RequestId"), "{line}");
    assert!(fix.is_some_and(|f| f.contains("cs:DescribeClusterDetail")));
    assert_eq!(emulator.issued_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_skewed_clock_fails_with_the_fix() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let emulator = tokio::task::spawn_blocking(|| emulator(None))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ack = MockServer::start().await;
    let ten_minutes_ago = std::time::SystemTime::now() - Duration::from_secs(600);
    Mock::given(method("GET"))
        .and(path("/"))
        .respond_with(
            ResponseTemplate::new(404)
                .insert_header("date", httpdate::fmt_http_date(ten_minutes_ago)),
        )
        .mount(&ack)
        .await;
    let sandbox = working_sandbox();
    let out = run(doctor_at(&sandbox, &ack.uri(), &emulator.endpoint(), &[])).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let (status, line, fix) = line_of(&out, "clock");
    assert_eq!(status, "fail", "{line}");
    assert!(line.contains("s ahead of the ACK API's"), "{line}");
    assert!(fix.is_some_and(|f| f.contains("Synchronise the system clock")));
}

#[test]
fn kubeconfig_users_running_another_tool_or_bad_args_are_reported() {
    let emulator = emulator(None);
    let sandbox = Sandbox::new();
    // Another ack-ram-tool (think: the Go one), first on PATH.
    let other_bin = sandbox.home.path().join("other-bin");
    std::fs::create_dir_all(&other_bin).unwrap_or_else(|e| panic!("{e}"));
    let other = other_bin.join("ack-ram-tool");
    std::fs::write(&other, "#!/bin/sh\nexit 1\n").unwrap_or_else(|e| panic!("{e}"));
    chmod(&other, 0o755);
    let first = sandbox.home.path().join("first.yaml");
    let second = sandbox.home.path().join("second.yaml");
    write_kubeconfig(
        &first,
        &[
            ("go-tool", "ack-ram-tool", GET_CREDENTIAL),
            ("someone-else", "kubelogin", &["get-token"]),
        ],
    );
    write_kubeconfig(
        &second,
        &[
            (
                "typo",
                BIN,
                &[
                    "credential-plugin",
                    "get-credential",
                    "--cluster-idd",
                    CLUSTER,
                ],
            ),
            ("not-a-credential", BIN, &["version"]),
            ("missing", "./bin/ack-ram-tool", GET_CREDENTIAL),
        ],
    );
    let mut cmd = doctor(&sandbox, &emulator.endpoint(), &[]);
    cmd.env(
        "KUBECONFIG",
        format!(
            "{}::{}:/nonexistent/kubeconfig",
            first.display(),
            second.display()
        ),
    )
    .env(
        "PATH",
        format!(
            "{}:{}",
            other_bin.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    );
    let out = output(cmd);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        !text.contains("someone-else") && !text.contains("token-user"),
        "{text}"
    );

    let (status, line, fix) = line_of(&out, "kubeconfig user \"go-tool\"");
    assert_eq!(status, "warn", "{line}");
    assert!(
        line.contains(&format!(
            "runs {}, another ack-ram-tool than this one",
            other.display()
        )),
        "{line}"
    );
    assert!(line.contains("its args parse"), "{line}");
    assert!(fix.is_some_and(|f| f.contains("Put this binary first on PATH")));

    let (status, line, fix) = line_of(&out, "kubeconfig user \"typo\"");
    assert_eq!(status, "fail", "{line}");
    assert!(line.contains("runs this binary"), "{line}");
    assert!(
        line.contains("its args do not parse") && line.contains("--cluster-idd"),
        "{line}"
    );
    assert!(fix.is_some_and(|f| f.contains("get-kubeconfig")));

    let (status, line, _) = line_of(&out, "kubeconfig user \"not-a-credential\"");
    assert_eq!(status, "fail", "{line}");
    assert!(line.contains("do not print an ExecCredential"), "{line}");

    // Relative to the kubeconfig's directory, as kubectl resolves it: not there.
    let (status, line, fix) = line_of(&out, "kubeconfig user \"missing\"");
    assert_eq!(status, "fail", "{line}");
    assert!(
        line.contains("\"./bin/ack-ram-tool\" is not found"),
        "{line}"
    );
    assert!(fix.is_some_and(|f| f.contains(BIN) || f.contains("Put ack-ram-tool on the PATH")));
}

#[test]
fn a_hostile_kubeconfig_is_a_clear_failure_at_once() {
    let emulator = emulator(None);
    let sandbox = Sandbox::new();
    let garbage = sandbox.home.path().join("garbage.yaml");
    std::fs::write(&garbage, format!("users: [\n  token: {KUBE_TOKEN}\n  {{{{"))
        .unwrap_or_else(|e| panic!("{e}"));
    let fifo = sandbox.home.path().join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    let mut cmd = doctor(&sandbox, &emulator.endpoint(), &[]);
    cmd.env(
        "KUBECONFIG",
        format!("{}:{}", garbage.display(), fifo.display()),
    )
    .timeout(Duration::from_secs(30));
    let started = std::time::Instant::now();
    let out = output(cmd);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    let kube: Vec<_> = lines(&out)
        .into_iter()
        .filter(|(_, c, _)| c == "kubeconfig")
        .collect();
    assert_eq!(kube.len(), 2, "{text}");
    assert!(kube.iter().all(|(s, _, _)| s == "fail"), "{text}");
    assert!(
        text.contains("is not a kubeconfig kubectl can read (YAML error at line"),
        "{text}"
    );
    assert!(
        text.contains("not a regular file") || text.contains("FIFO") || text.contains("fifo"),
        "{text}"
    );
    assert!(!text.contains(KUBE_TOKEN), "{text}");
}

#[test]
fn no_secret_on_any_stream_at_debug_level() {
    let emulator = emulator(Some(vec![CLUSTER.to_owned()]));
    let sts_id = "STS.DoctorTemporaryKey01";
    let sts_secret = "DoctorTemporarySecret-0123456789";
    emulator.add_security_token(sts_id, sts_secret, STS_TOKEN);
    let sandbox = working_sandbox();
    let runs: Vec<(&str, assert_cmd::Command)> = vec![
        (
            "access key",
            doctor(
                &sandbox,
                &emulator.endpoint(),
                &["-c", CLUSTER, "--log-level", "debug"],
            ),
        ),
        ("sts token", {
            let mut cmd = doctor(
                &sandbox,
                &emulator.endpoint(),
                &["-c", CLUSTER, "--log-level", "debug", "-o", "json"],
            );
            cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", sts_id)
                .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", sts_secret)
                .env("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN)
                .env(
                    "HTTPS_PROXY",
                    format!("http://user:{PROXY_PASSWORD}@127.0.0.1:9"),
                )
                .env("NO_PROXY", "example.invalid");
            cmd
        }),
        ("a bad proxy", {
            let mut cmd = doctor(&sandbox, &emulator.endpoint(), &["--log-level", "debug"]);
            cmd.env(
                "HTTP_PROXY",
                format!("ftp://user:{PROXY_PASSWORD}@proxy.invalid"),
            );
            cmd
        }),
    ];
    for (name, cmd) in runs {
        let out = output(cmd);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            stderr(&out).contains("DEBUG") || name == "a bad proxy",
            "{name}: no debug logs: {all}"
        );
        for secret in [
            AK_SECRET,
            sts_secret,
            STS_TOKEN,
            PROXY_PASSWORD,
            KUBE_TOKEN,
            &key_body(),
        ] {
            assert!(!all.contains(secret), "{name}: {secret:?} printed:\n{all}");
        }
        if name == "sts token" {
            assert_eq!(out.status.code(), Some(0), "{all}");
            assert!(all.contains("STS token of AccessKey STS.…ey01"), "{all}");
            assert!(
                all.contains("http://user:***@127.0.0.1:9/ (from HTTPS_PROXY)"),
                "{all}"
            );
        }
        if name == "a bad proxy" {
            assert_eq!(out.status.code(), Some(1), "{all}");
            let (status, line, _) = line_of(&out, "proxy");
            assert_eq!(status, "fail", "{line}");
            assert!(line.contains("HTTP_PROXY"), "{line}");
        }
    }
}
