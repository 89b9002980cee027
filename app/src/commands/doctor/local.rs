//! The checks of this machine: proxy and CA settings, the cache directory and its entries, and
//! the keychain.

use super::Check;
use crate::cli::DoctorArgs;
use crate::config::Settings;
use crate::wiring;
use ack_ram_adapters::context::Context;
use ack_ram_adapters::env::Environment;
use ack_ram_adapters::http::error_chain;
use ack_ram_adapters::keychain::{self, DEFAULT_PROBE_TIMEOUT};
use ack_ram_adapters::proxy::ProxyPolicy;
use ack_ram_adapters::sources::CredentialType;
use ack_ram_adapters::store::{self, CacheDir, ListedEntry, StoreKind};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// The proxy rules in effect (passwords masked), or the variable that is unusable.
pub(super) fn proxy(env: &Environment) -> Check {
    match ProxyPolicy::from_env(env) {
        Ok(policy) => Check::ok("proxy", policy.describe().join("; ")),
        Err(e) => Check::fail("proxy", e.to_string()).fix(
            "Fix or unset that variable: a proxy is http://[user:password@]host:port (or https://). Nothing is sent while it is unusable, never directly instead.",
        ),
    }
}

/// The trust roots: the system's, or `SSL_CERT_FILE` / `SSL_CERT_DIR` when set (checked with
/// `stat` only: nothing is opened, so a FIFO there cannot block).
pub(super) fn ca_certificates(env: &Environment) -> Check {
    let mut used = Vec::new();
    let mut problems = Vec::new();
    for (var, directory) in [("SSL_CERT_FILE", false), ("SSL_CERT_DIR", true)] {
        let Some(value) = env.get(var).filter(|v| !v.is_empty()) else {
            continue;
        };
        let paths: Vec<PathBuf> = if directory {
            std::env::split_paths(value).collect()
        } else {
            vec![PathBuf::from(value)]
        };
        for path in paths {
            match std::fs::metadata(&path) {
                Ok(m) if (directory && m.is_dir()) || (!directory && m.is_file()) => {}
                Ok(_) => problems.push(format!(
                    "{var}: {} is not a {}",
                    path.display(),
                    if directory {
                        "directory"
                    } else {
                        "regular file"
                    }
                )),
                Err(e) => problems.push(format!("{var}: {}: {e}", path.display())),
            }
        }
        used.push(format!("{var}={value}"));
    }
    if !problems.is_empty() {
        return Check::fail("ca certificates", problems.join("; ")).fix(
            "Point SSL_CERT_FILE at a PEM bundle and SSL_CERT_DIR at a directory of certificates, or unset them to use the system's trust roots.",
        );
    }
    Check::ok(
        "ca certificates",
        if used.is_empty() {
            "the system's trust roots (SSL_CERT_FILE and SSL_CERT_DIR are not set)".to_owned()
        } else {
            format!("trust roots from {}", used.join(", "))
        },
    )
}

/// The cache directory (owner and mode, as the stores check them) and its entries.
pub(super) fn cache(
    args: &DoctorArgs,
    settings: &Settings,
    env: &Environment,
    ctx: &Context,
) -> Vec<Check> {
    const DIR: &str = "cache directory";
    let raw = args
        .credential_cache_dir
        .as_deref()
        .unwrap_or(&settings.credential_cache_dir);
    let path = match wiring::expand_home(raw, env.get("HOME")) {
        Ok(path) => path,
        Err(e) => return vec![Check::from_error(DIR, &e)],
    };
    let shown = path.display();
    let mode = match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return vec![Check::ok(
                DIR,
                format!(
                    "{shown} does not exist yet; it is created (mode 700) with the first certificate"
                ),
            )];
        }
        Err(e) => {
            return vec![
                Check::fail(DIR, format!("cannot inspect {shown}: {e}"))
                    .fix("Point --credential-cache-dir (or ACK_RAM_TOOL_CREDENTIAL_CACHE_DIR) at a directory of your own."),
            ];
        }
        Ok(meta) if !meta.is_dir() => {
            return vec![
                Check::fail(DIR, format!("{shown} is not a directory"))
                    .fix("Remove it, or point --credential-cache-dir (or ACK_RAM_TOOL_CREDENTIAL_CACHE_DIR) elsewhere."),
            ];
        }
        Ok(meta) => unix_mode(&meta),
    };
    let dir_check = match store::dir::check_private(&path, "cache directory") {
        Err(e) if mode & 0o022 != 0 => Check::fail(DIR, e.reason)
            .fix(format!("chmod 700 {shown}")),
        Err(e) => Check::fail(DIR, e.reason).fix(
            "Point --credential-cache-dir (or ACK_RAM_TOOL_CREDENTIAL_CACHE_DIR) at a directory of your own.",
        ),
        Ok(()) if mode & 0o077 != 0 => Check::warn(
            DIR,
            format!("{shown} can be read by group or others (mode {mode:03o}); the plugin creates it 700"),
        )
        .fix(format!("chmod 700 {shown}")),
        Ok(()) => Check::ok(DIR, format!("{shown} is private (mode {mode:03o})")),
    };
    let entries_check = match store::list(ctx, &CacheDir::new(&path)) {
        Ok(entries) => entries_check(&entries, ctx.clock().now()),
        Err(e) => Check::fail("cache entries", e.to_string()).fix(format!("chmod 700 {shown}")),
    };
    vec![dir_check, entries_check]
}

#[cfg(unix)]
pub(super) fn unix_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o777
}

#[cfg(not(unix))]
pub(super) fn unix_mode(_: &std::fs::Metadata) -> u32 {
    0o700
}

/// How many entries, how many expired or unusable, and which ones are not private files (the
/// stores ignore and replace those).
fn entries_check(entries: &[ListedEntry], now: DateTime<Utc>) -> Check {
    const NAME: &str = "cache entries";
    let count = |kind: StoreKind| entries.iter().filter(|e| e.store == kind).count();
    let expired = entries
        .iter()
        .filter(|e| e.expiration.is_some_and(|t| t <= now))
        .count();
    let unusable = entries.iter().filter(|e| e.expiration.is_none()).count();
    let loose: Vec<&Path> = entries
        .iter()
        .map(|e| e.path.as_path())
        .filter(|path| !private_file(path))
        .collect();
    let mut finding = format!(
        "{} cached certificate(s) ({} file, {} keyring): {expired} expired, {unusable} unusable",
        entries.len(),
        count(StoreKind::File),
        count(StoreKind::Keyring),
    );
    if loose.is_empty() {
        return Check::ok(NAME, finding);
    }
    let names: Vec<String> = loose.iter().map(|p| p.display().to_string()).collect();
    finding.push_str(&format!(
        "; {} not a private file (mode wider than 600, a link or another owner's), so not used: {}",
        loose.len(),
        names.join(", ")
    ));
    Check::warn(NAME, finding).fix(
        "Remove them with `ack-ram-tool credential-plugin cache clear` (the next run fetches new certificates), or `chmod 600` them.",
    )
}

/// Whether a cache file is what the stores trust: a regular file (not a link), 0600 or
/// narrower, owned by this user (or root).
fn private_file(path: &Path) -> bool {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            meta.file_type().is_file()
                && unix_mode(&meta) & 0o077 == 0
                && store::dir::check_private(path, "cache file").is_ok()
        }
        Err(_) => false,
    }
}

/// Whether the OS keychain answers and takes writes. Only a failure when something needs it
/// (`--cache-store keyring`, `--credential-type keyring`).
pub(super) fn keychain(settings: &Settings, ctx: &Context) -> Check {
    const NAME: &str = "keychain";
    let vault = ctx.vault();
    let backend = vault.backend().name();
    let store = settings.cache_store;
    match keychain::probe(&vault, DEFAULT_PROBE_TIMEOUT) {
        Ok(()) => Check::ok(
            NAME,
            format!("the {backend} answers and takes writes (cache store: {store})"),
        ),
        Err(e) => {
            let why = error_chain(&e);
            if settings.credential_type == CredentialType::Keyring {
                Check::fail(NAME, why).fix(format!(
                    "Unlock or start the keychain, or {}.",
                    ack_ram_adapters::sources::keyring::ADVICE
                ))
            } else if store == StoreKind::Keyring {
                Check::fail(NAME, why).fix(
                    "Unlock or start the keychain (on Linux a Secret Service such as gnome-keyring on the session D-Bus), or use --cache-store file.",
                )
            } else {
                let consequence = match store {
                    StoreKind::Auto => "--cache-store auto uses the file store",
                    _ => "not needed with the cache store in use",
                };
                Check::warn(NAME, format!("{why}; {consequence} ({store})"))
            }
        }
    }
}
