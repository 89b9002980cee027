//! Real kubectl, end to end: `get-kubeconfig` against the local ACK emulator, then kubectl runs
//! the plugin from that kubeconfig and talks to the emulator's Kubernetes API over mutual TLS
//! with the certificate the ACK API issued.
//!
//! kubectl 1.37 (v1 and v1beta1) and kubectl 1.20 (v1beta1, the only version it knows) come
//! from `scripts/install-kubectl.sh` (run by `scripts/test.sh`), in `.tools/`, or from
//! `KUBECTL_1_37` / `KUBECTL_1_20`.

mod support;

use ack_ram_emulator::{Emulator, EmulatorConfig, account_uid};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::*;

fn kubectl(version: &str) -> PathBuf {
    let (var, relative) = match version {
        "1.37" => ("KUBECTL_1_37", ".tools/kubectl-1.37/bin/kubectl"),
        _ => ("KUBECTL_1_20", ".tools/kubectl-1.20/usr/bin/kubectl"),
    };
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join(relative)
    });
    assert!(
        path.is_file(),
        "kubectl {version} not found at {}: run scripts/install-kubectl.sh (scripts/test.sh does)",
        path.display()
    );
    path
}

struct Setup {
    emulator: Emulator,
    sandbox: Sandbox,
    ca: PathBuf,
    kubeconfig: PathBuf,
}

/// The environment kubectl (and so the plugin) runs in.
fn env_for(cmd: &mut Command, setup: &Setup, with_credentials: bool) {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_ack-ram-tool"))
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd.env_clear()
        .env("HOME", setup.sandbox.home.path())
        .env("PATH", path)
        .env("SSL_CERT_FILE", &setup.ca);
    if with_credentials {
        cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", AK_SECRET);
    }
}

async fn setup(api_version: &str) -> Setup {
    let emulator = Emulator::start(EmulatorConfig {
        tls: true,
        kube_api: true,
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("emulator: {e}"));
    emulator.add_access_key(AK_ID, AK_SECRET);
    let sandbox = Sandbox::new();
    let ca = sandbox.home.path().join("emulator-ca.pem");
    std::fs::write(&ca, emulator.ca_pem()).unwrap_or_else(|e| panic!("{e}"));
    let kubeconfig = sandbox.home.path().join("kubeconfig");
    let setup = Setup {
        emulator,
        sandbox,
        ca,
        kubeconfig,
    };

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ack-ram-tool"));
    env_for(&mut cmd, &setup, true);
    cmd.args([
        "get-kubeconfig",
        "--cluster-id",
        CLUSTER,
        "--api-version",
        api_version,
    ])
    .args(["--cs-endpoint", &setup.emulator.host_port(), "--output"])
    .arg(&setup.kubeconfig);
    let out = blocking(cmd).await;
    assert!(out.status.success(), "get-kubeconfig: {}", stderr(&out));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&setup.kubeconfig)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    assert_eq!(mode, 0o600, "kubeconfig written 0600");
    setup
}

async fn blocking(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("spawn: {e}"))
}

async fn kubectl_run(
    version: &str,
    setup: &Setup,
    args: &[&str],
    with_credentials: bool,
) -> Output {
    let mut cmd = Command::new(kubectl(version));
    env_for(&mut cmd, setup, with_credentials);
    cmd.arg("--kubeconfig").arg(&setup.kubeconfig).args(args);
    blocking(cmd).await
}

async fn through_kubectl(version: &str, api_version: &str) {
    let setup = setup(api_version).await;
    let ack_calls_after_get_kubeconfig = setup.emulator.request_count();
    assert_eq!(ack_calls_after_get_kubeconfig, 1);

    // First kubectl run: the plugin fetches a certificate; the API server sees its CN.
    let out = kubectl_run(version, &setup, &["get", "--raw", "/version"], true).await;
    assert!(
        out.status.success(),
        "kubectl {version} ({api_version}): {}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("gitVersion"), "{}", stdout(&out));
    let seen = setup.emulator.kube_requests();
    let last = seen
        .last()
        .unwrap_or_else(|| panic!("no request reached the API server"));
    assert_eq!(
        last.common_name,
        account_uid(AK_ID),
        "the API server saw the issued certificate"
    );
    assert_eq!(
        setup.emulator.request_count(),
        2,
        "one ACK call for the plugin"
    );

    // Second run: a cache hit, no ACK call.
    let out = kubectl_run(version, &setup, &["get", "ns"], true).await;
    assert!(
        out.status.success(),
        "kubectl {version} get ns: {}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("kube-system"), "{}", stdout(&out));
    assert_eq!(
        setup.emulator.request_count(),
        2,
        "the second kubectl run used the cache"
    );

    // An expired cached certificate: exactly one refresh.
    let cache = setup.sandbox.cache_file(api_version);
    let text =
        std::fs::read_to_string(&cache).unwrap_or_else(|e| panic!("{}: {e}", cache.display()));
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    doc["status"]["expirationTimestamp"] = serde_json::Value::String("2001-01-01T00:00:00Z".into());
    std::fs::write(&cache, doc.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let out = kubectl_run(version, &setup, &["get", "--raw", "/version"], true).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(setup.emulator.request_count(), 3, "exactly one refresh");

    // A failing plugin: kubectl shows our one-paragraph error.
    std::fs::remove_file(&cache).unwrap_or_else(|e| panic!("{e}"));
    let out = kubectl_run(version, &setup, &["get", "--raw", "/version"], false).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("error: could not get a client certificate for cluster")
            && err.contains("ALIBABA_CLOUD_ACCESS_KEY_ID"),
        "kubectl {version}: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_37_with_a_v1_kubeconfig() {
    through_kubectl("1.37", "v1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_37_with_a_v1beta1_kubeconfig() {
    through_kubectl("1.37", "v1beta1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_20_with_a_v1beta1_kubeconfig() {
    through_kubectl("1.20", "v1beta1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reads_the_generated_kubeconfig_as_written() {
    let setup = setup("v1").await;
    let out = kubectl_run("1.37", &setup, &["config", "view", "-o", "json"], true).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let view: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let exec = &view["users"][0]["user"]["exec"];
    assert_eq!(exec["command"], "ack-ram-tool");
    assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(exec["interactiveMode"], "Never");
    let args: Vec<String> = exec["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        &args[..4],
        [
            "credential-plugin",
            "get-credential",
            "--cluster-id",
            CLUSTER
        ]
    );
    assert!(args.windows(2).any(|w| w == ["--expiration", "3h0m0s"]));
    assert_eq!(args[args.len() - 2..], ["--log-level", "error"]);
    assert_eq!(
        view["users"][0]["name"].as_str(),
        Some(account_uid(AK_ID).as_str()),
        "a numeric user name stays a string"
    );
}
