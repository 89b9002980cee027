//! Token mode (`get-token`): a pre-signed STS `GetCallerIdentity` request, signed with
//! ACS3-HMAC-SHA256 (signature V3), for the ack-ram-authenticator webhook.
//!
//! The plugin sends nothing: the token *is* the signed request. The authenticator replays it
//! against STS and learns the caller's identity from the answer. No maintained Rust crate
//! implements Alibaba Cloud's V3 signature, so it is written here from
//! `shared/reference/apis.md` §7 and checked against a token produced by the Go tool
//! (`tests/fixtures/vectors/token-v3.json`: the decoded token, canonical request, string to sign
//! and signature).
//!
//! ```text
//! canonical query    = pairs sorted by key (byte-wise), key and value percent-encoded
//!                      (unreserved A-Z a-z 0-9 - _ . ~ kept, every other byte %XX upper-case),
//!                      joined as k=v with &
//! canonical headers  = every header named x-acs-*, host or content-type, name lower-cased,
//!                      value trimmed, sorted by name, one "name:value\n" each
//! canonical request  = METHOD \n path \n canonical query \n canonical headers \n
//!                      signed names joined with ; \n hex SHA-256 of the payload
//! string to sign     = "ACS3-HMAC-SHA256\n" + hex SHA-256 of the canonical request
//! signature          = hex HMAC-SHA256(AccessKeySecret, string to sign)
//! token              = "k8s-ack-v2." + standard base64 (padded) of the compact JSON
//!                      {"clusterId","method","path","query","headers"}
//! ```
//!
//! What the Go tool's vector pins down, beyond apis.md:
//! - no `x-acs-signature-nonce` is sent (the Go tool has it commented out), so [`TokenRequest::nonce`]
//!   `None` means *no nonce header*;
//! - the JSON keys come in struct order (`clusterId`, `method`, `path`, `query`, `headers`) and
//!   the `query` and `headers` objects are Go maps, so their keys are sorted byte-wise
//!   (`Authorization` < `user-agent` < `x-acs-*`);
//! - `Authorization` keeps its capital A, every other header name is lower case;
//! - the expiration is the signing time plus 10 minutes;
//! - header values travel in the token as they are; only the canonical form trims them.
//!
//! Go's `encoding/json` escapes `<`, `>`, `&`, U+2028 and U+2029 inside strings; the JSON is
//! post-processed to do the same, so tokens stay byte-identical to the Go tool's for any user
//! agent or extra query value.

use crate::env::Environment;
use ack_ram_domain::{AccessCredentials, Secret};
use base64::Engine;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// What every token starts with.
pub const TOKEN_PREFIX: &str = "k8s-ack-v2.";
/// How long a token is reported valid (the Go tool: 15 minutes minus a 5-minute margin).
pub const TOKEN_LIFETIME: TimeDelta = TimeDelta::minutes(10);
/// The STS action that is pre-signed.
pub const ACTION: &str = "GetCallerIdentity";
/// The STS API version.
pub const VERSION: &str = "2015-04-01";
/// The only header names (compared case-insensitively) copied from the signed request into the
/// token; `user-agent` is added on top.
pub const TOKEN_HEADERS: [&str; 9] = [
    "x-acs-action",
    "x-acs-version",
    "authorization",
    "x-acs-signature-nonce",
    "x-acs-date",
    "x-acs-content-sha256",
    "x-acs-content-sm3",
    "x-acs-security-token",
    "ackclusterid",
];

/// The inputs of one token.
#[derive(Clone, Copy, Debug)]
pub struct TokenRequest<'a> {
    /// The cluster the token is for (query `ACKClusterId`, and `clusterId` for audit).
    pub cluster_id: &'a str,
    /// Who signs.
    pub credentials: &'a AccessCredentials,
    /// Signing time (`x-acs-date`, whole seconds; the fraction is dropped).
    pub now: DateTime<Utc>,
    /// An `x-acs-signature-nonce` to sign and send. The Go tool sends none, so `None` (or an
    /// empty string) means no nonce header at all.
    pub nonce: Option<&'a str>,
    /// Extra query pairs (see [`extra_query_from_env`]); signed and carried in the token.
    pub extra_query: &'a [(String, String)],
    /// The `user-agent` carried in the token (not signed).
    pub user_agent: &'a str,
}

/// A token for the ack-ram-authenticator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// `k8s-ack-v2.` + base64(JSON). A bearer credential: whoever holds it is the caller for as
    /// long as STS accepts the signature.
    pub value: Secret,
    /// Signing time + [`TOKEN_LIFETIME`].
    pub expiration: DateTime<Utc>,
}

/// The JSON inside the token, fields in the Go struct's order.
#[derive(Serialize)]
struct WireToken<'a> {
    #[serde(rename = "clusterId")]
    cluster_id: &'a str,
    method: &'a str,
    path: &'a str,
    query: BTreeMap<&'a str, &'a str>,
    headers: BTreeMap<&'a str, &'a str>,
}

/// Builds and signs a token. Pure: no clock, no randomness, no network.
pub fn presign(request: &TokenRequest<'_>) -> Token {
    const METHOD: &str = "POST";
    const PATH: &str = "/";
    let now = request.now.trunc_subsecs(0);
    let credentials = request.credentials;

    // The query: the extra pairs, then the cluster id (which wins a clash on the exact key).
    let mut query: BTreeMap<&str, &str> = request
        .extra_query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    query.insert("ACKClusterId", request.cluster_id);
    let query_pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();

    let mut headers: Vec<(String, String)> = vec![
        ("x-acs-action".into(), ACTION.into()),
        ("x-acs-version".into(), VERSION.into()),
        (
            "x-acs-date".into(),
            now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
        (
            "x-acs-content-sha256".into(),
            v3::EMPTY_PAYLOAD_SHA256.into(),
        ),
    ];
    if let Some(nonce) = request.nonce.filter(|n| !n.is_empty()) {
        headers.push(("x-acs-signature-nonce".into(), nonce.to_owned()));
    }
    if let Some(token) = credentials
        .security_token
        .as_ref()
        .filter(|t| !t.is_empty())
    {
        headers.push(("x-acs-security-token".into(), token.expose().to_owned()));
    }

    let (canonical, signed_headers) = v3::canonical_request(
        METHOD,
        PATH,
        &query_pairs,
        &headers,
        v3::EMPTY_PAYLOAD_SHA256,
    );
    // The canonical request holds the security token: keep it where it is wiped on drop.
    let canonical = Secret::new(canonical);
    let signature = v3::signature(
        credentials.access_key_secret.expose(),
        &v3::string_to_sign(canonical.expose()),
    );
    let authorization = format!(
        "{} Credential={},SignedHeaders={signed_headers},Signature={signature}",
        v3::ALGORITHM,
        credentials.access_key_id
    );

    let mut token_headers: BTreeMap<&str, &str> = BTreeMap::new();
    token_headers.insert("user-agent", request.user_agent);
    token_headers.insert("Authorization", &authorization);
    for (name, value) in &headers {
        if TOKEN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            token_headers.insert(name, value);
        }
    }
    let wire = WireToken {
        cluster_id: request.cluster_id,
        method: METHOD,
        path: PATH,
        query,
        headers: token_headers,
    };
    let json = Secret::new(go_json(&wire));

    let mut value = String::with_capacity(TOKEN_PREFIX.len() + json.expose().len() * 4 / 3 + 4);
    value.push_str(TOKEN_PREFIX);
    base64::engine::general_purpose::STANDARD.encode_string(json.expose(), &mut value);

    // Move the header values (one may be the security token) into wiped-on-drop storage.
    drop(wire);
    for (_, header_value) in headers {
        drop(Secret::new(header_value));
    }

    Token {
        value: Secret::new(value),
        expiration: now + TOKEN_LIFETIME,
    }
}

/// Compact JSON as Go's `json.Marshal` writes it: serde_json's output with `<`, `>`, `&`,
/// U+2028 and U+2029 escaped (they can only occur inside strings, so a plain pass is safe).
fn go_json(value: &impl Serialize) -> String {
    let plain = match serde_json::to_string(value) {
        Ok(json) => Secret::new(json),
        // Serialising string maps cannot fail.
        Err(e) => unreachable!("token JSON: {e}"),
    };
    let mut out = String::with_capacity(plain.expose().len() + 64);
    for c in plain.expose().chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Extra query pairs from the environment: every variable whose name starts with `prefix` and
/// whose value is non-empty, key = rest of the name lower-cased, sorted. An empty `prefix`
/// yields nothing (as in the Go tool); so does a variable named exactly `prefix` (an empty
/// query key would only make STS reject the token). If two names lower-case to the same key,
/// the one later in byte order wins.
pub fn extra_query_from_env(env: &Environment, prefix: &str) -> Vec<(String, String)> {
    if prefix.is_empty() {
        return Vec::new();
    }
    let pairs: BTreeMap<String, String> = env
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .filter_map(|(name, value)| {
            let key = name.strip_prefix(prefix)?.to_lowercase();
            (!key.is_empty()).then(|| (key, value.to_owned()))
        })
        .collect();
    pairs.into_iter().collect()
}

/// The ACS3-HMAC-SHA256 (signature V3) pieces.
pub mod v3 {
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::{Digest, Sha256};
    use std::collections::BTreeMap;
    use std::fmt::Write;

    /// The algorithm name, first line of the string to sign and of the Authorization header.
    pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";
    /// Hex SHA-256 of an empty body.
    pub const EMPTY_PAYLOAD_SHA256: &str =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// Percent-encoding: unreserved `A-Za-z0-9-_.~` kept, every other byte `%XX` upper-case
    /// (so a space is `%20`, never `+`).
    pub fn percent_encode(s: &str) -> String {
        crate::percent::encode(s)
    }

    /// Sorted (by key, then value, byte-wise), encoded `k=v&...`.
    pub fn canonical_query(query: &[(String, String)]) -> String {
        crate::percent::canonical_query(query)
    }

    /// The canonical request and the signed header names (`;`-joined).
    ///
    /// `path` is used as given (already encoded). Headers may come in any order and case; those
    /// named `x-acs-*`, `host` or `content-type` are signed, values trimmed, and a name given
    /// more than once gets its values sorted and joined with `,` (as the Go SDK does).
    pub fn canonical_request(
        method: &str,
        path: &str,
        query: &[(String, String)],
        headers: &[(String, String)],
        payload_sha256_hex: &str,
    ) -> (String, String) {
        let mut signed: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            if name.starts_with("x-acs-") || name == "host" || name == "content-type" {
                signed.entry(name).or_default().push(value.trim());
            }
        }
        let mut canonical_headers = String::new();
        for (name, values) in &mut signed {
            values.sort_unstable();
            canonical_headers.push_str(name);
            canonical_headers.push(':');
            canonical_headers.push_str(&values.join(","));
            canonical_headers.push('\n');
        }
        let names = signed
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(";");
        let canonical = format!(
            "{method}\n{path}\n{}\n{canonical_headers}\n{names}\n{payload_sha256_hex}",
            canonical_query(query)
        );
        (canonical, names)
    }

    /// `ACS3-HMAC-SHA256\n` + hex SHA-256 of the canonical request.
    pub fn string_to_sign(canonical_request: &str) -> String {
        format!(
            "{ALGORITHM}\n{}",
            hex(&Sha256::digest(canonical_request.as_bytes()))
        )
    }

    /// Hex HMAC-SHA256 of the string to sign, keyed with the AccessKey secret.
    pub fn signature(secret: &str, string_to_sign: &str) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
            unreachable!("HMAC takes keys of any length")
        };
        mac.update(string_to_sign.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// Hex SHA-256 of a payload.
    pub fn payload_sha256_hex(payload: &[u8]) -> String {
        hex(&Sha256::digest(payload))
    }

    fn hex(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            let _ = write!(out, "{b:02x}");
        }
        out
    }
}

#[cfg(test)]
mod tests;
