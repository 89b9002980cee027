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
pub fn acquire(path: &Path, timeout: Duration) -> Result<Box<dyn StoreLock>, LockError> {
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path).map_err(|e| {
        LockError::Unavailable(StoreError {
            operation: "open the lock file",
            location: path.display().to_string(),
            reason: e.to_string(),
        })
    })?;
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
    fn an_unopenable_lock_is_unavailable_not_a_wait() {
        let err = acquire(Path::new("/nonexistent-dir/x.lock"), Duration::from_secs(5));
        assert!(matches!(err, Err(LockError::Unavailable(_))));
    }
}
