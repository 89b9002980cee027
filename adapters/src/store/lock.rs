//! The cross-process refresh lock: an advisory lock on a file next to the cache entry.
//!
//! Of many kubectl processes that find the same certificate stale at once, the first takes the
//! lock and calls the API; the others wait, then find the fresh certificate in the cache. The
//! operating system releases an advisory lock when its holder dies, so a crashed process never
//! leaves a stale lock behind, and lock files are never deleted (deleting them would let two
//! processes lock two different files). Waiting is bounded.

use ack_ram_domain::ports::{LockError, StoreError, StoreLock};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

/// How often a waiting process tries again.
const POLL: Duration = Duration::from_millis(20);

/// A held lock; dropping it closes the file, which releases the lock.
struct HeldLock {
    _file: File,
}

impl StoreLock for HeldLock {}

/// Takes the lock on `path` (creating the file, 0600), waiting at most `timeout`.
///
/// The lock file is opened without following a symlink (a planted link, dangling or not, must
/// not make the plugin create or lock a file elsewhere) and without blocking (a FIFO planted in
/// its place must not hang kubectl), and it must be a regular file.
pub fn acquire(path: &Path, timeout: Duration) -> Result<Box<dyn StoreLock>, LockError> {
    let unavailable = |reason: String| {
        LockError::Unavailable(StoreError {
            operation: "open the lock file",
            location: path.display().to_string(),
            reason,
        })
    };
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(
            (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32,
        );
    }
    let file = options.open(path).map_err(|e| {
        if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
            unavailable("it is a symbolic link; remove it (the plugin recreates it)".to_owned())
        } else {
            unavailable(e.to_string())
        }
    })?;
    match file.metadata() {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => {
            return Err(unavailable(
                "it is not a regular file; remove it (the plugin recreates it)".to_owned(),
            ));
        }
        Err(e) => return Err(unavailable(e.to_string())),
    }
    let started = Instant::now();
    let mut logged = false;
    loop {
        match file.try_lock() {
            Ok(()) => {
                if logged {
                    tracing::debug!(path = %path.display(), waited_ms = started.elapsed().as_millis() as u64, "took the refresh lock");
                }
                return Ok(Box::new(HeldLock { _file: file }));
            }
            Err(TryLockError::WouldBlock) => {
                if !logged {
                    tracing::debug!(path = %path.display(), "another process is refreshing; waiting for it");
                    logged = true;
                }
                if started.elapsed() >= timeout {
                    return Err(LockError::Timeout {
                        location: path.display().to_string(),
                        waited_secs: started.elapsed().as_secs(),
                    });
                }
                std::thread::sleep(POLL);
            }
            Err(TryLockError::Error(e)) => {
                return Err(LockError::Unavailable(StoreError {
                    operation: "lock",
                    location: path.display().to_string(),
                    reason: e.to_string(),
                }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_then_times_out_and_a_released_lock_is_free() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("x.lock");
        let first = acquire(&path, Duration::from_secs(1)).unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        let second = acquire(&path, Duration::from_millis(100));
        assert!(matches!(second, Err(LockError::Timeout { .. })));
        assert!(started.elapsed() >= Duration::from_millis(100));
        drop(first);
        assert!(acquire(&path, Duration::from_millis(100)).is_ok());
    }

    #[test]
    fn planted_links_and_fifos_are_refused_without_creating_anything() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let target = dir.path().join("elsewhere");
        let link = dir.path().join("link.lock");
        std::os::unix::fs::symlink(&target, &link).unwrap_or_else(|e| panic!("{e}"));
        let err = acquire(&link, Duration::from_secs(5));
        assert!(matches!(err, Err(LockError::Unavailable(_))));
        assert!(!target.exists(), "the link's target was not created");
        let fifo = dir.path().join("fifo.lock");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        assert!(matches!(
            acquire(&fifo, Duration::from_secs(5)),
            Err(LockError::Unavailable(_))
        ));
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn an_unopenable_lock_is_unavailable_not_a_wait() {
        let err = acquire(Path::new("/nonexistent-dir/x.lock"), Duration::from_secs(5));
        assert!(matches!(err, Err(LockError::Unavailable(_))));
    }
}
