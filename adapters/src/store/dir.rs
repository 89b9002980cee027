//! The cache directory both stores keep their files in, and what its file names say.
//!
//! The file store writes the Go tool's `NAME.json`, the keyring store `NAME.keyring.json` next to
//! it, and both take the same lock files, so the directory rules live here once: create it 0700
//! and refuse it when others could write to it ([`check_private`]), list it (a missing directory
//! is empty), read a file only if it is what we would have written (`read_cache_file`), and
//! replace a file atomically (`write_atomically`). [`CacheFileName`] parses the Go tool's
//! names (and, through [`CacheFileName::parse_entry`], an identity's own
//! `<Go name>.id-<fingerprint>`), the one way `cache list` and `cache clear` learn an entry's
//! cluster, version and identity; [`ListedEntry`] is what both stores list, with the lifetime
//! its freshness is judged by ([`EntryLifetime`]).

use super::StoreKind;
use crate::local_file::{self, LocalFileError, LocalFileErrorKind, Symlinks};
use ack_ram_domain::model::{IdentityFingerprint, SelectedIdentity, split_scoped_file_name};
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

    /// Parses the name of an entry file: a Go name (no fingerprint) or an identity's own
    /// `<Go name>.id-<fingerprint>`.
    pub fn parse_entry(name: &str) -> Option<(Self, Option<IdentityFingerprint>)> {
        match split_scoped_file_name(name) {
            Some((go_name, fingerprint)) => Some((Self::parse(&go_name)?, Some(fingerprint))),
            None => Some((Self::parse(name)?, None)),
        }
    }
}

/// The lifetime a cached certificate's freshness is judged by (`cache list`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryLifetime {
    /// From issue to expiry.
    pub duration: chrono::Duration,
    /// How it was found.
    pub basis: LifetimeBasis,
}

/// Where an [`EntryLifetime`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifetimeBasis {
    /// The expiration minus the time the entry was written (both stores write right after the
    /// API answers, and so does the Go tool).
    WriteTime,
    /// The certificate's notAfter minus its notBefore (when the write time says nothing, e.g.
    /// a file copied later than it expires). Issuers backdate notBefore by a few minutes.
    Certificate,
}

impl EntryLifetime {
    /// The lifetime of a certificate expiring at `expiration`, written at `written`: the
    /// expiration minus the write time, up to the whole minute (lifetimes are whole minutes),
    /// else the certificate's validity; `None` when neither says anything.
    pub fn of(
        expiration: DateTime<Utc>,
        written: Option<std::time::SystemTime>,
        certificate_pem: &str,
    ) -> Option<Self> {
        let by_write_time = written
            .map(DateTime::<Utc>::from)
            .map(|at| expiration - at)
            .filter(|d| *d > chrono::Duration::zero())
            // Up to the minute: the write comes a few seconds (at most ~a minute) after the
            // API issued it; a few seconds over a whole minute are the API's own rounding.
            .map(|d| chrono::Duration::minutes((d.num_seconds() + 55) / 60))
            .filter(|d| *d > chrono::Duration::zero());
        match by_write_time {
            Some(duration) => Some(Self {
                duration,
                basis: LifetimeBasis::WriteTime,
            }),
            None => certificate_validity(certificate_pem).map(|duration| Self {
                duration,
                basis: LifetimeBasis::Certificate,
            }),
        }
    }
}

/// notAfter − notBefore of a PEM certificate, when it parses and is positive.
fn certificate_validity(pem_text: &str) -> Option<chrono::Duration> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes()).ok()?;
    let cert = pem.parse_x509().ok()?;
    let validity = cert.validity();
    let seconds = validity.not_after.timestamp() - validity.not_before.timestamp();
    (seconds > 0).then(|| chrono::Duration::seconds(seconds))
}

/// The modification time of `path` (without following a symlink), if any.
pub(crate) fn written_at(path: &Path) -> Option<std::time::SystemTime> {
    fs::symlink_metadata(path).and_then(|m| m.modified()).ok()
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
    /// The identity the environment selected when the entry was written; `None` for the Go
    /// tool's files (served to any identity).
    pub bound_to: Option<SelectedIdentity>,
    /// When the certificate expires; `None` for a file that cannot be used.
    pub expiration: Option<DateTime<Utc>>,
    /// The certificate's own lifetime, when it can be told.
    pub lifetime: Option<EntryLifetime>,
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
    replace_file(dir, path, content)?;
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// [`write_atomically`] for several files, in order (each one whole before the next is
/// renamed), with one fsync of the directory at the end. Stops at the first failure, naming the
/// file.
pub(crate) fn write_all_atomically(
    dir: &Path,
    files: &[(&Path, &[u8])],
) -> Result<(), (PathBuf, io::Error)> {
    for (path, content) in files {
        replace_file(dir, path, content).map_err(|e| (path.to_path_buf(), e))?;
    }
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| (dir.to_path_buf(), e))?;
    Ok(())
}

/// A 0600 temp file in `dir`, written, fsynced and renamed over `path`.
fn replace_file(dir: &Path, path: &Path, content: &[u8]) -> io::Result<()> {
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)?;
    tmp.write_all(content)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
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
        assert_eq!(
            CacheFileName::parse_entry(&format!(
                "c-1_2-exec-auth-credential-v1-{digest}.json.id-0123456789abcdef"
            ))
            .map(|(name, fingerprint)| (name.identity, fingerprint.map(|f| f.to_string()))),
            Some((Some(digest.into()), Some("0123456789abcdef".into())))
        );
        assert_eq!(
            CacheFileName::parse_entry("c1-exec-auth-credential-v1.json").map(|(_, f)| f),
            Some(None)
        );
        for other in [
            "c1-exec-auth-credential-v1.json.identity",
            "c1-exec-auth-credential-v1.json.id-0123456789abcdef.keyring.json",
            "c1-exec-auth-credential-v9.json.id-0123456789abcdef",
        ] {
            assert_eq!(CacheFileName::parse_entry(other), None, "{other}");
        }
        for other in [
            "c1-exec-auth-credential-v1.keyring.json",
            "c1-exec-auth-credential-v1.json.identity",
            "c1-exec-auth-credential-v1.json.id-0123456789abcdef",
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
    fn lifetimes_come_from_the_write_time_else_the_certificate() {
        let expiration = DateTime::<Utc>::from_timestamp(2_000_000_000, 0).unwrap_or_default();
        let at = |seconds_before: i64| {
            Some(std::time::SystemTime::from(
                expiration - chrono::Duration::seconds(seconds_before),
            ))
        };
        // Written 3 s after the API answered a 15-minute certificate.
        assert_eq!(
            EntryLifetime::of(expiration, at(15 * 60 - 3), ""),
            Some(EntryLifetime {
                duration: chrono::Duration::minutes(15),
                basis: LifetimeBasis::WriteTime
            })
        );
        assert_eq!(
            EntryLifetime::of(expiration, at(3 * 3600 - 40), "").map(|l| l.duration),
            Some(chrono::Duration::hours(3))
        );
        // Written after it expired, or never: the certificate, if it parses.
        assert_eq!(EntryLifetime::of(expiration, at(-60), "not PEM"), None);
        assert_eq!(EntryLifetime::of(expiration, None, ""), None);
        let cert = include_str!("../../../tests/fixtures/client.crt");
        let by_cert = EntryLifetime::of(expiration, at(-60), cert);
        assert_eq!(by_cert.map(|l| l.basis), Some(LifetimeBasis::Certificate));
        assert!(by_cert.is_some_and(|l| l.duration > chrono::Duration::zero()));
    }

    #[test]
    fn several_files_are_replaced_in_order() {
        let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (a, b) = (home.path().join("a"), home.path().join("b"));
        assert!(write_all_atomically(home.path(), &[(&a, b"1"), (&b, b"2")]).is_ok());
        assert_eq!(fs::read(&a).ok(), Some(b"1".to_vec()));
        assert_eq!(fs::read(&b).ok(), Some(b"2".to_vec()));
        let blocked = home.path().join("missing/c");
        let failed = write_all_atomically(home.path(), &[(&a, b"3"), (&blocked, b"4")]);
        assert_eq!(failed.err().map(|(path, _)| path), Some(blocked));
        assert_eq!(
            fs::read(&a).ok(),
            Some(b"3".to_vec()),
            "the first one was written"
        );
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
