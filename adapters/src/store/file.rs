//! The file store: the Go tool's cache directory and file names, written safely.
//!
//! Same location (`~/.kube/cache/ack-ram-tool/credential-plugin` by default), same names, same
//! JSON, so an existing cache keeps working and the Go tool can read ours. Unlike the Go tool,
//! writes are atomic (a temp file in the same directory, fsync, rename, fsync of the directory),
//! files are 0600 and new directories 0700, and anything unreadable is a miss, never a crash.
//!
//! Like ssh with `~/.ssh`, the store refuses a directory (after following symlinks) that other
//! users could write to or that belongs to someone else, and a cache file owned by someone
//! else: a private key must not be written where others can swap or read it, and a credential
//! planted by another user must not be served (the rules live in [`super::dir`]). Refreshes
//! are serialised per cache entry by [`super::lock`].

use super::StoreKind;
use super::dir::{self, CacheDir, CacheFileName, ListedEntry, read_cache_file, write_atomically};
use crate::local_file::{self, Symlinks};
use ack_ram_domain::ports::{CredentialStore, LockError, StoreError, StoreLock};
use ack_ram_domain::{CacheKey, ClusterCredential, ClusterId, ExecCredential};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Temp files older than this were left by a writer that died; they are removed.
const STALE_TEMP_AGE: Duration = Duration::from_secs(600);

/// Caches credentials as ExecCredential JSON files in one directory.
#[derive(Clone, Debug)]
pub struct FileStore {
    dir: CacheDir,
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

    /// The file that holds `key`.
    pub fn path_for(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(&key.file_name())
    }

    /// Every cache file of the Go naming scheme in the directory (the keyring store's metadata
    /// files are not among them), sorted by name. A missing directory is an empty list.
    pub fn list(&self) -> Result<Vec<ListedEntry>, StoreError> {
        let mut out = Vec::new();
        for (name, path) in self.dir.files()? {
            let Some(parsed) = CacheFileName::parse(&name) else {
                continue;
            };
            // Only what `cache list` needs: a capped, non-blocking read that never follows a link.
            let expiration =
                local_file::read(&path, local_file::caps::CACHE_FILE, Symlinks::Refuse)
                    .ok()
                    .and_then(|bytes| ExecCredential::parse_cached(&bytes).ok())
                    .map(|c| c.expiration);
            out.push(ListedEntry {
                store: StoreKind::File,
                cluster_id: parsed.cluster_id,
                api_version: parsed.api_version,
                identity: parsed.identity,
                expiration,
                cache_file: name,
                path,
                backend: None,
                chunks: 0,
            });
        }
        Ok(out)
    }

    /// Removes the cache files of `cluster` (all clusters when `None`); returns how many.
    pub fn clear(&self, cluster: Option<&ClusterId>) -> Result<usize, StoreError> {
        let mut removed = 0;
        for entry in self.list()? {
            if cluster.is_none_or(|c| *c == entry.cluster_id) {
                removed += usize::from(dir::remove_file(&entry.path, "remove the cache file")?);
            }
        }
        Ok(removed)
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
        match ExecCredential::parse_cached(&bytes) {
            Ok(credential) => Ok(Some(credential)),
            Err(reason) => {
                tracing::debug!(path = %path.display(), %reason, "cache miss: unusable cache file (it will be replaced)");
                Ok(None)
            }
        }
    }

    fn save(&self, key: &CacheKey, credential: &ClusterCredential) -> Result<(), StoreError> {
        let path = self.path_for(key);
        self.dir.create()?;
        self.dir.remove_stale_temp_files(STALE_TEMP_AGE);
        let json = ExecCredential::new(key.api_version, credential.clone()).to_json();
        write_atomically(self.dir.path(), &path, json.as_bytes()).map_err(|e| StoreError {
            operation: "write the cache file",
            location: path.display().to_string(),
            reason: e.to_string(),
        })?;
        tracing::debug!(path = %path.display(), "cached the new credential");
        Ok(())
    }

    fn lock(&self, key: &CacheKey) -> Result<Box<dyn StoreLock>, LockError> {
        self.dir.create().map_err(LockError::Unavailable)?;
        let lock_path = self.dir.join(&format!("{}.lock", key.file_name()));
        super::lock::acquire(&lock_path, self.dir.lock_timeout())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let names: Vec<_> = fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from(
                "c1234-exec-auth-credential-v1beta1.json"
            )],
            "no temp files left behind"
        );
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
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666))
            .unwrap_or_else(|e| panic!("{e}"));
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
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777))
            .unwrap_or_else(|e| panic!("{e}"));
        for err in [
            store.load(&key()).err(),
            store.save(&key(), &credential()).err(),
        ] {
            let err = err.map(|e| e.to_string()).unwrap_or_default();
            assert!(
                err.contains("writable by group or others (mode 777)")
                    && err.contains("chmod go-w"),
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
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .unwrap_or_else(|e| panic!("{e}"));
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
}
