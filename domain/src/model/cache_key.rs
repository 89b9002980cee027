//! Where a cluster credential is cached: the Go tool's file name, bit for bit, and the identity
//! an entry is bound to.
//!
//! `<cluster>-exec-auth-credential-<apiVersion>[-<sha1>].json`, where the SHA-1 suffix covers the
//! identity inputs (role ARN, profile name, INI path, aliyun CLI config path), concatenated
//! without separators, and is present only when one of them is non-empty. Matching this exactly
//! is what makes the Go tool's cache files and ours interchangeable.
//!
//! That name does not cover what the environment selects (`ALIBABA_CLOUD_ACCESS_KEY_ID` and its
//! aliases, `ALIBABA_CLOUD_ROLE_ARN`, `ALIBABA_CLOUD_PROFILE`, ...): two AccessKeys chosen only
//! through variables share one Go file. So every key also carries the [`SelectedIdentity`]: a
//! fingerprint of those selectors (computed by the adapters, never reversible to an AccessKey
//! ID) and a short label for `cache list`. Stores keep each identity's entry under
//! [`CacheKey::scoped_file_name`] and refuse to serve an entry bound to another identity.

use super::{ApiVersion, ClusterId};
use sha1::{Digest, Sha1};
use std::fmt;

/// The fingerprint of the identity the environment selects: 16 lower-case hex digits (64 bits of
/// a domain-separated SHA-256, see `adapters::store::identity`). Safe in a file name and on
/// screen: it names an identity without revealing it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdentityFingerprint(String);

impl IdentityFingerprint {
    /// Number of hex digits.
    pub const LEN: usize = 16;

    /// Accepts exactly [`Self::LEN`] lower-case hex digits.
    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == Self::LEN && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Self(raw.to_owned()))
    }

    /// The first [`Self::LEN`] / 2 bytes of `digest`, in hex; `None` if it is shorter.
    pub fn from_digest(digest: &[u8]) -> Option<Self> {
        digest
            .get(..Self::LEN / 2)
            .map(|bytes| Self(hex::encode(bytes)))
    }

    /// The hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdentityFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The identity the environment (and `--credential-type`) selects, as far as a cache entry needs
/// to know it: a fingerprint to compare and a label to show. Neither holds an AccessKey ID.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SelectedIdentity {
    /// Compared on every hit; part of the entry's own file name.
    pub fingerprint: IdentityFingerprint,
    /// For people (`cache list`): e.g. `env:LTAI…abcd`, `rrsa:ack-dev`, `default`. Printable,
    /// short, never the whole AccessKey ID.
    pub label: String,
}

impl SelectedIdentity {
    /// The fingerprint of an environment that selects nothing (no AccessKey, role, profile or
    /// credentials file variable; `--credential-type auto`). Pinned by a test of the adapter
    /// that computes fingerprints.
    pub const DEFAULT_FINGERPRINT: &'static str = "1ca87845638553fa";
    /// The label of that identity.
    pub const DEFAULT_LABEL: &'static str = "default";

    /// Whether this is the identity of an environment that selects nothing.
    pub fn is_default(&self) -> bool {
        self.fingerprint.as_str() == Self::DEFAULT_FINGERPRINT
    }
}

impl Default for SelectedIdentity {
    /// Nothing selected through the environment.
    fn default() -> Self {
        Self {
            fingerprint: IdentityFingerprint(Self::DEFAULT_FINGERPRINT.to_owned()),
            label: Self::DEFAULT_LABEL.to_owned(),
        }
    }
}

/// The inputs that select which identity a cached certificate belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct IdentityInputs {
    /// `--role-arn`.
    pub role_arn: String,
    /// The final profile name (`--profile-name` or its environment fallbacks).
    pub profile_name: String,
    /// `--profile-file` as typed, when it names an INI credentials file.
    pub ini_path: String,
    /// `--profile-file` as typed, when it names an aliyun CLI `config.json`.
    pub cli_config_path: String,
    /// What the environment selects on top (not part of the Go name; binds the entry).
    pub selected: SelectedIdentity,
}

impl IdentityInputs {
    /// The lower-case hex SHA-1 suffix, or `None` when every input is empty.
    pub fn digest(&self) -> Option<String> {
        let parts = [
            &self.role_arn,
            &self.profile_name,
            &self.ini_path,
            &self.cli_config_path,
        ];
        if parts.iter().all(|p| p.is_empty()) {
            return None;
        }
        let mut hasher = Sha1::new();
        for part in parts {
            hasher.update(part.as_bytes());
        }
        Some(hex::encode(hasher.finalize()))
    }
}

/// Identifies one cached cluster credential.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The cluster.
    pub cluster_id: ClusterId,
    /// The ExecCredential version (part of the file name, as in the Go tool).
    pub api_version: ApiVersion,
    /// Which identity the credential belongs to.
    pub identity: IdentityInputs,
}

impl CacheKey {
    /// The cache file name inside the cache directory. Safe as a single path component: the
    /// cluster id is validated, the rest is fixed text and hex.
    pub fn file_name(&self) -> String {
        let mut name = format!(
            "{}-exec-auth-credential-{}",
            self.cluster_id,
            self.api_version.short()
        );
        if let Some(digest) = self.identity.digest() {
            name.push('-');
            name.push_str(&digest);
        }
        name.push_str(".json");
        name
    }

    /// The file of this identity's own entry: the Go name followed by `.id-<fingerprint>`. The
    /// Go tool never reads it (it reads exact names); ours holds the same JSON plus the
    /// binding, so two identities that share the Go name do not evict each other. Like the
    /// lock file (`<Go name>.lock`), it does not end in `.json`, so nothing that looks for the
    /// Go tool's files mistakes it for one.
    pub fn scoped_file_name(&self) -> String {
        scoped_file_name(&self.file_name(), &self.identity.selected.fingerprint)
    }

    /// Whether `name` is another identity's own entry under this key's Go name (what a write
    /// may clean up once its certificate has expired).
    pub fn is_another_identitys_entry(&self, name: &str) -> bool {
        split_scoped_file_name(name).is_some_and(|(go_name, fingerprint)| {
            go_name == self.file_name() && fingerprint != self.identity.selected.fingerprint
        })
    }

    /// The file next to the Go-named one that says which identity wrote it (absent when the Go
    /// tool did): `<Go name>.identity`.
    pub fn binding_file_name(&self) -> String {
        binding_file_name(&self.file_name())
    }
}

/// Ending of the files that say who wrote a Go-named cache file: `<Go name>.identity`.
pub const BINDING_SUFFIX: &str = ".identity";
/// What follows the Go name in an identity's own entry: `<Go name>.id-<fingerprint>`.
pub const SCOPED_INFIX: &str = ".id-";

/// `go_name` scoped to `fingerprint`: `<go_name>.id-<fingerprint>`.
pub fn scoped_file_name(go_name: &str, fingerprint: &IdentityFingerprint) -> String {
    format!("{go_name}{SCOPED_INFIX}{fingerprint}")
}

/// The binding file of `go_name`: `<go_name>.identity`.
pub fn binding_file_name(go_name: &str) -> String {
    format!("{go_name}{BINDING_SUFFIX}")
}

/// Splits an identity's own file name `<Go name>.id-<fingerprint>` into the Go name (which
/// ends in `.json`) and the fingerprint; `None` for any other name.
pub fn split_scoped_file_name(name: &str) -> Option<(String, IdentityFingerprint)> {
    let (go_name, fingerprint) = name.rsplit_once(SCOPED_INFIX)?;
    let fingerprint = IdentityFingerprint::parse(fingerprint)?;
    (go_name.len() > ".json".len() && go_name.ends_with(".json"))
        .then(|| (go_name.to_owned(), fingerprint))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLUSTER: &str = "c0123456789abcdef0123456789abcdef";

    fn key(api: ApiVersion, identity: IdentityInputs) -> String {
        CacheKey {
            cluster_id: ClusterId::parse(CLUSTER).unwrap_or_else(|e| panic!("{e}")),
            api_version: api,
            identity,
        }
        .file_name()
    }

    /// Every example of `exec-credential.md` §4.2.
    #[test]
    fn matches_the_go_tool_file_names() {
        let ids = |role: &str, profile: &str, ini: &str, cli: &str| IdentityInputs {
            role_arn: role.into(),
            profile_name: profile.into(),
            ini_path: ini.into(),
            cli_config_path: cli.into(),
            ..IdentityInputs::default()
        };
        let role = "acs:ram::1234567890123456:role/ack-dev";
        for (api, identity, suffix) in [
            (ApiVersion::V1Beta1, IdentityInputs::default(), "v1beta1"),
            (ApiVersion::V1, IdentityInputs::default(), "v1"),
            (
                ApiVersion::V1Beta1,
                ids(role, "", "", ""),
                "v1beta1-a78ab02498e4cf3ff9015da8194457cd3dba562a",
            ),
            (
                ApiVersion::V1Beta1,
                ids("", "dev", "", ""),
                "v1beta1-34c6fceca75e456f25e7e99531e2425c6c1de443",
            ),
            (
                ApiVersion::V1Beta1,
                ids(role, "dev", "", ""),
                "v1beta1-24defc6877631c0ccf2d4791dd822d5b2f15b1fc",
            ),
            (
                ApiVersion::V1Beta1,
                ids("", "", "", "~/.aliyun/config.json"),
                "v1beta1-d700475c551ec4ec74150a09ee812c9e52b32b4a",
            ),
            (
                ApiVersion::V1Beta1,
                ids("", "", "/etc/ack/credentials", ""),
                "v1beta1-7c4dc60c901db09f49385d4e548f619a9e546076",
            ),
        ] {
            assert_eq!(
                key(api, identity),
                format!("{CLUSTER}-exec-auth-credential-{suffix}.json")
            );
        }
    }

    #[test]
    fn the_environment_identity_is_not_part_of_the_go_name_but_scopes_our_own() {
        let fingerprint = IdentityFingerprint::parse("0123456789abcdef")
            .unwrap_or_else(|| panic!("a valid fingerprint"));
        let bound = |profile: &str| CacheKey {
            cluster_id: ClusterId::parse(CLUSTER).unwrap_or_else(|e| panic!("{e}")),
            api_version: ApiVersion::V1,
            identity: IdentityInputs {
                profile_name: profile.into(),
                selected: SelectedIdentity {
                    fingerprint: fingerprint.clone(),
                    label: "env:LTAI…abcd".into(),
                },
                ..IdentityInputs::default()
            },
        };
        let plain = bound("");
        assert_eq!(
            plain.file_name(),
            format!("{CLUSTER}-exec-auth-credential-v1.json"),
            "the Go name ignores the environment"
        );
        assert_eq!(
            plain.scoped_file_name(),
            format!("{CLUSTER}-exec-auth-credential-v1.json.id-0123456789abcdef")
        );
        assert_eq!(
            plain.binding_file_name(),
            format!("{CLUSTER}-exec-auth-credential-v1.json.identity")
        );
        let dev = bound("dev");
        let scoped = dev.scoped_file_name();
        assert_eq!(
            scoped,
            format!(
                "{CLUSTER}-exec-auth-credential-v1-34c6fceca75e456f25e7e99531e2425c6c1de443.json.id-0123456789abcdef"
            )
        );
        assert_eq!(
            split_scoped_file_name(&scoped),
            Some((dev.file_name(), fingerprint))
        );
        for other in [
            dev.file_name(),
            dev.binding_file_name(),
            format!("{CLUSTER}-exec-auth-credential-v1.json.id-0123456789ABCDEF"),
            format!("{CLUSTER}-exec-auth-credential-v1.json.id-0123"),
            format!("{CLUSTER}-exec-auth-credential-v1.json.id-0123456789abcdef.keyring.json"),
            format!("{CLUSTER}-exec-auth-credential-v1.id-0123456789abcdef"),
            ".json.id-0123456789abcdef".to_owned(),
        ] {
            assert_eq!(split_scoped_file_name(&other), None, "{other}");
        }
        // Another identity's entry is one under the same Go name with another fingerprint.
        let other_fingerprint = IdentityFingerprint::parse("fedcba9876543210")
            .unwrap_or_else(|| panic!("a valid fingerprint"));
        let another = scoped_file_name(&dev.file_name(), &other_fingerprint);
        assert!(dev.is_another_identitys_entry(&another));
        assert!(!dev.is_another_identitys_entry(&scoped), "its own");
        assert!(!dev.is_another_identitys_entry(&dev.file_name()));
        assert!(
            !plain.is_another_identitys_entry(&another),
            "another Go name"
        );
    }

    #[test]
    fn fingerprints_are_sixteen_lower_case_hex_digits() {
        assert!(IdentityFingerprint::parse("0123456789abcdef").is_some());
        for bad in [
            "",
            "0123456789abcde",
            "0123456789abcdef0",
            "0123456789abcdeg",
            "../../../../x",
        ] {
            assert_eq!(IdentityFingerprint::parse(bad), None, "{bad}");
        }
        assert_eq!(
            IdentityFingerprint::from_digest(&[0xab; 32]).map(|f| f.to_string()),
            Some("abababababababab".to_owned())
        );
        assert_eq!(IdentityFingerprint::from_digest(&[1, 2]), None);
        assert!(SelectedIdentity::default().is_default());
        assert!(
            IdentityFingerprint::parse(SelectedIdentity::DEFAULT_FINGERPRINT).is_some(),
            "the default fingerprint is well formed"
        );
    }
}
