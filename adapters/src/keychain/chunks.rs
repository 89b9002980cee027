//! Secrets of any size over a [`Vault`]: split into entries the smallest platform accepts,
//! written only when they changed, read back only when whole.
//!
//! A secret stored under the account `base` lives in `base` (chunk 0), `base:1`, `base:2`, ...
//! What is needed to read it back and know it is whole (the chunk count, the length and a
//! SHA-256) is a [`Manifest`], which the caller keeps outside the keychain: in the keyring
//! store's metadata file, or in the AccessKey index.

use super::error::KeychainError;
use super::vault::Vault;
use super::{Backend, CHUNK_BYTES, MAX_CHUNKS};
use ack_ram_domain::Secret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// How to read a chunked secret back and check it. Not secret: a SHA-256 of a high-entropy key
/// reveals nothing usable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// How many entries the secret spans.
    pub chunks: usize,
    /// Its length in bytes.
    pub bytes: usize,
    /// Lower-case hex SHA-256 of the whole secret.
    pub sha256: String,
}

impl Manifest {
    /// Whether the numbers could describe a secret written by [`Chunks::write`]: anything else
    /// is not ours, and reading it is not attempted.
    pub fn plausible(&self) -> bool {
        (1..=MAX_CHUNKS).contains(&self.chunks)
            && self.bytes <= self.chunks * CHUNK_BYTES
            && self.bytes > (self.chunks - 1) * CHUNK_BYTES.saturating_sub(3)
            && self.sha256.len() == 64
            && self.sha256.bytes().all(|b| b.is_ascii_hexdigit())
    }
}

/// The account of chunk `n` of the secret stored under `base`.
pub fn chunk_account(base: &str, n: usize) -> String {
    if n == 0 {
        base.to_owned()
    } else {
        format!("{base}:{n}")
    }
}

/// Splits `text` into pieces of at most `max` bytes, never inside a character.
pub fn split_utf8(text: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::with_capacity(text.len() / max.max(1) + 1);
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(max.max(4));
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, tail) = rest.split_at(end);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Chunked secrets over a [`Vault`], writing only what changed and counting writes.
#[derive(Debug)]
pub struct Chunks {
    vault: Arc<dyn Vault>,
    writes: AtomicU64,
}

impl Chunks {
    /// Chunked secrets in `vault`.
    pub fn new(vault: Arc<dyn Vault>) -> Self {
        Self {
            vault,
            writes: AtomicU64::new(0),
        }
    }

    /// The backend holding the entries.
    pub fn backend(&self) -> Backend {
        self.vault.backend()
    }

    /// How many entries this value has written (unchanged content is not rewritten).
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// The vault, for single non-secret entries (an index).
    pub fn vault(&self) -> &dyn Vault {
        self.vault.as_ref()
    }

    /// Stores `secret` under `base` (chunk 0) and `base:n`, writing only entries whose content
    /// differs, and removes chunks beyond the new count left by a longer secret. `previous` is
    /// the chunk count on record, if any: with it, surplus chunks are deleted without probing;
    /// without it, one extra lookup checks for leftovers.
    pub fn write(
        &self,
        base: &str,
        secret: &Secret,
        previous: Option<usize>,
    ) -> Result<Manifest, KeychainError> {
        let text = secret.expose();
        let pieces = split_utf8(text, CHUNK_BYTES);
        if pieces.is_empty() || pieces.len() > MAX_CHUNKS {
            return Err(KeychainError::TooLarge {
                backend: self.backend(),
                account: base.to_owned(),
                bytes: text.len(),
            });
        }
        for (n, piece) in pieces.iter().enumerate() {
            let account = chunk_account(base, n);
            let current = self.vault.get(&account)?;
            if current.as_ref().map(|c| c.expose()) == Some(piece.as_bytes()) {
                tracing::debug!(account = %account, "keychain entry unchanged; not rewritten");
                continue;
            }
            self.vault.set(&account, piece.as_bytes())?;
            self.writes.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(account = %account, bytes = piece.len(), backend = self.backend().name(), "wrote keychain entry");
        }
        match previous {
            Some(previous) if previous <= pieces.len() => {}
            Some(previous) => {
                self.delete_from(base, pieces.len(), previous)?;
            }
            None => {
                self.delete_from(base, pieces.len(), 0)?;
            }
        }
        Ok(Manifest {
            chunks: pieces.len(),
            bytes: text.len(),
            sha256: sha256_hex(text.as_bytes()),
        })
    }

    /// Reads the secret back; `None` when a chunk is missing or the result does not match the
    /// manifest (a torn or foreign state).
    pub fn read(&self, base: &str, manifest: &Manifest) -> Result<Option<Secret>, KeychainError> {
        if !manifest.plausible() {
            tracing::debug!(account = %base, "implausible manifest; treating as a miss");
            return Ok(None);
        }
        let mut text = Secret::new(String::with_capacity(manifest.bytes));
        for n in 0..manifest.chunks {
            let account = chunk_account(base, n);
            let Some(bytes) = self.vault.get(&account)? else {
                tracing::debug!(account = %account, "keychain entry missing (torn state); treating as a miss");
                return Ok(None);
            };
            match std::str::from_utf8(bytes.expose()) {
                Ok(piece) if text.expose().len() + piece.len() <= manifest.bytes => {
                    text = Secret::new(format!("{}{piece}", text.expose()));
                }
                _ => {
                    tracing::debug!(account = %account, "keychain entry is not the expected text; treating as a miss");
                    return Ok(None);
                }
            }
        }
        if text.expose().len() != manifest.bytes
            || sha256_hex(text.expose().as_bytes()) != manifest.sha256
        {
            tracing::debug!(account = %base, "keychain content does not match its fingerprint; treating as a miss");
            return Ok(None);
        }
        Ok(Some(text))
    }

    /// Deletes chunks `from..`: every one below `known` (the count the caller expects), then on
    /// until one is missing. Returns how many were removed.
    pub fn delete_from(
        &self,
        base: &str,
        from: usize,
        known: usize,
    ) -> Result<usize, KeychainError> {
        let mut removed = 0;
        for n in from..MAX_CHUNKS {
            let account = chunk_account(base, n);
            if self.vault.delete(&account)? {
                removed += 1;
                tracing::debug!(account = %account, "deleted keychain entry");
            } else if n >= known {
                break;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::super::MemoryVault;
    use super::*;

    #[test]
    fn splits_below_the_limit_and_never_inside_a_character() {
        let text = "é".repeat(3000) + "abc"; // 6003 bytes, two-byte characters
        let pieces = split_utf8(&text, CHUNK_BYTES);
        assert_eq!(pieces.concat(), text);
        assert!(
            pieces
                .iter()
                .all(|p| p.len() <= CHUNK_BYTES && !p.is_empty())
        );
        assert_eq!(pieces.len(), 4);
        assert_eq!(split_utf8("", CHUNK_BYTES), Vec::<&str>::new());
        assert_eq!(split_utf8(&"a".repeat(2000), CHUNK_BYTES).len(), 1);
        assert_eq!(split_utf8(&"a".repeat(2001), CHUNK_BYTES).len(), 2);
        assert_eq!(chunk_account("credential:x.json", 0), "credential:x.json");
        assert_eq!(chunk_account("credential:x.json", 2), "credential:x.json:2");
    }

    #[test]
    fn round_trips_rewrites_only_changes_and_refuses_torn_states() {
        let vault = Arc::new(MemoryVault::new());
        let chunks = Chunks::new(vault.clone());
        let secret = Secret::new("A".repeat(2000) + &"B".repeat(2000) + "C");
        let manifest = chunks
            .write("k", &secret, None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((manifest.chunks, chunks.writes()), (3, 3));
        assert_eq!(chunks.read("k", &manifest), Ok(Some(secret.clone())));
        assert_eq!(chunks.write("k", &secret, Some(3)), Ok(manifest.clone()));
        assert_eq!(chunks.writes(), 3, "unchanged content is not rewritten");

        vault.entries().insert("k:1".into(), b"X".to_vec());
        assert_eq!(
            chunks.read("k", &manifest),
            Ok(None),
            "fingerprint mismatch"
        );
        vault.entries().remove("k:1");
        assert_eq!(chunks.read("k", &manifest), Ok(None), "missing chunk");
        vault.entries().insert("k:1".into(), vec![0xff; 10]);
        assert_eq!(chunks.read("k", &manifest), Ok(None), "not text");

        let implausible = Manifest {
            chunks: MAX_CHUNKS + 1,
            ..manifest
        };
        let before = vault.operations();
        assert_eq!(chunks.read("k", &implausible), Ok(None));
        assert_eq!(vault.operations(), before, "never reaches the vault");

        // A shorter secret leaves no stale chunks, even without a count on record.
        assert!(chunks.write("k", &Secret::new("short"), None).is_ok());
        assert_eq!(vault.entries().len(), 1);
        assert_eq!(chunks.delete_from("k", 0, 1), Ok(1));
        assert!(vault.entries().is_empty());
        assert!(matches!(
            chunks.write("k", &Secret::new(""), None),
            Err(KeychainError::TooLarge { bytes: 0, .. })
        ));
    }
}
