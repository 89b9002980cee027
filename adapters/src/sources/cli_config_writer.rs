//! Writing refreshed credentials back into an aliyun CLI `config.json`, as the newest aliyun CLI
//! does and without its (and the Go tool's) gaps.
//!
//! CloudSSO and OAuth profiles keep their STS credentials (and OAuth its tokens) in the profile
//! itself, so a refresh must be written back or every kubectl run refreshes again. The file is
//! the user's and other programs write it too (`aliyun`, other plugin processes), so:
//!
//! * the write goes to the file the profile was read from (through a symlink to its target,
//!   like aliyun CLI 3.4.9+), never to a default path;
//! * only the fields the newest CLI merges ([`WRITTEN_FIELDS`]) are set, on the on-disk profile
//!   of that name; every other key, profile and unknown key stays as it is, in its order (the
//!   file is handled as an ordered tree, [`Node`], not through structs that know some keys);
//! * the file is re-read right before it is written, under a cross-process lock on
//!   `<config.json>.lock` ([`ConfigLock`]), and the refresh itself runs under that lock, so of
//!   many plugin processes one refreshes and the others find its result;
//! * the write is atomic: a temp file in the same directory, 0600, fsync, rename.
//!
//! Output is formatted as the CLI formats it (tab indentation, `<`, `>`, `&` escaped as Go
//! does), so a file written by both shows no churn in a diff.

use crate::context::Fs;
use crate::local_file::{Symlinks, caps};
use crate::store::lock;
use ack_ram_domain::AccessCredentials;
use ack_ram_domain::Secret;
use ack_ram_domain::policy::upstream_usable;
use ack_ram_domain::ports::{LockError, StoreLock};
use chrono::{DateTime, Utc};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// The profile fields a write-back may set (aliyun CLI 3.3.5+ merges exactly these).
pub const WRITTEN_FIELDS: [&str; 7] = [
    "access_key_id",
    "access_key_secret",
    "sts_token",
    "sts_expiration",
    "oauth_access_token",
    "oauth_refresh_token",
    "oauth_access_token_expire",
];

/// How long a process waits for another one's refresh of the same `config.json`.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// STS credentials cached in a profile (`access_key_id`, `access_key_secret`, `sts_token`,
/// `sts_expiration` in Unix seconds). `Debug` masks the secret and the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedSts {
    pub access_key_id: String,
    pub access_key_secret: Secret,
    pub security_token: Secret,
    /// Unix seconds; 0 when the profile has none.
    pub expiration: i64,
}

impl CachedSts {
    /// The triple of a profile, when all three fields are set.
    pub(crate) fn from_fields(
        id: &str,
        secret: &str,
        token: &str,
        expiration: i64,
    ) -> Option<Self> {
        (!id.is_empty() && !secret.is_empty() && !token.is_empty()).then(|| Self {
            access_key_id: id.to_owned(),
            access_key_secret: Secret::new(secret),
            security_token: Secret::new(token),
            expiration,
        })
    }

    /// The credentials, when they stay valid for more than the upstream margin (a minute,
    /// against clock skew and the time the ACK call takes) at `now`.
    pub(crate) fn usable_at(&self, now: DateTime<Utc>) -> Option<AccessCredentials> {
        let expiration = DateTime::from_timestamp(self.expiration, 0)?;
        upstream_usable(Some(expiration), now).ok()?;
        Some(self.credentials())
    }

    /// The credentials with their expiration.
    pub(crate) fn credentials(&self) -> AccessCredentials {
        let mut credentials = AccessCredentials::sts(
            self.access_key_id.clone(),
            self.access_key_secret.clone(),
            self.security_token.clone(),
        );
        credentials.expiration = DateTime::from_timestamp(self.expiration, 0);
        credentials
    }
}

/// What a refresh writes back; `None` leaves a field as it is on disk. `Debug` masks secrets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CredentialUpdate {
    pub access_key_id: Option<String>,
    pub access_key_secret: Option<Secret>,
    pub sts_token: Option<Secret>,
    pub sts_expiration: Option<i64>,
    pub oauth_access_token: Option<Secret>,
    pub oauth_refresh_token: Option<Secret>,
    pub oauth_access_token_expire: Option<i64>,
}

impl CredentialUpdate {
    /// Sets the STS triple and its expiration.
    pub fn with_sts(mut self, sts: &CachedSts) -> Self {
        self.access_key_id = Some(sts.access_key_id.clone());
        self.access_key_secret = Some(sts.access_key_secret.clone());
        self.sts_token = Some(sts.security_token.clone());
        self.sts_expiration = Some(sts.expiration);
        self
    }

    /// Whether nothing would be written.
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    /// The fields to set, in [`WRITTEN_FIELDS`] order. An empty refresh token is never
    /// written (it would erase the stored one).
    fn entries(&self) -> Vec<(&'static str, Node)> {
        let text = |v: &Option<String>| v.as_ref().map(|s| Node::String(s.clone()));
        let secret = |v: &Option<Secret>| v.as_ref().map(|s| Node::String(s.expose().to_owned()));
        let number = |v: &Option<i64>| v.map(|n| Node::Number(n.into()));
        let refresh = self
            .oauth_refresh_token
            .as_ref()
            .filter(|t| !t.is_empty())
            .map(|s| Node::String(s.expose().to_owned()));
        [
            ("access_key_id", text(&self.access_key_id)),
            ("access_key_secret", secret(&self.access_key_secret)),
            ("sts_token", secret(&self.sts_token)),
            ("sts_expiration", number(&self.sts_expiration)),
            ("oauth_access_token", secret(&self.oauth_access_token)),
            ("oauth_refresh_token", refresh),
            (
                "oauth_access_token_expire",
                number(&self.oauth_access_token_expire),
            ),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
    }
}

/// A JSON value that keeps the order (and duplicates) of object keys as they are in the file.
/// `Debug` never shows string values (they hold secrets).
#[derive(Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Number(n) => write!(f, "{n}"),
            Self::String(_) => f.write_str("\"***\""),
            Self::Array(items) => f.debug_list().entries(items).finish(),
            Self::Object(entries) => f
                .debug_map()
                .entries(entries.iter().map(|(k, v)| (k, v)))
                .finish(),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Node::Null, Node::Number))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Node>()? {
            entries.push((key, value));
        }
        Ok(Node::Object(entries))
    }
}

impl Node {
    /// Parses JSON text (serde_json's nesting limit applies).
    pub(crate) fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The JSON text as the aliyun CLI writes it (Go's `MarshalIndent` with a tab).
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out, 0);
        out
    }

    fn render_into(&self, out: &mut String, depth: usize) {
        let indent = |out: &mut String, depth: usize| {
            out.push('\n');
            out.extend(std::iter::repeat_n('\t', depth));
        };
        match self {
            Self::Null => out.push_str("null"),
            Self::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Self::Number(n) => out.push_str(&n.to_string()),
            Self::String(s) => go_quote(s, out),
            Self::Array(items) if items.is_empty() => out.push_str("[]"),
            Self::Object(entries) if entries.is_empty() => out.push_str("{}"),
            Self::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    indent(out, depth + 1);
                    item.render_into(out, depth + 1);
                }
                indent(out, depth);
                out.push(']');
            }
            Self::Object(entries) => {
                out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    indent(out, depth + 1);
                    go_quote(key, out);
                    out.push_str(": ");
                    value.render_into(out, depth + 1);
                }
                indent(out, depth);
                out.push('}');
            }
        }
    }
}

/// Quotes a string as Go's `encoding/json` does: `<`, `>`, `&`, U+2028 and U+2029 escaped too.
fn go_quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Why a refresh could not be merged into the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("it is not a JSON object with a \"profiles\" list")]
    NoProfiles,
    #[error("it no longer has a profile {0:?}")]
    NoProfile(String),
}

/// Sets the fields of `update` on the first profile named `profile` in `doc`; nothing else
/// changes. A field already there keeps its place; a new one is appended.
pub(crate) fn merge(
    doc: &mut Node,
    profile: &str,
    update: &CredentialUpdate,
) -> Result<(), MergeError> {
    let Node::Object(top) = doc else {
        return Err(MergeError::NoProfiles);
    };
    let Some(Node::Array(profiles)) = top
        .iter_mut()
        .rev()
        .find(|(k, _)| k == "profiles")
        .map(|(_, v)| v)
    else {
        return Err(MergeError::NoProfiles);
    };
    let target = profiles.iter_mut().find_map(|p| match p {
        Node::Object(entries)
            if entries
                .iter()
                .rev()
                .find(|(k, _)| k == "name")
                .is_some_and(|(_, v)| matches!(v, Node::String(n) if n == profile)) =>
        {
            Some(entries)
        }
        _ => None,
    });
    let Some(entries) = target else {
        return Err(MergeError::NoProfile(profile.to_owned()));
    };
    for (key, value) in update.entries() {
        let mut found = false;
        for (k, v) in entries.iter_mut() {
            if k == key {
                *v = value.clone();
                found = true;
            }
        }
        if !found {
            entries.push((key.to_owned(), value));
        }
    }
    Ok(())
}

/// Why a write-back failed. The refreshed credentials are still used for this run.
#[derive(Debug, thiserror::Error)]
pub enum WriteBackError {
    #[error("{0}")]
    Read(#[from] crate::local_file::LocalFileError),
    #[error("{} is not valid JSON any more ({why}); left it as it is", .path.display())]
    NotJson { path: PathBuf, why: String },
    #[error("{} could not be updated: {why}; left it as it is", .path.display())]
    Merge { path: PathBuf, why: MergeError },
    #[error("could not write {}: {why}", .path.display())]
    Write { path: PathBuf, why: std::io::Error },
}

/// The cross-process lock on one `config.json`, held while a profile of it is refreshed and
/// written back. Dropping it releases the lock.
pub(crate) struct ConfigLock {
    /// The path the profile was read from (reads follow its symlinks).
    path: PathBuf,
    /// The file a write replaces: `path` with every symlink resolved.
    target: PathBuf,
    /// `None` when no lock could be taken (the refresh then runs without one, said on stderr).
    /// In a mutex only to be `Sync` (it is never locked).
    _held: Option<Mutex<Box<dyn StoreLock>>>,
}

impl fmt::Debug for ConfigLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigLock")
            .field("path", &self.path)
            .field("target", &self.target)
            .field("held", &self._held.is_some())
            .finish()
    }
}

impl ConfigLock {
    /// Takes the lock on `<target>.lock` next to the real file behind `path`, waiting at most
    /// `timeout` for another process. Blocks: call it off the async runtime's threads. A lock
    /// that cannot be taken (a read-only directory, a planted link, a holder that does not let
    /// go) is a warning, and the refresh runs without it.
    pub(crate) fn acquire(path: &Path, timeout: Duration) -> Self {
        let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let mut lock_name = target.file_name().unwrap_or_default().to_os_string();
        lock_name.push(".lock");
        let lock_path = target.with_file_name(lock_name);
        let held = match lock::acquire(&lock_path, timeout) {
            Ok(held) => Some(Mutex::new(held)),
            Err(e @ (LockError::Timeout { .. } | LockError::Unavailable(_))) => {
                tracing::warn!(
                    "refreshing without the lock on {}: {e}; another process may refresh too",
                    lock_path.display()
                );
                None
            }
        };
        Self {
            path: path.to_path_buf(),
            target,
            _held: held,
        }
    }

    /// The path the profile is read from.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Re-reads the file and sets `update` on the profile `profile`, atomically. Nothing is
    /// written when nothing would change.
    pub(crate) fn write_back(
        &self,
        fs: &dyn Fs,
        profile: &str,
        update: &CredentialUpdate,
    ) -> Result<(), WriteBackError> {
        if update.is_empty() {
            return Ok(());
        }
        let text = fs.read_to_string(&self.path, caps::ALIYUN_CONFIG, Symlinks::Follow)?;
        let mut doc = Node::parse(&text).map_err(|e| WriteBackError::NotJson {
            path: self.path.clone(),
            why: e.to_string(),
        })?;
        merge(&mut doc, profile, update).map_err(|why| WriteBackError::Merge {
            path: self.path.clone(),
            why,
        })?;
        let mut rendered = doc.render();
        if text.ends_with('\n') {
            rendered.push('\n');
        }
        if rendered == text {
            return Ok(());
        }
        write_atomically(&self.target, rendered.as_bytes()).map_err(|why| {
            WriteBackError::Write {
                path: self.target.clone(),
                why,
            }
        })?;
        tracing::debug!(file = %self.target.display(), profile, "refreshed credentials written back");
        Ok(())
    }
}

/// [`ConfigLock::acquire`] off the async runtime's threads (waiting for the lock blocks).
pub(crate) async fn lock_config(path: &Path, timeout: Duration) -> ConfigLock {
    let owned = path.to_path_buf();
    match tokio::task::spawn_blocking(move || ConfigLock::acquire(&owned, timeout)).await {
        Ok(lock) => lock,
        Err(e) => {
            tracing::warn!("refreshing without the lock on {}: {e}", path.display());
            ConfigLock {
                path: path.to_path_buf(),
                target: path.to_path_buf(),
                _held: None,
            }
        }
    }
}

/// Replaces `target` with `bytes`: a temp file (random name, `O_EXCL`, 0600) in the same
/// directory, fsync, rename over it, fsync of the directory.
pub(crate) fn write_atomically(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(target.file_name().unwrap_or_default());
    prefix.push(".tmp-");
    let mut file = tempfile::Builder::new().prefix(&prefix).tempfile_in(&dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(target).map_err(|e| e.error)?;
    if let Ok(dir) = std::fs::File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests;
