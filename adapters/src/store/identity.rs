//! Which identity a cache entry belongs to, beyond what the Go tool's file name records.
//!
//! The Go name covers `--role-arn`, the profile name and `--profile-file`, but not the
//! environment: two AccessKeys chosen only through `ALIBABA_CLOUD_ACCESS_KEY_ID` share one file,
//! and the Go tool serves the second the first one's certificate. So every entry we write is
//! bound to a fingerprint of what the environment selects ([`select`]), and a hit for another
//! fingerprint is a miss.
//!
//! **The fingerprint.** The first 64 bits (16 hex digits) of SHA-256 over a domain-separation
//! tag ([`DOMAIN`]) and a length-prefixed list of the selectors that are set: the AccessKey ID
//! the chain would read (first of `ALIBABA_CLOUD_ACCESS_KEY_ID` and its aliases), the variables
//! of [`SELECTOR_VARS`], and `--credential-type` when it is not `auto`. No salt: an AccessKey ID
//! carries about 120 random bits, far beyond brute force, so the fingerprint can only confirm an
//! ID someone already has, the same exposure as the Go tool's SHA-1 of the role ARN in the file
//! name; and an unsalted fingerprint names the same identity alike in every entry, which is what
//! lets `cache list` mark the ones the current environment selects. Computing it reads a dozen
//! variables from the snapshot and hashes a few hundred bytes: no file, no network, no
//! credential chain, so the hit path can afford it.
//!
//! It is deliberately over-inclusive: a variable the chain would ignore under the current flags
//! (an AccessKey with `--profile-file`, say) still counts. Changing it costs one extra fetch;
//! leaving out one that matters would serve the wrong certificate.
//!
//! **Where it is kept.** The file store writes an identity's entry to its own file
//! (`CacheKey::scoped_file_name`, the ExecCredential plus an `ackRamTool` member), and the same
//! certificate to the Go-named file, byte for byte what the Go tool writes, with a small
//! [`Binding`] file next to it naming the identity and the certificate's SHA-256. The keyring
//! store records it in its metadata file.

use crate::env::Environment;
use crate::sources::chain::CredentialType;
use crate::sources::env::ACCESS_KEY_ID_VARS;
use ack_ram_domain::ClusterCredential;
use ack_ram_domain::model::{IdentityFingerprint, SelectedIdentity};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Domain separation: these fingerprints are not the hash of anything else.
pub const DOMAIN: &[u8] = b"ack-ram-tool/cache-identity/v1\0";

/// Variables that select a credential source or identity, besides the AccessKey ID. Their
/// values take part in the fingerprint whenever they are set.
pub const SELECTOR_VARS: &[&str] = &[
    "ALIBABA_CLOUD_ROLE_ARN",
    "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
    "ALIBABA_CLOUD_CREDENTIALS_URI",
    "ALIBABA_CLOUD_ECS_METADATA",
    "ALIBABA_CLOUD_CREDENTIALS_FILE",
    "ALIBABA_CLOUD_PROFILE",
];

/// Longest label written (characters).
const MAX_LABEL: usize = 48;

/// The identity `env` and `credential_type` select: its fingerprint and a label for people.
pub fn select(env: &Environment, credential_type: CredentialType) -> SelectedIdentity {
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    let mut put = |name: &str, value: &str| {
        for part in [name, value] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
    };
    if credential_type != CredentialType::Auto {
        put("credential-type", credential_type.as_str());
    }
    let access_key_id = env.first_of(ACCESS_KEY_ID_VARS).map(|(_, id)| id);
    if let Some(id) = access_key_id {
        // Whichever alias supplied it: the same AccessKey is the same identity.
        put("access-key-id", id);
    }
    for var in SELECTOR_VARS {
        if let Some(value) = env.get(var) {
            put(var, value);
        }
    }
    let digest = hasher.finalize();
    SelectedIdentity {
        fingerprint: IdentityFingerprint::from_digest(&digest)
            .unwrap_or_else(|| unreachable!("SHA-256 has 32 bytes")),
        label: label(env, credential_type, access_key_id),
    }
}

/// A short description of the identity, never the whole AccessKey ID: `env:LTAI…abcd` (first
/// and last four characters of an ID of 12 or more, nothing of a shorter one), `rrsa:<role>`,
/// `ecs:<role>`, `file:<profile>`, `profile:<name>`, `env:credentials-uri`, `imds`,
/// `keyring`, or `default` when the environment selects nothing; `+role/<name>` when
/// `ALIBABA_CLOUD_ROLE_ARN` is assumed on top of an AccessKey.
fn label(
    env: &Environment,
    credential_type: CredentialType,
    access_key_id: Option<&str>,
) -> String {
    let role = env.get("ALIBABA_CLOUD_ROLE_ARN");
    let text = match credential_type {
        CredentialType::Imds => "imds".to_owned(),
        CredentialType::Keyring => "keyring".to_owned(),
        CredentialType::Auto => {
            if let Some(id) = access_key_id {
                let mut text = format!("env:{}", mask(id));
                if let Some(role) = role {
                    text.push_str(&format!("+role/{}", role_name(role)));
                }
                text
            } else if let (Some(role), Some(_)) = (role, env.get("ALIBABA_CLOUD_OIDC_PROVIDER_ARN"))
            {
                format!("rrsa:{}", role_name(role))
            } else if env.get("ALIBABA_CLOUD_CREDENTIALS_URI").is_some() {
                "env:credentials-uri".to_owned()
            } else if let Some(role) = env.get("ALIBABA_CLOUD_ECS_METADATA") {
                format!("ecs:{role}")
            } else if env.get("ALIBABA_CLOUD_CREDENTIALS_FILE").is_some() {
                format!(
                    "file:{}",
                    env.get("ALIBABA_CLOUD_PROFILE").unwrap_or("default")
                )
            } else if let Some(profile) = env.get("ALIBABA_CLOUD_PROFILE") {
                format!("profile:{profile}")
            } else {
                SelectedIdentity::DEFAULT_LABEL.to_owned()
            }
        }
    };
    printable(&text)
}

/// `LTAI…abcd`: the first and last four characters of an ID of at least 12, else nothing.
fn mask(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() < 12 {
        return "…".to_owned();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// The role name of `acs:ram::<account>:role/<name>` (the account is left out).
fn role_name(arn: &str) -> &str {
    arn.rsplit_once('/').map_or("?", |(_, name)| name)
}

/// Control and other invisible characters as `?`, at most [`MAX_LABEL`] characters.
fn printable(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(MAX_LABEL)
        .collect();
    if text.chars().count() > MAX_LABEL {
        out.pop();
        out.push('…');
    }
    out
}

/// Lower-case hex SHA-256 of a certificate's PEM text: what ties a [`Binding`] to one
/// certificate.
pub fn certificate_sha256(pem: &str) -> String {
    crate::keychain::sha256_hex(pem.as_bytes())
}

/// Who wrote a Go-named cache file (`CacheKey::binding_file_name`): the identity, and which
/// certificate it wrote. A binding whose certificate is not the one in the file (the Go tool
/// rewrote it, or a write was interrupted between the two renames) binds nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The identity the certificate was issued to.
    pub selected: SelectedIdentity,
    /// SHA-256 of the certificate's PEM text, lower-case hex.
    pub certificate_sha256: String,
}

const BINDING_FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct BindingWire {
    format: u32,
    identity: IdentityWire,
    #[serde(rename = "certificateSha256")]
    certificate_sha256: String,
}

#[derive(Serialize, Deserialize)]
struct IdentityWire {
    fingerprint: String,
    label: String,
}

impl Binding {
    /// The binding of `credential`, issued to `selected`.
    pub fn of(selected: &SelectedIdentity, credential: &ClusterCredential) -> Self {
        Self {
            selected: selected.clone(),
            certificate_sha256: certificate_sha256(&credential.client_certificate_pem),
        }
    }

    /// Whether this binding is about `credential`'s certificate.
    pub fn covers(&self, credential: &ClusterCredential) -> bool {
        self.certificate_sha256 == certificate_sha256(&credential.client_certificate_pem)
    }

    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let wire = BindingWire {
            format: BINDING_FORMAT,
            identity: IdentityWire {
                fingerprint: self.selected.fingerprint.to_string(),
                label: self.selected.label.clone(),
            },
            certificate_sha256: self.certificate_sha256.clone(),
        };
        // Strings and a number into memory: cannot fail; keep the fallback total.
        serde_json::to_vec_pretty(&wire).unwrap_or_default()
    }

    /// Reads a binding file; `None` for anything that is not a well-formed one of ours.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let wire: BindingWire = serde_json::from_slice(bytes).ok()?;
        let well_formed = wire.format == BINDING_FORMAT
            && wire.certificate_sha256.len() == 64
            && wire
                .certificate_sha256
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            && wire.identity.label.chars().count() <= MAX_LABEL
            && !wire.identity.label.chars().any(char::is_control);
        well_formed.then_some(())?;
        Some(Self {
            selected: SelectedIdentity {
                fingerprint: IdentityFingerprint::parse(&wire.identity.fingerprint)?,
                label: wire.identity.label,
            },
            certificate_sha256: wire.certificate_sha256,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ack_ram_domain::Secret;
    use chrono::{DateTime, Utc};

    fn env(vars: &[(&str, &str)]) -> Environment {
        vars.iter().copied().collect()
    }

    fn auto(vars: &[(&str, &str)]) -> SelectedIdentity {
        select(&env(vars), CredentialType::Auto)
    }

    #[test]
    fn an_environment_that_selects_nothing_is_the_domain_default() {
        assert_eq!(auto(&[]), SelectedIdentity::default());
        assert_eq!(
            auto(&[
                ("HOME", "/home/u"),
                ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s")
            ]),
            SelectedIdentity::default(),
            "variables that select no identity do not count"
        );
        assert_eq!(
            auto(&[("ALIBABA_CLOUD_ACCESS_KEY_ID", "")]),
            SelectedIdentity::default(),
            "an empty variable is unset"
        );
    }

    #[test]
    fn each_selector_changes_the_fingerprint_and_aliases_do_not() {
        let ak = "LTAI5tExampleAccessKeyId1";
        let base = auto(&[("ALIBABA_CLOUD_ACCESS_KEY_ID", ak)]);
        for alias in ACCESS_KEY_ID_VARS {
            assert_eq!(
                auto(&[(alias, ak)]).fingerprint,
                base.fingerprint,
                "{alias}"
            );
        }
        let mut seen = vec![
            SelectedIdentity::default().fingerprint,
            base.fingerprint.clone(),
        ];
        let mut distinct = |id: SelectedIdentity, what: &str| {
            assert!(!seen.contains(&id.fingerprint), "{what}: {id:?}");
            seen.push(id.fingerprint);
        };
        distinct(
            auto(&[("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tExampleAccessKeyId2")]),
            "another AccessKey",
        );
        for var in SELECTOR_VARS {
            distinct(auto(&[(var, "x")]), var);
            distinct(
                auto(&[("ALIBABA_CLOUD_ACCESS_KEY_ID", ak), (var, "x")]),
                var,
            );
        }
        distinct(
            select(&Environment::default(), CredentialType::Imds),
            "--credential-type imds",
        );
        distinct(
            select(&Environment::default(), CredentialType::Keyring),
            "--credential-type keyring",
        );
        // Length prefixes: moving text between two values is another identity.
        distinct(
            auto(&[
                ("ALIBABA_CLOUD_ROLE_ARN", "ab"),
                ("ALIBABA_CLOUD_PROFILE", "c"),
            ]),
            "ab|c",
        );
        distinct(
            auto(&[
                ("ALIBABA_CLOUD_ROLE_ARN", "a"),
                ("ALIBABA_CLOUD_PROFILE", "bc"),
            ]),
            "a|bc",
        );
    }

    #[test]
    fn the_fingerprint_is_pinned() {
        // The files of one version must be read by the next: changing the encoding is a new
        // DOMAIN tag, never a silent change.
        assert_eq!(
            Some(SelectedIdentity::default().fingerprint),
            IdentityFingerprint::from_digest(&Sha256::digest(DOMAIN))
        );
        assert_eq!(
            auto(&[("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tExampleAccessKeyId1")])
                .fingerprint
                .as_str(),
            "bfa0b056118926ca"
        );
    }

    #[test]
    fn labels_describe_without_revealing() {
        let label = |vars: &[(&str, &str)]| auto(vars).label;
        let id = "LTAI5tExampleAccessKeyIdabcd";
        assert_eq!(label(&[("ALICLOUD_ACCESS_KEY", id)]), "env:LTAI…abcd");
        assert_eq!(
            label(&[
                ("ALIBABA_CLOUD_ACCESS_KEY_ID", id),
                (
                    "ALIBABA_CLOUD_ROLE_ARN",
                    "acs:ram::1234567890123456:role/ack-dev"
                )
            ]),
            "env:LTAI…abcd+role/ack-dev"
        );
        assert_eq!(
            label(&[("ALIBABA_CLOUD_ACCESS_KEY_ID", "AKID-short")]),
            "env:…"
        );
        assert_eq!(
            label(&[
                ("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/pod-role"),
                (
                    "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
                    "acs:ram::1:oidc-provider/p"
                ),
            ]),
            "rrsa:pod-role"
        );
        assert_eq!(
            label(&[("ALIBABA_CLOUD_CREDENTIALS_URI", "http://127.0.0.1/c")]),
            "env:credentials-uri"
        );
        assert_eq!(label(&[("ALIBABA_CLOUD_ECS_METADATA", "r")]), "ecs:r");
        assert_eq!(
            label(&[
                ("ALIBABA_CLOUD_CREDENTIALS_FILE", "/x"),
                ("ALIBABA_CLOUD_PROFILE", "p")
            ]),
            "file:p"
        );
        assert_eq!(label(&[("ALIBABA_CLOUD_PROFILE", "dev")]), "profile:dev");
        assert_eq!(label(&[]), "default");
        assert_eq!(
            select(
                &env(&[("ALIBABA_CLOUD_ACCESS_KEY_ID", id)]),
                CredentialType::Imds
            )
            .label,
            "imds"
        );
        let odd = label(&[(
            "ALIBABA_CLOUD_PROFILE",
            &format!("a\u{1b}[31m{}", "x".repeat(80)),
        )]);
        assert!(!odd.chars().any(char::is_control), "{odd:?}");
        assert_eq!(odd.chars().count(), MAX_LABEL);
        for vars in [
            &[("ALIBABA_CLOUD_ACCESS_KEY_ID", id)][..],
            &[(
                "ALIBABA_CLOUD_ACCESS_KEY_ID",
                "STS.NUgYrLnoC37mZZCNnAbez2xx",
            )][..],
        ] {
            let shown = format!("{:?}", auto(vars));
            assert!(!shown.contains(vars[0].1), "{shown}");
        }
    }

    fn credential(cert: &str) -> ClusterCredential {
        ClusterCredential {
            client_certificate_pem: cert.into(),
            client_key_pem: Secret::new("KEY"),
            expiration: DateTime::<Utc>::from_timestamp(2_000_000_000, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn a_binding_round_trips_and_covers_only_its_certificate() {
        let selected = auto(&[("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tExampleAccessKeyId1")]);
        let binding = Binding::of(&selected, &credential("CERT A"));
        let bytes = binding.encode();
        assert_eq!(Binding::parse(&bytes), Some(binding.clone()));
        assert!(binding.covers(&credential("CERT A")));
        assert!(!binding.covers(&credential("CERT B")));
        let text = String::from_utf8(bytes).unwrap_or_default();
        assert!(!text.contains("LTAI5tExampleAccessKeyId1"), "{text}");
        for bad in [
            "",
            "{",
            "null",
            r#"{"format":2,"identity":{"fingerprint":"0123456789abcdef","label":"x"},"certificateSha256":""}"#,
            &text.replace(selected.fingerprint.as_str(), "zz"),
            &text.replace(&binding.certificate_sha256, "00"),
        ] {
            assert_eq!(Binding::parse(bad.as_bytes()), None, "{bad}");
        }
    }
}
