//! `credential-plugin cache list | clear`: what is cached, in every store, and how to remove it
//! (from disk and keychain alike). Never shows key material.

use crate::cli::CacheCommand;
use crate::config::Settings;
use crate::error::AppError;
use crate::wiring;
use ack_ram_adapters::env::Environment;
use ack_ram_adapters::store::{FileStore, KeyringStore, keyring};
use ack_ram_domain::policy::{self, Freshness};
use ack_ram_domain::{CertificateLifetime, ClusterId};
use chrono::{DateTime, SecondsFormat, Utc};
use std::io::Write;

struct Row {
    cluster: String,
    api_version: String,
    identity: String,
    store: &'static str,
    expiration: Option<DateTime<Utc>>,
}

fn state(expiration: Option<DateTime<Utc>>, now: DateTime<Utc>) -> &'static str {
    match expiration.map(|e| policy::assess(e, CertificateLifetime::default(), now)) {
        Some(Freshness::Fresh { .. }) => "fresh",
        Some(Freshness::RefreshDue { .. }) => "refresh-due",
        Some(Freshness::Expired) => "expired",
        None => "unusable",
    }
}

/// Runs a cache command.
pub fn run(
    command: &CacheCommand,
    cache_dir: Option<&str>,
    settings: &Settings,
    env: &Environment,
) -> Result<(), AppError> {
    let dir = wiring::expand_home(
        cache_dir.unwrap_or(&settings.credential_cache_dir),
        env.get("HOME"),
    )?;
    let file = FileStore::new(&dir);
    let keychain = KeyringStore::new(&dir);
    let store_failed = |e: ack_ram_domain::ports::StoreError| AppError::Environment(e.to_string());
    let mut out = std::io::stdout().lock();
    let text = match command {
        CacheCommand::List => {
            let mut rows: Vec<Row> = file
                .list()
                .map_err(store_failed)?
                .into_iter()
                .map(|e| Row {
                    cluster: e.cluster_id,
                    api_version: e.api_version,
                    identity: e
                        .identity
                        .map(|h| h[..8.min(h.len())].to_owned())
                        .unwrap_or_else(|| "-".into()),
                    store: "file",
                    expiration: e.expiration,
                })
                .collect();
            rows.extend(keychain.list().map_err(store_failed)?.into_iter().map(|e| {
                Row {
                    identity: e
                        .cache_file
                        .trim_end_matches(".json")
                        .rsplit_once('-')
                        .map(|(_, h)| h)
                        .filter(|h| h.len() == 40)
                        .map(|h| h[..8].to_owned())
                        .unwrap_or_else(|| "-".into()),
                    cluster: e.cluster_id.to_string(),
                    api_version: e.api_version.to_string(),
                    store: "keyring",
                    expiration: Some(e.expiration),
                }
            }));
            if rows.is_empty() {
                format!("no cached certificates in {}\n", dir.display())
            } else {
                let now = Utc::now();
                let mut text = format!(
                    "{:<36} {:<8} {:<9} {:<8} {:<21} {}\n",
                    "CLUSTER", "API", "IDENTITY", "STORE", "EXPIRES", "STATE (for --expiration 3h)"
                );
                for r in rows {
                    text.push_str(&format!(
                        "{:<36} {:<8} {:<9} {:<8} {:<21} {}\n",
                        r.cluster,
                        r.api_version,
                        r.identity,
                        r.store,
                        r.expiration
                            .map(|e| e.to_rfc3339_opts(SecondsFormat::Secs, true))
                            .unwrap_or_else(|| "-".into()),
                        state(r.expiration, now)
                    ));
                }
                text
            }
        }
        CacheCommand::Clear { cluster_id } => {
            let cluster = cluster_id
                .as_deref()
                .map(ClusterId::parse)
                .transpose()
                .map_err(|e| AppError::InvalidInput {
                    flag: "--cluster-id",
                    message: e.to_string(),
                })?;
            let from_files = file
                .clear(cluster.as_ref().map(ClusterId::as_str))
                .map_err(store_failed)?;
            let keychain_entries = keychain.list().map_err(store_failed)?;
            let from_keychain = if keychain_entries.is_empty() {
                0
            } else {
                keyring::probe().map_err(|e| {
                    AppError::Keyring(format!("could not remove the keychain entries: {e}"))
                })?;
                keychain.clear(cluster.as_ref()).map_err(store_failed)?
            };
            format!(
                "removed {} cached certificate(s) from {} (file: {from_files}, keyring: {from_keychain})\n",
                from_files + from_keychain,
                dir.display()
            )
        }
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(AppError::Output)
}
