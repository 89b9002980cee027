//! The keychain from the command line, against a real Secret Service (gnome-keyring on a
//! private D-Bus, started by `scripts/test.sh`): `--cache-store keyring|auto|none`, `cache
//! list|clear`, and `keyring set-access-key|list|delete` with `--credential-type keyring`.

mod support;

use support::*;
use wiremock::MockServer;

fn bus() -> String {
    std::env::var("DBUS_SESSION_BUS_ADDRESS").unwrap_or_else(|_| {
        panic!("no DBUS_SESSION_BUS_ADDRESS: run the keyring tests through scripts/test.sh, which starts a private Secret Service")
    })
}

/// The plugin with the test Secret Service's bus (or a dead one).
fn with_bus(mut cmd: assert_cmd::Command, bus: &str) -> assert_cmd::Command {
    cmd.env("DBUS_SESSION_BUS_ADDRESS", bus);
    cmd
}

/// The Secret Service item of `account` under the service `ack-ram-tool`, as `secret-tool`
/// (not our code) sees it on `bus`.
fn ss_lookup(bus: &str, account: &str) -> Option<String> {
    let out = std::process::Command::new("secret-tool")
        .args(["lookup", "service", "ack-ram-tool", "username", account])
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .output()
        .unwrap_or_else(|e| panic!("secret-tool: {e}"));
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The probe entry earlier versions left in the keychain for good.
fn plant_old_probe_entry(bus: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("secret-tool")
        .args([
            "store",
            "--label=probe",
            "service",
            "ack-ram-tool",
            "username",
            "probe",
        ])
        .args(["target", "default", "application", "rust-keyring"])
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("secret-tool: {e}"));
    if let Some(stdin) = child.stdin.as_mut() {
        let _ = stdin.write_all(b"ack-ram-tool keychain probe (not a secret)");
    }
    drop(child.stdin.take());
    assert!(child.wait().is_ok_and(|s| s.success()));
    assert!(ss_lookup(bus, "probe").is_some());
}

fn files_under(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            out.push((e.file_name().to_string_lossy().into_owned(), text));
        }
    }
    out
}

#[tokio::test]
async fn keyring_store_end_to_end_keeps_the_key_off_the_disk() {
    let bus = bus();
    let server = MockServer::start().await;
    mount(&server, success(&in_hours(3)), 1).await;
    let sandbox = Sandbox::new();
    let cmd = || {
        let mut cmd = with_bus(sandbox.get_credential(&server.uri()), &bus);
        cmd.args(["--cache-store", "keyring"]);
        cmd
    };
    let first = run(cmd()).await;
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(
        exec_credential(&first)["status"]["clientKeyData"],
        CLIENT_KEY
    );
    let second = run(cmd()).await;
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(stdout(&second), stdout(&first), "a hit from the keychain");
    assert_eq!(
        server.received_requests().await.map(|r| r.len()),
        Some(1),
        "no second API call"
    );

    let files = files_under(&sandbox.cache_dir());
    assert!(!files.is_empty());
    for (name, text) in &files {
        assert!(!text.contains(&key_body()), "{name} holds the private key");
        for line in CLIENT_KEY.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!text.contains(line), "{name} holds part of the private key");
        }
    }
    assert!(
        !sandbox.cache_file("v1beta1").exists(),
        "no Go-style file with the key"
    );

    let mut list = with_bus(sandbox.bare(), &bus);
    list.args(["credential-plugin", "cache", "list"]);
    let out = run(list).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(CLUSTER)
            && stdout(&out).contains("keyring")
            && stdout(&out).contains("fresh"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains(&key_body()));

    let mut clear = with_bus(sandbox.bare(), &bus);
    clear.args([
        "credential-plugin",
        "cache",
        "clear",
        "--cluster-id",
        CLUSTER,
    ]);
    let out = run(clear).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("keyring: 1"), "{}", stdout(&out));
    // The keychain items are gone: the next run is a miss.
    server.reset().await;
    mount(&server, success(&in_hours(3)), 1).await;
    let third = run(cmd()).await;
    assert!(third.status.success(), "{}", stderr(&third));
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(1));
    // The probe before each refresh left nothing behind. (This is the only test here that
    // probes the real keychain, so nothing else writes the entry meanwhile.)
    assert_eq!(ss_lookup(&bus, "probe"), None);

    // `cache clear` also removes the probe entry earlier versions left for good.
    plant_old_probe_entry(&bus);
    let mut clear_all = with_bus(sandbox.bare(), &bus);
    clear_all.args(["credential-plugin", "cache", "clear"]);
    let out = run(clear_all).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("removed 1 cached certificate(s)")
            && stdout(&out).contains("keyring: 1"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        ss_lookup(&bus, "probe"),
        None,
        "the old probe entry is gone"
    );
}

#[tokio::test]
async fn without_a_keychain_auto_uses_files_and_keyring_fails_clearly() {
    let dead = "unix:path=/nonexistent/ack-ram-tool-test-bus";
    let server = MockServer::start().await;
    mount(&server, success(&in_hours(3)), 1).await;

    let sandbox = Sandbox::new();
    let mut cmd = with_bus(sandbox.get_credential(&server.uri()), dead);
    cmd.args(["--cache-store", "auto"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "",
        "the fallback is silent at the default level"
    );
    assert!(
        sandbox.cache_file("v1beta1").is_file(),
        "auto fell back to the file cache"
    );

    let sandbox = Sandbox::new();
    let mut cmd = with_bus(sandbox.get_credential(&server.uri()), dead);
    cmd.args(["--cache-store", "keyring"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("Secret Service")
            && err.contains("--cache-store auto")
            && err.contains("--cache-store file"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        !sandbox
            .cache_dir()
            .join(format!("{CLUSTER}-exec-auth-credential-v1beta1.json"))
            .exists()
    );
    assert_eq!(
        server.received_requests().await.map(|r| r.len()),
        Some(1),
        "keyring mode fails before the API"
    );
}

#[tokio::test]
async fn none_store_never_persists() {
    let server = MockServer::start().await;
    mount(&server, success(&in_hours(3)), 2).await;
    let sandbox = Sandbox::new();
    for _ in 0..2 {
        let mut cmd = sandbox.get_credential(&server.uri());
        cmd.env("ACK_RAM_TOOL_CACHE_STORE", "none");
        let out = run(cmd).await;
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert!(!sandbox.cache_dir().exists(), "nothing written");
}

#[tokio::test]
async fn access_keys_in_the_keychain_sign_the_ack_call() {
    let bus = bus();
    let profile = format!("test-{}", std::process::id());
    let sandbox = Sandbox::new();
    let mut set = with_bus(sandbox.bare(), &bus);
    set.args(["keyring", "set-access-key", "--profile", &profile])
        .write_stdin(format!("LTAIkeychainKey\n{AK_SECRET}\n"));
    let out = run(set).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains(AK_SECRET) && !stderr(&out).contains(AK_SECRET));

    let mut list = with_bus(sandbox.bare(), &bus);
    list.args(["keyring", "list"]);
    let out = run(list).await;
    assert!(
        stdout(&out).contains(&profile) && stdout(&out).contains("LTAIkeychainKey"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains(AK_SECRET));

    let server = MockServer::start().await;
    mount(&server, success(&in_hours(3)), 1).await;
    let mut cmd = with_bus(sandbox.bare(), &bus);
    cmd.args([
        "credential-plugin",
        "get-credential",
        "-c",
        CLUSTER,
        "--cs-endpoint",
        &server.uri(),
    ])
    .args(["--credential-type", "keyring", "--profile-name", &profile]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let requests = server.received_requests().await.unwrap_or_default();
    let auth = requests[0]
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(auth.starts_with("acs LTAIkeychainKey:"), "{auth}");

    let mut delete = with_bus(sandbox.bare(), &bus);
    delete.args(["keyring", "delete", "--profile", &profile]);
    assert!(run(delete).await.status.success());
    let mut again = with_bus(sandbox.bare(), &bus);
    again.args(["keyring", "delete", "--profile", &profile]);
    let out = run(again).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no profile"), "{}", stderr(&out));
}
