//! The keyring store and keyring-held AccessKeys against real keychains.
//!
//! Three groups:
//! - Secret Service: a real gnome-keyring on a private D-Bus session bus, started by
//!   `scripts/secret-service.sh` (the test command sources it). Without
//!   `DBUS_SESSION_BUS_ADDRESS` these tests FAIL and say how to run them: a keychain test that
//!   silently skips proves nothing.
//! - No keychain: the probe and the store in child processes (this test binary re-run with a
//!   filter) whose environment points at no bus, a dead socket, or a bus without the service,
//!   so nothing changes the environment of the other test threads.
//! - Kernel keyutils: the same store contract on the kernel key retention service, in this
//!   process (which exercises the store's workaround for the keyring crate's first-entry bug)
//!   and under `keyctl session -`.
//!
//! The cache directory is scanned for the private key's PEM body after every write.

use ack_ram_adapters::context::Context;
use ack_ram_adapters::env::Environment;
use ack_ram_adapters::http::HttpSettings;
use ack_ram_adapters::keychain::{
    self, Backend, CHUNK_BYTES, DEFAULT_PROBE_TIMEOUT, PROBE_ACCOUNT, SERVICE,
};
use ack_ram_adapters::sources::CredentialSpec;
use ack_ram_adapters::sources::keyring::{KeyringAccessKeys, KeyringError};
use ack_ram_adapters::store::{self, KeyringStore};
use ack_ram_domain::ports::{CredentialStore, ProviderError};
use ack_ram_domain::{ApiVersion, CacheKey, ClusterCredential, ClusterId, IdentityInputs, Secret};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const HOW_TO_RUN: &str = "the Secret Service tests need a running Secret Service and DBUS_SESSION_BUS_ADDRESS pointing at it; run them via scripts/test.sh, or by hand: `source scripts/secret-service.sh && start_secret_service && cargo test -p ack-ram-tool --test keyring_store; stop_secret_service`";

/// Set in child processes: which scenario the child test runs.
const CHILD_ENV: &str = "ACK_RAM_TOOL_KEYRING_TEST_CHILD";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The probe of the process's native keychain, as `--cache-store auto` runs it.
fn native_probe() -> Result<(), keychain::KeychainError> {
    keychain::probe(&keychain::os_vault(Backend::Native), DEFAULT_PROBE_TIMEOUT)
}

fn require_secret_service() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty()),
        "{HOW_TO_RUN}"
    );
    assert!(
        Command::new("secret-tool")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
            || Command::new("secret-tool").output().is_ok(),
        "secret-tool is missing (package libsecret-tools); {HOW_TO_RUN}"
    );
}

/// A cluster id no other test or earlier run uses (the keychains outlive test runs).
fn unique_cluster(tag: &str) -> ClusterId {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let raw = format!(
        "c{tag}{}x{nanos}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    ClusterId::parse(&raw).unwrap_or_else(|e| panic!("{e}"))
}

fn key_for(cluster: &ClusterId, profile: &str) -> CacheKey {
    CacheKey {
        cluster_id: cluster.clone(),
        api_version: ApiVersion::V1,
        identity: IdentityInputs {
            profile_name: profile.into(),
            ..IdentityInputs::default()
        },
    }
}

/// A PEM-shaped key whose body (`body_len` bytes of base64-ish text, distinct per call) can be
/// searched for.
fn credential(body_len: usize, seed: &str) -> (ClusterCredential, String) {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state: u64 = seed.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut body = String::with_capacity(body_len + body_len / 64);
    for i in 0..body_len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        body.push(char::from(alphabet[(state % 64) as usize]));
        if i % 64 == 63 {
            body.push('\n');
        }
    }
    let pem = format!("-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n");
    (
        ClusterCredential {
            client_certificate_pem:
                "-----BEGIN CERTIFICATE-----\nMIIBcertificate\n-----END CERTIFICATE-----\n".into(),
            client_key_pem: Secret::new(pem),
            expiration: DateTime::<Utc>::from_timestamp(2_000_000_000, 0).unwrap_or_default(),
        },
        body,
    )
}

/// Every file under `dir` that contains any line of `body` (at least 20 characters long).
fn files_containing(dir: &Path, body: &str) -> Vec<PathBuf> {
    let needles: Vec<&str> = body.lines().filter(|l| l.len() >= 20).collect();
    assert!(!needles.is_empty());
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_default();
                let text = String::from_utf8_lossy(&bytes);
                if needles.iter().any(|n| text.contains(n)) {
                    hits.push(path);
                }
            }
        }
    }
    hits
}

fn assert_nothing_secret_on_disk(dir: &Path, body: &str) {
    let hits = files_containing(dir, body);
    assert!(hits.is_empty(), "private key material on disk in {hits:?}");
}

fn secret_tool(args: &[&str]) -> Output {
    Command::new("secret-tool")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("secret-tool: {e}; {HOW_TO_RUN}"))
}

/// The Secret Service item for `account`, as `secret-tool` (not our code) sees it.
fn ss_lookup(account: &str) -> Option<String> {
    let out = secret_tool(&["lookup", "service", SERVICE, "username", account]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Stores `value` as `account`'s item with `secret-tool` (not our code), as the `keyring` crate
/// would have.
fn ss_store(account: &str, value: &str) {
    let mut child = Command::new("secret-tool")
        .args([
            "store",
            "--label=planted",
            "service",
            SERVICE,
            "username",
            account,
        ])
        .args(["target", "default", "application", "rust-keyring"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("secret-tool: {e}; {HOW_TO_RUN}"));
    if let Some(stdin) = child.stdin.as_mut() {
        use std::io::Write;
        let _ = stdin.write_all(value.as_bytes());
    }
    drop(child.stdin.take());
    assert!(
        child.wait().is_ok_and(|s| s.success()),
        "secret-tool store failed"
    );
}

/// The `modified` time `secret-tool search` reports for `account`'s item.
fn ss_modified(account: &str) -> Option<String> {
    let out = secret_tool(&["search", "--all", "service", SERVICE, "username", account]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
        .find_map(|l| l.strip_prefix("modified = ").map(str::to_owned))
}

fn chunk_account(base: &str, n: usize) -> String {
    if n == 0 {
        base.to_owned()
    } else {
        format!("{base}:{n}")
    }
}

/// Re-runs this test binary for one ignored child test with a changed environment.
fn run_child(test: &str, scenario: &str, env: &[(&str, &str)], remove: &[&str]) -> Output {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let mut cmd = Command::new(exe);
    cmd.args([
        "--ignored",
        "--exact",
        test,
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, scenario);
    for name in remove {
        cmd.env_remove(name);
    }
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("running the child test: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A private dbus-daemon (killed on drop). `with_services`: the standard session service
/// directories (so gnome-keyring is activatable); without, nothing provides any service.
struct PrivateBus {
    child: Child,
    dir: tempfile::TempDir,
}

impl PrivateBus {
    fn start(with_services: bool) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let socket = dir.path().join("bus");
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  {}
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                socket.display(),
                if with_services {
                    "<standard_session_servicedirs />"
                } else {
                    ""
                }
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--nopidfile"])
            .env("XDG_DATA_HOME", dir.path())
            .env("XDG_RUNTIME_DIR", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("dbus-daemon: {e}; {HOW_TO_RUN}"));
        let started = Instant::now();
        while !socket.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the private bus did not come up"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Self { child, dir }
    }

    fn address(&self) -> String {
        format!("unix:path={}", self.dir.path().join("bus").display())
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Secret Service
// ---------------------------------------------------------------------------------------------

#[test]
fn secret_service_round_trip_with_nothing_secret_on_disk() {
    require_secret_service();
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = home.path().join("cache");
    let store = KeyringStore::new(&dir);
    assert_eq!(store.backend(), Backend::Native);
    assert_eq!(store.name(), "keyring");
    let key = key_for(&unique_cluster("rt"), "dev");
    let (cred, body) = credential(1200, "round trip");

    assert_eq!(store.load(&key), Ok(None), "empty cache is a miss");
    assert_eq!(store.save(&key, &cred), Ok(()));
    assert_eq!(store.load(&key), Ok(Some(cred.clone())));
    assert_nothing_secret_on_disk(home.path(), &body);

    // The key is in the Secret Service, as an independent client sees it.
    let account = KeyringStore::account(&key);
    assert_eq!(
        ss_lookup(&account).as_deref(),
        Some(cred.client_key_pem.expose()),
        "the key is the keychain item {account}"
    );
    // Metadata: the file store's directory, its own name, 0600, freshness without a keychain.
    let meta_path = store.metadata_path(&key);
    assert!(
        meta_path.to_string_lossy().ends_with(
            "-exec-auth-credential-v1-34c6fceca75e456f25e7e99531e2425c6c1de443.keyring.json"
        ),
        "{}",
        meta_path.display()
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&meta_path).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600));
    }
    let meta = store.load_metadata(&key).ok().flatten();
    assert_eq!(meta.as_ref().map(|m| m.expiration), Some(cred.expiration));
    assert_eq!(meta.as_ref().map(|m| m.chunks), Some(1));
    assert!(
        !dir.join(key.file_name()).exists(),
        "no Go-style cache file"
    );

    assert_eq!(store.delete(&key), Ok(true));
}

#[test]
fn secret_service_six_kb_secret_round_trips_through_chunks() {
    require_secret_service();
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = KeyringStore::new(home.path());
    let key = key_for(&unique_cluster("big"), "");
    let (cred, body) = credential(6 * 1024, "six kb");
    let pem_len = cred.client_key_pem.expose().len();
    assert!(pem_len > 6 * 1024);

    assert_eq!(store.save(&key, &cred), Ok(()));
    let want_chunks = pem_len.div_ceil(CHUNK_BYTES);
    assert_eq!(
        store.load_metadata(&key).ok().flatten().map(|m| m.chunks),
        Some(want_chunks)
    );
    let account = KeyringStore::account(&key);
    let mut joined = String::new();
    for n in 0..want_chunks {
        let piece = ss_lookup(&chunk_account(&account, n));
        let piece = piece.unwrap_or_else(|| panic!("chunk {n} missing in the Secret Service"));
        assert!(
            piece.len() <= CHUNK_BYTES,
            "chunk {n} is {} bytes",
            piece.len()
        );
        joined.push_str(&piece);
    }
    assert!(
        joined == cred.client_key_pem.expose(),
        "the chunks are the key, in order"
    );
    assert_eq!(ss_lookup(&chunk_account(&account, want_chunks)), None);

    // A fresh store (a new process, in effect) reads it back.
    assert_eq!(KeyringStore::new(home.path()).load(&key), Ok(Some(cred)));
    assert_nothing_secret_on_disk(home.path(), &body);
    assert_eq!(store.delete(&key), Ok(true));
}

#[test]
fn secret_service_unchanged_content_is_not_rewritten() {
    require_secret_service();
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = KeyringStore::new(home.path());
    let key = key_for(&unique_cluster("same"), "");
    let (cred, _) = credential(3000, "unchanged");
    let account = KeyringStore::account(&key);

    assert_eq!(store.save(&key, &cred), Ok(()));
    assert_eq!(store.keychain_writes(), 2);
    let before = (
        ss_modified(&account),
        ss_modified(&chunk_account(&account, 1)),
    );
    assert!(before.0.is_some() && before.1.is_some(), "{before:?}");

    // The Secret Service keeps modification times in seconds.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(store.save(&key, &cred), Ok(()));
    assert_eq!(store.keychain_writes(), 2, "nothing rewritten");
    let after = (
        ss_modified(&account),
        ss_modified(&chunk_account(&account, 1)),
    );
    assert_eq!(before, after, "the items' modification times did not move");

    // A new key with the same first chunk rewrites only the second.
    let mut changed = cred.clone();
    let pem = cred.client_key_pem.expose();
    let cut = pem.len() - 40;
    changed.client_key_pem = Secret::new(format!("{}{}", &pem[..cut], "Z".repeat(40)));
    assert_eq!(store.save(&key, &changed), Ok(()));
    assert_eq!(store.keychain_writes(), 3);
    assert_eq!(ss_modified(&account), before.0, "chunk 0 untouched");
    assert_ne!(
        ss_modified(&chunk_account(&account, 1)),
        before.1,
        "chunk 1 rewritten"
    );
    assert_eq!(store.load(&key), Ok(Some(changed)));
    assert_eq!(store.delete(&key), Ok(true));
}

#[test]
fn secret_service_torn_states_are_misses() {
    require_secret_service();
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = KeyringStore::new(home.path());
    let key = key_for(&unique_cluster("torn"), "");
    let (cred, _) = credential(3000, "torn");
    let account = KeyringStore::account(&key);

    // Metadata present, one chunk removed behind our back.
    assert_eq!(store.save(&key, &cred), Ok(()));
    let cleared = secret_tool(&[
        "clear",
        "service",
        SERVICE,
        "username",
        &chunk_account(&account, 1),
    ]);
    assert!(cleared.status.success(), "{}", text(&cleared));
    assert_eq!(store.load(&key), Ok(None), "partial: a miss");
    assert!(
        store.load_metadata(&key).ok().flatten().is_some(),
        "freshness data still there"
    );

    // Metadata present, every chunk gone.
    secret_tool(&["clear", "service", SERVICE, "username", &account]);
    assert_eq!(store.load(&key), Ok(None), "missing: a miss");

    // Metadata present, chunk 0 replaced by another key: the fingerprint does not match.
    assert_eq!(store.save(&key, &cred), Ok(()));
    ss_store(
        &account,
        "-----BEGIN RSA PRIVATE KEY-----\nnot the same key\n",
    );
    assert_eq!(store.load(&key), Ok(None), "mismatched: a miss");

    // And the next save repairs it.
    assert_eq!(store.save(&key, &cred), Ok(()));
    assert_eq!(store.load(&key), Ok(Some(cred)));
    assert_eq!(store.delete(&key), Ok(true));
}

#[test]
fn secret_service_delete_list_and_clear_remove_the_keychain_items() {
    require_secret_service();
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = KeyringStore::new(home.path());
    let cluster = unique_cluster("del");
    let other = unique_cluster("keep");
    let (a, b, c) = (
        key_for(&cluster, ""),
        key_for(&cluster, "dev"),
        key_for(&other, ""),
    );
    let (cred, body) = credential(2500, "delete");
    for key in [&a, &b, &c] {
        assert_eq!(store.save(key, &cred), Ok(()));
    }

    let listed = store.list().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(listed.len(), 3);
    assert!(
        listed
            .iter()
            .all(|e| e.expiration == Some(cred.expiration) && e.api_version == ApiVersion::V1)
    );
    assert_eq!(listed.iter().filter(|e| e.cluster_id == cluster).count(), 2);
    let shown = format!("{listed:?}");
    assert!(files_containing(home.path(), &body).is_empty() && !shown.contains("PRIVATE KEY"));

    // delete(key): both chunks leave the Secret Service, and the metadata file goes.
    let account = KeyringStore::account(&a);
    assert!(ss_lookup(&chunk_account(&account, 1)).is_some());
    assert_eq!(store.delete(&a), Ok(true));
    for n in 0..2 {
        let out = secret_tool(&[
            "search",
            "service",
            SERVICE,
            "username",
            &chunk_account(&account, n),
        ]);
        assert!(
            String::from_utf8_lossy(&out.stdout).trim().is_empty(),
            "chunk {n} still in the Secret Service"
        );
    }
    assert!(!store.metadata_path(&a).exists());
    assert_eq!(store.load(&a), Ok(None));

    // clear(cluster) removes only that cluster's entries; clear(None) the rest.
    assert_eq!(store.clear(Some(&cluster)), Ok(1));
    assert_eq!(ss_lookup(&KeyringStore::account(&b)), None);
    assert!(ss_lookup(&KeyringStore::account(&c)).is_some());
    assert_eq!(store.clear(None), Ok(1));
    assert_eq!(ss_lookup(&KeyringStore::account(&c)), None);
    assert_eq!(store.list().map(|l| l.len()), Ok(0));
}

#[test]
fn secret_service_probe_answers_and_latency_is_reported() {
    require_secret_service();
    let started = Instant::now();
    assert_eq!(native_probe(), Ok(()));
    let first = started.elapsed();
    let started = Instant::now();
    assert_eq!(native_probe(), Ok(()));
    let probe = started.elapsed();
    assert_eq!(
        ss_lookup(PROBE_ACCOUNT),
        None,
        "the probe leaves nothing behind"
    );
    // What earlier versions left behind is removed (as `cache clear` does).
    ss_store(PROBE_ACCOUNT, "ack-ram-tool keychain probe (not a secret)");
    assert!(ss_lookup(PROBE_ACCOUNT).is_some());
    let vault = keychain::os_vault(Backend::Native);
    assert_eq!(
        keychain::remove_probe_leftover(&vault, DEFAULT_PROBE_TIMEOUT),
        Ok(true)
    );
    assert_eq!(ss_lookup(PROBE_ACCOUNT), None);

    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = KeyringStore::new(home.path());
    let key = key_for(&unique_cluster("lat"), "");
    let (cred, _) = credential(1200, "latency");
    let (other, _) = credential(1200, "latency 2");
    const N: u32 = 10;
    let time = |f: &dyn Fn()| {
        let started = Instant::now();
        for _ in 0..N {
            f();
        }
        started.elapsed() / N
    };
    let first_save = time(&|| {
        let _ = store.save(&key, &cred);
        let _ = store.save(&key, &other);
    }) / 2;
    let unchanged_save = time(&|| assert_eq!(store.save(&key, &other), Ok(())));
    let metadata = time(&|| assert!(store.load_metadata(&key).is_ok_and(|m| m.is_some())));
    let load = time(&|| assert_eq!(store.load(&key), Ok(Some(other.clone()))));
    println!(
        "keyring latency (Secret Service, one-chunk key): probe first {first:?}, probe {probe:?}, \
         save (changed) {first_save:?}, save (unchanged) {unchanged_save:?}, \
         load_metadata {metadata:?}, load {load:?}"
    );
    assert!(
        load < Duration::from_millis(500),
        "a cache hit took {load:?}"
    );
    assert_eq!(store.delete(&key), Ok(true));
}

#[test]
fn secret_service_access_keys_round_trip() {
    require_secret_service();
    let keys = KeyringAccessKeys::new(Backend::Native);
    let profile = format!("test-{}", unique_cluster("ak"));
    let secret = Secret::new("AKSECRETakSecretAKSECRET123");
    assert!(matches!(
        keys.load_spec(&profile),
        Err(ProviderError::NotConfigured(_))
    ));
    assert_eq!(keys.set_access_key(&profile, "LTAItestid", &secret), Ok(()));
    assert!(keys.list_profiles().is_ok_and(|p| p.contains(&profile)));
    let listed = keys.list().unwrap_or_default();
    assert!(
        listed
            .iter()
            .any(|p| p.profile == profile && p.access_key_id == "LTAItestid")
    );
    assert!(!format!("{listed:?}").contains(secret.expose()));
    assert_eq!(
        keys.load_spec(&profile),
        Ok(CredentialSpec::AccessKey {
            id: "LTAItestid".into(),
            secret: secret.clone()
        })
    );
    let item = ss_lookup(&format!("access-key:{profile}")).unwrap_or_default();
    assert!(
        item.contains(secret.expose()),
        "the AccessKey is a Secret Service item"
    );
    let index = ss_lookup("access-key-index").unwrap_or_default();
    assert!(
        index.contains(&profile) && !index.contains(secret.expose()),
        "the index holds no secret"
    );

    let writes = keys.keychain_writes();
    assert_eq!(keys.set_access_key(&profile, "LTAItestid", &secret), Ok(()));
    assert_eq!(
        keys.keychain_writes(),
        writes,
        "unchanged AccessKey not rewritten"
    );

    let token = Secret::new("T".repeat(2500));
    assert_eq!(
        keys.set_sts_token(&profile, "STS.id", &secret, &token),
        Ok(())
    );
    assert!(
        matches!(keys.load_spec(&profile), Ok(CredentialSpec::StsToken { token: t, .. }) if t == token)
    );

    assert_eq!(keys.delete_profile(&profile), Ok(true));
    assert_eq!(ss_lookup(&format!("access-key:{profile}")), None);
    assert_eq!(ss_lookup(&format!("access-key:{profile}:1")), None);
    assert!(keys.list_profiles().is_ok_and(|p| !p.contains(&profile)));
    assert!(matches!(
        keys.load_spec(&profile),
        Err(ProviderError::NotConfigured(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// No keychain: child processes
// ---------------------------------------------------------------------------------------------

/// The child side: probes, tries the store and the AccessKey source, prints what it saw.
#[test]
#[ignore = "run by the no-keychain tests in a child process with a changed environment"]
fn child_without_keychain() {
    let Ok(expected) = std::env::var(CHILD_ENV) else {
        return;
    };
    let started = Instant::now();
    let probe = native_probe();
    let took = started.elapsed();
    let reason = probe
        .err()
        .and_then(|e| e.unavailable_reason())
        .unwrap_or_else(|| panic!("the probe found a keychain"));
    println!("PROBE-REASON {reason:?}");
    // What `--cache-store keyring` says before fetching anything.
    let ctx = Context::new(Environment::from_process(), HttpSettings::new("test"));
    let refused = store::require_keychain(&ctx)
        .err()
        .unwrap_or_else(|| panic!("keyring mode found a keychain"));
    println!("PROBE-MESSAGE {refused}");
    println!("PROBE-MS {}", took.as_millis());

    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = KeyringStore::new(home.path().join("cache"));
    let key = key_for(&unique_cluster("nokr"), "");
    let (cred, body) = credential(1500, "no keychain");
    let saved = store.save(&key, &cred);
    println!(
        "SAVE {}",
        saved
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    assert!(saved.is_err(), "keyring mode must fail without a keychain");
    assert_nothing_secret_on_disk(home.path(), &body);
    assert!(!store.metadata_path(&key).exists());

    let ak = KeyringAccessKeys::new(Backend::Native).set_access_key(
        "dev",
        "LTAIid",
        &Secret::new("AKSECRETNEVERSHOWN"),
    );
    let ak = ak
        .err()
        .map(|e: KeyringError| e.explain())
        .unwrap_or_default();
    println!("ACCESS-KEY {ak}");
    assert!(!ak.contains("AKSECRETNEVERSHOWN"));
    assert_eq!(format!("{reason:?}"), expected);
}

fn assert_child(out: &Output, reason: &str, words: &[&str]) {
    let all = text(out);
    assert!(out.status.success(), "child failed:\n{all}");
    assert!(
        all.contains("1 passed"),
        "the child test did not run:\n{all}"
    );
    assert!(all.contains(&format!("PROBE-REASON {reason}")), "{all}");
    for line in ["PROBE-MESSAGE", "SAVE"] {
        let found = all
            .lines()
            .find(|l| l.starts_with(line))
            .unwrap_or_default();
        assert!(
            found.contains("Secret Service"),
            "{line} names the backend: {found}"
        );
        assert!(
            found.contains("--cache-store auto") && found.contains("--cache-store file"),
            "{line} names the alternatives: {found}"
        );
        for word in words {
            assert!(found.contains(word), "{line} says {word:?}: {found}");
        }
    }
    let ak = all
        .lines()
        .find(|l| l.starts_with("ACCESS-KEY"))
        .unwrap_or_default();
    assert!(
        ak.contains("Secret Service is not usable") && ak.contains("environment variables"),
        "{ak}"
    );
    let ms: u64 = all
        .lines()
        .find_map(|l| l.strip_prefix("PROBE-MS ")?.trim().parse().ok())
        .unwrap_or(u64::MAX);
    assert!(ms < 1000, "the probe took {ms} ms");
}

#[test]
fn without_a_session_bus_the_probe_and_the_store_fail_clearly() {
    let out = run_child(
        "child_without_keychain",
        "NoSessionBus",
        &[],
        &["DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY"],
    );
    assert_child(&out, "NoSessionBus", &["no D-Bus session bus"]);
}

#[test]
fn with_a_dead_bus_socket_the_probe_and_the_store_fail_clearly() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dead = format!("unix:path={}", dir.path().join("no-bus-here").display());
    let out = run_child(
        "child_without_keychain",
        "NoSessionBus",
        &[("DBUS_SESSION_BUS_ADDRESS", &dead)],
        &[],
    );
    assert_child(
        &out,
        "NoSessionBus",
        &["no D-Bus session bus", "no-bus-here"],
    );
}

#[test]
fn with_a_bus_but_no_secret_service_the_probe_and_the_store_fail_clearly() {
    let bus = PrivateBus::start(false);
    let out = run_child(
        "child_without_keychain",
        "ServiceNotProvided",
        &[("DBUS_SESSION_BUS_ADDRESS", &bus.address())],
        &[],
    );
    assert_child(&out, "ServiceNotProvided", &["org.freedesktop.secrets"]);
}

#[test]
fn with_a_keyring_daemon_but_no_unlocked_collection_the_store_fails_clearly() {
    // The standard service directories make gnome-keyring start on demand, with no login
    // collection (nobody unlocked one): what a session without a desktop login looks like.
    let bus = PrivateBus::start(true);
    let out = run_child(
        "child_without_keychain",
        "Locked",
        &[("DBUS_SESSION_BUS_ADDRESS", &bus.address())],
        &[],
    );
    assert_child(&out, "Locked", &["locked or does not exist"]);
}

// ---------------------------------------------------------------------------------------------
// Kernel keyutils
// ---------------------------------------------------------------------------------------------

fn keyctl_available() -> bool {
    Command::new("keyctl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The kernel key description the keyring crate uses for `account`.
fn kernel_description(account: &str) -> String {
    format!("keyring-rs:{account}@{SERVICE}")
}

/// Whether `keyctl` (not our code) finds the key in this process's session keyring tree.
fn kernel_has(account: &str) -> bool {
    Command::new("keyctl")
        .args(["search", "@s", "user", &kernel_description(account)])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The store contract on the kernel keyring; with `access_keys`, the AccessKey one too (only in
/// one process at a time: the index entry lives in the per-user persistent keyring).
fn kernel_contract(access_keys: bool) {
    assert_eq!(
        keychain::probe(
            &keychain::os_vault(Backend::KernelKeyutils),
            Duration::from_secs(3)
        ),
        Ok(())
    );
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = KeyringStore::with_backend(home.path(), Backend::KernelKeyutils);
    let key = key_for(&unique_cluster("kern"), "");
    let (cred, body) = credential(6 * 1024, "kernel");
    let started = Instant::now();
    assert_eq!(store.load(&key), Ok(None));
    assert_eq!(store.save(&key, &cred), Ok(()));
    let save = started.elapsed();
    let chunks = store
        .load_metadata(&key)
        .ok()
        .flatten()
        .map(|m| m.chunks)
        .unwrap_or(0);
    assert_eq!(chunks, 4);
    assert_eq!(store.keychain_writes(), 4);
    let started = Instant::now();
    assert_eq!(store.load(&key), Ok(Some(cred.clone())));
    let load = started.elapsed();
    println!("kernel keyutils latency: save (4 chunks) {save:?}, load {load:?}");
    assert_nothing_secret_on_disk(home.path(), &body);
    let account = KeyringStore::account(&key);
    assert!(kernel_has(&account), "keyctl sees the key");

    assert_eq!(store.save(&key, &cred), Ok(()));
    assert_eq!(
        store.keychain_writes(),
        4,
        "unchanged content is not rewritten"
    );

    // A fresh store reads it; a Secret Service store does not mistake it for its own.
    assert_eq!(
        KeyringStore::with_backend(home.path(), Backend::KernelKeyutils).load(&key),
        Ok(Some(cred))
    );
    assert_eq!(store.delete(&key), Ok(true));
    for n in 0..chunks {
        assert!(
            !kernel_has(&chunk_account(&account, n)),
            "chunk {n} removed"
        );
    }
    assert_eq!(store.load(&key), Ok(None));

    if !access_keys {
        return;
    }
    // Access keys in the kernel keyring too.
    let keys = KeyringAccessKeys::new(Backend::KernelKeyutils);
    let profile = format!("kernel-{}", unique_cluster("akk"));
    let secret = Secret::new("KERNELSECRETkernelsecret");
    assert_eq!(keys.set_access_key(&profile, "LTAIkernel", &secret), Ok(()));
    assert_eq!(
        keys.load_spec(&profile),
        Ok(CredentialSpec::AccessKey {
            id: "LTAIkernel".into(),
            secret
        })
    );
    assert_eq!(keys.delete_profile(&profile), Ok(true));
}

#[test]
fn kernel_keyutils_store_in_this_process() {
    assert!(
        keyctl_available(),
        "keyctl is missing (package keyutils); {HOW_TO_RUN}"
    );
    kernel_contract(true);
}

#[test]
#[ignore = "run by kernel_keyutils_store_under_a_new_session_keyring under `keyctl session -`"]
fn child_kernel_keyutils() {
    if std::env::var(CHILD_ENV).is_err() {
        return;
    }
    kernel_contract(false);
}

#[test]
fn kernel_keyutils_store_under_a_new_session_keyring() {
    assert!(
        keyctl_available(),
        "keyctl is missing (package keyutils); {HOW_TO_RUN}"
    );
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new("keyctl")
        .args(["session", "-"])
        .arg(exe)
        .args([
            "--ignored",
            "--exact",
            "child_kernel_keyutils",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "keyutils")
        .output()
        .unwrap_or_else(|e| panic!("keyctl session: {e}"));
    let all = text(&out);
    assert!(out.status.success() && all.contains("1 passed"), "{all}");
}
