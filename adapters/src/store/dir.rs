//! The cache directory both stores keep their files in, and what its file names say.
//!
//! The file store writes the Go tool's `NAME.json`, the keyring store `NAME.keyring.json` next to
//! it, and both take the same lock files, so the directory rules live here once: create it 0700
//! and refuse it when others could write to it ([`check_private`]), list it (a missing directory
//! is empty), read a file only if it is what we would have written (`read_cache_file`), and
//! replace a file atomically (`write_atomically`). [`CacheFileName`] parses the Go tool's
//! names, the one way `cache list` and `cache clear` learn an entry's cluster, version and
//! identity; [`ListedEntry`] is what both stores list.

use super::StoreKind;
use crate::local_file::{self, LocalFileError, LocalFileErrorKind, Symlinks};
use ack_ram_domain::ports::StoreError;
use ack_ram_domain::{ApiVersion, ClusterId};
use chrono::{DateTime, Utc};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

const TEMP_PREFIX: &str = ".ack-ram-tool-";
const TEMP_SUFFIX: &str = ".tmp";
/// Length of the identity digest in a cache file name (hex SHA-1).
const IDENTITY_HEX_LEN: usize = 40;

/// The cache directory (already `~`-expanded; created on first write) and how long a refresh
/// waits for another process's lock in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheDir {
    path: PathBuf,
    lock_timeout: Duration,
}

impl CacheDir {
    /// The directory at `path`, waiting up to 30 s for another process's refresh.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock_timeout: Duration::from_secs(30),
        }
    }

    /// Sets how long a refresh waits for another process holding the lock.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How long a refresh waits for another process holding the lock.
    pub fn lock_timeout(&self) -> Duration {
        self.lock_timeout
    }

    /// The file `name` in the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Refuses the directory when it is not private (see [`check_private`]); a missing one is
    /// fine.
    pub fn check(&self) -> Result<(), StoreError> {
        check_private(&self.path, "cache directory")
    }

    /// Creates the directory (0700, with its parents) if needed, then [`CacheDir::check`]s it.
    pub fn create(&self) -> Result<(), StoreError> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(&self.path).map_err(|e| StoreError {
            operation: "create the cache directory",
            location: self.path.display().to_string(),
            reason: e.to_string(),
        })?;
        self.check()
    }

    /// The names of the files in the directory, with their paths; a missing directory has
    /// none. Names that are not UTF-8 are not ours and are skipped.
    pub fn files(&self) -> Result<Vec<(String, PathBuf)>, StoreError> {
        let entries = match fs::read_dir(&self.path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(StoreError {
                    operation: "list the cache directory",
                    location: self.path.display().to_string(),
                    reason: e.to_string(),
                });
            }
        };
        let mut files: Vec<(String, PathBuf)> = entries
            .flatten()
            .filter_map(|entry| Some((entry.file_name().into_string().ok()?, entry.path())))
            .collect();
        files.sort();
        Ok(files)
    }

    /// Removes temp files older than `age`, left by a writer that died.
    pub(crate) fn remove_stale_temp_files(&self, age: Duration) {
        let Ok(entries) = fs::read_dir(&self.path) else {
            return;
        };
        let now = std::time::SystemTime::now();
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
                .is_some_and(|elapsed| elapsed > age);
            if old && fs::remove_file(entry.path()).is_ok() {
                tracing::debug!(file = %entry.path().display(), "removed a temp file left by an interrupted write");
            }
        }
    }
}

/// What the Go tool's cache file name `<cluster>-exec-auth-credential-<version>[-<sha1>].json`
/// says about its entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheFileName {
    /// The cluster.
    pub cluster_id: ClusterId,
    /// The ExecCredential version.
    pub api_version: ApiVersion,
    /// The identity digest (40 hex digits), absent for the default identity.
    pub identity: Option<String>,
}

impl CacheFileName {
    /// Parses a cache file name; `None` for any other name (including the keyring store's
    /// `*.keyring.json`).
    pub fn parse(name: &str) -> Option<Self> {
        let stem = name.strip_suffix(".json")?;
        let (cluster, rest) = stem.split_once("-exec-auth-credential-")?;
        let (version, identity) = match rest.split_once('-') {
            Some((version, digest)) => (version, Some(digest)),
            None => (rest, None),
        };
        let identity = match identity {
            Some(d) if d.len() == IDENTITY_HEX_LEN && d.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(d.to_owned())
            }
            Some(_) => return None,
            None => None,
        };
        if version.contains('/') {
            return None;
        }
        Some(Self {
            cluster_id: ClusterId::parse(cluster).ok()?,
            api_version: version.parse().ok()?,
            identity,
        })
    }
}

/// One cached entry, as `cache list` shows it (never key material).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedEntry {
    /// Which store holds it: [`StoreKind::File`] or [`StoreKind::Keyring`].
    pub store: StoreKind,
    /// The cluster.
    pub cluster_id: ClusterId,
    /// The ExecCredential version.
    pub api_version: ApiVersion,
    /// The identity digest of the entry's name, absent for the default identity.
    pub identity: Option<String>,
    /// When the certificate expires; `None` for a file that cannot be used.
    pub expiration: Option<DateTime<Utc>>,
    /// The Go tool's cache file name of the entry.
    pub cache_file: String,
    /// The file on disk: the cache file, or the keyring store's metadata file.
    pub path: PathBuf,
    /// The keychain holding the key (`secret-service`, `keyutils`, ...), for keyring entries.
    pub backend: Option<String>,
    /// How many keychain entries hold the key (0 for the file store).
    pub(crate) chunks: usize,
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

/// Removes `path`; `false` when it was not there.
pub(crate) fn remove_file(path: &Path, what: &'static str) -> Result<bool, StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StoreError {
            operation: what,
            location: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_go_tool_names_and_nothing_else() {
        let digest = "34c6fceca75e456f25e7e99531e2425c6c1de443";
        let cluster = ClusterId::parse("c-1_2").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            CacheFileName::parse("c-1_2-exec-auth-credential-v1beta1.json"),
            Some(CacheFileName {
                cluster_id: cluster.clone(),
                api_version: ApiVersion::V1Beta1,
                identity: None
            })
        );
        assert_eq!(
            CacheFileName::parse(&format!("c-1_2-exec-auth-credential-v1-{digest}.json")),
            Some(CacheFileName {
                cluster_id: cluster,
                api_version: ApiVersion::V1,
                identity: Some(digest.into())
            })
        );
        for other in [
            "c1-exec-auth-credential-v1.keyring.json",
            "c1-exec-auth-credential-v9.json",
            "c1-exec-auth-credential-v1-short.json",
            "c1-exec-auth-credential-v1.json.lock",
            "unrelated.json",
            "c 1-exec-auth-credential-v1.json",
            ".ack-ram-tool-x.tmp",
        ] {
            assert_eq!(CacheFileName::parse(other), None, "{other}");
        }
    }

    #[test]
    fn creates_a_private_directory_and_lists_a_missing_one_as_empty() {
        let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = CacheDir::new(home.path().join("a/b"));
        assert_eq!(dir.files(), Ok(Vec::new()));
        assert_eq!(dir.create(), Ok(()));
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path()).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o700));
        fs::write(dir.join("x.json"), "{}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dir.files().map(|f| f.len()), Ok(1));
        assert_eq!(remove_file(&dir.join("x.json"), "remove"), Ok(true));
        assert_eq!(remove_file(&dir.join("x.json"), "remove"), Ok(false));
    }
}
