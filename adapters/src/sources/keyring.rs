//! AccessKeys held in the OS keychain, one per profile name.
//!
//! Users keep long-lived AccessKeys in plaintext (`~/.aliyun/config.json`, the credentials INI
//! file, shell profiles). `ack-ram-tool keyring set-access-key --profile NAME` puts them in the
//! keychain instead, and the `keyring` credential source reads them back as a
//! [`CredentialSpec::AccessKey`] (or [`CredentialSpec::StsToken`]), on which `--role-arn` can
//! be assumed like on any other source.
//!
//! Layout, under the keychain service `ack-ram-tool` (see `docs/keyring.md`):
//! - account `access-key:<profile>` (and `access-key:<profile>:<n>` if it ever needs more than
//!   2000 bytes, as an STS token may): JSON `{"mode":"AK","accessKeyId":..,"accessKeySecret":..}`
//!   (`"mode":"StsToken"` adds `"securityToken"`);
//! - account `access-key-index`: a non-secret JSON index of the profiles (mode, AccessKey id,
//!   chunk count and SHA-256), because the `keyring` crate cannot enumerate a keychain portably.
//!   `keyring list` reads only this entry, so it never touches a secret.
//!
//! Writes follow the store's rules: read, compare, write only what changed.

use crate::http::error_chain;
use crate::keychain::{self, Backend, Chunks, KeychainError, Manifest, Vault};
use crate::sources::profile::CredentialSpec;
use ack_ram_domain::Secret;
use ack_ram_domain::ports::ProviderError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Account of the profile index.
pub const INDEX_ACCOUNT: &str = "access-key-index";
/// Prefix of the accounts holding the keys.
pub const ACCOUNT_PREFIX: &str = "access-key:";
/// Longest profile name accepted.
pub const MAX_PROFILE_NAME_LEN: usize = 128;
/// Where else AccessKeys can be kept, for people whose keychain cannot be used.
pub const ADVICE: &str = "keep the AccessKey in the aliyun CLI config, the credentials file or environment variables instead";

const INDEX_FORMAT: u32 = 1;
const SOURCE_NAME: &str = "keyring";

/// Why a keyring AccessKey operation failed. Never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    /// The profile name cannot be used as (part of) a keychain account.
    #[error("invalid profile name {name:?}: {reason}")]
    InvalidProfile {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The AccessKey is empty or malformed.
    #[error("invalid AccessKey: {0}")]
    InvalidAccessKey(&'static str),
    /// The keychain failed or cannot be used at all.
    #[error(transparent)]
    Keychain(#[from] KeychainError),
    /// The index could not be encoded.
    #[error("could not encode the AccessKey index for {location}: {reason}")]
    Encode {
        /// The keychain entry.
        location: String,
        /// Why.
        reason: String,
    },
}

impl KeyringError {
    /// Whether the keychain cannot be used at all (then [`ADVICE`] applies).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Keychain(e) if e.unavailable_reason().is_some())
    }

    /// The message for a person: the cause chain, and [`ADVICE`] when the keychain cannot be
    /// used.
    pub fn explain(&self) -> String {
        let text = error_chain(self);
        if self.is_unavailable() {
            format!("{text}; {ADVICE}")
        } else {
            text
        }
    }
}

/// What kind of credentials a profile holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoredKind {
    /// A long-lived AccessKey.
    AccessKey,
    /// Temporary STS credentials.
    StsToken,
}

impl StoredKind {
    fn mode(self) -> &'static str {
        match self {
            Self::AccessKey => "AK",
            Self::StsToken => "StsToken",
        }
    }

    fn from_mode(mode: &str) -> Option<Self> {
        match mode {
            "AK" => Some(Self::AccessKey),
            "StsToken" => Some(Self::StsToken),
            _ => None,
        }
    }
}

/// One profile, as `keyring list` shows it (never a secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredProfile {
    /// The profile name.
    pub profile: String,
    /// The AccessKey id (not secret).
    pub access_key_id: String,
    /// AccessKey or STS token.
    pub kind: StoredKind,
}

#[derive(Serialize)]
struct KeyOut<'a> {
    mode: &'static str,
    #[serde(rename = "accessKeyId")]
    access_key_id: &'a str,
    #[serde(rename = "accessKeySecret")]
    access_key_secret: &'a str,
    #[serde(rename = "securityToken", skip_serializing_if = "Option::is_none")]
    security_token: Option<&'a str>,
}

#[derive(Deserialize)]
struct KeyIn {
    mode: String,
    #[serde(rename = "accessKeyId")]
    access_key_id: String,
    #[serde(rename = "accessKeySecret")]
    access_key_secret: String,
    #[serde(rename = "securityToken", default)]
    security_token: Option<String>,
}

#[derive(Serialize, Deserialize, Default)]
struct Index {
    format: u32,
    profiles: BTreeMap<String, IndexEntry>,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
struct IndexEntry {
    mode: String,
    #[serde(rename = "accessKeyId")]
    access_key_id: String,
    #[serde(flatten)]
    manifest: Manifest,
}

/// The keychain account of `profile`'s key (chunk 0).
pub fn account_for(profile: &str) -> String {
    format!("{ACCOUNT_PREFIX}{profile}")
}

fn check_profile(profile: &str) -> Result<(), KeyringError> {
    let invalid = |reason| {
        Err(KeyringError::InvalidProfile {
            name: profile.to_owned(),
            reason,
        })
    };
    if profile.is_empty() {
        return invalid("it is empty");
    }
    if profile.chars().count() > MAX_PROFILE_NAME_LEN {
        return invalid("it is longer than 128 characters");
    }
    if profile.contains(':') {
        return invalid("`:` separates chunk numbers in keychain account names");
    }
    if profile.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return invalid("it contains whitespace or control characters");
    }
    Ok(())
}

/// AccessKeys in one keychain backend.
#[derive(Debug)]
pub struct KeyringAccessKeys {
    chunks: Chunks,
}

impl Default for KeyringAccessKeys {
    fn default() -> Self {
        Self::new(Backend::Native)
    }
}

impl KeyringAccessKeys {
    /// AccessKeys in `backend` (the process's shared vault, [`keychain::os_vault`]).
    pub fn new(backend: Backend) -> Self {
        Self::with_vault(keychain::os_vault(backend))
    }

    /// AccessKeys in `vault` (the context's, or an in-memory one in tests).
    pub fn with_vault(vault: Arc<dyn Vault>) -> Self {
        Self {
            chunks: Chunks::new(vault),
        }
    }

    /// The backend holding the keys.
    pub fn backend(&self) -> Backend {
        self.chunks.backend()
    }

    /// How many keychain entries this value has written (unchanged content is not rewritten).
    pub fn keychain_writes(&self) -> u64 {
        self.chunks.writes()
    }

    fn read_index(&self) -> Result<Index, KeyringError> {
        let Some(bytes) = self.chunks.vault().get(INDEX_ACCOUNT)? else {
            return Ok(Index {
                format: INDEX_FORMAT,
                profiles: BTreeMap::new(),
            });
        };
        match serde_json::from_slice::<Index>(bytes.expose()) {
            Ok(index) if index.format == INDEX_FORMAT => Ok(index),
            _ => {
                // Written in one piece by us, so this is foreign or damaged content. Start over:
                // the profiles it listed have to be stored again.
                tracing::warn!(
                    entry = %self.backend().location(INDEX_ACCOUNT),
                    "the keyring AccessKey index is unreadable; it will be replaced"
                );
                Ok(Index {
                    format: INDEX_FORMAT,
                    profiles: BTreeMap::new(),
                })
            }
        }
    }

    fn write_index(&self, index: &Index) -> Result<(), KeyringError> {
        let json = serde_json::to_vec(index).map_err(|e| KeyringError::Encode {
            location: self.backend().location(INDEX_ACCOUNT),
            reason: e.to_string(),
        })?;
        let vault = self.chunks.vault();
        if vault.get(INDEX_ACCOUNT)?.as_ref().map(|v| v.expose()) == Some(json.as_slice()) {
            return Ok(());
        }
        vault.set(INDEX_ACCOUNT, &json)?;
        tracing::debug!(
            account = INDEX_ACCOUNT,
            profiles = index.profiles.len(),
            "wrote the keyring AccessKey index"
        );
        Ok(())
    }

    fn store(
        &self,
        profile: &str,
        id: &str,
        secret: &Secret,
        token: Option<&Secret>,
    ) -> Result<(), KeyringError> {
        check_profile(profile)?;
        if id.is_empty() || id.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(KeyringError::InvalidAccessKey(
                "the AccessKey id is empty or contains whitespace",
            ));
        }
        if secret.is_empty() {
            return Err(KeyringError::InvalidAccessKey(
                "the AccessKey secret is empty",
            ));
        }
        if token.is_some_and(Secret::is_empty) {
            return Err(KeyringError::InvalidAccessKey(
                "the security token is empty",
            ));
        }
        let kind = if token.is_some() {
            StoredKind::StsToken
        } else {
            StoredKind::AccessKey
        };
        let json = serde_json::to_string(&KeyOut {
            mode: kind.mode(),
            access_key_id: id,
            access_key_secret: secret.expose(),
            security_token: token.map(Secret::expose),
        })
        .map(Secret::new)
        .map_err(|e| KeyringError::Encode {
            location: self.backend().location(&account_for(profile)),
            reason: e.to_string(),
        })?;
        let mut index = self.read_index()?;
        let previous = index.profiles.get(profile).map(|e| e.manifest.chunks);
        let manifest = self.chunks.write(&account_for(profile), &json, previous)?;
        index.profiles.insert(
            profile.to_owned(),
            IndexEntry {
                mode: kind.mode().to_owned(),
                access_key_id: id.to_owned(),
                manifest,
            },
        );
        self.write_index(&index)?;
        tracing::debug!(
            profile,
            access_key_id = id,
            backend = self.backend().name(),
            "stored the AccessKey in the keychain"
        );
        Ok(())
    }

    /// Stores a long-lived AccessKey for `profile`, replacing what was there.
    pub fn set_access_key(
        &self,
        profile: &str,
        id: &str,
        secret: &Secret,
    ) -> Result<(), KeyringError> {
        self.store(profile, id, secret, None)
    }

    /// Stores temporary STS credentials for `profile`, replacing what was there.
    pub fn set_sts_token(
        &self,
        profile: &str,
        id: &str,
        secret: &Secret,
        token: &Secret,
    ) -> Result<(), KeyringError> {
        self.store(profile, id, secret, Some(token))
    }

    /// The profiles with stored keys, sorted, with their AccessKey ids (never secrets). Reads
    /// only the index entry.
    pub fn list(&self) -> Result<Vec<StoredProfile>, KeyringError> {
        Ok(self
            .read_index()?
            .profiles
            .into_iter()
            .filter_map(|(profile, entry)| {
                Some(StoredProfile {
                    kind: StoredKind::from_mode(&entry.mode)?,
                    access_key_id: entry.access_key_id,
                    profile,
                })
            })
            .collect())
    }

    /// The names of the profiles with stored keys, sorted.
    pub fn list_profiles(&self) -> Result<Vec<String>, KeyringError> {
        Ok(self.list()?.into_iter().map(|p| p.profile).collect())
    }

    /// Removes `profile`'s key and index line. `true` when anything was there.
    pub fn delete_profile(&self, profile: &str) -> Result<bool, KeyringError> {
        check_profile(profile)?;
        let mut index = self.read_index()?;
        let known = index.profiles.get(profile).map_or(1, |e| e.manifest.chunks);
        let removed = self.chunks.delete_from(&account_for(profile), 0, known)?;
        let listed = index.profiles.remove(profile).is_some();
        if listed {
            self.write_index(&index)?;
        }
        tracing::debug!(
            profile,
            keychain_entries = removed,
            "deleted the keyring AccessKey"
        );
        Ok(removed > 0 || listed)
    }

    /// The credentials stored for `profile`, as a source description. `NotConfigured` when the
    /// profile has none (the chain moves on); `Failed` when the keychain does not answer or the
    /// entry is damaged.
    pub fn load_spec(&self, profile: &str) -> Result<CredentialSpec, ProviderError> {
        let failed = |message: String| ProviderError::Failed {
            source_name: SOURCE_NAME.into(),
            message,
        };
        check_profile(profile).map_err(|e| failed(e.explain()))?;
        let index = self.read_index().map_err(|e| failed(e.explain()))?;
        let Some(entry) = index.profiles.get(profile) else {
            return Err(ProviderError::NotConfigured(format!(
                "no AccessKey for profile {profile:?} in the {} (store one with `ack-ram-tool keyring set-access-key --profile {profile}`)",
                self.backend().name()
            )));
        };
        let account = account_for(profile);
        let damaged = || {
            failed(format!(
                "the keychain entry {} is missing or damaged; store the AccessKey again with `ack-ram-tool keyring set-access-key --profile {profile}`",
                self.backend().location(&account)
            ))
        };
        let json = self
            .chunks
            .read(&account, &entry.manifest)
            .map_err(|e| failed(KeyringError::from(e).explain()))?
            .ok_or_else(damaged)?;
        let stored: KeyIn = serde_json::from_str(json.expose()).map_err(|_| damaged())?;
        let id = stored.access_key_id;
        let secret = Secret::new(stored.access_key_secret);
        let token = stored.security_token.map(Secret::new);
        if id.is_empty() || secret.is_empty() {
            return Err(damaged());
        }
        tracing::debug!(profile, access_key_id = %id, "using the AccessKey from the keychain");
        match (StoredKind::from_mode(&stored.mode), token) {
            (Some(StoredKind::AccessKey), _) => Ok(CredentialSpec::AccessKey { id, secret }),
            (Some(StoredKind::StsToken), Some(token)) if !token.is_empty() => {
                Ok(CredentialSpec::StsToken { id, secret, token })
            }
            _ => Err(damaged()),
        }
    }
}

/// Stores a long-lived AccessKey for `profile` in the platform keychain.
pub fn set_access_key(profile: &str, id: &str, secret: &Secret) -> Result<(), KeyringError> {
    KeyringAccessKeys::default().set_access_key(profile, id, secret)
}

/// The profiles with keys in the platform keychain (never secrets).
pub fn list_profiles() -> Result<Vec<String>, KeyringError> {
    KeyringAccessKeys::default().list_profiles()
}

/// Removes `profile`'s key from the platform keychain; `true` when there was one.
pub fn delete_profile(profile: &str) -> Result<bool, KeyringError> {
    KeyringAccessKeys::default().delete_profile(profile)
}

/// The credentials stored for `profile` in the platform keychain.
pub fn load_spec(profile: &str) -> Result<CredentialSpec, ProviderError> {
    KeyringAccessKeys::default().load_spec(profile)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keychain::{MemoryVault, UnavailableReason};

    fn keys() -> (Arc<MemoryVault>, KeyringAccessKeys) {
        let vault = Arc::new(MemoryVault::new());
        (vault.clone(), KeyringAccessKeys::with_vault(vault))
    }

    #[test]
    fn stores_lists_loads_and_deletes() {
        let (vault, keys) = keys();
        assert_eq!(keys.list_profiles(), Ok(vec![]));
        assert!(
            matches!(keys.load_spec("dev"), Err(ProviderError::NotConfigured(m)) if m.contains("set-access-key --profile dev"))
        );

        let secret = Secret::new("S3KR1T-ak-secret");
        assert_eq!(keys.set_access_key("dev", "LTAIdev", &secret), Ok(()));
        assert_eq!(
            keys.set_sts_token(
                "ci",
                "STS.id",
                &Secret::new("S3KR1T-2"),
                &Secret::new("T0K3N".repeat(900))
            ),
            Ok(())
        );
        assert_eq!(
            keys.list_profiles(),
            Ok(vec!["ci".to_owned(), "dev".to_owned()])
        );
        assert_eq!(
            keys.load_spec("dev"),
            Ok(CredentialSpec::AccessKey {
                id: "LTAIdev".into(),
                secret: secret.clone()
            })
        );
        assert!(
            matches!(keys.load_spec("ci"), Ok(CredentialSpec::StsToken { token, .. }) if token.expose().len() == 4500)
        );

        // The index holds no secret.
        let index = vault
            .entries()
            .get(INDEX_ACCOUNT)
            .cloned()
            .unwrap_or_default();
        let index = String::from_utf8_lossy(&index);
        assert!(index.contains("LTAIdev") && !index.contains("S3KR1T") && !index.contains("T0K3N"));
        // The STS token needed more than one chunk.
        assert!(vault.entries().contains_key("access-key:ci:2"));

        assert_eq!(keys.delete_profile("ci"), Ok(true));
        assert_eq!(keys.delete_profile("ci"), Ok(false));
        assert_eq!(keys.list_profiles(), Ok(vec!["dev".to_owned()]));
        assert!(
            !vault
                .entries()
                .keys()
                .any(|k| k.starts_with("access-key:ci"))
        );
    }

    #[test]
    fn rewrites_nothing_when_nothing_changed() {
        let (vault, keys) = keys();
        let secret = Secret::new("S3KR1T");
        assert_eq!(keys.set_access_key("dev", "LTAIdev", &secret), Ok(()));
        let sets = vault.writes();
        assert_eq!(sets, 2, "the key and the index");
        assert_eq!(keys.set_access_key("dev", "LTAIdev", &secret), Ok(()));
        assert_eq!(vault.writes(), sets);
    }

    #[test]
    fn damaged_entries_fail_clearly_and_bad_input_is_refused() {
        let (vault, keys) = keys();
        assert_eq!(
            keys.set_access_key("dev", "LTAIdev", &Secret::new("S3KR1T")),
            Ok(())
        );
        vault
            .entries()
            .insert("access-key:dev".into(), b"{\"mode\":\"AK\"".to_vec());
        let err = keys
            .load_spec("dev")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("missing or damaged") && err.contains("set-access-key --profile dev"),
            "{err}"
        );
        vault.entries().remove("access-key:dev");
        assert!(matches!(
            keys.load_spec("dev"),
            Err(ProviderError::Failed { .. })
        ));

        for bad in ["", "a:b", "a b", &"x".repeat(129)] {
            assert!(
                matches!(
                    keys.set_access_key(bad, "id", &Secret::new("s")),
                    Err(KeyringError::InvalidProfile { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            keys.set_access_key("p", "", &Secret::new("s")),
            Err(KeyringError::InvalidAccessKey(_))
        ));
        assert!(matches!(
            keys.set_access_key("p", "id", &Secret::new("")),
            Err(KeyringError::InvalidAccessKey(_))
        ));
    }

    #[test]
    fn an_unavailable_keychain_names_the_backend_and_other_places_for_keys() {
        let (vault, keys) = keys();
        vault.make_unavailable(
            UnavailableReason::ServiceNotProvided,
            "The name org.freedesktop.secrets was not provided by any .service files",
        );
        let err = keys
            .set_access_key("dev", "LTAIdev", &Secret::new("S3KR1T"))
            .err()
            .map(|e| e.explain())
            .unwrap_or_default();
        assert!(
            err.contains("Secret Service is not usable") && err.contains("aliyun CLI config"),
            "{err}"
        );
        assert!(!err.contains("S3KR1T"));
        assert!(
            matches!(keys.load_spec("dev"), Err(ProviderError::Failed { source_name, .. }) if source_name == "keyring")
        );
    }
}
