//! The keyring store: client private keys in the OS keychain, nothing secret on disk.
//!
//! The Go tool (and our [`super::file`] store) writes every client private key in plaintext
//! JSON under `~/.kube/cache`. Security-minded users want the key in the OS keychain instead:
//! the Secret Service on Linux desktops (gnome-keyring, KeePassXC), the kernel key retention
//! service (keyutils) on headless Linux, the macOS Keychain, the Windows Credential Manager.
//!
//! Layout (see `docs/keyring.md`):
//! - the private key PEM lives in the keychain under service [`SERVICE`] and account
//!   `credential:<cache file name>` (chunk 0), `credential:<cache file name>:<n>` (chunk n),
//!   through [`Chunks`];
//! - everything else (expiration, certificate, chunk count, SHA-256 of the key, the identity
//!   it was issued to) lives in a metadata file next to where the file store would write
//!   ([`metadata`]), so freshness needs no keychain round trip and the Go tool, which reads
//!   exact names, never mistakes it for its own cache file.
//!
//! Entries are bound to the identity the environment selects ([`super::identity`]): the default
//! identity's entry keeps the Go name (`credential:<cache file name>`), any other identity's
//! lives under its own name (`<Go name>.id-<fingerprint>`), and a metadata file naming another
//! identity is a miss. Metadata written before bindings names none and is served.
//!
//! What kubelogin's users ran into shaped the rest: an entry is written only when its content
//! changed (read, compare, then write: keychains prompt, sync or log on writes), a metadata file
//! whose keychain entries are missing, partial or from another key is a cache miss (checked with
//! the fingerprint), never a crash, and a keychain that does not answer is an error naming the
//! backend, the reason and the alternatives, never a silent write of the key to disk.
//!
//! A hit costs one metadata file read and one keychain read per chunk (one for every key the ACK
//! API issues today); the keychain layer keeps one connection for the process
//! ([`crate::keychain`]).

pub mod metadata;

use super::StoreKind;
use super::dir::{
    self, CacheDir, CacheFileName, EntryLifetime, ListedEntry, read_cache_file, write_atomically,
    written_at,
};
use super::file::FileStore;
use crate::http::error_chain;
use crate::keychain::{self, Backend, Chunks, KeychainError, SERVICE, Vault};
use ack_ram_domain::ports::{CredentialStore, LockError, StoreError, StoreLock};
use ack_ram_domain::{CacheKey, ClusterCredential, ClusterId};
use metadata::{METADATA_SUFFIX, Metadata, account_for_file, cache_file_name, metadata_file_name};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// What to do when the keychain cannot be used, appended to the store's errors.
pub const ADVICE: &str =
    "use `--cache-store auto` (the file cache when no keychain answers) or `--cache-store file`";

/// Caches credentials with the private key in the keychain and the rest in a metadata file.
#[derive(Debug)]
pub struct KeyringStore {
    dir: CacheDir,
    files: FileStore,
    chunks: Chunks,
    // Serialises this process's own writers; other processes are kept out by `lock`.
    write_guard: Mutex<()>,
}

impl KeyringStore {
    /// A store with metadata in `dir` (the file store's directory) and keys in the platform's
    /// keychain.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self::with_backend(dir, Backend::Native)
    }

    /// A store over the given backend.
    pub fn with_backend(dir: impl Into<PathBuf>, backend: Backend) -> Self {
        Self::with_vault(dir, keychain::os_vault(backend))
    }

    /// A store over `vault` (an in-memory one in tests).
    pub fn with_vault(dir: impl Into<PathBuf>, vault: Arc<dyn Vault>) -> Self {
        Self::in_dir(CacheDir::new(dir), vault)
    }

    /// A store with metadata in `dir` and keys in `vault`.
    pub fn in_dir(dir: CacheDir, vault: Arc<dyn Vault>) -> Self {
        Self {
            files: FileStore::in_dir(dir.clone()),
            dir,
            chunks: Chunks::new(vault),
            write_guard: Mutex::new(()),
        }
    }

    /// Sets how long a refresh waits for another process holding the lock.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.dir = self.dir.with_lock_timeout(timeout);
        self.files = self.files.with_lock_timeout(timeout);
        self
    }

    /// The backend holding the keys.
    pub fn backend(&self) -> Backend {
        self.chunks.backend()
    }

    /// The metadata directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The metadata file of `key`.
    pub fn metadata_path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(&metadata_file_name(&entry_file_name(key)))
    }

    /// The keychain account of chunk 0 of `key`'s private key.
    pub fn account(key: &CacheKey) -> String {
        account_for_file(&entry_file_name(key))
    }

    /// How many keychain entries this store has written since it was made (unchanged content
    /// is not rewritten; for tests and diagnostics).
    pub fn keychain_writes(&self) -> u64 {
        self.chunks.writes()
    }

    /// The non-secret half of `key`'s entry, without touching the keychain: enough to decide
    /// freshness. `None` when there is no usable metadata file.
    pub fn load_metadata(&self, key: &CacheKey) -> Result<Option<Metadata>, StoreError> {
        let path = self.metadata_path(key);
        let Some(metadata) = self.read_metadata(&path)? else {
            return Ok(None);
        };
        if metadata.cache_file != entry_file_name(key)
            || metadata.cluster_id != key.cluster_id
            || metadata.api_version != key.api_version
        {
            tracing::debug!(path = %path.display(), "keyring cache miss: the metadata file belongs to another entry");
            return Ok(None);
        }
        if let Some(selected) = &metadata.selected
            && selected.fingerprint != key.identity.selected.fingerprint
        {
            tracing::debug!(path = %path.display(), stored = %selected.label, current = %key.identity.selected.label, "keyring cache miss: issued to another identity");
            return Ok(None);
        }
        if metadata.backend != self.backend().id() {
            tracing::debug!(path = %path.display(), stored = %metadata.backend, current = self.backend().id(), "keyring cache miss: the key is in another keychain");
            return Ok(None);
        }
        Ok(Some(metadata))
    }

    /// Reads and validates one metadata file; `None` when missing or unusable.
    fn read_metadata(&self, path: &Path) -> Result<Option<Metadata>, StoreError> {
        let Some(bytes) = read_cache_file(path, "keyring metadata file")? else {
            return Ok(None);
        };
        match Metadata::parse(&bytes) {
            Ok(metadata) => Ok(Some(metadata)),
            Err(reason) => {
                tracing::debug!(path = %path.display(), %reason, "keyring cache miss: unusable metadata file (it will be replaced)");
                Ok(None)
            }
        }
    }

    /// A keychain failure as the store port's error, with the way out when the keychain
    /// cannot be used at all.
    fn failure(&self, operation: &'static str, account: &str, error: &KeychainError) -> StoreError {
        StoreError {
            operation,
            location: self.backend().location(account),
            reason: unusable_reason(error),
        }
    }

    /// Removes `key`'s keychain entries and metadata file. `true` when anything was there.
    pub fn delete(&self, key: &CacheKey) -> Result<bool, StoreError> {
        let known = self.load_metadata(key)?.map_or(1, |m| m.chunks);
        self.delete_file_entry(&entry_file_name(key), known)
    }

    /// Removes a listed entry (for `cache clear`, which has no [`CacheKey`]: the identity part
    /// of the name is a hash).
    pub fn delete_entry(&self, entry: &ListedEntry) -> Result<bool, StoreError> {
        if entry.store != StoreKind::Keyring {
            return Ok(false);
        }
        self.delete_file_entry(&entry.cache_file, entry.chunks.max(1))
    }

    /// Removes every entry, or those of one cluster; returns how many were removed. Metadata
    /// files too damaged to list are removed (with their keychain entries) when no cluster is
    /// given.
    pub fn clear(&self, cluster: Option<&ClusterId>) -> Result<usize, StoreError> {
        let mut removed = 0;
        for (name, listed) in self.scan()? {
            let deleted = match listed {
                Some(entry) if cluster.is_none_or(|c| *c == entry.cluster_id) => {
                    self.delete_entry(&entry)?
                }
                None if cluster.is_none() => match cache_file_name(&name) {
                    Some(file) => self.delete_file_entry(&file, 1)?,
                    None => false,
                },
                _ => false,
            };
            removed += usize::from(deleted);
        }
        Ok(removed)
    }

    fn delete_file_entry(&self, file: &str, known_chunks: usize) -> Result<bool, StoreError> {
        let account = account_for_file(file);
        let removed = self
            .chunks
            .delete_from(&account, 0, known_chunks)
            .map_err(|e| self.failure("delete the private key from", &account, &e))?;
        let path = self.dir.join(&metadata_file_name(file));
        let file_removed = dir::remove_file(&path, "remove the keyring metadata file")?;
        tracing::debug!(path = %path.display(), keychain_entries = removed, "removed keyring cache entry");
        Ok(removed > 0 || file_removed)
    }

    /// Removes the other identities' entries for `key`'s Go name whose certificates expired
    /// before `now`, keychain entries and metadata alike (with rotating AccessKeys nothing else
    /// would). Best effort: what cannot be listed or deleted stays for `cache clear`.
    fn remove_expired_entries_of_others(&self, key: &CacheKey, now: chrono::DateTime<chrono::Utc>) {
        let Ok(entries) = self.list() else {
            return;
        };
        for entry in entries {
            let expired = entry.expiration.is_some_and(|at| at <= now);
            if !(expired && key.is_another_identitys_entry(&entry.cache_file)) {
                continue;
            }
            match self.delete_entry(&entry) {
                Ok(_) => {
                    tracing::debug!(entry = %entry.cache_file, "removed another identity's expired entry")
                }
                Err(e) => {
                    tracing::debug!(entry = %entry.cache_file, error = %e, "could not remove another identity's expired entry")
                }
            }
        }
    }

    /// The entries in the directory, from their metadata files (no keychain access), sorted by
    /// cache file name.
    pub fn list(&self) -> Result<Vec<ListedEntry>, StoreError> {
        Ok(self.scan()?.into_iter().filter_map(|(_, e)| e).collect())
    }

    /// Every metadata file by name, with its entry when it is a valid one.
    fn scan(&self) -> Result<Vec<(String, Option<ListedEntry>)>, StoreError> {
        let mut found = Vec::new();
        for (name, path) in self.dir.files()? {
            if !name.ends_with(METADATA_SUFFIX) || name.starts_with('.') {
                continue;
            }
            let listed = self.read_metadata(&path)?.and_then(|m| {
                let (parsed, fingerprint) = CacheFileName::parse_entry(&m.cache_file)?;
                // An identity's own entry must name that identity.
                let named = fingerprint
                    .is_none_or(|f| m.selected.as_ref().is_some_and(|s| s.fingerprint == f));
                (named && metadata_file_name(&m.cache_file) == name).then(|| ListedEntry {
                    store: StoreKind::Keyring,
                    cluster_id: m.cluster_id,
                    api_version: m.api_version,
                    identity: parsed.identity,
                    bound_to: m.selected,
                    expiration: Some(m.expiration),
                    lifetime: EntryLifetime::of(
                        m.expiration,
                        written_at(&path),
                        &m.client_certificate_pem,
                    ),
                    cache_file: m.cache_file,
                    path: path.clone(),
                    backend: Some(m.backend),
                    chunks: m.chunks,
                })
            });
            found.push((name, listed));
        }
        Ok(found)
    }
}

/// The name this store keeps `key`'s entry under (its metadata file and keychain account derive
/// from it): the Go name for the default identity, so entries written before bindings stay
/// where they are, and the identity's own name otherwise.
pub fn entry_file_name(key: &CacheKey) -> String {
    if key.identity.selected.is_default() {
        key.file_name()
    } else {
        key.scoped_file_name()
    }
}

/// The words of a keychain failure for a store error: the cause chain, and the way out when
/// the keychain cannot be used at all.
pub(crate) fn unusable_reason(error: &KeychainError) -> String {
    let reason = error_chain(error);
    if error.unavailable_reason().is_some() {
        format!("{reason}; {ADVICE}")
    } else {
        reason
    }
}

impl CredentialStore for KeyringStore {
    fn name(&self) -> &'static str {
        "keyring"
    }

    fn load(&self, key: &CacheKey) -> Result<Option<ClusterCredential>, StoreError> {
        self.dir.check()?;
        let Some(metadata) = self.load_metadata(key)? else {
            return Ok(None);
        };
        let key_pem = self
            .chunks
            .read(&metadata.account, &metadata.manifest())
            .map_err(|e| self.failure("read the private key from", &metadata.account, &e))?;
        let Some(key_pem) = key_pem else {
            return Ok(None);
        };
        tracing::debug!(account = %metadata.account, backend = self.backend().name(), "read the private key from the keychain");
        Ok(Some(ClusterCredential {
            client_certificate_pem: metadata.client_certificate_pem,
            client_key_pem: key_pem,
            expiration: metadata.expiration,
        }))
    }

    fn save(&self, key: &CacheKey, credential: &ClusterCredential) -> Result<(), StoreError> {
        let _guard = self
            .write_guard
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.dir.create()?;
        let account = Self::account(key);
        let previous = self.load_metadata(key).ok().flatten().map(|m| m.chunks);
        let manifest = self
            .chunks
            .write(&account, &credential.client_key_pem, previous)
            .map_err(|e| self.failure("store the private key in", &account, &e))?;
        let path = self.metadata_path(key);
        let json = Metadata::encode(key, credential, self.backend(), manifest).map_err(|e| {
            StoreError {
                operation: "encode the keyring metadata for",
                location: path.display().to_string(),
                reason: e.to_string(),
            }
        })?;
        write_atomically(self.dir.path(), &path, &json).map_err(|e| StoreError {
            operation: "write the keyring metadata file",
            location: path.display().to_string(),
            reason: e.to_string(),
        })?;
        tracing::debug!(path = %path.display(), backend = self.backend().name(), service = SERVICE, "cached the new credential (key in the keychain)");
        self.remove_expired_entries_of_others(key, chrono::Utc::now());
        Ok(())
    }

    fn lock(&self, key: &CacheKey) -> Result<Box<dyn StoreLock>, LockError> {
        // The file store's lock file for the same entry, so that processes in file and keyring
        // mode refreshing the same cluster also wait for each other.
        self.files.lock(key)
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
