//! The seam between the keychain logic and the platform: get, set and delete of single entries.
//!
//! A trait so that the chunking, the comparison before writing, the probe and both callers (the
//! keyring store and the keyring AccessKey source) are tested against an in-memory vault, and so
//! that the process shares one real vault: [`os_vault`] hands out the same instance per backend
//! for the whole process, which is what keeps the Secret Service at one D-Bus connection and one
//! session per run. Creating it touches nothing; the first operation connects.

use super::backend::Backend;
use super::error::KeychainError;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// Get, set and delete of single keychain entries under [`super::SERVICE`].
pub trait Vault: Send + Sync + fmt::Debug {
    /// The backend, for messages and metadata.
    fn backend(&self) -> Backend;
    /// The entry's bytes, `None` when there is none.
    fn get(&self, account: &str) -> Result<Option<SecretBytes>, KeychainError>;
    /// Creates or replaces the entry.
    fn set(&self, account: &str, value: &[u8]) -> Result<(), KeychainError>;
    /// Removes the entry (every copy, should there be several); `false` when there was none.
    fn delete(&self, account: &str) -> Result<bool, KeychainError>;
}

/// Bytes read from a keychain entry: possibly secret, so `Debug` prints `***` and dropping
/// them overwrites them.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wraps bytes read from a keychain.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The bytes. Keep what is derived from them in a [`ack_ram_domain::Secret`].
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes(***)")
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        self.0.iter_mut().for_each(|b| *b = 0);
        std::hint::black_box(&self.0);
    }
}

/// The real keychain of `backend`, one instance per backend for the whole process. Nothing is
/// opened until the first operation.
pub fn os_vault(backend: Backend) -> Arc<dyn Vault> {
    static NATIVE: OnceLock<Arc<dyn Vault>> = OnceLock::new();
    static KERNEL: OnceLock<Arc<dyn Vault>> = OnceLock::new();
    match backend {
        Backend::Native => Arc::clone(NATIVE.get_or_init(native)),
        Backend::KernelKeyutils => Arc::clone(KERNEL.get_or_init(|| {
            Arc::new(super::platform::KeyringCrateVault::new(
                Backend::KernelKeyutils,
            ))
        })),
    }
}

#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
fn native() -> Arc<dyn Vault> {
    Arc::new(super::secret_service::SecretServiceVault::default())
}

#[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd")))]
fn native() -> Arc<dyn Vault> {
    Arc::new(super::platform::KeyringCrateVault::new(Backend::Native))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_bytes_never_print() {
        let bytes = SecretBytes::new(b"TOPSECRET".to_vec());
        assert_eq!(format!("{bytes:?}"), "SecretBytes(***)");
        assert_eq!(bytes.expose(), b"TOPSECRET");
    }

    #[test]
    fn the_process_shares_one_vault_per_backend_and_opening_it_touches_nothing() {
        let a = os_vault(Backend::Native);
        let b = os_vault(Backend::Native);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.backend(), Backend::Native);
        assert_eq!(
            os_vault(Backend::KernelKeyutils).backend(),
            Backend::KernelKeyutils
        );
        #[cfg(target_os = "linux")]
        assert!(format!("{a:?}").contains("connected: false"), "{a:?}");
    }
}
