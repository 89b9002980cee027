//! The keyring store's metadata files: the non-secret half of a cached credential.
//!
//! `<cache file name without .json>.keyring.json`, next to where the file store would write:
//! expiration, certificate, where the key is ([`Manifest`]: chunk count, length, SHA-256), and
//! the identity it was issued to (`identity`: fingerprint and label; absent in files written
//! before bindings, which older versions still read since the member is optional).
//! Freshness is decided from this file alone, without a keychain round trip. It is read from a
//! directory others may write to (a torn write, another version, a hand edit), so anything that
//! does not validate is a miss.

use super::entry_file_name;
use crate::keychain::{Backend, Manifest, SERVICE};
use ack_ram_domain::model::{IdentityFingerprint, SelectedIdentity, split_scoped_file_name};
use ack_ram_domain::{ApiVersion, CacheKey, ClusterCredential, ClusterId};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Ending of the metadata files (the Go tool's name with `.json` replaced by this).
pub const METADATA_SUFFIX: &str = ".keyring.json";

pub(super) const METADATA_FORMAT: u32 = 1;
const ACCOUNT_PREFIX: &str = "credential:";

/// The non-secret half of a cached credential, as kept in the metadata file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// The cluster.
    pub cluster_id: ClusterId,
    /// The ExecCredential version of the entry.
    pub api_version: ApiVersion,
    /// When the certificate stops being valid.
    pub expiration: DateTime<Utc>,
    /// PEM text of the client certificate (public).
    pub client_certificate_pem: String,
    /// The Go tool's cache file name this entry stands for.
    pub cache_file: String,
    /// The keychain account of chunk 0 of the private key.
    pub account: String,
    /// Which backend holds the key (`secret-service`, `keyutils`, ...).
    pub backend: String,
    /// How many keychain entries hold the key.
    pub chunks: usize,
    /// Lower-case hex SHA-256 of the private key PEM.
    pub key_sha256: String,
    pub(super) key_bytes: usize,
    /// The identity the certificate was issued to; `None` in files written before bindings.
    pub selected: Option<SelectedIdentity>,
}

impl Metadata {
    /// Where the key is and how to check it.
    pub fn manifest(&self) -> Manifest {
        Manifest {
            chunks: self.chunks,
            bytes: self.key_bytes,
            sha256: self.key_sha256.clone(),
        }
    }

    /// Parses and validates a metadata file; the reason when it is not one of ours.
    pub(super) fn parse(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice::<MetadataWire>(bytes)
            .map_err(|e| e.to_string())
            .and_then(MetadataWire::validate)
    }

    /// The file for `key`'s `credential`, whose private key is in `backend` as `manifest`
    /// describes.
    pub(super) fn encode(
        key: &CacheKey,
        credential: &ClusterCredential,
        backend: Backend,
        manifest: Manifest,
    ) -> Result<Vec<u8>, serde_json::Error> {
        let file = entry_file_name(key);
        let wire = MetadataWire {
            format: METADATA_FORMAT,
            cluster_id: key.cluster_id.to_string(),
            api_version: key.api_version.short().to_owned(),
            expiration_timestamp: credential
                .expiration
                .to_rfc3339_opts(SecondsFormat::Secs, true),
            client_certificate_data: credential.client_certificate_pem.clone(),
            key: KeyRefWire {
                backend: backend.id().to_owned(),
                service: SERVICE.to_owned(),
                account: account_for_file(&file),
                chunks: manifest.chunks,
                bytes: manifest.bytes,
                sha256: manifest.sha256,
            },
            cache_file: file,
            identity: Some(IdentityWire {
                fingerprint: key.identity.selected.fingerprint.to_string(),
                label: key.identity.selected.label.clone(),
            }),
        };
        serde_json::to_vec_pretty(&wire)
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct MetadataWire {
    format: u32,
    #[serde(rename = "clusterId")]
    cluster_id: String,
    #[serde(rename = "apiVersion")]
    api_version: String,
    #[serde(rename = "cacheFile")]
    cache_file: String,
    #[serde(rename = "expirationTimestamp")]
    expiration_timestamp: String,
    #[serde(rename = "clientCertificateData")]
    client_certificate_data: String,
    key: KeyRefWire,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity: Option<IdentityWire>,
}

#[derive(Serialize, Deserialize)]
struct IdentityWire {
    fingerprint: String,
    label: String,
}

#[derive(Serialize, Deserialize)]
struct KeyRefWire {
    backend: String,
    service: String,
    account: String,
    chunks: usize,
    bytes: usize,
    sha256: String,
}

impl MetadataWire {
    fn validate(self) -> Result<Metadata, String> {
        if self.format != METADATA_FORMAT {
            return Err(format!("unknown format {}", self.format));
        }
        if self.key.service != SERVICE {
            return Err(format!("foreign keychain service {:?}", self.key.service));
        }
        let cluster_id = ClusterId::parse(&self.cluster_id).map_err(|e| e.to_string())?;
        let api_version = self
            .api_version
            .parse::<ApiVersion>()
            .map_err(|e| e.to_string())?;
        let expiration = DateTime::parse_from_rfc3339(&self.expiration_timestamp)
            .map_err(|_| format!("bad expirationTimestamp {:?}", self.expiration_timestamp))?
            .with_timezone(&Utc);
        if self.client_certificate_data.is_empty() {
            return Err("no certificate".into());
        }
        if self.key.account != account_for_file(&self.cache_file) {
            return Err("the key account does not belong to the cache file".into());
        }
        let selected = match self.identity {
            None => None,
            Some(identity) => {
                let fingerprint = IdentityFingerprint::parse(&identity.fingerprint)
                    .ok_or("malformed identity fingerprint")?;
                if identity.label.chars().count() > 64
                    || identity.label.chars().any(char::is_control)
                {
                    return Err("malformed identity label".into());
                }
                Some(SelectedIdentity {
                    fingerprint,
                    label: identity.label,
                })
            }
        };
        let metadata = Metadata {
            cluster_id,
            api_version,
            expiration,
            client_certificate_pem: self.client_certificate_data,
            cache_file: self.cache_file,
            account: self.key.account,
            backend: self.key.backend,
            chunks: self.key.chunks,
            key_sha256: self.key.sha256,
            key_bytes: self.key.bytes,
            selected,
        };
        if !metadata.manifest().plausible() {
            return Err("implausible chunk count, size or fingerprint".into());
        }
        Ok(metadata)
    }
}

/// The keychain account of chunk 0 of the key cached under the Go tool's file name `file`.
pub fn account_for_file(file: &str) -> String {
    format!("{ACCOUNT_PREFIX}{file}")
}

/// The metadata file name for the entry name `file`: the Go tool's cache file name
/// (`<stem>.json` -> `<stem>.keyring.json`) or an identity's own (`<Go name>.id-<fingerprint>`
/// -> `<Go name>.id-<fingerprint>.keyring.json`).
pub fn metadata_file_name(file: &str) -> String {
    format!(
        "{}{METADATA_SUFFIX}",
        file.strip_suffix(".json").unwrap_or(file)
    )
}

/// The entry name a metadata file name stands for (the inverse of [`metadata_file_name`]).
pub(super) fn cache_file_name(metadata_file: &str) -> Option<String> {
    let stem = metadata_file.strip_suffix(METADATA_SUFFIX)?;
    Some(if split_scoped_file_name(stem).is_some() {
        stem.to_owned()
    } else {
        format!("{stem}.json")
    })
}
