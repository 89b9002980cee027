//! Where issued certificates are kept between runs. One module per store, each a
//! `CredentialStore`: `file` (the Go tool's files), `keyring` (the OS keychain), `none`; both
//! real stores keep their files in one [`CacheDir`].
//!
//! The one interface the commands use: [`StoreKind`] parses `--cache-store`, [`open`] gives the
//! store for one entry (deciding `auto` here), and [`list`] and [`clear`] see every store of a
//! cache directory as [`ListedEntry`] values. Both stores bind each entry to the identity the
//! environment selects ([`identity`]).

pub mod dir;
pub mod file;
pub mod identity;
pub mod keyring;
pub mod lock;
pub mod none;

pub use dir::{CacheDir, CacheFileName, EntryLifetime, LifetimeBasis, ListedEntry};
pub use file::FileStore;
pub use keyring::KeyringStore;
pub use none::NoStore;

use crate::context::Context;
use crate::keychain::{self, DEFAULT_PROBE_TIMEOUT};
use ack_ram_domain::ports::{CredentialStore, StoreError};
use ack_ram_domain::{CacheKey, ClusterId};
use std::fmt;
use std::str::FromStr;

/// Which store caches certificates (`--cache-store`, `ACK_RAM_TOOL_CACHE_STORE`,
/// `cache_store`). In configuration it is a plain string, validated when read.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub enum StoreKind {
    /// The Go tool's files (the default).
    #[default]
    File,
    /// The private key in the OS keychain, the rest in a metadata file.
    Keyring,
    /// The keychain when one answers, else the files.
    Auto,
    /// Nothing is kept.
    None,
}

/// A `--cache-store` value that is not a store.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown store {0:?}; use file, keyring, auto or none")]
pub struct UnknownStore(pub String);

impl FromStr for StoreKind {
    type Err = UnknownStore;

    /// Case-insensitive; empty means the default (`file`).
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.to_ascii_lowercase().as_str() {
            "" | "file" => Ok(Self::File),
            "keyring" => Ok(Self::Keyring),
            "auto" => Ok(Self::Auto),
            "none" => Ok(Self::None),
            other => Err(UnknownStore(other.to_owned())),
        }
    }
}

impl TryFrom<String> for StoreKind {
    type Error = UnknownStore;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        raw.parse()
    }
}

impl From<StoreKind> for String {
    fn from(kind: StoreKind) -> Self {
        kind.as_str().to_owned()
    }
}

impl StoreKind {
    /// The names `--cache-store` accepts.
    pub const NAMES: [&'static str; 4] = ["file", "keyring", "auto", "none"];

    /// The name on the command line, and the store's [`CredentialStore::name`].
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Keyring => "keyring",
            Self::Auto => "auto",
            Self::None => "none",
        }
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The store `kind` selects for `key`'s entry in `dir`, with the keychain of `ctx`.
///
/// `auto` decides without a keychain round trip when the entry already exists in one store
/// (its metadata file means keyring, its cache file means file), and probes the keychain only on
/// a cold cache: keyring if it answers within [`DEFAULT_PROBE_TIMEOUT`], else file.
pub fn open(
    kind: StoreKind,
    ctx: &Context,
    dir: &CacheDir,
    key: &CacheKey,
) -> Box<dyn CredentialStore> {
    let file = || Box::new(FileStore::in_dir(dir.clone()));
    let keyring = || Box::new(KeyringStore::in_dir(dir.clone(), ctx.vault()));
    match kind {
        StoreKind::File => file(),
        StoreKind::Keyring => keyring(),
        StoreKind::None => Box::new(NoStore),
        StoreKind::Auto => {
            if dir
                .join(&keyring::metadata::metadata_file_name(
                    &keyring::entry_file_name(key),
                ))
                .is_file()
            {
                keyring()
            } else if dir.join(&key.file_name()).is_file() {
                file()
            } else {
                match keychain::probe(&ctx.vault(), DEFAULT_PROBE_TIMEOUT) {
                    Ok(()) => {
                        tracing::debug!("cache store auto: the OS keychain answers; using it");
                        keyring()
                    }
                    Err(e) => {
                        tracing::debug!(
                            "cache store auto: {}; using the file cache",
                            crate::http::error_chain(&e)
                        );
                        file()
                    }
                }
            }
        }
    }
}

/// For `--cache-store keyring`, before fetching a certificate: whether the keychain of `ctx`
/// will take its key. Without one the run stops here, rather than fetch a key that could not
/// be kept (it is never written to disk instead).
pub fn require_keychain(ctx: &Context) -> Result<(), StoreError> {
    let vault = ctx.vault();
    keychain::probe(&vault, DEFAULT_PROBE_TIMEOUT).map_err(|e| StoreError {
        operation: "keep the private key in",
        location: format!("the {}", vault.backend().name()),
        reason: keyring::unusable_reason(&e),
    })
}

/// Every cached entry in `dir`, of both stores: the file store's first, each sorted by name.
/// Reads files only, never the keychain.
pub fn list(ctx: &Context, dir: &CacheDir) -> Result<Vec<ListedEntry>, StoreError> {
    let mut entries = FileStore::in_dir(dir.clone()).list()?;
    entries.extend(KeyringStore::in_dir(dir.clone(), ctx.vault()).list()?);
    Ok(entries)
}

/// How many entries [`clear`] removed, per store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cleared {
    /// Cache files.
    pub file: usize,
    /// Keyring entries (metadata file and keychain items).
    pub keyring: usize,
}

impl Cleared {
    /// Entries removed from both stores.
    pub fn total(self) -> usize {
        self.file + self.keyring
    }
}

/// Removes the entries of `cluster` (every entry when `None`) from both stores in `dir`.
///
/// The keychain is touched only when keyring entries exist, and probed first (with a deadline)
/// so that a keychain waiting on an unlock prompt fails clearly instead of hanging. Clearing
/// everything also removes the probe entry earlier versions left in the keychain, where one
/// answers.
pub fn clear(
    ctx: &Context,
    dir: &CacheDir,
    cluster: Option<&ClusterId>,
) -> Result<Cleared, StoreError> {
    let file = FileStore::in_dir(dir.clone()).clear(cluster)?;
    let vault = ctx.vault();
    let keyring_store = KeyringStore::in_dir(dir.clone(), vault.clone());
    let has_keyring_entries = dir.files()?.iter().any(|(name, _)| {
        name.ends_with(keyring::metadata::METADATA_SUFFIX) && !name.starts_with('.')
    });
    let keyring = if has_keyring_entries {
        keychain::probe(&vault, DEFAULT_PROBE_TIMEOUT).map_err(|e| StoreError {
            operation: "remove the keychain entries from",
            location: format!("the {}", vault.backend().name()),
            reason: crate::http::error_chain(&e),
        })?;
        keyring_store.clear(cluster)?
    } else {
        0
    };
    if cluster.is_none() {
        match keychain::remove_probe_leftover(&vault, DEFAULT_PROBE_TIMEOUT) {
            Ok(true) => tracing::debug!("removed the probe entry an earlier version left"),
            Ok(false) => {}
            Err(e) => tracing::debug!("left the keychain alone: {}", crate::http::error_chain(&e)),
        }
    }
    Ok(Cleared { file, keyring })
}

#[cfg(test)]
mod tests;
