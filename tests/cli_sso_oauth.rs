//! aliyun CLI profiles in `CloudSSO` and `OAuth` mode, end to end: the real binary in a
//! sandboxed HOME, `get-credential` against the emulator's ACK API, CloudSSO portal and OAuth
//! server. For each mode: cached STS are served without a portal call; a refresh is written back
//! into `~/.aliyun/config.json` touching only the credential fields (every other key, profile and
//! unknown key kept, the file 0600); an unrecoverable token is an error naming the command that
//! signs in again, with nothing sent or written; and 16 plugin processes started together on an
//! expired profile make exactly one refresh and leave an intact file.

mod support;

use ack_ram_emulator::{
    DEMO_OAUTH_ACCESS_TOKEN, DEMO_OAUTH_REFRESH_TOKEN, DEMO_SSO_ACCESS_TOKEN, Emulator,
    EmulatorConfig, OAuthSettings, SsoSettings,
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::*;

const CACHED_ID: &str = "STS.CachedInTheProfile0001";
const CACHED_SECRET: &str = "CachedSecretInTheProfile-0001";
const CACHED_TOKEN: &str = "CAISCachedTokenInTheProfile/0001+==";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn cluster(i: usize) -> String {
    format!("c{i:02}abcdef0123456789abcdef0123456789")
}

struct Setup {
    emulator: Emulator,
    sandbox: Sandbox,
    config: PathBuf,
}

/// An emulator and a HOME whose `~/.aliyun/config.json` holds an AK profile (`current`), the
/// profile `sso` or `oauth` under test, top-level and per-profile keys this plugin does not know.
fn setup(profile: Value) -> Setup {
    let emulator = Emulator::start_blocking(EmulatorConfig::default())
        .unwrap_or_else(|e| panic!("emulator: {e}"));
    let sandbox = Sandbox::new();
    let dir = sandbox.home.path().join(".aliyun");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let config = dir.join("config.json");
    let doc = json!({
        "current": "dev",
        "profiles": [
            {"name": "dev", "mode": "AK", "access_key_id": AK_ID, "access_key_secret": AK_SECRET,
             "region_id": "cn-hangzhou", "read_timeout": 9, "sts_endpoint": "sts.example"},
            profile,
            {"name": "z-last", "mode": "StsToken", "access_key_id": "STS.z",
             "access_key_secret": "z", "sts_token": "z", "bearer_token": "kept"},
        ],
        "meta_path": "",
        "plugin_settings": {"unknown": ["kept", 1, true]},
    });
    let text = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&config, text).unwrap_or_else(|e| panic!("{e}"));
    Setup {
        emulator,
        sandbox,
        config,
    }
}

fn sso_profile(extra: Value) -> Value {
    let mut profile = json!({
        "name": "sso", "mode": "CloudSSO", "region_id": "cn-shanghai",
        "cloud_sso_sign_in_url": "", "cloud_sso_account_id": "1234567890123456",
        "cloud_sso_access_config": "ac-EXAMPLE0000", "access_token": DEMO_SSO_ACCESS_TOKEN,
        "cloud_sso_access_token_expire": now() + 3600,
        "access_key_id": "STS.OldExpired", "access_key_secret": "old", "sts_token": "old",
        "sts_expiration": now() - 10, "output_format": "json", "language": "en",
        "x_sso_unknown": {"nested": [1, 2]},
    });
    merge(&mut profile, extra);
    profile
}

fn oauth_profile(extra: Value) -> Value {
    let mut profile = json!({
        "name": "oauth", "mode": "OAuth", "region_id": "cn-beijing", "oauth_site_type": "CN",
        "oauth_access_token": DEMO_OAUTH_ACCESS_TOKEN, "oauth_refresh_token": DEMO_OAUTH_REFRESH_TOKEN,
        "oauth_access_token_expire": now() + 3 * 3600 - 60,
        "access_key_id": "STS.OldExpired", "access_key_secret": "old", "sts_token": "old",
        "sts_expiration": now() - 10, "output_format": "json", "language": "en",
        "x_oauth_unknown": "kept",
    });
    merge(&mut profile, extra);
    profile
}

fn merge(profile: &mut Value, extra: Value) {
    if let (Some(p), Value::Object(e)) = (profile.as_object_mut(), extra) {
        p.extend(e);
    }
}

impl Setup {
    /// Points the CloudSSO profile's sign-in URL at the emulator.
    fn point_sso_at_emulator(&self) {
        let mut doc = self.read();
        doc["profiles"][1]["cloud_sso_sign_in_url"] =
            format!("{}/start/login", self.emulator.endpoint()).into();
        let text = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&self.config, text).unwrap_or_else(|e| panic!("{e}"));
    }

    fn read(&self) -> Value {
        serde_json::from_str(&self.bytes()).unwrap_or_else(|e| panic!("config.json: {e}"))
    }

    fn bytes(&self) -> String {
        std::fs::read_to_string(&self.config).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `get-credential` for `cluster` with `profile`, as a std command (for concurrent runs).
    fn command(&self, profile: &str, cluster: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ack-ram-tool"));
        cmd.env_clear()
            .env("HOME", self.sandbox.home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("ACK_RAM_TOOL_OAUTH_ENDPOINT", self.emulator.endpoint())
            .args([
                "credential-plugin",
                "get-credential",
                "--cluster-id",
                cluster,
            ])
            .args(["--cs-endpoint", &self.emulator.endpoint()])
            .args(["--profile-name", profile])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn run(&self, profile: &str, cluster: &str) -> Output {
        let child = self
            .command(profile, cluster)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn: {e}"));
        wait_bounded(child, Duration::from_secs(60))
    }
}

/// Waits for `child` at most `limit` (killed and failed after that).
fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().unwrap_or_else(|e| panic!("{e}")),
            Ok(None) if started.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let output = child.wait_with_output().ok();
                panic!(
                    "the plugin did not finish within {limit:?}; stderr: {}",
                    output.map(|o| stderr(&o)).unwrap_or_default()
                );
            }
            Err(e) => panic!("wait: {e}"),
        }
    }
}

fn assert_served(out: &Output) {
    assert!(out.status.success(), "stderr: {}", stderr(out));
    assert_eq!(exec_credential(out)["kind"], "ExecCredential");
}

/// `after` equals `before` except for `changed` keys of profile `index`.
fn assert_only_changed(before: &Value, after: &Value, index: usize, changed: &[&str]) {
    let (Some(b), Some(a)) = (before.as_object(), after.as_object()) else {
        panic!("not objects")
    };
    assert_eq!(
        b.keys().collect::<Vec<_>>(),
        a.keys().collect::<Vec<_>>(),
        "top-level keys"
    );
    for (key, value) in b {
        if key != "profiles" {
            assert_eq!(Some(value), a.get(key), "top-level {key}");
        }
    }
    let (bp, ap) = (&before["profiles"], &after["profiles"]);
    assert_eq!(bp.as_array().map(Vec::len), ap.as_array().map(Vec::len));
    for i in 0..bp.as_array().map_or(0, Vec::len) {
        if i != index {
            assert_eq!(bp[i], ap[i], "profile #{i} untouched");
            continue;
        }
        let (Some(b), Some(a)) = (bp[i].as_object(), ap[i].as_object()) else {
            panic!("profiles are objects")
        };
        for (key, value) in b {
            if !changed.contains(&key.as_str()) {
                assert_eq!(Some(value), a.get(key), "{key} kept");
            }
        }
        for key in changed {
            assert!(a.contains_key(*key), "{key} written");
        }
        assert!(
            a.keys()
                .all(|k| b.contains_key(k) || changed.contains(&k.as_str())),
            "no other key added"
        );
    }
}

fn mode_of(path: &Path) -> u32 {
    mode(path)
}

const STS_FIELDS: [&str; 4] = [
    "access_key_id",
    "access_key_secret",
    "sts_token",
    "sts_expiration",
];

#[test]
fn cloudsso_cached_sts_are_served_without_a_portal_call() {
    let setup = setup(sso_profile(json!({
        "access_key_id": CACHED_ID, "access_key_secret": CACHED_SECRET, "sts_token": CACHED_TOKEN,
        "sts_expiration": now() + 3600,
    })));
    setup.point_sso_at_emulator();
    setup
        .emulator
        .add_security_token(CACHED_ID, CACHED_SECRET, CACHED_TOKEN);
    let before = setup.bytes();
    let out = setup.run("sso", &cluster(0));
    assert_served(&out);
    assert_eq!(setup.emulator.sso_request_count(), 0, "no portal call");
    assert_eq!(
        setup.emulator.issued_count(),
        1,
        "ACK accepted the cached STS"
    );
    assert_eq!(setup.bytes(), before, "nothing written");
    assert!(!stderr(&out).contains(CACHED_SECRET));
}

#[test]
fn cloudsso_refresh_is_written_back_into_the_credential_fields_only() {
    let setup = setup(sso_profile(json!({})));
    setup.point_sso_at_emulator();
    let before = setup.read();
    let out = setup.run("sso", &cluster(0));
    assert_served(&out);
    assert_eq!(stderr(&out), "", "silent when things work");
    assert_eq!(setup.emulator.sso_request_count(), 1);
    assert_eq!(setup.emulator.issued_count(), 1, "ACK accepted the new STS");
    let after = setup.read();
    assert_only_changed(&before, &after, 1, &STS_FIELDS);
    let sso = &after["profiles"][1];
    let id = sso["access_key_id"].as_str().unwrap_or_default();
    assert!(setup.emulator.caller_identity(id).is_some(), "{id}");
    let expiration = sso["sts_expiration"].as_i64().unwrap_or_default();
    assert!(
        (now() + 3500..=now() + 3600).contains(&expiration),
        "{expiration}"
    );
    assert_eq!(mode_of(&setup.config), 0o600);
    assert!(
        setup.bytes().starts_with("{\n\t\"current\": \"dev\""),
        "written as the aliyun CLI writes it"
    );

    // The next run, for another cluster, uses what was written back.
    let out = setup.run("sso", &cluster(1));
    assert_served(&out);
    assert_eq!(setup.emulator.sso_request_count(), 1);
    assert_eq!(setup.emulator.issued_count(), 2);
}

#[test]
fn cloudsso_expired_access_tokens_name_the_login_command_and_write_nothing() {
    // Expired according to the profile: nothing is sent.
    let setup = setup(sso_profile(
        json!({"cloud_sso_access_token_expire": now() - 5}),
    ));
    setup.point_sso_at_emulator();
    let before = setup.bytes();
    let out = setup.run("sso", &cluster(0));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("CloudSSO access token that expired at")
            && err.contains("`aliyun configure --profile sso`"),
        "{err}"
    );
    assert!(!err.contains(DEMO_SSO_ACCESS_TOKEN), "{err}");
    assert_eq!(stdout(&out), "");
    assert_eq!(setup.emulator.sso_request_count(), 0);
    assert_eq!(setup.emulator.request_count(), 0);
    assert_eq!(setup.bytes(), before);

    // Valid in the profile, refused by the portal: its answer and the command.
    let mut doc = setup.read();
    doc["profiles"][1]["cloud_sso_access_token_expire"] = (now() + 3600).into();
    std::fs::write(&setup.config, doc.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let before = setup.bytes();
    setup.emulator.configure_sso(SsoSettings {
        access_token_expires_at: now() - 1,
        ..setup.emulator.sso_settings()
    });
    let out = setup.run("sso", &cluster(0));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("HTTP 401 AccessTokenExpired")
            && err.contains("`aliyun configure --profile sso`"),
        "{err}"
    );
    assert_eq!(setup.emulator.sso_request_count(), 1);
    assert_eq!(setup.bytes(), before);
}

/// Starts `n` plugin processes at once, for `n` clusters (so the certificate cache does not
/// serialise them: only the config.json lock does).
fn run_concurrently(setup: &Setup, profile: &str, n: usize) -> Vec<Output> {
    let children: Vec<Child> = (0..n)
        .map(|i| {
            setup
                .command(profile, &cluster(i))
                .spawn()
                .unwrap_or_else(|e| panic!("spawn: {e}"))
        })
        .collect();
    children
        .into_iter()
        .map(|c| wait_bounded(c, Duration::from_secs(90)))
        .collect()
}

#[test]
fn cloudsso_16_concurrent_processes_make_one_refresh_and_leave_an_intact_file() {
    let setup = setup(sso_profile(json!({})));
    setup.point_sso_at_emulator();
    let before = setup.read();
    for out in run_concurrently(&setup, "sso", 16) {
        assert_served(&out);
    }
    assert_eq!(setup.emulator.sso_request_count(), 1, "one refresh call");
    assert_eq!(setup.emulator.issued_count(), 16, "16 certificates");
    assert_only_changed(&before, &setup.read(), 1, &STS_FIELDS);
    assert_eq!(mode_of(&setup.config), 0o600);
    let leftovers: Vec<String> = std::fs::read_dir(setup.config.parent().unwrap_or(Path::new(".")))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut leftovers = leftovers;
    leftovers.sort();
    assert_eq!(
        leftovers,
        ["config.json", "config.json.lock"],
        "no temp files left"
    );
}

const OAUTH_TOKEN_FIELDS: [&str; 3] = [
    "oauth_access_token",
    "oauth_refresh_token",
    "oauth_access_token_expire",
];

fn all_oauth_fields() -> Vec<&'static str> {
    STS_FIELDS
        .iter()
        .chain(&OAUTH_TOKEN_FIELDS)
        .copied()
        .collect()
}

#[test]
fn oauth_cached_sts_are_served_without_an_oauth_call() {
    let setup = setup(oauth_profile(json!({
        "access_key_id": CACHED_ID, "access_key_secret": CACHED_SECRET, "sts_token": CACHED_TOKEN,
        "sts_expiration": now() + 3600, "oauth_access_token_expire": now() - 100,
    })));
    setup
        .emulator
        .add_security_token(CACHED_ID, CACHED_SECRET, CACHED_TOKEN);
    let before = setup.bytes();
    let out = setup.run("oauth", &cluster(0));
    assert_served(&out);
    assert_eq!(
        (
            setup.emulator.oauth_token_request_count(),
            setup.emulator.oauth_exchange_request_count()
        ),
        (0, 0)
    );
    assert_eq!(setup.emulator.issued_count(), 1);
    assert_eq!(setup.bytes(), before);
}

#[test]
fn oauth_exchange_and_refresh_are_written_back_into_the_credential_fields_only() {
    // A valid access token: the exchange alone.
    let setup = setup(oauth_profile(json!({})));
    let before = setup.read();
    let out = setup.run("oauth", &cluster(0));
    assert_served(&out);
    assert_eq!(stderr(&out), "");
    assert_eq!(setup.emulator.oauth_token_request_count(), 0);
    assert_eq!(setup.emulator.oauth_exchange_request_count(), 1);
    let after = setup.read();
    assert_only_changed(&before, &after, 1, &STS_FIELDS);
    assert_eq!(mode_of(&setup.config), 0o600);

    // An access token with 10 minutes left (inside the 20-minute margin): refreshed first, the
    // rotated refresh token saved.
    let mut doc = after;
    doc["profiles"][1]["oauth_access_token_expire"] = (now() + 600).into();
    doc["profiles"][1]["sts_expiration"] = (now() - 1).into();
    std::fs::write(&setup.config, doc.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let before = setup.read();
    let out = setup.run("oauth", &cluster(1));
    assert_served(&out);
    assert_eq!(setup.emulator.oauth_token_request_count(), 1);
    assert_eq!(setup.emulator.oauth_exchange_request_count(), 2);
    let after = setup.read();
    assert_only_changed(&before, &after, 1, &all_oauth_fields());
    let oauth = &after["profiles"][1];
    assert_eq!(
        oauth["oauth_refresh_token"].as_str(),
        setup.emulator.oauth_refresh_token().as_deref(),
        "the rotated refresh token is the one on disk"
    );
    assert_ne!(oauth["oauth_access_token"], DEMO_OAUTH_ACCESS_TOKEN);
    let expire = oauth["oauth_access_token_expire"]
        .as_i64()
        .unwrap_or_default();
    assert!((now() + 3 * 3600 - 60..=now() + 3 * 3600).contains(&expire));
    assert_eq!(setup.emulator.issued_count(), 2);
}

#[test]
fn oauth_unrecoverable_tokens_name_the_reauth_command_and_write_nothing() {
    // No refresh token and an expired access token: nothing is sent.
    let setup = setup(oauth_profile(json!({
        "oauth_refresh_token": "", "oauth_access_token_expire": now() - 5,
    })));
    let before = setup.bytes();
    let out = setup.run("oauth", &cluster(0));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("expired at")
            && err.contains("`aliyun configure --mode OAuth --profile oauth`"),
        "{err}"
    );
    assert_eq!(stdout(&out), "");
    assert_eq!(
        setup.emulator.oauth_token_request_count() + setup.emulator.oauth_exchange_request_count(),
        0
    );
    assert_eq!(setup.bytes(), before);

    // A refresh token the server no longer accepts.
    let mut doc = setup.read();
    doc["profiles"][1]["oauth_refresh_token"] = DEMO_OAUTH_REFRESH_TOKEN.into();
    std::fs::write(&setup.config, doc.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let before = setup.bytes();
    setup.emulator.configure_oauth(OAuthSettings {
        refresh_token: None,
        ..OAuthSettings::default()
    });
    let out = setup.run("oauth", &cluster(0));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("HTTP 400 invalid_grant")
            && err.contains("`aliyun configure --mode OAuth --profile oauth`"),
        "{err}"
    );
    assert!(!err.contains(DEMO_OAUTH_REFRESH_TOKEN), "{err}");
    assert_eq!(setup.emulator.oauth_token_request_count(), 1);
    assert_eq!(setup.emulator.oauth_exchange_request_count(), 0);
    assert_eq!(setup.bytes(), before);
}

#[test]
fn oauth_16_concurrent_processes_make_one_refresh_and_leave_an_intact_file() {
    let setup = setup(oauth_profile(
        json!({"oauth_access_token_expire": now() - 10}),
    ));
    let before = setup.read();
    for out in run_concurrently(&setup, "oauth", 16) {
        assert_served(&out);
    }
    assert_eq!(setup.emulator.oauth_token_request_count(), 1, "one refresh");
    assert_eq!(
        setup.emulator.oauth_exchange_request_count(),
        1,
        "one exchange"
    );
    assert_eq!(setup.emulator.issued_count(), 16);
    let after = setup.read();
    assert_only_changed(&before, &after, 1, &all_oauth_fields());
    assert_eq!(
        after["profiles"][1]["oauth_refresh_token"].as_str(),
        setup.emulator.oauth_refresh_token().as_deref(),
        "the rotation was not lost"
    );
    assert_eq!(mode_of(&setup.config), 0o600);
}
