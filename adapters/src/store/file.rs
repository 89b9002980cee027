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
//! planted by another user must not be served. Refreshes are serialised per cache entry by
//! [`super::lock`].

use crate::local_file::{self, LocalFileError, LocalFileErrorKind, Symlinks};
use ack_ram_domain::ports::{CredentialStore, LockError, StoreError, StoreLock};
use ack_ram_domain::{CacheKey, ClusterCredential, ExecCredential};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Temp files older than this were left by a writer that died; they are removed.
const STALE_TEMP_AGE: Duration = Duration::from_secs(600);
const TEMP_PREFIX: &str = ".ack-ram-tool-";
const TEMP_SUFFIX: &str = ".tmp";

/// Caches credentials as ExecCredential JSON files in one directory.
#[derive(Clone, Debug)]
pub struct FileStore {
    dir: PathBuf,
    lock_timeout: Duration,
}

/// Whether a directory or file is safe to keep a private key in, like ssh's check of `~/.ssh`:
/// owned by this user (or root) and not writable by group or others.
pub fn check_private(path: &Path, what: &'static str) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = match fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(StoreError {
                    operation: "inspect",
                    location: path.display().to_string(),
                    reason: e.to_string(),
                });
            }
        };
        let me = rustix::process::geteuid().as_raw();
        // Resolving symlinks for the message costs a syscall per path component: only on error.
        let refuse = |reason: String| StoreError {
            operation: "use",
            location: match fs::canonicalize(path) {
                Ok(real) if real != path => format!("{} (-> {})", path.display(), real.display()),
                _ => path.display().to_string(),
            },
            reason,
        };
        if meta.uid() != me && meta.uid() != 0 {
            return Err(refuse(format!(
                "the {what} belongs to another user (uid {}, you are uid {me}); remove it or point --credential-cache-dir at a directory of your own",
                meta.uid()
            )));
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o022 != 0 {
            return Err(refuse(format!(
                "the {what} is writable by group or others (mode {mode:03o}), so another user could replace the credentials in it; fix it with `chmod go-w {}` (0700 for a directory, 0600 for a file)",
                path.display()
            )));
        }
    }
    Ok(())
}

/// Reads a file the plugin keeps in the cache directory, trusting it only if it is what the
/// plugin would have written: a regular file (not a symlink, FIFO or device), owned by this
/// user (or root), readable and writable by nobody else. Opened without blocking and without
/// following a symlink, read with a cap.
///
/// `Ok(None)` is a plain miss (no file, or too large to be a credential). An untrusted file is
/// an error the caller reports as a warning: it is not served, and the next write replaces it
/// (a rename over it, 0600) rather than writing through it.
pub(crate) fn read_cache_file(
    path: &Path,
    what: &'static str,
) -> Result<Option<Vec<u8>>, StoreError> {
    let untrusted = |reason: String| StoreError {
        operation: "trust the cache file",
        location: path.display().to_string(),
        reason: format!("{reason}, so it is ignored and will be replaced by a 0600 file"),
    };
    let opened = match local_file::open_regular(path, Symlinks::Refuse) {
        Ok(opened) => opened,
        Err(e) => {
            return match e.kind {
                LocalFileErrorKind::NotFound => {
                    tracing::debug!(path = %path.display(), "cache miss: no {what}");
                    Ok(None)
                }
                LocalFileErrorKind::NotRegular(kind) => Err(untrusted(format!(
                    "the {what} is {kind}, not a regular file"
                ))),
                other => Err(StoreError {
                    operation: "read the cache file",
                    location: path.display().to_string(),
                    reason: other.to_string(),
                }),
            };
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = &opened.metadata;
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me && meta.uid() != 0 {
            return Err(untrusted(format!(
                "the {what} belongs to another user (uid {}, you are uid {me})",
                meta.uid()
            )));
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(untrusted(format!(
                "the {what} is open to group or others (mode {mode:03o}, expected 600)"
            )));
        }
    }
    match local_file::read_open(opened, path, local_file::caps::CACHE_FILE) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(LocalFileError {
            kind: LocalFileErrorKind::TooLarge(_),
            ..
        }) => {
            tracing::debug!(path = %path.display(), "cache miss: the {what} is too large to be a credential");
            Ok(None)
        }
        Err(e) => Err(StoreError {
            operation: "read the cache file",
            location: path.display().to_string(),
            reason: e.kind.to_string(),
        }),
    }
}

/// Writes `content` to `path` (inside `dir`) atomically: a 0600 temp file with a random name in
/// the same directory, fsync, rename, fsync of the directory. Readers see the old file or the
/// new one, never a torn one.
pub(crate) fn write_atomically(dir: &Path, path: &Path, content: &[u8]) -> io::Result<()> {
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)?;
    tmp.write_all(content)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

impl FileStore {
    /// A store in `dir` (already `~`-expanded; created on first write), waiting up to 30 s for
    /// another process's refresh.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            lock_timeout: Duration::from_secs(30),
        }
    }

    /// Sets how long a refresh waits for another process holding the lock.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Removes temp files that a crashed writer left behind.
    fn remove_stale_temp_files(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !(name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)) {
                continue;
            }
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > STALE_TEMP_AGE);
            if old && fs::remove_file(entry.path()).is_ok() {
                tracing::debug!(file = %entry.path().display(), "removed a temp file left by an interrupted write");
            }
        }
    }

    /// The file that holds `key`.
    pub fn path_for(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(key.file_name())
    }

    fn create_dir(&self) -> io::Result<()> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(&self.dir)
    }
}

/// One cached credential, as `cache list` shows it (never key material).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// The cache file.
    pub path: PathBuf,
    /// The cluster, from the file name.
    pub cluster_id: String,
    /// The ExecCredential version, from the file name.
    pub api_version: String,
    /// The identity hash suffix, if any.
    pub identity: Option<String>,
    /// When the certificate expires; `None` for an unusable file.
    pub expiration: Option<chrono::DateTime<chrono::Utc>>,
}

/// The entries of a cache directory; a missing directory has none.
pub(crate) fn cache_dir_entries(dir: &Path) -> Result<Vec<fs::DirEntry>, StoreError> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(entries.flatten().collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(StoreError {
            operation: "list the cache directory",
            location: dir.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

impl FileStore {
    /// Every cache file of the Go naming scheme in the directory (the keyring store's metadata
    /// files are not among them). A missing directory is an empty list.
    pub fn list(&self) -> Result<Vec<FileEntry>, StoreError> {
        let mut out = Vec::new();
        for entry in cache_dir_entries(&self.dir)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".json") else {
                continue;
            };
            if stem.ends_with(".keyring") {
                continue;
            }
            let Some((cluster_id, rest)) = stem.split_once("-exec-auth-credential-") else {
                continue;
            };
            let (api_version, identity) = match rest.split_once('-') {
                Some((version, hash)) => (version.to_owned(), Some(hash.to_owned())),
                None => (rest.to_owned(), None),
            };
            // Only what `cache list` needs: a capped, non-blocking read that never follows a link.
            let expiration = local_file::read(
                &entry.path(),
                local_file::caps::CACHE_FILE,
                Symlinks::Refuse,
            )
            .ok()
            .and_then(|bytes| ExecCredential::parse_cached(&bytes).ok())
            .map(|c| c.expiration);
            out.push(FileEntry {
                path: entry.path(),
                cluster_id: cluster_id.to_owned(),
                api_version,
                identity,
                expiration,
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Removes the cache files of `cluster` (all clusters when `None`); returns how many.
    pub fn clear(&self, cluster: Option<&str>) -> Result<usize, StoreError> {
        let mut removed = 0;
        for entry in self.list()? {
            if cluster.is_some_and(|c| c != entry.cluster_id) {
                continue;
            }
            fs::remove_file(&entry.path).map_err(|e| StoreError {
                operation: "remove the cache file",
                location: entry.path.display().to_string(),
                reason: e.to_string(),
            })?;
            removed += 1;
        }
        Ok(removed)
    }
}

impl CredentialStore for FileStore {
    fn name(&self) -> &'static str {
        "file"
    }

    fn load(&self, key: &CacheKey) -> Result<Option<ClusterCredential>, StoreError> {
        check_private(&self.dir, "cache directory")?;
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
        self.create_dir().map_err(|e| StoreError {
            operation: "create the cache directory",
            location: self.dir.display().to_string(),
            reason: e.to_string(),
        })?;
        check_private(&self.dir, "cache directory")?;
        self.remove_stale_temp_files();
        let json = ExecCredential::new(key.api_version, credential.clone()).to_json();
        write_atomically(&self.dir, &path, json.as_bytes()).map_err(|e| StoreError {
            operation: "write the cache file",
            location: path.display().to_string(),
            reason: e.to_string(),
        })?;
        tracing::debug!(path = %path.display(), "cached the new credential");
        Ok(())
    }

    fn lock(&self, key: &CacheKey) -> Result<Box<dyn StoreLock>, LockError> {
        let unavailable = |operation, e: io::Error| {
            LockError::Unavailable(StoreError {
                operation,
                location: self.dir.display().to_string(),
                reason: e.to_string(),
            })
        };
        self.create_dir()
            .map_err(|e| unavailable("create the cache directory", e))?;
        check_private(&self.dir, "cache directory").map_err(LockError::Unavailable)?;
        let lock_path = self.dir.join(format!("{}.lock", key.file_name()));
        super::lock::acquire(&lock_path, self.lock_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ack_ram_domain::{ApiVersion, ClusterId, IdentityInputs, Secret};
    use chrono::{DateTime, Utc};
    use std::os::unix::fs::PermissionsExt;

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
            (
                listed[0].cluster_id.as_str(),
                listed[0].api_version.as_str()
            ),
            ("c1234", "v1beta1")
        );
        assert_eq!(listed[0].expiration, Some(credential().expiration));
        assert_eq!(listed[1].identity.as_deref().map(str::len), Some(40));
        assert_eq!(store.clear(Some("c9")), Ok(1));
        assert_eq!(store.list().map(|l| l.len()), Ok(1));
        assert_eq!(store.clear(None), Ok(1));
        assert!(dir.path().join("unrelated.json").exists());
    }
}
