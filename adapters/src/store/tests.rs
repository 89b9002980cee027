//! The store interface over an in-memory keychain: `--cache-store` parsing, `auto` selection,
//! listing and clearing both stores.

use super::*;
use crate::env::Environment;
use crate::http::HttpSettings;
use crate::keychain::{MemoryVault, PROBE_ACCOUNT, UnavailableReason};
use ack_ram_domain::{ApiVersion, ClusterCredential, IdentityInputs, Secret};
use chrono::{DateTime, Utc};
use std::sync::Arc;

fn ctx(vault: &Arc<MemoryVault>) -> Context {
    Context::new(Environment::default(), HttpSettings::new("test")).with_vault(vault.clone())
}

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

fn credential() -> ClusterCredential {
    ClusterCredential {
        client_certificate_pem: "-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n"
            .into(),
        client_key_pem: Secret::new(
            "-----BEGIN EC PRIVATE KEY-----\nK\n-----END EC PRIVATE KEY-----\n",
        ),
        expiration: DateTime::<Utc>::from_timestamp(2_000_000_000, 0).unwrap_or_default(),
    }
}

#[test]
fn parses_the_cache_store_setting_in_one_place() {
    for (raw, kind) in [
        ("", StoreKind::File),
        ("file", StoreKind::File),
        ("KEYRING", StoreKind::Keyring),
        ("Auto", StoreKind::Auto),
        ("none", StoreKind::None),
    ] {
        assert_eq!(raw.parse::<StoreKind>(), Ok(kind), "{raw}");
    }
    assert_eq!(
        "disk".parse::<StoreKind>().map_err(|e| e.to_string()),
        Err("unknown store \"disk\"; use file, keyring, auto or none".into())
    );
    assert_eq!(StoreKind::Keyring.to_string(), "keyring");
}

#[test]
fn explicit_stores_are_used_as_asked_without_touching_the_keychain() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let vault = Arc::new(MemoryVault::new());
    let dir = CacheDir::new(home.path());
    for kind in [StoreKind::File, StoreKind::Keyring, StoreKind::None] {
        assert_eq!(
            open(kind, &ctx(&vault), &dir, &key("c1", "")).name(),
            kind.as_str()
        );
    }
    assert_eq!(vault.operations(), 0);
}

#[test]
fn auto_follows_existing_entries_then_the_probe() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = CacheDir::new(home.path());
    let k = key("c1", "");
    let vault = Arc::new(MemoryVault::new());
    assert_eq!(
        open(StoreKind::Auto, &ctx(&vault), &dir, &k).name(),
        "keyring",
        "cold cache, keychain answers"
    );
    assert!(
        vault.entries().is_empty(),
        "the probe leaves nothing behind"
    );

    let down = Arc::new(MemoryVault::new());
    down.make_unavailable(UnavailableReason::NoSessionBus, "no bus");
    assert_eq!(
        open(StoreKind::Auto, &ctx(&down), &dir, &k).name(),
        "file",
        "cold cache, no keychain"
    );

    let untouched = Arc::new(MemoryVault::new());
    std::fs::write(dir.join(&k.file_name()), "{}").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        open(StoreKind::Auto, &ctx(&untouched), &dir, &k).name(),
        "file",
        "an existing file entry decides"
    );
    let metadata = KeyringStore::in_dir(dir.clone(), untouched.clone()).metadata_path(&k);
    std::fs::write(&metadata, "{}").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        open(StoreKind::Auto, &ctx(&untouched), &dir, &k).name(),
        "keyring",
        "an existing keychain entry decides"
    );
    assert_eq!(untouched.operations(), 0, "no probe when an entry exists");

    // An identity the environment selects has its keyring entry under its own name: that one
    // decides too, so its hits never probe.
    let env: Environment = [("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tAccessKeyNumberOne")]
        .into_iter()
        .collect();
    let bound = CacheKey {
        identity: IdentityInputs {
            selected: identity::select(&env, crate::sources::CredentialType::Auto),
            ..IdentityInputs::default()
        },
        ..key("c2", "")
    };
    let metadata = KeyringStore::in_dir(dir.clone(), untouched.clone()).metadata_path(&bound);
    assert_ne!(
        metadata.file_name(),
        KeyringStore::in_dir(dir.clone(), untouched.clone())
            .metadata_path(&key("c2", ""))
            .file_name()
    );
    std::fs::write(&metadata, "{}").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        open(StoreKind::Auto, &ctx(&untouched), &dir, &bound).name(),
        "keyring"
    );
    assert_eq!(untouched.operations(), 0, "no probe for it either");
}

#[test]
fn keyring_mode_stops_early_without_a_keychain_and_names_the_way_out() {
    let vault = Arc::new(MemoryVault::new());
    assert_eq!(require_keychain(&ctx(&vault)), Ok(()));
    vault.make_unavailable(
        UnavailableReason::NoSessionBus,
        "Failed to connect to socket /x",
    );
    let err = require_keychain(&ctx(&vault))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with(
            "could not keep the private key in the Secret Service: the Secret Service is not usable"
        ) && err.contains("Failed to connect to socket /x")
            && err.contains("--cache-store auto")
            && err.contains("--cache-store file")
            && !err.contains('\n'),
        "{err}"
    );
}

#[test]
fn lists_and_clears_both_stores_as_one() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = CacheDir::new(home.path().join("cache"));
    let vault = Arc::new(MemoryVault::new());
    let ctx = ctx(&vault);
    let file = FileStore::in_dir(dir.clone());
    let keyring = KeyringStore::in_dir(dir.clone(), vault.clone());
    let (a, b, c) = (key("ca", ""), key("ca", "dev"), key("cb", ""));
    assert_eq!(file.save(&a, &credential()), Ok(()));
    assert_eq!(keyring.save(&b, &credential()), Ok(()));
    assert_eq!(keyring.save(&c, &credential()), Ok(()));

    let listed = list(&ctx, &dir).unwrap_or_default();
    let shown: Vec<_> = listed
        .iter()
        .map(|e| {
            (
                e.store,
                e.cluster_id.as_str(),
                e.identity.is_some(),
                e.expiration,
            )
        })
        .collect();
    let expires = Some(credential().expiration);
    assert_eq!(
        shown,
        vec![
            (StoreKind::File, "ca", false, expires),
            (StoreKind::Keyring, "ca", true, expires),
            (StoreKind::Keyring, "cb", false, expires),
        ]
    );

    let ca = ClusterId::parse("ca").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        clear(&ctx, &dir, Some(&ca)),
        Ok(Cleared {
            file: 1,
            keyring: 1
        })
    );
    // A probe entry left by an earlier version goes with a full clear.
    vault.entries().insert(
        PROBE_ACCOUNT.into(),
        b"ack-ram-tool keychain probe".to_vec(),
    );
    assert_eq!(clear(&ctx, &dir, None).map(Cleared::total), Ok(1));
    assert!(vault.entries().is_empty());
    assert_eq!(list(&ctx, &dir), Ok(Vec::new()));
}

#[test]
fn clearing_files_only_never_needs_a_keychain() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = CacheDir::new(home.path());
    let vault = Arc::new(MemoryVault::new());
    vault.make_unavailable(UnavailableReason::NoSessionBus, "no bus");
    let ctx = ctx(&vault);
    assert_eq!(
        FileStore::in_dir(dir.clone()).save(&key("ca", ""), &credential()),
        Ok(())
    );
    assert_eq!(
        clear(&ctx, &dir, None),
        Ok(Cleared {
            file: 1,
            keyring: 0
        })
    );
}
