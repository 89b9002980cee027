//! The cache is bound to the identity that obtained each certificate: the real binary against a
//! local ACK API (wiremock) that issues a different certificate to each AccessKey, in a
//! sandboxed HOME with a clean environment. Every run is bounded (`Sandbox::bare`: 60 s).
//!
//! Two AccessKeys chosen only through environment variables share the Go tool's cache file name;
//! the Go tool serves the second one the first one's certificate. Here each gets its own, then
//! each is a hit; an entry another key left behind is removed once it has expired; a file the
//! Go tool wrote is still served, byte for byte as before; and `cache list` says whose each
//! entry is and judges it against its own lifetime.

mod support;

use support::*;
use wiremock::matchers::{header_regex, method, path_regex, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const AK_A: &str = "LTAI5tFirstIdentityKey0001";
const AK_B: &str = "LTAI5tSecondIdentityKey0002";
const GO_FILE: &str = include_str!(
    "fixtures/go-cache/c0123456789abcdef0123456789abcdef-exec-auth-credential-v1beta1.json"
);

/// A second real certificate and key (the Go fixture's), so the two identities' certificates
/// differ.
fn other_certificate() -> (String, String) {
    let doc: serde_json::Value = serde_json::from_str(GO_FILE).unwrap_or_default();
    let field = |name: &str| doc["status"][name].as_str().unwrap_or_default().to_owned();
    (field("clientCertificateData"), field("clientKeyData"))
}

/// The ACK API issuing `cert`/`key` to requests signed with `access_key_id`, expiring at
/// `expiration`, expecting `calls` such requests.
async fn issue_to(
    server: &MockServer,
    access_key_id: &str,
    (cert, key): (&str, &str),
    expiration: &str,
    calls: u64,
) {
    Mock::given(method("GET"))
        .and(path_regex(r"^/k8s/[^/]+/user_config$"))
        .and(header_regex(
            "Authorization",
            &format!("^acs {access_key_id}:"),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "config": kubeconfig_yaml(cert, key),
            "expiration": expiration,
        })))
        .expect(calls)
        .named(access_key_id)
        .mount(server)
        .await;
}

/// `get-credential` with only `access_key_id` (and a secret) selecting the identity.
fn as_identity(sandbox: &Sandbox, server: &MockServer, access_key_id: &str) -> assert_cmd::Command {
    let mut cmd = sandbox.get_credential(&server.uri());
    cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", access_key_id);
    cmd
}

async fn requests_by(server: &MockServer, access_key_id: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| {
            r.headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with(&format!("acs {access_key_id}:")))
        })
        .count()
}

fn printed_certificate(out: &std::process::Output) -> String {
    exec_credential(out)["status"]["clientCertificateData"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn two_access_keys_selected_only_by_the_environment_each_get_their_own_certificate() {
    let server = MockServer::start().await;
    let (cert_b, key_b) = other_certificate();
    issue_to(&server, AK_A, (CLIENT_CERT, CLIENT_KEY), &in_hours(3), 1).await;
    issue_to(&server, AK_B, (&cert_b, &key_b), &in_hours(3), 1).await;
    let sandbox = Sandbox::new();

    let first_a = run(as_identity(&sandbox, &server, AK_A)).await;
    assert!(first_a.status.success(), "{}", stderr(&first_a));
    assert_eq!(printed_certificate(&first_a), CLIENT_CERT);

    // Same cluster, same flags, same Go file name: only the environment differs.
    let first_b = run(as_identity(&sandbox, &server, AK_B)).await;
    assert!(first_b.status.success(), "{}", stderr(&first_b));
    assert_eq!(
        requests_by(&server, AK_B).await,
        1,
        "the second identity fetched its own certificate"
    );
    assert_eq!(
        printed_certificate(&first_b),
        cert_b,
        "the second identity is not served the first one's certificate"
    );
    assert_eq!(
        exec_credential(&first_b)["status"]["clientKeyData"],
        key_b.as_str()
    );
    // The Go-named file holds the last one issued, exactly as printed (and as the Go tool
    // would write it).
    let go_named = std::fs::read_to_string(sandbox.cache_file("v1beta1")).unwrap_or_default();
    assert_eq!(format!("{go_named}\n"), stdout(&first_b));

    // Then each is a hit, printed byte for byte as when it was fetched.
    for _ in 0..2 {
        let a = run(as_identity(&sandbox, &server, AK_A)).await;
        assert!(a.status.success(), "{}", stderr(&a));
        assert_eq!(stdout(&a), stdout(&first_a));
        let b = run(as_identity(&sandbox, &server, AK_B)).await;
        assert!(b.status.success(), "{}", stderr(&b));
        assert_eq!(stdout(&b), stdout(&first_b));
    }
    assert_eq!(
        requests_by(&server, AK_A).await,
        1,
        "A: one fetch, then hits"
    );
    assert_eq!(
        requests_by(&server, AK_B).await,
        1,
        "B: one fetch, then hits"
    );

    // The AccessKey IDs are nowhere on disk: the cache holds fingerprints and masked labels.
    for entry in std::fs::read_dir(sandbox.cache_dir()).unwrap_or_else(|e| panic!("{e}")) {
        let path = entry.map(|e| e.path()).unwrap_or_default();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for id in [AK_A, AK_B] {
            assert!(!text.contains(id), "{} holds {id}", path.display());
        }
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
}

#[tokio::test]
async fn a_refresh_that_fails_never_falls_back_to_another_identitys_certificate() {
    let server = MockServer::start().await;
    issue_to(&server, AK_A, (CLIENT_CERT, CLIENT_KEY), &in_hours(3), 1).await;
    Mock::given(method("GET"))
        .and(header_regex("Authorization", &format!("^acs {AK_B}:")))
        .respond_with(api_error(403, "Forbidden.RAM", "not allowed", "REQ-B"))
        .expect(1)
        .mount(&server)
        .await;
    let sandbox = Sandbox::new();
    let a = run(as_identity(&sandbox, &server, AK_A)).await;
    assert!(a.status.success(), "{}", stderr(&a));

    let b = run(as_identity(&sandbox, &server, AK_B)).await;
    assert_eq!(b.status.code(), Some(1), "{}", stderr(&b));
    assert_eq!(
        stdout(&b),
        "",
        "nothing printed, least of all A's certificate"
    );
    assert!(stderr(&b).contains("REQ-B"), "{}", stderr(&b));
    // A's entry is untouched.
    let again = run(as_identity(&sandbox, &server, AK_A)).await;
    assert_eq!(stdout(&again), stdout(&a));
}

/// The names of the identities' own entries in the cache directory.
fn own_entries(sandbox: &Sandbox) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(sandbox.cache_dir())
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.contains(".json.id-"))
        .collect()
}

#[tokio::test]
async fn a_refresh_removes_what_rotated_access_keys_left_behind_once_it_has_expired() {
    const AK_C: &str = "LTAI5tThirdIdentityKey0003";
    let server = MockServer::start().await;
    let (cert_b, key_b) = other_certificate();
    issue_to(&server, AK_A, (CLIENT_CERT, CLIENT_KEY), &in_hours(3), 1).await;
    issue_to(&server, AK_C, (CLIENT_CERT, CLIENT_KEY), &in_hours(3), 1).await;
    issue_to(&server, AK_B, (&cert_b, &key_b), &in_hours(3), 1).await;
    let sandbox = Sandbox::new();

    // A CI job's rotated AccessKey: its entry stays behind, and in time its certificate expires.
    let a = run(as_identity(&sandbox, &server, AK_A)).await;
    assert!(a.status.success(), "{}", stderr(&a));
    let left_by_a = own_entries(&sandbox);
    assert_eq!(left_by_a.len(), 1, "{left_by_a:?}");
    let c = run(as_identity(&sandbox, &server, AK_C)).await;
    assert!(c.status.success(), "{}", stderr(&c));
    let a_path = sandbox
        .cache_dir()
        .join(left_by_a.first().map(String::as_str).unwrap_or_default());
    let mut entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&a_path).unwrap_or_default()).unwrap_or_default();
    entry["status"]["expirationTimestamp"] = "2001-01-01T00:00:00Z".into();
    std::fs::write(&a_path, entry.to_string()).unwrap_or_else(|e| panic!("{e}"));

    // The next refresh, by yet another key, removes A's expired entry and keeps C's fresh one.
    let b = run(as_identity(&sandbox, &server, AK_B)).await;
    assert!(b.status.success(), "{}", stderr(&b));
    let left = own_entries(&sandbox);
    assert!(
        !a_path.exists(),
        "the expired entry is still there: {left:?}"
    );
    assert_eq!(left.len(), 2, "B's and C's entries: {left:?}");
    let c_again = run(as_identity(&sandbox, &server, AK_C)).await;
    assert_eq!(stdout(&c_again), stdout(&c), "C's entry is still a hit");
}

#[tokio::test]
async fn a_cache_file_written_by_the_go_tool_is_still_a_hit_for_every_identity() {
    let server = MockServer::start().await;
    issue_to(&server, AK_A, (CLIENT_CERT, CLIENT_KEY), &in_hours(3), 0).await;
    issue_to(&server, AK_B, (CLIENT_CERT, CLIENT_KEY), &in_hours(3), 0).await;
    let sandbox = Sandbox::new();
    let file = sandbox.cache_file("v1beta1");
    write_cache(&file, "v1beta1", "x", "x", "x");
    std::fs::write(&file, GO_FILE).unwrap_or_else(|e| panic!("{e}"));
    // The Go tool knows nothing of identities: its file is served to whoever asks, byte for
    // byte what the Go tool itself prints.
    for id in [AK_A, AK_B] {
        let out = run(as_identity(&sandbox, &server, id)).await;
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out), format!("{GO_FILE}\n"), "{id}");
    }
    let mut bare = sandbox.bare();
    bare.args([
        "credential-plugin",
        "get-credential",
        "--cluster-id",
        CLUSTER,
    ])
    .args(["--cs-endpoint", &server.uri()]);
    let out = run(bare).await;
    assert_eq!(
        stdout(&out),
        format!("{GO_FILE}\n"),
        "and without any AccessKey"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap_or_default(),
        GO_FILE,
        "left as the Go tool wrote it"
    );
}

#[tokio::test]
async fn cache_list_shows_whose_each_entry_is_and_judges_it_by_its_own_lifetime() {
    let server = MockServer::start().await;
    let (cert_b, key_b) = other_certificate();
    // A asks for 15 minutes; B takes the default 3 hours.
    Mock::given(method("GET"))
        .and(query_param("TemporaryDurationMinutes", "15"))
        .and(header_regex("Authorization", &format!("^acs {AK_A}:")))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "config": kubeconfig_yaml(CLIENT_CERT, CLIENT_KEY),
            "expiration": in_minutes(15),
        })))
        .expect(1)
        .mount(&server)
        .await;
    issue_to(&server, AK_B, (&cert_b, &key_b), &in_hours(3), 1).await;
    let sandbox = Sandbox::new();
    let mut a = as_identity(&sandbox, &server, AK_A);
    a.args(["--expiration", "15m"]);
    let a = run(a).await;
    assert!(a.status.success(), "{}", stderr(&a));
    let b = run(as_identity(&sandbox, &server, AK_B)).await;
    assert!(b.status.success(), "{}", stderr(&b));
    // And a file of the Go tool, for the v1 entry of the same cluster.
    write_cache(
        &sandbox.cache_file("v1"),
        "v1",
        &in_hours(2),
        CLIENT_CERT,
        CLIENT_KEY,
    );

    let mut list = sandbox.bare();
    list.env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK_A)
        .args(["credential-plugin", "cache", "list"]);
    let out = run(list).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let row = |needle: &str| -> Vec<String> {
        let rows: Vec<&str> = text.lines().filter(|l| l.contains(needle)).collect();
        assert_eq!(rows.len(), 1, "one row with {needle:?}:\n{text}");
        rows[0].split_whitespace().map(str::to_owned).collect()
    };
    let header = row("CLUSTER ");
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} column:\n{text}"))
    };
    let (identity, lifetime, state) = (column("IDENTITY"), column("LIFETIME"), column("STATE"));

    // A's 15-minute certificate, issued seconds ago, is fresh (not "refresh-due" by the 3h
    // yardstick), and A is the identity selected now.
    let row_a = row("env:LTAI…0001");
    assert_eq!(row_a[identity], "env:LTAI…0001*", "{text}");
    assert_eq!(row_a[lifetime], "15m", "{text}");
    assert_eq!(row_a[state], "fresh", "{text}");
    let row_b = row("env:LTAI…0002");
    assert_eq!(row_b[identity], "env:LTAI…0002", "{text}");
    assert_eq!(row_b[lifetime], "3h", "{text}");
    assert_eq!(row_b[state], "fresh", "{text}");
    let row_go = row(" v1 ");
    assert_eq!(
        row_go[identity], "-",
        "the Go tool's file names nobody:\n{text}"
    );
    assert_eq!(row_go[lifetime], "2h", "{text}");
    assert_eq!(
        text.lines().filter(|l| l.contains(CLUSTER)).count(),
        3,
        "one row per entry, no copies:\n{text}"
    );
    assert!(
        text.contains("STATE is judged against it"),
        "says how STATE is judged:\n{text}"
    );
    for id in [AK_A, AK_B] {
        assert!(!text.contains(id), "never the whole AccessKey ID:\n{text}");
    }

    // `cache clear` removes every identity's entry.
    let mut clear = sandbox.bare();
    clear.args([
        "credential-plugin",
        "cache",
        "clear",
        "--cluster-id",
        CLUSTER,
    ]);
    let out = run(clear).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("removed 3"), "{}", stdout(&out));
    let left: Vec<String> = std::fs::read_dir(sandbox.cache_dir())
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.iter().all(|n| n.ends_with(".lock")), "{left:?}");
}
