//! Reading local files that an attacker, a stray tool or an odd machine may have replaced.
//!
//! The plugin runs before every kubectl command, so a local input must never hang it or eat the
//! machine's memory: `~/.aliyun/config.json`, the INI credentials file or the OIDC token file
//! pointing at `/dev/zero`, a FIFO where a cache file should be, a multi-gigabyte file. Every
//! local input is therefore opened without blocking (`O_NONBLOCK`: opening a FIFO returns at
//! once instead of waiting for a writer), checked to be a regular file on the open descriptor
//! (no race between check and use), and read with a cap that fits its format. Paths in the
//! cache directory are opened without following a symlink in the last component.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Caps that fit each format (each far above what a real file holds).
pub mod caps {
    /// An aliyun CLI `config.json`: a few hundred bytes per profile.
    pub const ALIYUN_CONFIG: u64 = 4 * 1024 * 1024;
    /// An INI credentials file.
    pub const INI: u64 = 1024 * 1024;
    /// A projected service-account (OIDC) token: a JWT of a few KiB.
    pub const OIDC_TOKEN: u64 = 256 * 1024;
    /// The plugin's own TOML config file.
    pub const CONFIG_TOML: u64 = 1024 * 1024;
    /// A cached ExecCredential or the keyring store's metadata: a few KiB.
    pub const CACHE_FILE: u64 = 256 * 1024;
}

/// Whether the last path component may be a symlink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Symlinks {
    /// Follow it (user-chosen files such as `~/.aliyun/config.json`, often a dotfile link).
    Follow,
    /// Refuse it (`O_NOFOLLOW`): files the plugin itself keeps in the cache directory.
    Refuse,
}

/// Why a local file could not be read. Displays as `cannot read PATH: REASON`.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {}: {}", .path.display(), .kind)]
pub struct LocalFileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    #[source]
    pub kind: LocalFileErrorKind,
}

/// What is wrong with a local file.
#[derive(Debug, thiserror::Error)]
pub enum LocalFileErrorKind {
    /// The file does not exist.
    #[error("no such file")]
    NotFound,
    /// The path names a FIFO, a device, a directory, a socket, or (with [`Symlinks::Refuse`]) a
    /// symlink.
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
    /// The file is larger than its format allows.
    #[error("it is larger than {} KiB, far more than this kind of file holds", .0 / 1024)]
    TooLarge(u64),
    /// The file is not UTF-8 text.
    #[error("it is not UTF-8 text")]
    NotText,
    /// Any other I/O error (permission denied, ...).
    #[error(transparent)]
    Io(io::Error),
}

impl LocalFileError {
    /// An error about `path`.
    pub fn new(path: &Path, kind: LocalFileErrorKind) -> Self {
        Self {
            path: path.to_owned(),
            kind,
        }
    }

    /// Whether the file simply is not there.
    pub fn is_not_found(&self) -> bool {
        matches!(self.kind, LocalFileErrorKind::NotFound)
    }
}

/// An opened regular file and what `fstat` said about it.
#[derive(Debug)]
pub struct Opened {
    /// The file, open for reading.
    pub file: File,
    /// Its metadata, read from the open descriptor.
    pub metadata: std::fs::Metadata,
}

/// Opens `path` for reading without blocking and checks that it is a regular file.
pub fn open_regular(path: &Path, symlinks: Symlinks) -> Result<Opened, LocalFileError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut flags = rustix::fs::OFlags::NONBLOCK;
        if symlinks == Symlinks::Refuse {
            flags |= rustix::fs::OFlags::NOFOLLOW;
        }
        options.custom_flags(flags.bits() as i32);
    }
    let file = options.open(path).map_err(|source| {
        let kind = match source.kind() {
            io::ErrorKind::NotFound => LocalFileErrorKind::NotFound,
            // O_NOFOLLOW on a symlink fails with ELOOP.
            _ if symlinks == Symlinks::Refuse
                && source.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) =>
            {
                LocalFileErrorKind::NotRegular("a symbolic link")
            }
            _ => LocalFileErrorKind::Io(source),
        };
        LocalFileError::new(path, kind)
    })?;
    let meta = file
        .metadata()
        .map_err(|e| LocalFileError::new(path, LocalFileErrorKind::Io(e)))?;
    if !meta.file_type().is_file() {
        return Err(LocalFileError::new(
            path,
            LocalFileErrorKind::NotRegular(describe(&meta.file_type())),
        ));
    }
    Ok(Opened {
        file,
        metadata: meta,
    })
}

/// Reads at most `limit` bytes of an opened regular file; more is
/// [`LocalFileErrorKind::TooLarge`] (the size `fstat` reported is checked first, and the read
/// stops at the cap in case the file grows meanwhile).
pub fn read_open(opened: Opened, path: &Path, limit: u64) -> Result<Vec<u8>, LocalFileError> {
    let too_large = || LocalFileError::new(path, LocalFileErrorKind::TooLarge(limit));
    let Opened { file, metadata } = opened;
    let size = metadata.len();
    if size > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(64 * 1024));
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| LocalFileError::new(path, LocalFileErrorKind::Io(e)))?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Reads a whole regular file of at most `limit` bytes, without ever blocking on a FIFO.
pub fn read(path: &Path, limit: u64, symlinks: Symlinks) -> Result<Vec<u8>, LocalFileError> {
    read_open(open_regular(path, symlinks)?, path, limit)
}

/// [`read`] for text files.
pub fn read_to_string(
    path: &Path,
    limit: u64,
    symlinks: Symlinks,
) -> Result<String, LocalFileError> {
    String::from_utf8(read(path, limit, symlinks)?)
        .map_err(|_| LocalFileError::new(path, LocalFileErrorKind::NotText))
}

/// Whether something (anything: a file, a FIFO, a dangling symlink) is at `path`. Never opens
/// it, so it cannot block.
pub fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

fn describe(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn reads_a_small_regular_file() {
        let dir = tmp();
        let path = dir.path().join("f");
        std::fs::write(&path, "hello").unwrap_or_else(|e| panic!("{e}"));
        let text = read_to_string(&path, 10, Symlinks::Follow).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(text, "hello");
        assert!(matches!(
            read(&path, 4, Symlinks::Follow),
            Err(LocalFileError {
                kind: LocalFileErrorKind::TooLarge(4),
                ..
            })
        ));
    }

    #[test]
    fn a_fifo_is_refused_at_once() {
        let dir = tmp();
        let path = dir.path().join("fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &path,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        let err = read(&path, 1024, Symlinks::Follow).err();
        assert!(started.elapsed() < Duration::from_secs(2));
        let err = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("it is a named pipe (FIFO)"), "{err}");
    }

    #[test]
    fn devices_and_directories_are_refused() {
        let err = read(Path::new("/dev/zero"), 1024, Symlinks::Follow)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("it is a character device"), "{err}");
        let dir = tmp();
        let link = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            read(&link, 1024, Symlinks::Follow).map_err(|e| e.kind),
            Err(LocalFileErrorKind::NotRegular(_))
        ));
        assert!(matches!(
            read(dir.path(), 1024, Symlinks::Follow).map_err(|e| e.kind),
            Err(LocalFileErrorKind::NotRegular("a directory"))
        ));
    }

    #[test]
    fn symlinks_are_refused_when_asked() {
        let dir = tmp();
        let target = dir.path().join("target");
        std::fs::write(&target, "x").unwrap_or_else(|e| panic!("{e}"));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap_or_else(|e| panic!("{e}"));
        assert!(read(&link, 10, Symlinks::Follow).is_ok());
        assert!(matches!(
            read(&link, 10, Symlinks::Refuse).map_err(|e| e.kind),
            Err(LocalFileErrorKind::NotRegular("a symbolic link"))
        ));
        let missing = dir.path().join("missing");
        assert!(
            read(&missing, 10, Symlinks::Follow)
                .err()
                .is_some_and(|e| e.is_not_found())
        );
        assert!(!exists(&missing));
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &missing)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(exists(&missing), "a dangling symlink is something");
    }

    #[test]
    fn binary_content_is_not_text() {
        let dir = tmp();
        let path = dir.path().join("bin");
        std::fs::write(&path, [0xff, 0xfe]).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            read_to_string(&path, 10, Symlinks::Follow).map_err(|e| e.kind),
            Err(LocalFileErrorKind::NotText)
        ));
    }
}
