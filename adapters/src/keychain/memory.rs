//! An in-memory [`Vault`] for tests: this crate's, and (feature `test-util`) other crates'.
//!
//! Entries in a map, a count of writes and of every operation, and a switch that makes it
//! answer like an unusable keychain, so that the keyring store and the AccessKey source are
//! tested without a daemon.

use super::backend::{Backend, UnavailableReason};
use super::error::{KeychainError, PlatformError};
use super::vault::{SecretBytes, Vault};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// A keychain in memory.
#[derive(Default)]
pub struct MemoryVault {
    backend: Backend,
    entries: Mutex<BTreeMap<String, Vec<u8>>>,
    sets: AtomicU64,
    operations: AtomicU64,
    fail_with: Mutex<Option<KeychainError>>,
}

impl fmt::Debug for MemoryVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Account names only: the values may be secrets.
        f.debug_struct("MemoryVault")
            .field("backend", &self.backend)
            .field("accounts", &self.entries().keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl MemoryVault {
    /// An empty vault standing in for the native keychain.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty vault standing in for `backend`.
    pub fn with_backend(backend: Backend) -> Self {
        Self {
            backend,
            ..Self::default()
        }
    }

    /// The entries, by account, to look at or change behind the caller's back.
    pub fn entries(&self) -> MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many times an entry was created or replaced.
    pub fn writes(&self) -> u64 {
        self.sets.load(Ordering::Relaxed)
    }

    /// How many operations (get, set, delete) were asked of the vault.
    pub fn operations(&self) -> u64 {
        self.operations.load(Ordering::Relaxed)
    }

    /// From now on every operation fails with `error` (`None`: works again).
    pub fn fail_with(&self, error: Option<KeychainError>) {
        *self
            .fail_with
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = error;
    }

    /// From now on every operation fails as an unusable keychain would, for `reason`.
    pub fn make_unavailable(&self, reason: UnavailableReason, words: &str) {
        self.fail_with(Some(KeychainError::unavailable(
            self.backend,
            reason,
            Some(PlatformError::new(words)),
        )));
    }

    fn check(&self) -> Result<(), KeychainError> {
        self.operations.fetch_add(1, Ordering::Relaxed);
        match self
            .fail_with
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

impl Vault for MemoryVault {
    fn backend(&self) -> Backend {
        self.backend
    }

    fn get(&self, account: &str) -> Result<Option<SecretBytes>, KeychainError> {
        self.check()?;
        Ok(self.entries().get(account).cloned().map(SecretBytes::new))
    }

    fn set(&self, account: &str, value: &[u8]) -> Result<(), KeychainError> {
        self.check()?;
        self.sets.fetch_add(1, Ordering::Relaxed);
        self.entries().insert(account.to_owned(), value.to_vec());
        Ok(())
    }

    fn delete(&self, account: &str) -> Result<bool, KeychainError> {
        self.check()?;
        Ok(self.entries().remove(account).is_some())
    }
}
