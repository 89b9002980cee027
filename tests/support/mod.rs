//! Shared helpers for the black-box tests: a sandboxed HOME, the binary under test with a clean
//! environment, canned ACK answers and the certificate fixtures.
#![allow(dead_code)]

use assert_cmd::Command;
use base64::Engine;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;
use tempfile::TempDir;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// AccessKey used by the tests; distinctive so leak checks can search for it.
pub const AK_ID: &str = "LTAI5tTestAccessKeyId";
pub const AK_SECRET: &str = "TestSecretValue-9f8e7d6c5b4a3210";
pub const STS_TOKEN: &str = "CAISTestSecurityToken/abc+def==";

pub const CLUSTER: &str = "c0123456789abcdef0123456789abcdef";
pub const CLIENT_CERT: &str = include_str!("../fixtures/client.crt");
pub const CLIENT_KEY: &str = include_str!("../fixtures/client.key");

/// The base64 body of the fixture private key (what must never leak to stderr or disk in clear
/// where it should not be).
pub fn key_body() -> String {
    CLIENT_KEY
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("")
}

pub fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The kubeconfig YAML the ACK API returns.
pub fn kubeconfig_yaml(cert: &str, key: &str) -> String {
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: https://192.168.0.10:6443\n  name: kubernetes\ncontexts:\n- context:\n    cluster: kubernetes\n    user: \"1234567890123456\"\n  name: 1234567890123456-{CLUSTER}\ncurrent-context: 1234567890123456-{CLUSTER}\nkind: Config\npreferences: {{}}\nusers:\n- name: \"1234567890123456\"\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n",
        ca = b64(CLIENT_CERT),
        cert = b64(cert),
        key = b64(key),
    )
}

/// A successful DescribeClusterUserKubeconfig answer expiring at `expiration` (RFC 3339).
pub fn success(expiration: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "config": kubeconfig_yaml(CLIENT_CERT, CLIENT_KEY),
        "expiration": expiration,
    }))
}

/// An ACK error answer.
pub fn api_error(status: u16, code: &str, message: &str, request_id: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(serde_json::json!({
        "code": code, "message": message, "requestId": request_id, "status": status,
    }))
}

/// `now + hours` as RFC 3339 whole seconds.
pub fn in_hours(hours: i64) -> String {
    in_minutes(hours * 60)
}

pub fn in_minutes(minutes: i64) -> String {
    let t = std::time::SystemTime::now() + Duration::from_secs(0);
    let now = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    rfc3339(now + minutes * 60)
}

/// Seconds since the epoch to RFC 3339 UTC (civil-from-days; avoids a date crate in tests).
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Mounts a DescribeClusterUserKubeconfig mock answering `response`, expecting `calls` calls.
pub async fn mount(server: &MockServer, response: ResponseTemplate, calls: u64) {
    Mock::given(method("GET"))
        .and(path_regex(r"^/k8s/[^/]+/user_config$"))
        .respond_with(response)
        .expect(calls)
        .mount(server)
        .await;
}

/// A fake home directory and the binary run inside it with a clean environment.
pub struct Sandbox {
    pub home: TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Self {
            home: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
        }
    }

    /// The Go tool's default cache directory inside this home.
    pub fn cache_dir(&self) -> PathBuf {
        self.home
            .path()
            .join(".kube/cache/ack-ram-tool/credential-plugin")
    }

    /// Creates the cache directory as the plugin would (0700).
    pub fn create_cache_dir(&self) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(self.cache_dir()).unwrap_or_else(|e| panic!("mkdir: {e}"));
        std::fs::set_permissions(self.cache_dir(), std::fs::Permissions::from_mode(0o700))
            .unwrap_or_else(|e| panic!("chmod: {e}"));
    }

    pub fn cache_file(&self, api_version: &str) -> PathBuf {
        self.cache_dir()
            .join(format!("{CLUSTER}-exec-auth-credential-{api_version}.json"))
    }

    /// The binary with only HOME and PATH set (no host credentials leak in).
    pub fn bare(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ack-ram-tool"));
        cmd.env_clear()
            .env("HOME", self.home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .timeout(Duration::from_secs(60));
        cmd
    }

    /// `get-credential` for the test cluster against `endpoint`, with an AccessKey in the env.
    pub fn get_credential(&self, endpoint: &str) -> Command {
        let mut cmd = self.bare();
        cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", AK_SECRET)
            .args([
                "credential-plugin",
                "get-credential",
                "--cluster-id",
                CLUSTER,
            ])
            .args(["--cs-endpoint", endpoint]);
        cmd
    }
}

/// Runs a command off the async runtime (wiremock serves on it meanwhile).
pub async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap_or_else(|e| panic!("join: {e}"))
        .unwrap_or_else(|e| panic!("spawn: {e}"))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Parses the ExecCredential printed on stdout.
pub fn exec_credential(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); stdout={:?} stderr={:?}",
            stdout(o),
            stderr(o)
        )
    })
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
}

/// Writes a cache file the way the Go tool does (1-space JSON, no trailing newline, 0600).
pub fn write_cache(path: &Path, api_version: &str, expiration: &str, cert: &str, key: &str) {
    use std::os::unix::fs::PermissionsExt;
    let doc = serde_json::json!({
        "kind": "ExecCredential",
        "apiVersion": format!("client.authentication.k8s.io/{api_version}"),
        "spec": {"interactive": false},
        "status": {"expirationTimestamp": expiration, "clientCertificateData": cert, "clientKeyData": key},
    });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir: {e}"));
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .unwrap_or_else(|e| panic!("chmod: {e}"));
    }
    std::fs::write(path, doc.to_string()).unwrap_or_else(|e| panic!("write: {e}"));
    // As the plugin and the Go tool write it: a wider mode is not trusted.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("chmod: {e}"));
}
