//! The keyring store's logic over an in-memory keychain: no daemon needed.

use super::*;
use crate::keychain::{MemoryVault, UnavailableReason, chunk_account};
use ack_ram_domain::model::SelectedIdentity;
use ack_ram_domain::{ApiVersion, IdentityInputs, Secret};
use chrono::{DateTime, Utc};
use std::fs;

fn key(cluster: &str, profile: &str) -> CacheKey {
    CacheKey {
        cluster_id: ClusterId::parse(cluster).unwrap_or_else(|e| panic!("{e}")),
        api_version: ApiVersion::V1Beta1,
        identity: IdentityInputs {
            profile_name: profile.into(),
            ..IdentityInputs::default()
        },
    }
}

fn credential(key_body: &str) -> ClusterCredential {
    ClusterCredential {
        client_certificate_pem: "-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n"
            .into(),
        client_key_pem: Secret::new(format!(
            "-----BEGIN EC PRIVATE KEY-----\n{key_body}\n-----END EC PRIVATE KEY-----\n"
        )),
        expiration: DateTime::<Utc>::from_timestamp(2_000_000_000, 0).unwrap_or_default(),
    }
}

fn store() -> (tempfile::TempDir, Arc<MemoryVault>, KeyringStore) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let vault = Arc::new(MemoryVault::new());
    let store = KeyringStore::with_vault(dir.path().join("cache"), vault.clone());
    (dir, vault, store)
}

#[test]
fn names_follow_the_documented_layout() {
    let k = key("c1234", "");
    assert_eq!(
        KeyringStore::account(&k),
        "credential:c1234-exec-auth-credential-v1beta1.json"
    );
    assert_eq!(
        metadata_file_name("c1234-exec-auth-credential-v1beta1.json"),
        "c1234-exec-auth-credential-v1beta1.keyring.json"
    );
    assert_eq!(
        cache_file_name("c1234-exec-auth-credential-v1beta1.keyring.json").as_deref(),
        Some("c1234-exec-auth-credential-v1beta1.json")
    );
    let own = "c1234-exec-auth-credential-v1beta1.json.id-0123456789abcdef";
    assert_eq!(
        metadata_file_name(own),
        "c1234-exec-auth-credential-v1beta1.json.id-0123456789abcdef.keyring.json"
    );
    assert_eq!(
        cache_file_name(&metadata_file_name(own)).as_deref(),
        Some(own)
    );
}

#[test]
fn round_trips_with_the_key_only_in_the_vault() {
    let (_home, vault, store) = store();
    let k = key("c1234", "dev");
    let body = "S".repeat(5000);
    assert_eq!(store.load(&k), Ok(None));
    assert_eq!(store.save(&k, &credential(&body)), Ok(()));
    assert_eq!(store.load(&k), Ok(Some(credential(&body))));
    assert_eq!(vault.entries().len(), 3, "5 KB in three chunks");
    let on_disk = fs::read_to_string(store.metadata_path(&k)).unwrap_or_default();
    assert!(on_disk.contains("CERT") && !on_disk.contains("SSSS"));
    let meta = store.load_metadata(&k).ok().flatten();
    assert_eq!(
        meta.map(|m| (m.chunks, m.expiration)),
        Some((3, credential("").expiration))
    );
}

#[test]
fn a_hit_reads_the_metadata_and_one_entry_per_chunk() {
    let (_home, vault, store) = store();
    let k = key("c1234", "");
    assert_eq!(store.save(&k, &credential("K")), Ok(()));
    let before = vault.operations();
    assert!(store.load_metadata(&k).is_ok_and(|m| m.is_some()));
    assert_eq!(vault.operations(), before, "freshness needs no keychain");
    assert_eq!(store.load(&k), Ok(Some(credential("K"))));
    assert_eq!(vault.operations(), before + 1);
}

#[test]
fn writes_only_what_changed_and_drops_surplus_chunks() {
    let (_home, vault, store) = store();
    let k = key("c1234", "");
    let long = "A".repeat(2000) + &"B".repeat(2000) + "C";
    assert_eq!(store.save(&k, &credential(&long)), Ok(()));
    let first = store.keychain_writes();
    assert_eq!(first, 3);
    assert_eq!(store.save(&k, &credential(&long)), Ok(()));
    assert_eq!(
        store.keychain_writes(),
        first,
        "unchanged content is not rewritten"
    );
    // Changing only the tail rewrites only the last chunk.
    let changed = "A".repeat(2000) + &"B".repeat(2000) + "D";
    assert_eq!(store.save(&k, &credential(&changed)), Ok(()));
    assert_eq!(store.keychain_writes(), first + 1);
    // A shorter key leaves no stale chunks behind.
    assert_eq!(store.save(&k, &credential("short")), Ok(()));
    assert_eq!(vault.entries().len(), 1);
    assert_eq!(store.load(&k), Ok(Some(credential("short"))));
    // Without metadata on record, leftovers of an earlier, longer key are found and removed.
    let account = KeyringStore::account(&k);
    vault
        .entries()
        .insert(chunk_account(&account, 1), b"stale".to_vec());
    fs::remove_file(store.metadata_path(&k)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.save(&k, &credential("short")), Ok(()));
    assert_eq!(vault.entries().len(), 1);
}

#[test]
fn torn_foreign_or_tampered_states_are_misses() {
    let (_home, vault, store) = store();
    let k = key("c1234", "");
    let body = "K".repeat(3000);
    assert_eq!(store.save(&k, &credential(&body)), Ok(()));
    let account = KeyringStore::account(&k);

    // A chunk replaced by another key's: the fingerprint does not match.
    vault
        .entries()
        .insert(chunk_account(&account, 1), b"X".to_vec());
    assert_eq!(store.load(&k), Ok(None));
    // A missing chunk.
    vault.entries().remove(&chunk_account(&account, 1));
    assert_eq!(store.load(&k), Ok(None));
    // Everything missing.
    vault.entries().clear();
    assert_eq!(store.load(&k), Ok(None));

    // Garbage, foreign or implausible metadata never reaches the vault.
    let path = store.metadata_path(&k);
    let valid = {
        assert_eq!(store.save(&k, &credential(&body)), Ok(()));
        fs::read_to_string(&path).unwrap_or_default()
    };
    for content in [
        String::new(),
        "{".into(),
        "null".into(),
        valid.replace("\"format\": 1", "\"format\": 2"),
        valid.replace("\"chunks\": 2", "\"chunks\": 99"),
        valid.replace("\"chunks\": 2", "\"chunks\": 0"),
        valid.replace("ack-ram-tool", "other-tool"),
        valid.replace("secret-service", "keyutils"),
        valid.replace("credential:c1234", "credential:c9999"),
        valid.replace("\"clusterId\": \"c1234\"", "\"clusterId\": \"../x\""),
    ] {
        fs::write(&path, &content).unwrap_or_else(|e| panic!("{e}"));
        let operations = vault.operations();
        assert_eq!(store.load(&k), Ok(None), "{content}");
        assert_eq!(vault.operations(), operations, "{content}");
    }
}

#[test]
fn an_unavailable_keychain_is_an_error_and_nothing_secret_is_written() {
    let (home, vault, store) = store();
    let k = key("c1234", "");
    vault.make_unavailable(UnavailableReason::NoSessionBus, "no bus");
    let err = store
        .save(&k, &credential("TOPSECRET"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("Secret Service is not usable")
            && err.contains("no D-Bus session bus")
            && err.contains(": no bus;")
            && err.contains("--cache-store auto")
            && err.contains("--cache-store file"),
        "{err}"
    );
    assert!(!store.metadata_path(&k).exists());
    let mut stack = vec![home.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                assert!(
                    !fs::read_to_string(&path)
                        .unwrap_or_default()
                        .contains("TOPSECRET")
                );
            }
        }
    }
}

#[test]
fn a_failed_read_is_an_error_without_the_advice() {
    let (_home, vault, store) = store();
    let k = key("c1234", "");
    assert_eq!(store.save(&k, &credential("K")), Ok(()));
    vault.fail_with(Some(KeychainError::Failed {
        operation: keychain::Operation::Read,
        backend: Backend::Native,
        account: KeyringStore::account(&k),
        cause: keychain::PlatformError::new("2 entries match"),
    }));
    let err = store
        .load(&k)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with("could not read the private key from ack-ram-tool/credential:c1234")
            && err.contains("2 entries match")
            && !err.contains("--cache-store"),
        "{err}"
    );
}

#[test]
fn lists_deletes_and_clears_by_cluster() {
    let (_home, vault, store) = store();
    let a = key("ca", "");
    let a2 = key("ca", "dev");
    let b = key("cb", "");
    for k in [&a, &a2, &b] {
        assert_eq!(store.save(k, &credential(&"Z".repeat(2500))), Ok(()));
    }
    let listed = store.list().unwrap_or_default();
    assert_eq!(listed.len(), 3);
    assert!(
        listed
            .iter()
            .all(|e| e.backend.as_deref() == Some("secret-service")
                && e.store == StoreKind::Keyring
                && e.chunks == 2)
    );
    assert_eq!(
        listed
            .iter()
            .map(|e| e.identity.as_deref().map(str::len))
            .collect::<Vec<_>>(),
        vec![Some(40), None, None]
    );
    assert_eq!(vault.entries().len(), 6);

    assert_eq!(store.delete(&b), Ok(true));
    assert_eq!(store.delete(&b), Ok(false));
    assert_eq!(store.load(&b), Ok(None));
    assert_eq!(vault.entries().len(), 4);

    // A damaged metadata file is not listed but `clear` removes it and its entries.
    fs::write(store.metadata_path(&a2), "{").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.list().map(|l| l.len()), Ok(1));
    let ca = ClusterId::parse("ca").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.clear(Some(&ca)), Ok(1));
    assert_eq!(store.clear(None), Ok(1));
    assert!(vault.entries().is_empty());
    assert_eq!(fs::read_dir(store.dir()).map(|d| d.count()).unwrap_or(9), 0);
}

fn bound(cluster: &str, access_key_id: &str) -> CacheKey {
    let env: crate::env::Environment = [("ALIBABA_CLOUD_ACCESS_KEY_ID", access_key_id)]
        .into_iter()
        .collect();
    CacheKey {
        identity: IdentityInputs {
            selected: super::super::identity::select(&env, crate::sources::CredentialType::Auto),
            ..IdentityInputs::default()
        },
        ..key(cluster, "")
    }
}

#[test]
fn a_write_removes_other_identities_expired_entries_from_the_keychain_too() {
    let (_home, vault, store) = store();
    let (old, fresh, now) = (
        bound("c1234", "STS.RotatedAwayLongAgo0001"),
        bound("c1234", "STS.StillValidElsewhere002"),
        bound("c1234", "STS.TheCurrentJobsKey00004"),
    );
    let expired = ClusterCredential {
        expiration: DateTime::<Utc>::from_timestamp(1_000_000_000, 0).unwrap_or_default(),
        ..credential("OLD")
    };
    assert_eq!(store.save(&old, &expired), Ok(()));
    assert_eq!(store.save(&fresh, &credential("FRESH")), Ok(()));
    let default = key("c1234", "");
    assert_eq!(store.save(&default, &expired), Ok(()));
    assert_eq!(store.save(&now, &credential("NOW")), Ok(()));

    assert!(!store.metadata_path(&old).exists(), "metadata removed");
    assert!(
        !vault
            .entries()
            .keys()
            .any(|k| k.contains(&KeyringStore::account(&old))),
        "keychain entry removed: {:?}",
        vault.entries().keys().collect::<Vec<_>>()
    );
    assert_eq!(store.load(&fresh), Ok(Some(credential("FRESH"))));
    assert_eq!(store.load(&now), Ok(Some(credential("NOW"))));
    assert!(
        store.metadata_path(&default).exists(),
        "the Go name's own entry is only ever replaced"
    );
}

#[test]
fn each_identity_has_its_own_entry_and_never_reads_anothers() {
    let (_home, vault, store) = store();
    let (a, b) = (
        bound("c1234", "LTAI5tAccessKeyNumberOne"),
        bound("c1234", "LTAI5tAccessKeyNumberTwo"),
    );
    let default = key("c1234", "");
    assert_eq!(a.file_name(), default.file_name());
    // The default identity keeps the Go name; the others have their own.
    assert_eq!(
        KeyringStore::account(&default),
        "credential:c1234-exec-auth-credential-v1beta1.json"
    );
    assert_eq!(
        KeyringStore::account(&a),
        format!(
            "credential:c1234-exec-auth-credential-v1beta1.json.id-{}",
            a.identity.selected.fingerprint
        )
    );
    assert_eq!(store.save(&a, &credential("A")), Ok(()));
    assert_eq!(store.load(&b), Ok(None));
    assert_eq!(store.load(&default), Ok(None));
    assert_eq!(store.save(&b, &credential("B")), Ok(()));
    assert_eq!(store.save(&default, &credential("D")), Ok(()));
    for (k, body) in [(&a, "A"), (&b, "B"), (&default, "D")] {
        assert_eq!(store.load(k), Ok(Some(credential(body))), "{body}");
    }
    let listed = store.list().unwrap_or_default();
    let mut labels: Vec<_> = listed
        .iter()
        .map(|e| {
            e.bound_to
                .as_ref()
                .map(|s| s.label.clone())
                .unwrap_or_default()
        })
        .collect();
    labels.sort();
    assert_eq!(labels, ["default", "env:LTAI…rOne", "env:LTAI…rTwo"]);
    assert!(listed.iter().all(|e| e.lifetime.is_some()));
    let text: String = fs::read_dir(store.dir())
        .map(|d| {
            d.filter_map(|e| fs::read_to_string(e.ok()?.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    assert!(!text.contains("LTAI5tAccessKey"), "{text}");
    assert_eq!(store.clear(None), Ok(3));
    assert!(vault.entries().is_empty());
}

#[test]
fn metadata_naming_another_identity_is_a_miss_and_metadata_naming_none_is_served() {
    let (_home, _vault, store) = store();
    let k = key("c1234", "");
    assert_eq!(store.save(&k, &credential("K")), Ok(()));
    let path = store.metadata_path(&k);
    let written = fs::read_to_string(&path).unwrap_or_default();
    let mut doc: serde_json::Value = serde_json::from_str(&written).unwrap_or_default();
    assert_eq!(
        doc["identity"]["fingerprint"],
        SelectedIdentity::DEFAULT_FINGERPRINT
    );
    // Claimed by another identity: a miss.
    doc["identity"]["fingerprint"] = "0123456789abcdef".into();
    fs::write(&path, doc.to_string()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.load(&k), Ok(None));
    // Written before bindings (no `identity`): served, like the Go tool's files.
    doc.as_object_mut().map(|o| o.remove("identity"));
    fs::write(&path, doc.to_string()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.load(&k), Ok(Some(credential("K"))));
    // A malformed one: not ours.
    doc["identity"] = serde_json::json!({"fingerprint": "../x", "label": "x"});
    fs::write(&path, doc.to_string()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.load(&k), Ok(None));
}
