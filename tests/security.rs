//! The trust boundary, tried as an attacker would: through the binary, against hostile local
//! HTTP servers (redirects, echoes), hostile proxy settings, hostile identifiers and hostile
//! files (FIFOs, `/dev/zero`, huge and sparse files, planted symlinks, loose modes). Each test
//! asserts that nothing secret reached the wrong place and that nothing hung: every run of the
//! binary is bounded by a timeout far below what a hang would take.
//!
//! `docs/security.md` maps each guarantee to the test here that proves it.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};
use support::*;
use wiremock::matchers::{any, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A hang would take the whole test timeout; a refusal takes well under this.
const QUICK: Duration = Duration::from_secs(10);

/// Runs `cmd` with a short timeout and checks it finished in time.
async fn run_quick(mut cmd: assert_cmd::Command) -> Output {
    cmd.timeout(QUICK);
    let started = Instant::now();
    let out = run(cmd).await;
    assert!(
        started.elapsed() < QUICK,
        "took {:?}; stderr: {}",
        started.elapsed(),
        stderr(&out)
    );
    out
}

/// Fails the test if `text` carries any form of the test secrets.
fn assert_no_secret(label: &str, text: &str) {
    for secret in [AK_SECRET, STS_TOKEN, OIDC_TOKEN] {
        for form in forms(secret) {
            assert!(
                !text.contains(&form),
                "{label}: {form:?} leaked in:\n{text}"
            );
        }
    }
}

/// The raw secret and the encodings an echo might use: percent-encoded with upper- and
/// lower-case hex digits, and base64.
fn forms(secret: &str) -> Vec<String> {
    let encoded = |lower: bool| -> String {
        secret
            .bytes()
            .map(|b| match (b.is_ascii_alphanumeric(), lower) {
                (true, _) => (b as char).to_string(),
                (false, false) => format!("%{b:02X}"),
                (false, true) => format!("%{b:02x}"),
            })
            .collect()
    };
    vec![
        secret.to_owned(),
        encoded(false),
        encoded(true),
        b64(secret),
    ]
}

const OIDC_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.test-oidc-token.signature";

/// A server that must never be contacted, and the Location pointing at it (by another name
/// for the same loopback address, so the message can be told apart).
async fn elsewhere() -> (MockServer, String) {
    let server = MockServer::start().await;
    let port = server.address().port();
    (server, format!("http://localhost:{port}/stolen"))
}

async fn redirect_everything(server: &MockServer, status: u16, location: &str) {
    Mock::given(any())
        .respond_with(ResponseTemplate::new(status).insert_header("Location", location))
        .mount(server)
        .await;
}

/// `auth whoami` with RRSA selected through the environment, STS at `sts`.
fn rrsa_whoami(sandbox: &Sandbox, token_file: &Path, sts: &MockServer) -> assert_cmd::Command {
    let mut cmd = sandbox.bare();
    cmd.env(
        "ALIBABA_CLOUD_ROLE_ARN",
        "acs:ram::1234567890123456:role/rrsa",
    )
    .env(
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
        "acs:ram::1234567890123456:oidc-provider/ack-rrsa",
    )
    .env("ALIBABA_CLOUD_OIDC_TOKEN_FILE", token_file)
    .args(["--sts-endpoint", &sts.uri(), "auth", "whoami"]);
    cmd
}

async fn assert_untouched(server: &MockServer, label: &str) {
    let received = server.received_requests().await.unwrap_or_default();
    assert!(
        received.is_empty(),
        "{label}: the redirect target received {} request(s)",
        received.len()
    );
}

// ---------------------------------------------------------------------------------------------
// 1. No redirects with credentials.

#[tokio::test]
async fn ack_redirects_are_never_followed() {
    for status in [301, 302, 303, 307, 308] {
        let ack = MockServer::start().await;
        let (target, location) = elsewhere().await;
        redirect_everything(&ack, status, &location).await;
        let sandbox = Sandbox::new();
        let mut cmd = sandbox.get_credential(&ack.uri());
        cmd.env("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN);
        let out = run_quick(cmd).await;
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(
            err.contains(&format!("answered HTTP {status} redirecting to localhost"))
                && err.contains("not followed"),
            "{err}"
        );
        assert_untouched(&target, "ACK").await;
        let sent = ack.received_requests().await.unwrap_or_default();
        assert_eq!(sent.len(), 1, "a redirect is not retried");
        assert!(sent.iter().all(|r| !r.headers.contains_key("referer")));
        assert_no_secret("ACK redirect", &err);
    }
}

#[tokio::test]
async fn sts_redirects_are_never_followed_and_send_no_referer() {
    let sts = MockServer::start().await;
    let (target, location) = elsewhere().await;
    redirect_everything(&sts, 307, &location).await;
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.bare();
    cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", AK_SECRET)
        .env("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN)
        .args(["--sts-endpoint", &sts.uri(), "auth", "whoami", "--role-arn"])
        .arg("acs:ram::1234567890123456:role/dev");
    let out = run_quick(cmd).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("HTTP 307 redirecting to localhost"), "{err}");
    assert_untouched(&target, "STS").await;
    for request in sts.received_requests().await.unwrap_or_default() {
        assert!(!request.headers.contains_key("referer"));
    }
    assert_no_secret("STS redirect", &err);
}

#[tokio::test]
async fn an_oidc_token_is_never_reposted_to_a_redirect_target() {
    let sts = MockServer::start().await;
    let (target, location) = elsewhere().await;
    redirect_everything(&sts, 307, &location).await;
    let sandbox = Sandbox::new();
    let token_file = sandbox.home.path().join("token");
    std::fs::write(&token_file, OIDC_TOKEN).unwrap_or_else(|e| panic!("{e}"));
    let out = run_quick(rrsa_whoami(&sandbox, &token_file, &sts)).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("HTTP 307 redirecting to localhost"), "{err}");
    assert_untouched(&target, "AssumeRoleWithOIDC").await;
    assert_no_secret("OIDC redirect", &err);
}

#[tokio::test]
async fn credentials_uri_and_imds_redirects_are_never_followed() {
    for (var, credential_type) in [
        ("ALIBABA_CLOUD_CREDENTIALS_URI", None),
        ("ALIBABA_CLOUD_IMDS_ENDPOINT", Some("imds")),
    ] {
        let source = MockServer::start().await;
        let (target, location) = elsewhere().await;
        redirect_everything(&source, 302, &location).await;
        let ack = MockServer::start().await;
        mount(&ack, success(&in_hours(3)), 0).await;
        let sandbox = Sandbox::new();
        let mut cmd = sandbox.bare();
        let value = if credential_type.is_some() {
            source.uri()
        } else {
            format!("{}/creds?token=secret-query", source.uri())
        };
        cmd.env(var, value)
            .env("ALIBABA_CLOUD_ECS_METADATA", "role")
            .args([
                "credential-plugin",
                "get-credential",
                "--cluster-id",
                CLUSTER,
            ])
            .args(["--cs-endpoint", &ack.uri()]);
        if let Some(kind) = credential_type {
            cmd.args(["--credential-type", kind]);
        }
        let out = run_quick(cmd).await;
        assert!(!out.status.success(), "{var}");
        let err = stderr(&out);
        assert!(err.contains("HTTP 302"), "{var}: {err}");
        assert!(!err.contains("secret-query"), "{var}: {err}");
        assert_untouched(&target, var).await;
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Proxies: never for loopback, fail closed on a bad value, credentials never printed.

#[tokio::test]
async fn loopback_is_never_proxied() {
    let proxy = MockServer::start().await;
    let uri = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "Code": "Success", "AccessKeyId": "STS.uri", "AccessKeySecret": AK_SECRET,
            "SecurityToken": STS_TOKEN, "Expiration": in_hours(1),
        })))
        .expect(1)
        .mount(&uri)
        .await;
    let ack = MockServer::start().await;
    mount(&ack, success(&in_hours(3)), 1).await;
    let sandbox = Sandbox::new();
    let proxy_url = format!(
        "http://user:proxy-password@127.0.0.1:{}",
        proxy.address().port()
    );
    let mut cmd = sandbox.bare();
    cmd.env(
        "ALIBABA_CLOUD_CREDENTIALS_URI",
        format!("http://u:basic-pw@127.0.0.1:{}/c?t=q", uri.address().port()),
    )
    .env("HTTP_PROXY", &proxy_url)
    .env("HTTPS_PROXY", &proxy_url)
    .env("ALL_PROXY", &proxy_url)
    .args([
        "credential-plugin",
        "get-credential",
        "--cluster-id",
        CLUSTER,
    ])
    .args(["--cs-endpoint", &ack.uri()]);
    let out = run_quick(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_untouched(&proxy, "proxy").await;
    assert!(!stderr(&out).contains("proxy-password"));
}

#[tokio::test]
async fn a_remote_http_endpoint_goes_through_the_proxy_with_a_cleartext_warning() {
    // The "proxy" is a mock that answers the absolute-form request itself.
    let proxy = MockServer::start().await;
    mount(&proxy, success(&in_hours(3)), 1).await;
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.get_credential("http://cs.example.test");
    cmd.env(
        "HTTP_PROXY",
        format!("http://127.0.0.1:{}", proxy.address().port()),
    );
    let out = run_quick(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("plain http://") && err.contains("travel unencrypted"),
        "{err}"
    );
    let sent = proxy.received_requests().await.unwrap_or_default();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].url.host_str(), Some("cs.example.test"));
}

#[tokio::test]
async fn unusable_proxy_settings_fail_closed_naming_the_variable() {
    for (var, value, expected) in [
        (
            "HTTPS_PROXY",
            "http://user:proxy-pw@[bad",
            "not a valid proxy URL",
        ),
        (
            "https_proxy",
            "socks5://user:proxy-pw@127.0.0.1:1080",
            "socks5",
        ),
        ("ALL_PROXY", "ftp://127.0.0.1:21", "ftp"),
    ] {
        let sandbox = Sandbox::new();
        // An endpoint the proxy would apply to; nothing listens there, nothing may be sent.
        let mut cmd = sandbox.get_credential("https://cs.example.test");
        cmd.env(var, value);
        let out = run_quick(cmd).await;
        assert!(!out.status.success(), "{var}");
        let err = stderr(&out);
        assert!(err.contains(var) && err.contains(expected), "{var}: {err}");
        assert!(err.contains("nothing was sent"), "{var}: {err}");
        assert!(!err.contains("proxy-pw"), "{var}: {err}");
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Identifiers validated before any I/O.

#[tokio::test]
async fn a_hostile_region_is_refused_before_any_request() {
    let sandbox = Sandbox::new();
    for region in [
        "attacker.example:8443/",
        "cn-hangzhou.evil",
        "CN-HANGZHOU",
        "x/../y",
    ] {
        let mut cmd = sandbox.bare();
        cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", AK_SECRET)
            .args([
                "credential-plugin",
                "get-credential",
                "--cluster-id",
                CLUSTER,
            ])
            .args(["--region-id", region]);
        let out = run_quick(cmd).await;
        assert!(!out.status.success(), "{region}");
        let err = stderr(&out);
        assert!(
            err.contains("--region-id") && err.contains("lower-case letters, digits"),
            "{region}: {err}"
        );
        assert!(!err.contains("could not reach"), "{region}: {err}");
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Bounded, non-blocking reads of every local input.

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap_or_else(|e| panic!("mkfifo: {e}"));
    assert!(status.success());
}

fn plant(path: &Path, what: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
    }
    match what {
        "fifo" => mkfifo(path),
        "dev-zero" => {
            std::os::unix::fs::symlink("/dev/zero", path).unwrap_or_else(|e| panic!("{e}"))
        }
        "huge" => {
            // Sparse: 3 GiB on paper, nothing on disk.
            let file = std::fs::File::create(path).unwrap_or_else(|e| panic!("{e}"));
            file.set_len(3 << 30).unwrap_or_else(|e| panic!("{e}"));
        }
        other => panic!("unknown plant {other}"),
    }
}

#[tokio::test]
async fn hostile_credential_files_are_clear_errors_at_once() {
    for what in ["fifo", "dev-zero", "huge"] {
        for (file, expected) in [
            (".aliyun/config.json", "config.json"),
            (".alibabacloud/credentials", "credentials"),
        ] {
            let sandbox = Sandbox::new();
            let path = sandbox.home.path().join(file);
            plant(&path, what);
            let mut cmd = sandbox.bare();
            cmd.args([
                "credential-plugin",
                "get-credential",
                "--cluster-id",
                CLUSTER,
            ])
            .args(["--cs-endpoint", "http://127.0.0.1:9"]);
            let out = run_quick(cmd).await;
            assert!(!out.status.success(), "{what} {file}");
            let err = stderr(&out);
            let reason = match what {
                "fifo" => "named pipe (FIFO)",
                "dev-zero" => "character device",
                _ => "larger than",
            };
            assert!(
                err.contains(expected) && err.contains(reason),
                "{what} {file}: {err}"
            );
        }
    }
}

#[tokio::test]
async fn a_hostile_oidc_token_file_is_a_clear_error_at_once() {
    for what in ["fifo", "dev-zero", "huge"] {
        let sts = MockServer::start().await;
        let sandbox = Sandbox::new();
        let token_file = sandbox.home.path().join("token");
        plant(&token_file, what);
        let out = run_quick(rrsa_whoami(&sandbox, &token_file, &sts)).await;
        assert!(!out.status.success(), "{what}");
        let err = stderr(&out);
        assert!(err.contains("OIDC token file"), "{what}: {err}");
        assert_untouched(&sts, "STS").await;
    }
}

#[tokio::test]
async fn a_hostile_config_toml_is_a_clear_error_at_once() {
    for what in ["fifo", "dev-zero", "huge"] {
        let sandbox = Sandbox::new();
        let path = sandbox.home.path().join("config.toml");
        plant(&path, what);
        let mut cmd = sandbox.get_credential("http://127.0.0.1:9");
        cmd.env("ACK_RAM_TOOL_CONFIG", &path);
        let out = run_quick(cmd).await;
        assert!(!out.status.success(), "{what}");
        assert!(
            stderr(&out).contains("config file"),
            "{what}: {}",
            stderr(&out)
        );
    }
}

#[tokio::test]
async fn a_hostile_cache_file_is_a_miss_that_is_replaced() {
    for what in ["fifo", "dev-zero", "huge"] {
        let ack = MockServer::start().await;
        mount(&ack, success(&in_hours(3)), 1).await;
        let sandbox = Sandbox::new();
        let file = sandbox.cache_file("v1beta1");
        sandbox.create_cache_dir();
        plant(&file, what);
        let out = run_quick(sandbox.get_credential(&ack.uri())).await;
        assert!(out.status.success(), "{what}: {}", stderr(&out));
        let meta = std::fs::symlink_metadata(&file).unwrap_or_else(|e| panic!("{e}"));
        assert!(meta.is_file() && meta.len() < 64 * 1024, "{what} replaced");
        assert_eq!(mode(&file), 0o600);
    }
}

#[tokio::test]
async fn cache_list_reads_only_what_it_needs() {
    let sandbox = Sandbox::new();
    write_cache(
        &sandbox.cache_file("v1"),
        "v1",
        &in_hours(2),
        CLIENT_CERT,
        CLIENT_KEY,
    );
    plant(&sandbox.cache_file("v1beta1"), "huge");
    mkfifo(
        &sandbox
            .cache_dir()
            .join("c1-exec-auth-credential-v1beta1.json"),
    );
    let mut cmd = sandbox.bare();
    cmd.args(["credential-plugin", "cache", "list"]);
    let out = run_quick(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(CLUSTER) && text.contains("c1"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// 5. No symlink games in the cache directory.

#[tokio::test]
async fn a_planted_lock_symlink_is_not_followed() {
    let ack = MockServer::start().await;
    mount(&ack, success(&in_hours(3)), 1).await;
    let sandbox = Sandbox::new();
    sandbox.create_cache_dir();
    let victim = sandbox.home.path().join("victim-file");
    let lock = sandbox
        .cache_dir()
        .join(format!("{CLUSTER}-exec-auth-credential-v1beta1.json.lock"));
    std::os::unix::fs::symlink(&victim, &lock).unwrap_or_else(|e| panic!("{e}"));
    let out = run_quick(sandbox.get_credential(&ack.uri())).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !victim.exists(),
        "the dangling symlink's target was created"
    );
    assert!(
        stderr(&out).contains("symbolic link"),
        "the planted link is reported: {}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_loose_cache_file_is_not_served_and_is_written_back_0600() {
    let ack = MockServer::start().await;
    mount(&ack, success(&in_hours(3)), 1).await;
    let sandbox = Sandbox::new();
    let file = sandbox.cache_file("v1beta1");
    write_cache(&file, "v1beta1", &in_hours(2), CLIENT_CERT, CLIENT_KEY);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666))
        .unwrap_or_else(|e| panic!("{e}"));
    let out = run_quick(sandbox.get_credential(&ack.uri())).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("mode 666") && err.contains("WARN"), "{err}");
    assert_eq!(mode(&file), 0o600);
    // And now it is a quiet hit.
    let again = run_quick(sandbox.get_credential(&ack.uri())).await;
    assert!(again.status.success());
    assert_eq!(stderr(&again), "");
}

// ---------------------------------------------------------------------------------------------
// 6. Scrubbing that holds for every encoding.

#[tokio::test]
async fn an_echoing_server_gets_every_encoding_of_the_token_masked() {
    let [_, upper, lower, base64] =
        <[String; 4]>::try_from(forms(STS_TOKEN)).unwrap_or_else(|_| panic!("four forms"));
    let ack = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(400)
                // No requestId in the body: the header's is shown, and it echoes the token.
                .insert_header("x-acs-request-id", STS_TOKEN)
                .set_body_json(serde_json::json!({
                    "code": "InvalidParameter",
                    "message": format!("bad token {lower} / {upper} / {base64} / {STS_TOKEN}"),
                })),
        )
        .mount(&ack)
        .await;
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.get_credential(&ack.uri());
    cmd.env("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN)
        .args(["--log-level", "debug"]);
    let out = run_quick(cmd).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("InvalidParameter"), "{err}");
    assert_no_secret("echo", &err);
}

// ---------------------------------------------------------------------------------------------
// 7. Freshness of upstream credentials.

#[tokio::test]
async fn expired_upstream_credentials_are_refused_and_never_sent() {
    for expiration in [rfc3339(1_000_000_000), in_minutes(0)] {
        let uri = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "Code": "Success", "AccessKeyId": "STS.old", "AccessKeySecret": AK_SECRET,
                "SecurityToken": STS_TOKEN, "Expiration": expiration,
            })))
            .mount(&uri)
            .await;
        let ack = MockServer::start().await;
        mount(&ack, success(&in_hours(3)), 0).await;
        let sandbox = Sandbox::new();
        let mut cmd = sandbox.bare();
        cmd.env("ALIBABA_CLOUD_CREDENTIALS_URI", format!("{}/c", uri.uri()))
            .args([
                "credential-plugin",
                "get-credential",
                "--cluster-id",
                CLUSTER,
            ])
            .args(["--cs-endpoint", &ack.uri()]);
        let out = run_quick(cmd).await;
        assert!(!out.status.success(), "{expiration}");
        let err = stderr(&out);
        assert!(
            err.contains("credentials URI") && err.contains("were not used"),
            "{expiration}: {err}"
        );
        assert_untouched(&ack, "ACK").await;
    }
}
