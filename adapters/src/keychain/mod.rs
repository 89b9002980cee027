//! The OS keychain, as the keyring cache store and the keyring AccessKey source use it.
//!
//! Both keep secrets under the keychain service [`SERVICE`], one entry per account name, split
//! into chunks of at most [`CHUNK_BYTES`] bytes (the smallest platform limit is the Windows
//! Credential Manager's 2560 bytes per blob). This module is everything they share, behind a
//! small public surface:
//!
//! - [`Backend`]: which keychain (the platform's own, or the Linux kernel keyring), and
//!   [`UnavailableReason`]: the ways a keychain can be unusable;
//! - [`KeychainError`]: the one error type of every keychain operation, with the platform's own
//!   words as its source ([`PlatformError`]);
//! - [`Vault`]: get, set and delete of single entries. [`os_vault`] gives the real one, shared
//!   by the whole process (the Secret Service is talked to directly over one D-Bus connection
//!   and one session, opened on first use; the other platforms through the `keyring` crate);
//!   `MemoryVault` (feature `test-util`, or this crate's tests) is an in-memory one;
//! - [`Chunks`]: secrets of any size over a vault, written only when they changed and read back
//!   only when whole ([`Manifest`]);
//! - [`probe`]: whether a keychain answers and takes writes, within a deadline, leaving
//!   nothing behind.
//!
//! Layout and measurements: `docs/keyring.md`.

mod backend;
mod chunks;
mod error;
#[cfg(any(test, feature = "test-util"))]
mod memory;
mod platform;
mod probe;
#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
mod secret_service;
mod vault;

pub use backend::{Backend, UnavailableReason};
pub use chunks::{Chunks, Manifest, chunk_account, sha256_hex, split_utf8};
pub use error::{KeychainError, Operation, PlatformError};
#[cfg(any(test, feature = "test-util"))]
pub use memory::MemoryVault;
pub use probe::{probe, remove_probe_leftover};
pub use vault::{SecretBytes, Vault, os_vault};

use std::time::Duration;

/// The keychain service every entry of this tool is filed under.
pub const SERVICE: &str = "ack-ram-tool";
/// Largest piece of a secret in one keychain entry, in bytes of UTF-8. Below the smallest
/// platform limit: Windows Credential Manager takes 2560 bytes per blob.
pub const CHUNK_BYTES: usize = 2000;
/// Most chunks one secret may have (64 KB); anything claiming more is not ours.
pub const MAX_CHUNKS: usize = 32;
/// Account of the entry [`probe`] writes and deletes again (older versions left it behind).
pub const PROBE_ACCOUNT: &str = "probe";
/// How long [`probe`] waits for the keychain to answer.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(3);
