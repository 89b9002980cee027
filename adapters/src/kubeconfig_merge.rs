//! `get-kubeconfig --merge`: puts one ACK cluster's cluster, user and context entries into the
//! kubeconfig kubectl uses, keeping everything else in that file.
//!
//! The file is someone else's: kubectl, other plugins and people write it too. So it is handled
//! as a YAML tree ([`Node`]), not as typed structs, and every key this tool does not know
//! (extensions, preferences, other tools' entries, a newer kubectl's fields) comes back out.
//! What is kept, and what is replaced:
//! - entries of `clusters`, `users` and `contexts` with another name are kept, in their order;
//! - the cluster and the user named like ours are replaced whole (their content is what the ACK
//!   API and this plugin say; a stale `token` or certificate next to our `exec` would be a
//!   second credential kubectl refuses); the context keeps its other keys (a `namespace` set with
//!   `kubectl config set-context --current --namespace`) and gets our `cluster` and `user`;
//! - `current-context` changes only when asked.
//!
//! Comments and formatting are not kept (kubectl's own writes drop them too): the first merge
//! rewrites the file in this serializer's canonical form, which is why a backup of the previous
//! bytes is kept. From then on a merge that changes nothing writes nothing: the new text is
//! compared with the file's bytes, so re-running is byte-for-byte idempotent and leaves the
//! backup alone.
//!
//! Writing follows kubectl's protocol so the two never interleave: `<file>.lock` is created
//! exclusively (client-go's `lockFile`) and removed afterwards; the file is re-read under the
//! lock, then replaced atomically (0600 temp file, fsync, rename) after the previous bytes are
//! saved to `<file>.bak` (0600).

use crate::local_file::{self, LocalFileError, Symlinks};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The largest kubeconfig read (a file with hundreds of clusters is well under 1 MiB).
pub const MAX_KUBECONFIG_BYTES: u64 = 16 * 1024 * 1024;
/// How long a merge waits for another writer's `<file>.lock` to go away.
pub const LOCK_WAIT: Duration = Duration::from_secs(5);

/// A YAML value with its mapping keys in file order.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    fn str(s: &str) -> Node {
        Node::Str(s.to_owned())
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value of key `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match self {
            Node::Map(entries) => entries
                .iter_mut()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Sets `key` of a mapping, in place when it is there, else at the end.
    fn set(&mut self, key: &str, value: Node) {
        if let Some(slot) = self.get_mut(key) {
            *slot = value;
        } else if let Node::Map(entries) = self {
            entries.push((Node::str(key), value));
        }
    }

    /// The `name` of a list entry.
    fn name(&self) -> Option<&str> {
        self.get("name").and_then(Node::as_str)
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => serializer.serialize_unit(),
            Node::Bool(b) => serializer.serialize_bool(*b),
            Node::Int(i) => match (i64::try_from(*i), u64::try_from(*i)) {
                (Ok(i), _) => serializer.serialize_i64(i),
                (_, Ok(u)) => serializer.serialize_u64(u),
                _ => serializer.serialize_i128(*i),
            },
            Node::Float(f) => serializer.serialize_f64(*f),
            Node::Str(s) => serializer.serialize_str(s),
            Node::Seq(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Node, E> {
        Ok(Node::Int(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::str(v))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries: Vec<(Node, Node)> = Vec::new();
        while let Some((k, v)) = map.next_entry::<Node, Node>()? {
            if entries.iter().any(|(seen, _)| *seen == k) {
                return Err(de::Error::custom(format!(
                    "the key {} appears twice in one mapping",
                    short(&k)
                )));
            }
            entries.push((k, v));
        }
        Ok(Node::Map(entries))
    }
}

/// A key for a message: its text when it is a short string.
fn short(key: &Node) -> String {
    match key {
        Node::Str(s) if s.chars().count() <= 60 => format!("{s:?}"),
        _ => "(a long or non-string key)".to_owned(),
    }
}

/// Why a kubeconfig cannot be merged into, or what went wrong writing it.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The file could not be read (a FIFO, a device, too large, not UTF-8, no permission).
    #[error("{0}")]
    Read(#[from] LocalFileError),
    /// The file is not YAML.
    #[error("{} is not valid YAML ({reason})", .path.display())]
    Yaml { path: PathBuf, reason: String },
    /// The file is YAML but not shaped like a kubeconfig.
    #[error("{} is not a kubeconfig: {what}", .path.display())]
    NotKubeconfig { path: PathBuf, what: String },
    /// Another process holds `<file>.lock`.
    #[error(
        "{} exists: another kubectl or ack-ram-tool is writing the kubeconfig (waited {} s); if none is, remove that file",
        .lock.display(),
        .waited.as_secs()
    )]
    Locked { lock: PathBuf, waited: Duration },
    /// Writing the file, its backup or its lock failed.
    #[error("could not write {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The merged document did not read back to itself (a serializer fault); nothing was
    /// written.
    #[error("the merged kubeconfig for {} would not read back unchanged; nothing was written", .path.display())]
    RoundTrip { path: PathBuf },
    /// The kubeconfig the API answered has no usable entries.
    #[error("the kubeconfig in the answer has no {0}")]
    Answer(&'static str),
}

/// The entries one ACK cluster contributes, under one name.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterEntries {
    name: String,
    cluster: Node,
    user: Node,
}

impl ClusterEntries {
    /// Takes the cluster and user of the current context of `yaml`, a kubeconfig that
    /// [`crate::kubeconfig::rewrite`] produced (its users already run this plugin), to be
    /// merged as `name`.
    pub fn from_rewritten(yaml: &str, name: &str) -> Result<Self, MergeError> {
        let root: Node = crate::kubeconfig::from_untrusted_yaml(yaml)
            .map_err(|_| MergeError::Answer("readable YAML"))?;
        let list = |key: &str| match root.get(key) {
            Some(Node::Seq(items)) => items.as_slice(),
            _ => &[],
        };
        let by_name = |key: &str, wanted: Option<&str>| {
            let items = list(key);
            items
                .iter()
                .find(|i| wanted.is_some() && i.name() == wanted)
                .or_else(|| items.first())
                .cloned()
        };
        let current = root.get("current-context").and_then(Node::as_str);
        let context = by_name("contexts", current);
        let wanted = |field: &str| {
            context
                .as_ref()
                .and_then(|c| c.get("context"))
                .and_then(|c| c.get(field))
                .and_then(Node::as_str)
                .map(str::to_owned)
        };
        let cluster = by_name("clusters", wanted("cluster").as_deref())
            .and_then(|c| c.get("cluster").cloned())
            .ok_or(MergeError::Answer("cluster"))?;
        let user = by_name("users", wanted("user").as_deref())
            .and_then(|u| u.get("user").cloned())
            .ok_or(MergeError::Answer("user"))?;
        Ok(Self {
            name: name.to_owned(),
            cluster,
            user,
        })
    }

    /// The name of the cluster, user and context.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The default name of a cluster's entries: `<cluster name>-<cluster id>` (the id alone when
/// the cluster has no name), with whitespace and control characters turned into `-` so that the
/// name can be typed after `kubectl --context`.
pub fn default_name(cluster_name: &str, cluster_id: &str) -> String {
    let clean: String = cluster_name
        .trim()
        .chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '-'
            } else {
                c
            }
        })
        .collect();
    if clean.is_empty() {
        cluster_id.to_owned()
    } else {
        format!("{clean}-{cluster_id}")
    }
}

/// What a merge did to one cluster's entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// None of the three entries existed.
    Added,
    /// Some existed and at least one changed.
    Updated,
    /// All three were already exactly so.
    Unchanged,
}

/// A parsed kubeconfig.
#[derive(Clone, Debug, PartialEq)]
pub struct Kubeconfig {
    root: Node,
}

/// The lists a kubeconfig holds entries in, the key of each entry's body.
const LISTS: [(&str, &str); 3] = [
    ("clusters", "cluster"),
    ("users", "user"),
    ("contexts", "context"),
];

impl Kubeconfig {
    /// A kubeconfig with nothing in it, in kubectl's key order.
    pub fn empty() -> Self {
        Self {
            root: Node::Map(vec![
                (Node::str("apiVersion"), Node::str("v1")),
                (Node::str("clusters"), Node::Seq(Vec::new())),
                (Node::str("contexts"), Node::Seq(Vec::new())),
                (Node::str("current-context"), Node::str("")),
                (Node::str("kind"), Node::str("Config")),
                (Node::str("preferences"), Node::Map(Vec::new())),
                (Node::str("users"), Node::Seq(Vec::new())),
            ]),
        }
    }

    /// Parses the text of `path` (used in messages only). Empty text, or only comments, is an
    /// empty kubeconfig.
    pub fn parse(text: &str, path: &Path) -> Result<Self, MergeError> {
        let root: Node = serde_saphyr::from_str(text).map_err(|e| MergeError::Yaml {
            path: path.to_owned(),
            reason: e.to_string().lines().next().unwrap_or_default().to_owned(),
        })?;
        let not = |what: String| MergeError::NotKubeconfig {
            path: path.to_owned(),
            what,
        };
        match &root {
            Node::Null => return Ok(Self::empty()),
            Node::Map(_) => {}
            _ => return Err(not("its top level is not a mapping".into())),
        }
        for (list, _) in LISTS {
            match root.get(list) {
                None | Some(Node::Null | Node::Seq(_)) => {}
                Some(_) => return Err(not(format!("`{list}` is not a list"))),
            }
        }
        match root.get("current-context") {
            None | Some(Node::Null | Node::Str(_)) => {}
            Some(_) => return Err(not("`current-context` is not a string".into())),
        }
        Ok(Self { root })
    }

    /// The text of this kubeconfig. Checked to read back to the same tree, so a file is never
    /// replaced by something that means something else.
    pub fn render(&self, path: &Path) -> Result<String, MergeError> {
        let fault = || MergeError::RoundTrip {
            path: path.to_owned(),
        };
        // One line per scalar, as kubectl writes them (no folded `>-` blocks for the long
        // base64 of a CA; text with line breaks comes out quoted with `\n`).
        let options = serde_saphyr::ser_options! { prefer_block_scalars: false };
        let text =
            serde_saphyr::to_string_with_options(&self.root, options).map_err(|_| fault())?;
        match serde_saphyr::from_str::<Node>(&text) {
            Ok(back) if same(&back, &self.root) => Ok(text),
            _ => Err(fault()),
        }
    }

    /// Puts `entries` in: the cluster and user replaced whole (or appended), the context's
    /// `cluster` and `user` set (other keys of an existing context kept); with `set_current`,
    /// `current-context` names it.
    pub fn merge(&mut self, entries: &ClusterEntries, set_current: bool) -> Change {
        let before = self.clone();
        let name = entries.name.as_str();
        let mut existed = false;
        for (list, body_key) in LISTS {
            let items = self.list_mut(list);
            let mut found = items.iter().position(|i| i.name() == Some(name));
            // Later entries of the same name would shadow nothing in kubectl (the first wins)
            // but keep confusing people: the merge owns that name now.
            if let Some(first) = found {
                let mut index = 0;
                items.retain(|i| {
                    let keep = index <= first || i.name() != Some(name);
                    index += 1;
                    keep
                });
            }
            let body = match body_key {
                "cluster" => entries.cluster.clone(),
                "user" => entries.user.clone(),
                _ => {
                    let mut context = found
                        .and_then(|i| items[i].get("context").cloned())
                        .filter(|c| matches!(c, Node::Map(_)))
                        .unwrap_or(Node::Map(Vec::new()));
                    context.set("cluster", Node::str(name));
                    context.set("user", Node::str(name));
                    context
                }
            };
            match found.take() {
                Some(i) => {
                    existed = true;
                    items[i].set(body_key, body);
                }
                None => items.push(Node::Map(vec![
                    (Node::str("name"), Node::str(name)),
                    (Node::str(body_key), body),
                ])),
            }
        }
        if set_current {
            self.root.set("current-context", Node::str(name));
        }
        if *self == before {
            Change::Unchanged
        } else if existed {
            Change::Updated
        } else {
            Change::Added
        }
    }

    /// The names of the entries of `list` (`clusters`, `users` or `contexts`).
    pub fn names(&self, list: &str) -> Vec<String> {
        match self.root.get(list) {
            Some(Node::Seq(items)) => items
                .iter()
                .filter_map(|i| i.name().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// `current-context`, when set.
    pub fn current_context(&self) -> Option<&str> {
        self.root
            .get("current-context")
            .and_then(Node::as_str)
            .filter(|c| !c.is_empty())
    }

    /// The list `key`, created (after the keys that are there) when missing or null.
    fn list_mut(&mut self, key: &str) -> &mut Vec<Node> {
        if !matches!(self.root.get(key), Some(Node::Seq(_))) {
            self.root.set(key, Node::Seq(Vec::new()));
        }
        match self.root.get_mut(key) {
            Some(Node::Seq(items)) => items,
            _ => unreachable!("the list was just set"),
        }
    }
}

/// Equality that holds for NaN too (a `.nan` in an unknown key must not fail the check).
fn same(a: &Node, b: &Node) -> bool {
    match (a, b) {
        (Node::Float(x), Node::Float(y)) => x.to_bits() == y.to_bits() || x == y,
        (Node::Seq(x), Node::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Node::Map(x), Node::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| same(ka, kb) && same(va, vb))
        }
        _ => a == b,
    }
}

/// What [`KubeconfigFile::update`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    /// The file already said exactly this: not touched, no backup.
    Unchanged,
    /// There was no file; it was created.
    Created,
    /// The file was replaced; its previous bytes are in `backup`.
    Replaced { backup: PathBuf },
}

/// The kubeconfig file a merge writes.
#[derive(Clone, Debug)]
pub struct KubeconfigFile {
    path: PathBuf,
}

impl KubeconfigFile {
    /// The file at `path` (which need not exist).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads it (without blocking, at most [`MAX_KUBECONFIG_BYTES`]) with its bytes; a missing
    /// file is an empty kubeconfig and no bytes.
    pub fn load(&self) -> Result<(Kubeconfig, Option<Vec<u8>>), MergeError> {
        match local_file::read(&self.path, MAX_KUBECONFIG_BYTES, Symlinks::Follow) {
            Ok(bytes) => {
                let text = std::str::from_utf8(&bytes).map_err(|_| {
                    LocalFileError::new(&self.path, local_file::LocalFileErrorKind::NotText)
                })?;
                Ok((Kubeconfig::parse(text, &self.path)?, Some(bytes)))
            }
            Err(e) if e.is_not_found() => Ok((Kubeconfig::empty(), None)),
            Err(e) => Err(e.into()),
        }
    }

    /// Under `<file>.lock`: reads the file again, applies `change`, and writes the result when
    /// its bytes differ from the file's (the previous bytes saved to `<file>.bak` first).
    pub fn update<T>(
        &self,
        change: impl FnOnce(&mut Kubeconfig) -> T,
    ) -> Result<(Written, T), MergeError> {
        let _lock = FileLock::acquire(&self.path, LOCK_WAIT)?;
        let (mut config, previous) = self.load()?;
        let outcome = change(&mut config);
        let text = config.render(&self.path)?;
        if previous.as_deref() == Some(text.as_bytes()) {
            return Ok((Written::Unchanged, outcome));
        }
        // A kubeconfig reached through a symlink (a dotfiles checkout) is replaced where it
        // lives, and the link kept.
        let target = std::fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone());
        let write = |path: &Path, bytes: &[u8]| {
            crate::sources::cli_config_writer::write_atomically(path, bytes).map_err(|source| {
                MergeError::Write {
                    path: path.to_owned(),
                    source,
                }
            })
        };
        let written = match previous {
            Some(bytes) => {
                let backup = sibling(&target, ".bak");
                write(&backup, &bytes)?;
                Written::Replaced { backup }
            }
            None => {
                if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
                    create_private_dir(dir).map_err(|source| MergeError::Write {
                        path: dir.to_owned(),
                        source,
                    })?;
                }
                Written::Created
            }
        };
        write(&target, text.as_bytes())?;
        Ok((written, outcome))
    }
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Creates `dir` and its parents, the new ones 0700 (`~/.kube` on a fresh machine).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// client-go's kubeconfig lock: `<file>.lock`, created exclusively, removed when dropped.
struct FileLock {
    path: PathBuf,
}

impl FileLock {
    fn acquire(kubeconfig: &Path, wait: Duration) -> Result<Self, MergeError> {
        let path = sibling(kubeconfig, ".lock");
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(|source| MergeError::Write {
                path: dir.to_owned(),
                source,
            })?;
        }
        let started = Instant::now();
        loop {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            match options.open(&path) {
                Ok(_) => return Ok(Self { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if started.elapsed() >= wait {
                        return Err(MergeError::Locked {
                            lock: path,
                            waited: wait,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(source) => return Err(MergeError::Write { path, source }),
            }
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests;
