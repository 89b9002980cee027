//! The keychains reached through the `keyring` crate: the Linux kernel keyring (keyutils) and
//! the platform stores of macOS and Windows.
//!
//! These have no connection to keep (each operation is a system call or a local API call), so
//! an entry is built per operation, as the crate intends. The Secret Service is not here: the
//! crate opens a D-Bus connection and negotiates a session per operation, which is what
//! [`super::secret_service`] avoids.

#[cfg(target_os = "linux")]
use super::SERVICE;
use super::backend::{Backend, UnavailableReason};
use super::error::{KeychainError, Operation};
use super::vault::{SecretBytes, Vault};

/// A keychain through the `keyring` crate.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyringCrateVault {
    backend: Backend,
}

impl KeyringCrateVault {
    pub(crate) fn new(backend: Backend) -> Self {
        Self { backend }
    }

    fn entry(&self, account: &str) -> Result<keyring::Entry, KeychainError> {
        let failed = |e: keyring::Error| {
            KeychainError::from_keyring(self.backend, Operation::Open, account, &e)
        };
        match self.backend {
            #[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd")))]
            Backend::Native => keyring::Entry::new(super::SERVICE, account).map_err(failed),
            #[cfg(target_os = "linux")]
            Backend::KernelKeyutils => {
                warm_up_keyutils();
                keyring::keyutils::KeyutilsCredential::new_with_target(None, SERVICE, account)
                    .map(|credential| keyring::Entry::new_with_credential(Box::new(credential)))
                    .map_err(failed)
            }
            #[allow(unreachable_patterns)]
            _ => {
                let _ = failed;
                Err(KeychainError::unavailable(
                    self.backend,
                    UnavailableReason::Unsupported,
                    None,
                ))
            }
        }
    }

    fn failure(
        &self,
        operation: Operation,
        account: &str,
        error: &keyring::Error,
    ) -> KeychainError {
        KeychainError::from_keyring(self.backend, operation, account, error)
    }
}

/// Works around the keyring crate's keyutils backend in a thread without a session keyring of
/// its own (CI, ssh without PAM): the first credential it builds resolves the session keyring
/// to the user-session keyring, which the thread does not possess (`add_key` fails with EACCES,
/// reported as `NoEntry`, and searches miss), and building it installs a fresh session keyring
/// with the persistent keyring linked in. Building one throwaway credential first makes every
/// later one use the new session keyring. Per thread: session keyrings live in each thread's
/// credentials.
#[cfg(target_os = "linux")]
fn warm_up_keyutils() {
    thread_local! {
        static WARM: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    WARM.with(|warm| {
        if !warm.replace(true) {
            let _ =
                keyring::keyutils::KeyutilsCredential::new_with_target(None, SERVICE, "warm-up");
        }
    });
}

impl Vault for KeyringCrateVault {
    fn backend(&self) -> Backend {
        self.backend
    }

    fn get(&self, account: &str) -> Result<Option<SecretBytes>, KeychainError> {
        match self.entry(account)?.get_secret() {
            Ok(bytes) => Ok(Some(SecretBytes::new(bytes))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(self.failure(Operation::Read, account, &e)),
        }
    }

    fn set(&self, account: &str, value: &[u8]) -> Result<(), KeychainError> {
        // Bytes, not a password: Windows stores passwords as UTF-16, which would halve the
        // blob limit.
        self.entry(account)?
            .set_secret(value)
            .map_err(|e| self.failure(Operation::Write, account, &e))
    }

    fn delete(&self, account: &str) -> Result<bool, KeychainError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(self.failure(Operation::Delete, account, &e)),
        }
    }
}
