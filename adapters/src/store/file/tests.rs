use super::*;
use ack_ram_domain::model::SelectedIdentity;
use ack_ram_domain::{ApiVersion, ClusterId, IdentityInputs, Secret};
use chrono::{DateTime, Utc};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::SystemTime;

fn key() -> CacheKey {
    CacheKey {
        cluster_id: ClusterId::parse("c1234").unwrap_or_else(|e| panic!("{e}")),
        api_version: ApiVersion::V1Beta1,
        identity: IdentityInputs::default(),
    }
}

fn credential() -> ClusterCredential {
    ClusterCredential {
        client_certificate_pem: "-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n"
            .into(),
        client_key_pem: Secret::new(
            "-----BEGIN EC PRIVATE KEY-----\nB\n-----END EC PRIVATE KEY-----\n",
        ),
        expiration: DateTime::<Utc>::from_timestamp(2_000_000_000, 0).unwrap_or_default(),
    }
}

#[test]
fn saves_with_tight_permissions_and_loads_back() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = home.path().join("a/b/cache");
    let store = FileStore::new(&dir);
    assert_eq!(store.load(&key()), Ok(None));
    assert_eq!(store.save(&key(), &credential()), Ok(()));
    let mode = |p: &Path| {
        fs::metadata(p)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    };
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&store.path_for(&key())), 0o600);
    assert_eq!(store.load(&key()), Ok(Some(credential())));
    let mut names: Vec<_> = fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    names.sort();
    let own = format!(
        "c1234-exec-auth-credential-v1beta1.json.id-{}",
        SelectedIdentity::DEFAULT_FINGERPRINT
    );
    assert_eq!(
        names,
        [
            "c1234-exec-auth-credential-v1beta1.json",
            own.as_str(),
            "c1234-exec-auth-credential-v1beta1.json.identity",
        ]
        .map(std::ffi::OsString::from),
        "no temp files left behind"
    );
    for name in &names {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name:?}");
    }
    assert_eq!(
        fs::read_to_string(store.path_for(&key())).ok(),
        Some(ExecCredential::new(ApiVersion::V1Beta1, credential()).to_json()),
        "the Go-named file is exactly what the Go tool writes"
    );
}

fn bound(id: &str) -> CacheKey {
    let env: crate::env::Environment = [("ALIBABA_CLOUD_ACCESS_KEY_ID", id)].into_iter().collect();
    CacheKey {
        identity: IdentityInputs {
            selected: super::super::identity::select(&env, crate::sources::CredentialType::Auto),
            ..IdentityInputs::default()
        },
        ..key()
    }
}

fn issued(cert: &str) -> ClusterCredential {
    ClusterCredential {
        client_certificate_pem: cert.into(),
        ..credential()
    }
}

#[test]
fn two_identities_sharing_the_go_name_never_see_each_others_certificate() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = FileStore::new(dir.path());
    let (a, b) = (
        bound("LTAI5tAccessKeyNumberOne"),
        bound("LTAI5tAccessKeyNumberTwo"),
    );
    assert_eq!(a.file_name(), b.file_name());
    assert_eq!(store.save(&a, &issued("CERT A")), Ok(()));
    assert_eq!(store.load(&a), Ok(Some(issued("CERT A"))));
    assert_eq!(store.load(&b), Ok(None), "A's certificate is not B's");
    assert_eq!(store.load(&key()), Ok(None), "nor the default identity's");
    assert_eq!(store.save(&b, &issued("CERT B")), Ok(()));
    assert_eq!(store.load(&b), Ok(Some(issued("CERT B"))));
    assert_eq!(
        store.load(&a),
        Ok(Some(issued("CERT A"))),
        "A's own entry survives B taking the Go-named file"
    );
    // `cache list` shows one row per identity, labelled, and no copy twice.
    let listed = store.list().unwrap_or_default();
    let labels: std::collections::BTreeSet<_> = listed
        .iter()
        .map(|e| e.bound_to.as_ref().map(|s| s.label.as_str()))
        .collect();
    assert_eq!(
        labels,
        [Some("env:LTAI…rOne"), Some("env:LTAI…rTwo")].into(),
        "{listed:?}"
    );
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().all(|e| e.expiration.is_some()));
    assert_eq!(store.clear(None), Ok(2));
    assert_eq!(store.list(), Ok(Vec::new()));
    let left: Vec<_> = fs::read_dir(dir.path())
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.iter().all(|n| n.to_string_lossy().ends_with(".lock")),
        "{left:?}"
    );
}

#[test]
fn a_write_removes_other_identities_expired_entries_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = FileStore::new(dir.path());
    let expired = ClusterCredential {
        expiration: DateTime::<Utc>::from_timestamp(1_000_000_000, 0).unwrap_or_default(),
        ..issued("CERT OLD")
    };
    // Rotating AccessKeys (STS credentials of CI jobs): each left an entry.
    let (old, fresh, unreadable, now) = (
        bound("STS.RotatedAwayLongAgo0001"),
        bound("STS.StillValidElsewhere002"),
        bound("STS.DamagedEntry000000003"),
        bound("STS.TheCurrentJobsKey00004"),
    );
    assert_eq!(store.save(&old, &expired), Ok(()));
    assert_eq!(store.save(&fresh, &issued("CERT FRESH")), Ok(()));
    assert_eq!(store.save(&unreadable, &issued("CERT X")), Ok(()));
    fs::write(store.scoped_path_for(&unreadable), b"{ torn").unwrap_or_else(|e| panic!("{e}"));
    let other_cluster = CacheKey {
        cluster_id: ClusterId::parse("c5678").unwrap_or_else(|e| panic!("{e}")),
        ..old.clone()
    };
    assert_eq!(store.save(&other_cluster, &expired), Ok(()));
    // Hostile siblings under entry names: a link to an expired entry elsewhere, and a FIFO.
    let (linked, fifo) = (
        bound("STS.PlantedLinkToOldEntry05"),
        bound("STS.PlantedFifoInTheDir006"),
    );
    let outside = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let target = outside.path().join("expired.json");
    fs::write(
        &target,
        ExecCredential::new(ApiVersion::V1Beta1, expired.clone())
            .to_json_bound(&old.identity.selected),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(&target, store.scoped_path_for(&linked))
        .unwrap_or_else(|e| panic!("{e}"));
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        store.scoped_path_for(&fifo),
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(store.save(&now, &issued("CERT NOW")), Ok(()));
    for planted in [&linked, &fifo] {
        assert!(
            fs::symlink_metadata(store.scoped_path_for(planted)).is_ok(),
            "not trusted, so not judged: left for cache clear"
        );
    }
    assert!(target.exists(), "a link is never followed");
    assert!(
        !store.scoped_path_for(&old).exists(),
        "the expired entry of another identity is gone"
    );
    assert_eq!(store.load(&fresh), Ok(Some(issued("CERT FRESH"))));
    assert!(
        store.scoped_path_for(&unreadable).exists(),
        "kept: not judged"
    );
    assert!(
        store.scoped_path_for(&other_cluster).exists(),
        "another cluster's entries are its own writes' business"
    );
    assert_eq!(store.load(&now), Ok(Some(issued("CERT NOW"))));

    // The writer's own entry is replaced, never removed, even when what it replaces expired.
    assert_eq!(store.save(&other_cluster, &expired), Ok(()));
    assert!(store.scoped_path_for(&other_cluster).exists());
}

#[test]
fn a_go_written_file_is_served_to_any_identity_until_one_of_ours_replaces_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = FileStore::new(dir.path());
    let (a, b) = (
        bound("LTAI5tAccessKeyNumberOne"),
        bound("LTAI5tAccessKeyNumberTwo"),
    );
    let go = ExecCredential::new(ApiVersion::V1Beta1, issued("GO CERT")).to_json();
    fs::write(store.path_for(&a), &go).unwrap_or_else(|e| panic!("{e}"));
    fs::set_permissions(store.path_for(&a), fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("{e}"));
    for k in [&a, &b, &key()] {
        assert_eq!(store.load(k), Ok(Some(issued("GO CERT"))));
    }
    let listed = store.list().unwrap_or_default();
    assert_eq!((listed.len(), listed[0].bound_to.clone()), (1, None));
    // Ours replaces it for A; B's is then a miss, not the Go certificate nor A's.
    assert_eq!(store.save(&a, &issued("CERT A")), Ok(()));
    assert_eq!(store.load(&b), Ok(None));
    // The Go tool rewrites the Go-named file: the binding no longer covers it, so it binds
    // nobody; A still has its own entry, B has none.
    fs::write(store.path_for(&a), &go).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.load(&a), Ok(Some(issued("CERT A"))));
    assert_eq!(store.load(&b), Ok(None));
    // A missing Go-named file is a miss whatever else is there.
    fs::remove_file(store.path_for(&a)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.load(&a), Ok(None));
}

#[test]
fn a_damaged_identity_file_binds_nobody() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = FileStore::new(dir.path());
    let (a, b) = (
        bound("LTAI5tAccessKeyNumberOne"),
        bound("LTAI5tAccessKeyNumberTwo"),
    );
    assert_eq!(store.save(&a, &issued("CERT A")), Ok(()));
    let binding = store.binding_path_for(&a);
    for damage in [&b"{"[..], b"", b"null"] {
        fs::write(&binding, damage).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(store.load(&b), Ok(None), "{damage:?}");
        assert_eq!(
            store.load(&a),
            Ok(Some(issued("CERT A"))),
            "from its own file"
        );
    }
    // Loose permissions: not trusted, and not an error for the hit path either.
    fs::set_permissions(&binding, fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.load(&b), Ok(None));
    // An identity's own file that names another identity is not served.
    let own_a = fs::read_to_string(store.scoped_path_for(&a)).unwrap_or_default();
    fs::write(store.scoped_path_for(&b), own_a).unwrap_or_else(|e| panic!("{e}"));
    fs::set_permissions(store.scoped_path_for(&b), fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.load(&b), Ok(None));
}

#[test]
fn torn_or_foreign_files_are_misses() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = FileStore::new(dir.path());
    for content in [
        &b""[..],
        b"{",
        b"{}",
        b"null",
        b"\xff\xfe",
        &[b' '; 300_000],
    ] {
        fs::write(store.path_for(&key()), content).unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(store.path_for(&key()), fs::Permissions::from_mode(0o600))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(store.load(&key()), Ok(None));
    }
}

#[test]
fn loose_files_links_and_fifos_are_not_trusted_and_get_replaced() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = FileStore::new(dir.path());
    let path = store.path_for(&key());
    let mode = |p: &Path| {
        fs::symlink_metadata(p)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    };
    assert_eq!(store.save(&key(), &credential()), Ok(()));
    fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap_or_else(|e| panic!("{e}"));
    let err = store
        .load(&key())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("open to group or others (mode 666") && err.contains("will be replaced"),
        "{err}"
    );
    assert_eq!(store.save(&key(), &credential()), Ok(()));
    assert_eq!(mode(&path), 0o600, "written back 0600");
    assert_eq!(store.load(&key()), Ok(Some(credential())));

    // A symlink to a valid credential elsewhere is not followed.
    let elsewhere = dir.path().join("elsewhere.json");
    fs::rename(&path, &elsewhere).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(&elsewhere, &path).unwrap_or_else(|e| panic!("{e}"));
    let err = store
        .load(&key())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("is a symbolic link"), "{err}");
    assert_eq!(store.save(&key(), &credential()), Ok(()));
    assert!(
        fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()),
        "the link was replaced"
    );

    // A FIFO is refused at once, then replaced.
    fs::remove_file(&path).unwrap_or_else(|e| panic!("{e}"));
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let err = store
        .load(&key())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(err.contains("named pipe (FIFO)"), "{err}");
    assert_eq!(store.save(&key(), &credential()), Ok(()));
    assert_eq!(store.load(&key()), Ok(Some(credential())));
}

#[test]
fn unreadable_paths_are_errors_for_the_caller_to_report() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = FileStore::new(dir.path());
    fs::create_dir(store.path_for(&key())).unwrap_or_else(|e| panic!("{e}"));
    assert!(store.load(&key()).is_err());
    fs::write(dir.path().join("plain"), "").unwrap_or_else(|e| panic!("{e}"));
    let blocked = FileStore::new(dir.path().join("plain/sub"));
    let err = blocked
        .save(&key(), &credential())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("could not create the cache directory"),
        "{err}"
    );
}

#[test]
fn loose_or_foreign_directories_are_refused_with_the_fix() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = home.path().join("cache");
    let store = FileStore::new(&dir);
    assert_eq!(store.save(&key(), &credential()), Ok(()));
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap_or_else(|e| panic!("{e}"));
    for err in [
        store.load(&key()).err(),
        store.save(&key(), &credential()).err(),
    ] {
        let err = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err.contains("writable by group or others (mode 777)") && err.contains("chmod go-w"),
            "{err}"
        );
    }
    assert!(matches!(store.lock(&key()), Err(LockError::Unavailable(_))));
    // Through a symlink the real directory is what counts, and both are named.
    let link = home.path().join("link");
    std::os::unix::fs::symlink(&dir, &link).unwrap_or_else(|e| panic!("{e}"));
    let err = FileStore::new(&link)
        .load(&key())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("link") && err.contains("-> "), "{err}");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(FileStore::new(&link).load(&key()), Ok(Some(credential())));
}

#[test]
fn files_of_other_users_are_not_trusted() {
    if rustix::process::geteuid().as_raw() != 0 {
        return; // chown needs root; CI runs as root
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = FileStore::new(dir.path());
    assert_eq!(store.save(&key(), &credential()), Ok(()));
    std::os::unix::fs::chown(store.path_for(&key()), Some(12345), None)
        .unwrap_or_else(|e| panic!("{e}"));
    let err = store
        .load(&key())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("belongs to another user (uid 12345"), "{err}");
    std::os::unix::fs::chown(dir.path(), Some(12345), None).unwrap_or_else(|e| panic!("{e}"));
    let err = store
        .save(&key(), &credential())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("cache directory belongs to another user"),
        "{err}"
    );
}

#[test]
fn temp_files_of_crashed_writers_are_cleaned_up() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = FileStore::new(dir.path());
    let stale = dir.path().join(".ack-ram-tool-crashed.tmp");
    let recent = dir.path().join(".ack-ram-tool-writing.tmp");
    fs::write(&stale, "{").unwrap_or_else(|e| panic!("{e}"));
    fs::write(&recent, "{").unwrap_or_else(|e| panic!("{e}"));
    let old = SystemTime::now() - Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(&stale)
        .and_then(|f| f.set_modified(old))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.save(&key(), &credential()), Ok(()));
    assert!(!stale.exists(), "stale temp file removed");
    assert!(
        recent.exists(),
        "a temp file that may still be written is left alone"
    );
}

#[test]
fn list_and_clear_by_cluster() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = FileStore::new(dir.path());
    assert_eq!(store.list(), Ok(Vec::new()));
    assert_eq!(store.save(&key(), &credential()), Ok(()));
    let other = CacheKey {
        cluster_id: ClusterId::parse("c9").unwrap_or_else(|e| panic!("{e}")),
        api_version: ApiVersion::V1,
        identity: IdentityInputs {
            role_arn: "r".into(),
            ..IdentityInputs::default()
        },
    };
    assert_eq!(store.save(&other, &credential()), Ok(()));
    fs::write(
        dir.path().join("c5-exec-auth-credential-v1.keyring.json"),
        "{}",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    fs::write(dir.path().join("unrelated.json"), "{}").unwrap_or_else(|e| panic!("{e}"));
    let listed = store.list().unwrap_or_default();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        (listed[0].cluster_id.as_str(), listed[0].api_version),
        ("c1234", ApiVersion::V1Beta1)
    );
    assert_eq!(listed[0].store, StoreKind::File);
    assert_eq!(listed[0].expiration, Some(credential().expiration));
    assert_eq!(listed[1].identity.as_deref().map(str::len), Some(40));
    let c9 = ClusterId::parse("c9").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.clear(Some(&c9)), Ok(1));
    assert_eq!(store.list().map(|l| l.len()), Ok(1));
    assert_eq!(store.clear(None), Ok(1));
    assert!(dir.path().join("unrelated.json").exists());
}
