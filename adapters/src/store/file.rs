//! The file store: the Go tool's cache directory and file names, written safely, and bound to
//! the identity that obtained each certificate.
//!
//! Same location (`~/.kube/cache/ack-ram-tool/credential-plugin` by default), same names, same
//! JSON, so an existing cache keeps working and the Go tool can read ours. Unlike the Go tool,
//! writes are atomic (a temp file in the same directory, fsync, rename, fsync of the directory),
//! files are 0600 and new directories 0700, and anything unreadable is a miss, never a crash.
//!
//! Unlike the Go tool, an entry is never served to an identity other than the one it was issued
//! to (see [`super::identity`]). One entry is three files:
//! - `<Go name>.id-<fingerprint>`: the identity's own entry (the ExecCredential plus an
//!   `ackRamTool` member naming the identity);
//! - `<Go name>.identity`: which identity wrote the Go-named file, and the SHA-256 of its
//!   certificate;
//! - `<stem>.json`: the Go-named file, byte for byte what the Go tool writes and what is printed.
//!
//! Each identity that refreshes leaves its own file, and with AccessKeys that rotate (STS
//! credentials handed to CI jobs) nothing would ever remove the old ones; so a write also
//! removes the other identities' entries for the same name whose certificates have expired.
//!
//! They are written in that order, so a reader never finds a Go-named certificate with a binding
//! that claims it for the wrong identity: in between, the binding names another certificate and
//! binds nothing. A lookup reads the Go-named file first: served when the binding names this
//! identity, or when there is no binding (the Go tool wrote it); when it names another identity
//! or another certificate, this identity's own file is read instead. A missing or unusable
//! Go-named file is a miss whatever else is there (deleting it forces a refresh, as with the Go
//! tool).
//!
//! Like ssh with `~/.ssh`, the store refuses a directory (after following symlinks) that other
//! users could write to or that belongs to someone else, and a cache file owned by someone
//! else: a private key must not be written where others can swap or read it, and a credential
//! planted by another user must not be served (the rules live in [`super::dir`]). Refreshes
//! are serialised per cache entry by [`super::lock`].

use super::StoreKind;
use super::dir::{
    self, CacheDir, CacheFileName, EntryLifetime, ListedEntry, read_cache_file,
    write_all_atomically, written_at,
};
use super::identity::Binding;
use crate::local_file::{self, Symlinks};
use ack_ram_domain::model::{BINDING_SUFFIX, CachedEntry, binding_file_name, scoped_file_name};
use ack_ram_domain::ports::{CredentialStore, LockError, StoreError, StoreLock};
use ack_ram_domain::{CacheKey, ClusterCredential, ClusterId, ExecCredential};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Temp files older than this were left by a writer that died; they are removed.
const STALE_TEMP_AGE: Duration = Duration::from_secs(600);

/// Caches credentials as ExecCredential JSON files in one directory.
#[derive(Clone, Debug)]
pub struct FileStore {
    dir: CacheDir,
}

/// What the binding file says about the Go-named file's certificate.
enum Owner {
    /// No binding file: the Go tool (or a version before bindings) wrote it.
    Unknown,
    /// Issued to this identity.
    Same,
    /// Issued to another identity, or the binding is about another certificate or unusable.
    Other(String),
}

impl FileStore {
    /// A store in `dir` (already `~`-expanded; created on first write), waiting up to 30 s for
    /// another process's refresh.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self::in_dir(CacheDir::new(dir))
    }

    /// A store in `dir`.
    pub fn in_dir(dir: CacheDir) -> Self {
        Self { dir }
    }

    /// Sets how long a refresh waits for another process holding the lock.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.dir = self.dir.with_lock_timeout(timeout);
        self
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The Go-named file of `key`.
    pub fn path_for(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(&key.file_name())
    }

    /// The file of `key`'s identity's own entry.
    pub fn scoped_path_for(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(&key.scoped_file_name())
    }

    /// The file saying who wrote `key`'s Go-named file.
    pub fn binding_path_for(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(&key.binding_file_name())
    }

    /// Who the Go-named file's `credential` was issued to, by its binding file. An unreadable,
    /// untrusted or malformed binding binds to nobody (the Go-named file is then not served).
    fn owner(&self, key: &CacheKey, credential: &ClusterCredential) -> Owner {
        let path = self.binding_path_for(key);
        let bytes = match read_cache_file(&path, "identity file") {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Owner::Unknown,
            Err(e) => return Owner::Other(e.to_string()),
        };
        match Binding::parse(&bytes) {
            Some(b) if !b.covers(credential) => {
                Owner::Other("the identity file is about another certificate".into())
            }
            Some(b) if b.selected.fingerprint == key.identity.selected.fingerprint => Owner::Same,
            Some(b) => Owner::Other(format!("issued to another identity ({})", b.selected.label)),
            None => Owner::Other("the identity file is not usable".into()),
        }
    }

    /// This identity's own entry, when it is one and says so.
    fn load_scoped(&self, key: &CacheKey) -> Result<Option<ClusterCredential>, StoreError> {
        let path = self.scoped_path_for(key);
        let Some(bytes) = read_cache_file(&path, "cache file")? else {
            return Ok(None);
        };
        match ExecCredential::parse_cached_entry(&bytes) {
            Ok(CachedEntry {
                credential,
                selected: Some(selected),
            }) if selected.fingerprint == key.identity.selected.fingerprint => Ok(Some(credential)),
            Ok(_) => {
                tracing::debug!(path = %path.display(), "cache miss: the file does not name this identity");
                Ok(None)
            }
            Err(reason) => {
                tracing::debug!(path = %path.display(), %reason, "cache miss: unusable cache file (it will be replaced)");
                Ok(None)
            }
        }
    }

    /// Removes the other identities' own entries for `key`'s Go name whose certificates expired
    /// before `now`. Best effort, and it loses nothing: a file that cannot be read, is not
    /// trusted or does not parse stays (`cache clear` removes it).
    fn remove_expired_entries_of_others(&self, key: &CacheKey, now: chrono::DateTime<chrono::Utc>) {
        let Ok(files) = self.dir.files() else {
            return;
        };
        for (name, path) in files {
            if !key.is_another_identitys_entry(&name) {
                continue;
            }
            let expired = read_cache_file(&path, "cache file")
                .ok()
                .flatten()
                .and_then(|bytes| ExecCredential::parse_cached_entry(&bytes).ok())
                .is_some_and(|entry| entry.credential.expiration <= now);
            if expired
                && matches!(
                    dir::remove_file(&path, "remove an expired cache file"),
                    Ok(true)
                )
            {
                tracing::debug!(file = %path.display(), "removed another identity's expired entry");
            }
        }
    }

    /// Every cached entry in the directory (the keyring store's metadata files are not among
    /// them), sorted by name: each identity's own entries, and the Go-named files that are not
    /// a copy of one of them (the Go tool's, or ours when the identity's file is gone). A
    /// missing directory is an empty list.
    pub fn list(&self) -> Result<Vec<ListedEntry>, StoreError> {
        let files = self.dir.files()?;
        let names: BTreeSet<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
        let mut out = Vec::new();
        for (name, path) in &files {
            let Some((parsed, fingerprint)) = CacheFileName::parse_entry(name) else {
                continue;
            };
            // Only what `cache list` needs: a capped, non-blocking read that never follows a link.
            let entry = local_file::read(path, local_file::caps::CACHE_FILE, Symlinks::Refuse)
                .ok()
                .and_then(|bytes| ExecCredential::parse_cached_entry(&bytes).ok());
            let bound_to = match (&fingerprint, &entry) {
                // An identity's own file: the identity it names, if it is the one in its name.
                (Some(fingerprint), Some(entry)) => entry
                    .selected
                    .clone()
                    .filter(|s| s.fingerprint == *fingerprint),
                (Some(_), None) | (None, None) => None,
                (None, Some(entry)) => {
                    let binding = local_file::read(
                        &self.dir.join(&binding_file_name(name)),
                        local_file::caps::CACHE_FILE,
                        Symlinks::Refuse,
                    )
                    .ok()
                    .and_then(|bytes| Binding::parse(&bytes))
                    .filter(|b| b.covers(&entry.credential));
                    match binding {
                        // A copy of an identity's own entry, listed there.
                        Some(b)
                            if names.contains(
                                scoped_file_name(name, &b.selected.fingerprint).as_str(),
                            ) =>
                        {
                            continue;
                        }
                        Some(b) => Some(b.selected),
                        None => None,
                    }
                }
            };
            let usable = entry.filter(|_| fingerprint.is_none() || bound_to.is_some());
            out.push(ListedEntry {
                store: StoreKind::File,
                cluster_id: parsed.cluster_id,
                api_version: parsed.api_version,
                identity: parsed.identity,
                bound_to,
                expiration: usable.as_ref().map(|e| e.credential.expiration),
                lifetime: usable.as_ref().and_then(|e| {
                    EntryLifetime::of(
                        e.credential.expiration,
                        written_at(path),
                        &e.credential.client_certificate_pem,
                    )
                }),
                cache_file: name.clone(),
                path: path.clone(),
                backend: None,
                chunks: 0,
            });
        }
        Ok(out)
    }

    /// Removes the cached entries of `cluster` (all clusters when `None`), with their identity
    /// files; returns how many entries [`FileStore::list`] showed for it.
    pub fn clear(&self, cluster: Option<&ClusterId>) -> Result<usize, StoreError> {
        let matches = |c: &ClusterId| cluster.is_none_or(|wanted| wanted == c);
        let listed = self
            .list()?
            .iter()
            .filter(|e| matches(&e.cluster_id))
            .count();
        for (name, path) in self.dir.files()? {
            let go_name = name.strip_suffix(BINDING_SUFFIX).unwrap_or(&name);
            if CacheFileName::parse_entry(go_name).is_some_and(|(p, _)| matches(&p.cluster_id)) {
                dir::remove_file(&path, "remove the cache file")?;
            }
        }
        Ok(listed)
    }
}

impl CredentialStore for FileStore {
    fn name(&self) -> &'static str {
        "file"
    }

    fn load(&self, key: &CacheKey) -> Result<Option<ClusterCredential>, StoreError> {
        self.dir.check()?;
        let path = self.path_for(key);
        let Some(bytes) = read_cache_file(&path, "cache file")? else {
            return Ok(None);
        };
        let credential = match ExecCredential::parse_cached(&bytes) {
            Ok(credential) => credential,
            Err(reason) => {
                tracing::debug!(path = %path.display(), %reason, "cache miss: unusable cache file (it will be replaced)");
                return Ok(None);
            }
        };
        match self.owner(key, &credential) {
            Owner::Same => Ok(Some(credential)),
            Owner::Unknown => {
                tracing::debug!(path = %path.display(), "a cache file without an identity file (the Go tool's): served to any identity");
                Ok(Some(credential))
            }
            Owner::Other(why) => {
                tracing::debug!(path = %path.display(), why, identity = %key.identity.selected.label, "the Go-named cache file is not this identity's; reading its own entry");
                self.load_scoped(key)
            }
        }
    }

    fn save(&self, key: &CacheKey, credential: &ClusterCredential) -> Result<(), StoreError> {
        let path = self.path_for(key);
        self.dir.create()?;
        self.dir.remove_stale_temp_files(STALE_TEMP_AGE);
        let exec = ExecCredential::new(key.api_version, credential.clone());
        let selected = &key.identity.selected;
        let own = exec.to_json_bound(selected);
        let binding = Binding::of(selected, credential).encode();
        let go = exec.to_json();
        // This order: see the module documentation.
        let (scoped_path, binding_path) = (self.scoped_path_for(key), self.binding_path_for(key));
        write_all_atomically(
            self.dir.path(),
            &[
                (scoped_path.as_path(), own.as_bytes()),
                (binding_path.as_path(), &binding),
                (path.as_path(), go.as_bytes()),
            ],
        )
        .map_err(|(at, e)| StoreError {
            operation: "write the cache file",
            location: at.display().to_string(),
            reason: e.to_string(),
        })?;
        tracing::debug!(path = %path.display(), identity = %selected.label, "cached the new credential");
        self.remove_expired_entries_of_others(key, chrono::Utc::now());
        Ok(())
    }

    fn lock(&self, key: &CacheKey) -> Result<Box<dyn StoreLock>, LockError> {
        self.dir.create().map_err(LockError::Unavailable)?;
        let lock_path = self.dir.join(&format!("{}.lock", key.file_name()));
        super::lock::acquire(&lock_path, self.dir.lock_timeout())
    }
}

#[cfg(test)]
mod tests;
