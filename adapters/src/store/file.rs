//! The file store: the Go tool's cache directory and file names, written safely.
//!
//! Same location (`~/.kube/cache/ack-ram-tool/credential-plugin` by default), same names, same
//! JSON, so an existing cache keeps working and the Go tool can read ours. Unlike the Go tool,
//! writes are atomic (a temp file in the same directory, fsync, rename, fsync of the directory),
//! files are 0600 and new directories 0700, and anything unreadable is a miss, never a crash.

use ack_ram_domain::ports::{CredentialStore, StoreError};
use ack_ram_domain::{CacheKey, ClusterCredential, ExecCredential};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Largest cache file read; a credential is a few KiB.
const MAX_CACHE_FILE_BYTES: u64 = 256 * 1024;

/// Caches credentials as ExecCredential JSON files in one directory.
#[derive(Clone, Debug)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    /// A store in `dir` (already `~`-expanded; created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
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

    fn write_atomically(&self, path: &Path, content: &[u8]) -> io::Result<()> {
        // tempfile creates the file with mode 0600 and a random name in the same directory,
        // so the rename below is atomic and readers see the old file or the new one, never a
        // torn one.
        let mut tmp = tempfile::Builder::new()
            .prefix(".ack-ram-tool-")
            .suffix(".tmp")
            .tempfile_in(&self.dir)?;
        tmp.write_all(content)?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        #[cfg(unix)]
        fs::File::open(&self.dir)?.sync_all()?;
        Ok(())
    }
}

impl CredentialStore for FileStore {
    fn name(&self) -> &'static str {
        "file"
    }

    fn load(&self, key: &CacheKey) -> Result<Option<ClusterCredential>, StoreError> {
        let path = self.path_for(key);
        let fail = |e: io::Error| StoreError {
            operation: "read the cache file",
            location: path.display().to_string(),
            reason: e.to_string(),
        };
        let file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                tracing::debug!(path = %path.display(), "cache miss: no cache file");
                return Ok(None);
            }
            Err(e) => return Err(fail(e)),
        };
        let mut bytes = Vec::with_capacity(8192);
        file.take(MAX_CACHE_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(fail)?;
        if bytes.len() as u64 > MAX_CACHE_FILE_BYTES {
            tracing::debug!(path = %path.display(), "cache miss: the cache file is too large to be a credential");
            return Ok(None);
        }
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
        let json = ExecCredential::new(key.api_version, credential.clone()).to_json();
        self.write_atomically(&path, json.as_bytes())
            .map_err(|e| StoreError {
                operation: "write the cache file",
                location: path.display().to_string(),
                reason: e.to_string(),
            })?;
        tracing::debug!(path = %path.display(), "cached the new credential");
        Ok(())
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
            assert_eq!(store.load(&key()), Ok(None));
        }
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
}
