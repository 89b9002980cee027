//! `credential-plugin cache list | clear`: what is cached, in every store, and how to remove it
//! (from disk and keychain alike). Never shows key material.
//!
//! Both stores are seen through the store module's one interface ([`store::list`],
//! [`store::clear`]); the time of the freshness column comes from the context's clock.

use crate::cli::CacheCommand;
use crate::config::Settings;
use crate::error::AppError;
use crate::wiring;
use ack_ram_adapters::context::Context;
use ack_ram_adapters::env::Environment;
use ack_ram_adapters::store::{self, CacheDir, ListedEntry};
use ack_ram_domain::policy::{self, Freshness};
use ack_ram_domain::{CertificateLifetime, ClusterId};
use chrono::{DateTime, SecondsFormat, Utc};

/// How many characters of the identity digest `cache list` shows.
const IDENTITY_SHOWN: usize = 8;

fn state(expiration: Option<DateTime<Utc>>, now: DateTime<Utc>) -> &'static str {
    match expiration.map(|e| policy::assess(e, CertificateLifetime::default(), now)) {
        Some(Freshness::Fresh { .. }) => "fresh",
        Some(Freshness::RefreshDue { .. }) => "refresh-due",
        Some(Freshness::Expired) => "expired",
        None => "unusable",
    }
}

/// The `cache list` table.
fn table(entries: &[ListedEntry], now: DateTime<Utc>) -> String {
    let row =
        |cluster: &str, api: &str, identity: &str, store: &str, expires: &str, state: &str| {
            format!("{cluster:<36} {api:<8} {identity:<9} {store:<8} {expires:<21} {state}\n")
        };
    let mut text = row(
        "CLUSTER",
        "API",
        "IDENTITY",
        "STORE",
        "EXPIRES",
        "STATE (for --expiration 3h)",
    );
    for e in entries {
        let identity = e
            .identity
            .as_deref()
            .map_or("-", |digest| &digest[..IDENTITY_SHOWN.min(digest.len())]);
        let expires = e
            .expiration
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
            .unwrap_or_else(|| "-".into());
        text.push_str(&row(
            e.cluster_id.as_str(),
            e.api_version.short(),
            identity,
            e.store.as_str(),
            &expires,
            state(e.expiration, now),
        ));
    }
    text
}

/// Runs a cache command.
pub fn run(
    command: &CacheCommand,
    cache_dir: Option<&str>,
    settings: &Settings,
    env: &Environment,
) -> Result<(), AppError> {
    let path = wiring::expand_home(
        cache_dir.unwrap_or(&settings.credential_cache_dir),
        env.get("HOME"),
    )?;
    let dir = CacheDir::new(&path);
    let ctx = wiring::context(wiring::http_settings(settings, env), env);
    let text = match command {
        CacheCommand::List => list(&ctx, &dir)?,
        CacheCommand::Clear { cluster_id } => {
            let cluster = cluster_id
                .as_deref()
                .map(ClusterId::parse)
                .transpose()
                .map_err(|e| AppError::InvalidInput {
                    flag: "--cluster-id",
                    message: e.to_string(),
                })?;
            let cleared = store::clear(&ctx, &dir, cluster.as_ref())?;
            format!(
                "removed {} cached certificate(s) from {} (file: {}, keyring: {})\n",
                cleared.total(),
                path.display(),
                cleared.file,
                cleared.keyring
            )
        }
    };
    crate::output::print(&text)
}

fn list(ctx: &Context, dir: &CacheDir) -> Result<String, AppError> {
    let entries = store::list(ctx, dir)?;
    Ok(if entries.is_empty() {
        format!("no cached certificates in {}\n", dir.path().display())
    } else {
        table(&entries, ctx.clock().now())
    })
}
