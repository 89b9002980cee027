//! `credential-plugin cache list | clear`: what is cached, in every store, and how to remove it
//! (from disk and keychain alike). Never shows key material.
//!
//! Both stores are seen through the store module's one interface ([`store::list`],
//! [`store::clear`]); the time of the freshness column comes from the context's clock. Each
//! entry shows the identity it was fetched for (marked when the environment selects it now) and
//! is judged against its own lifetime, not the default 3h: a 15-minute certificate issued a
//! minute ago is fresh.

use crate::cli::CacheCommand;
use crate::config::Settings;
use crate::error::AppError;
use crate::wiring;
use ack_ram_adapters::context::Context;
use ack_ram_adapters::env::Environment;
use ack_ram_adapters::store::{self, CacheDir, EntryLifetime, LifetimeBasis, ListedEntry};
use ack_ram_domain::model::SelectedIdentity;
use ack_ram_domain::policy::{self, Freshness};
use ack_ram_domain::{CertificateLifetime, ClusterId};
use chrono::{DateTime, SecondsFormat, Utc};

/// How many characters of the name digest `cache list` shows.
const NAME_DIGEST_SHOWN: usize = 8;
/// The longest temporary certificate (72h); anything longer was asked for with
/// `--expiration 0` and is judged like it.
const MAX_TEMPORARY_MINUTES: i64 = 72 * 60;

/// The lifetime an entry is judged against: its own when it can be told, else the default.
fn judged_lifetime(lifetime: Option<EntryLifetime>) -> CertificateLifetime {
    match lifetime.map(|l| l.duration.num_minutes()) {
        Some(minutes) if minutes > MAX_TEMPORARY_MINUTES => CertificateLifetime::ServerDefault,
        Some(minutes) => u32::try_from(minutes.max(1)).map_or(
            CertificateLifetime::ServerDefault,
            CertificateLifetime::Minutes,
        ),
        None => CertificateLifetime::default(),
    }
}

fn state(entry: &ListedEntry, now: DateTime<Utc>) -> &'static str {
    let lifetime = judged_lifetime(entry.lifetime);
    match entry.expiration.map(|e| policy::assess(e, lifetime, now)) {
        Some(Freshness::Fresh { .. }) => "fresh",
        Some(Freshness::RefreshDue { .. }) => "refresh-due",
        Some(Freshness::Expired) => "expired",
        None => "unusable",
    }
}

/// `15m`, `3h`, `1h30m`, `400d`; `~` when read from the certificate; `?` when unknown.
fn show_lifetime(lifetime: Option<EntryLifetime>) -> String {
    let Some(lifetime) = lifetime else {
        return "?".into();
    };
    let d = lifetime.duration;
    let mut text = if d.num_minutes() > MAX_TEMPORARY_MINUTES {
        format!("{}d", d.num_days())
    } else {
        match (d.num_hours(), d.num_minutes() % 60) {
            (0, m) => format!("{m}m"),
            (h, 0) => format!("{h}h"),
            (h, m) => format!("{h}h{m}m"),
        }
    };
    if lifetime.basis == LifetimeBasis::Certificate {
        text.insert(0, '~');
    }
    text
}

/// The `cache list` table, with `current` (the identity the environment selects now) marked.
fn table(entries: &[ListedEntry], now: DateTime<Utc>, current: &SelectedIdentity) -> String {
    let row = |cells: [&str; 8]| {
        let [
            cluster,
            api,
            name,
            identity,
            store,
            expires,
            lifetime,
            state,
        ] = cells;
        format!(
            "{cluster:<36} {api:<8} {name:<9} {identity:<24} {store:<8} {expires:<21} {lifetime:<9} {state}\n"
        )
    };
    let mut text = row([
        "CLUSTER", "API", "NAME-ID", "IDENTITY", "STORE", "EXPIRES", "LIFETIME", "STATE",
    ]);
    for e in entries {
        let name = e
            .identity
            .as_deref()
            .map_or("-", |digest| &digest[..NAME_DIGEST_SHOWN.min(digest.len())]);
        let identity = match &e.bound_to {
            Some(bound) if bound.fingerprint == current.fingerprint => format!("{}*", bound.label),
            Some(bound) => bound.label.clone(),
            None => "-".into(),
        };
        let expires = e
            .expiration
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
            .unwrap_or_else(|| "-".into());
        text.push_str(&row([
            e.cluster_id.as_str(),
            e.api_version.short(),
            name,
            &identity,
            e.store.as_str(),
            &expires,
            &show_lifetime(e.lifetime),
            state(e, now),
        ]));
    }
    text.push_str(&format!(
        "
IDENTITY  whom the environment selected when it was fetched (* = selected now;
          - = written by the Go tool, served to any identity)
NAME-ID   digest of --role-arn, --profile-name and --profile-file in the file name
LIFETIME  the certificate's own, from when it was cached to its expiry (~ = its
          validity period; ? = unknown, taken as 3h); STATE is judged against it:
          refresh-due once less than a fifth of it (at least {} min) is left
",
        policy::MIN_REFRESH_WINDOW.num_minutes()
    ));
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
    let ctx = wiring::context(wiring::http_settings(settings), env);
    let text = match command {
        CacheCommand::List => list(
            &ctx,
            &dir,
            &store::identity::select(env, settings.credential_type),
        )?,
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

fn list(ctx: &Context, dir: &CacheDir, current: &SelectedIdentity) -> Result<String, AppError> {
    let entries = store::list(ctx, dir)?;
    Ok(if entries.is_empty() {
        format!("no cached certificates in {}\n", dir.path().display())
    } else {
        table(&entries, ctx.clock().now(), current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ack_ram_domain::ApiVersion;
    use chrono::Duration;

    /// An entry expiring `expires_in` after the tests' now, of the given lifetime. (A
    /// `ListedEntry` has a private field: it is built the way the store does, from a file.)
    fn entry(expires_in: Duration, lifetime: Option<EntryLifetime>) -> ListedEntry {
        let now = DateTime::<Utc>::from_timestamp(2_000_000_000, 0).unwrap_or_default();
        let expiration = now + expires_in;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = store::FileStore::new(dir.path());
        let key = ack_ram_domain::CacheKey {
            cluster_id: ClusterId::parse("c1").unwrap_or_else(|e| panic!("{e}")),
            api_version: ApiVersion::V1,
            identity: Default::default(),
        };
        let credential = ack_ram_domain::ClusterCredential {
            client_certificate_pem: "CERT".into(),
            client_key_pem: ack_ram_domain::Secret::new("KEY"),
            expiration,
        };
        use ack_ram_domain::ports::CredentialStore;
        assert_eq!(store.save(&key, &credential), Ok(()));
        let mut listed = store.list().unwrap_or_default();
        assert_eq!(listed.len(), 1);
        let mut listed = listed.remove(0);
        listed.lifetime = lifetime;
        listed
    }

    fn lifetime(minutes: i64, basis: LifetimeBasis) -> Option<EntryLifetime> {
        Some(EntryLifetime {
            duration: Duration::minutes(minutes),
            basis,
        })
    }

    #[test]
    fn each_entry_is_judged_against_its_own_lifetime() {
        let now = DateTime::<Utc>::from_timestamp(2_000_000_000, 0).unwrap_or_default();
        let judged =
            |left: i64, l: Option<EntryLifetime>| state(&entry(Duration::minutes(left), l), now);
        // A 15-minute certificate issued seconds ago: fresh (the window is 10 min).
        assert_eq!(judged(15, lifetime(15, LifetimeBasis::WriteTime)), "fresh");
        assert_eq!(
            judged(9, lifetime(15, LifetimeBasis::WriteTime)),
            "refresh-due"
        );
        // 3h: the window is 36 min.
        assert_eq!(judged(40, lifetime(180, LifetimeBasis::WriteTime)), "fresh");
        assert_eq!(
            judged(30, lifetime(180, LifetimeBasis::WriteTime)),
            "refresh-due"
        );
        // Unknown: the default 3h.
        assert_eq!(judged(30, None), "refresh-due");
        // A long-lived one (`--expiration 0`): the 10-minute window.
        assert_eq!(
            judged(60 * 24, lifetime(60 * 24 * 400, LifetimeBasis::Certificate)),
            "fresh"
        );
        assert_eq!(
            judged(-1, lifetime(15, LifetimeBasis::WriteTime)),
            "expired"
        );
    }

    #[test]
    fn lifetimes_are_shown_like_the_flag() {
        assert_eq!(show_lifetime(lifetime(15, LifetimeBasis::WriteTime)), "15m");
        assert_eq!(show_lifetime(lifetime(180, LifetimeBasis::WriteTime)), "3h");
        assert_eq!(
            show_lifetime(lifetime(90, LifetimeBasis::WriteTime)),
            "1h30m"
        );
        assert_eq!(
            show_lifetime(lifetime(20, LifetimeBasis::Certificate)),
            "~20m"
        );
        assert_eq!(
            show_lifetime(lifetime(60 * 24 * 400, LifetimeBasis::Certificate)),
            "~400d"
        );
        assert_eq!(show_lifetime(None), "?");
    }
}
