//! Credentials from a credentials URI: a local HTTP service (a sidecar, a vault agent, a test
//! double) that answers `GET <uri>` with an Alibaba Cloud credentials document
//! (`credential-sources.md` §7).
//!
//! The URI may carry a token in its query string or user info, so messages name it only as
//! scheme, host, port and path. The answer is read with a size cap and never echoed: a failing
//! answer is described by its status, content type and size. The credentials-document parser
//! here is shared with the ECS metadata source, which answers in the same shape.

use crate::http::{BodyError, error_chain, read_body_capped};
use ack_ram_domain::ports::{AccessCredentialProvider, ProviderError};
use ack_ram_domain::{AccessCredentials, Secret};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use url::Url;

const SOURCE: &str = "credentials URI";
/// Largest answer read; a credentials document is well under 2 KiB.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Fetches credentials from a credentials URI.
pub struct CredentialsUriProvider {
    http: reqwest::Client,
    url: Url,
    /// The URI without user info, query or fragment: what messages and logs show.
    shown: String,
}

impl CredentialsUriProvider {
    /// A provider for `uri` (an `http://` or `https://` URL), sending with `http`.
    pub fn new(http: reqwest::Client, uri: &str) -> Result<Self, ProviderError> {
        let url = Url::parse(uri.trim())
            .map_err(|e| failed(format!("the credentials URI is not a valid URL ({e})")))?;
        let shown = redact(&url);
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(failed(format!(
                "the credentials URI {shown} uses the scheme {:?}; only http and https are supported",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(failed(format!("the credentials URI {shown} has no host")));
        }
        Ok(Self { http, url, shown })
    }

    async fn fetch(&self) -> Result<AccessCredentials, ProviderError> {
        tracing::debug!(uri = %self.shown, "fetching credentials from a credentials URI");
        let response = self.http.get(self.url.clone()).send().await.map_err(|e| {
            failed(format!(
                "could not reach {}: {}",
                self.shown,
                error_chain(&e)
            ))
        })?;
        let status = response.status();
        let content_type = content_type(&response);
        let body = read_body_capped(response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge { .. } => failed(format!(
                    "the answer from {} is larger than {} KiB, too large for a credentials document",
                    self.shown,
                    MAX_RESPONSE_BYTES / 1024
                )),
                BodyError::Read(_) => failed(format!("reading the answer from {}: {e}", self.shown)),
            })?;
        tracing::debug!(
            uri = %self.shown,
            status = status.as_u16(),
            bytes = body.len(),
            "credentials URI answered"
        );
        if status != reqwest::StatusCode::OK {
            return Err(failed(format!(
                "GET {} answered HTTP {} ({content_type}, {} bytes) instead of 200",
                self.shown,
                status.as_u16(),
                body.len()
            )));
        }
        let credentials =
            parse_credentials_document(&body, ExpirationFormat::UtcZ).map_err(|e| {
                failed(format!(
                    "the answer from {} is not a usable credentials document: {}",
                    self.shown,
                    e.describe(&content_type, body.len())
                ))
            })?;
        tracing::debug!(
            uri = %self.shown,
            access_key_id = %credentials.access_key_id,
            sts = credentials.security_token.is_some(),
            expiration = ?credentials.expiration,
            "got credentials from a credentials URI"
        );
        Ok(credentials)
    }
}

#[async_trait]
impl AccessCredentialProvider for CredentialsUriProvider {
    async fn provide(&self) -> Result<AccessCredentials, ProviderError> {
        self.fetch().await
    }
}

fn failed(message: String) -> ProviderError {
    ProviderError::Failed {
        source_name: SOURCE.to_owned(),
        message,
    }
}

/// The URI as messages may show it: no user info, no query, no fragment.
fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    // Both only fail for URLs that cannot have credentials, which then have none to strip.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// The `Content-Type` of a response, for messages.
pub(crate) fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("no content type")
        .to_owned()
}

/// How a credentials document writes `Expiration`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExpirationFormat {
    /// Any RFC 3339 time (the ECS metadata service).
    Rfc3339,
    /// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` with a literal `Z` (the credentials URI contract).
    UtcZ,
}

/// Why a body is not a usable credentials document. Never holds a value from the body other
/// than `Code` and `Expiration`, which are not secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DocumentError {
    /// Not JSON at all (an HTML error page, a proxy's answer, ...).
    NotJson,
    /// JSON, but not an object.
    NotObject,
    /// An object, but wrong.
    Invalid(String),
}

impl DocumentError {
    /// A message, given what is known about the body (never the body itself).
    pub(crate) fn describe(&self, content_type: &str, size: usize) -> String {
        match self {
            Self::NotJson => format!("the body is not JSON ({content_type}, {size} bytes)"),
            Self::NotObject => {
                format!("the body is JSON but not an object ({content_type}, {size} bytes)")
            }
            Self::Invalid(why) => why.clone(),
        }
    }
}

/// Reads `{"AccessKeyId", "AccessKeySecret", "SecurityToken"?, "Expiration"?, "Code"?}`.
///
/// The id and secret are required; `Code`, when present, must be `Success`. Values are read from
/// a generic JSON tree rather than with typed serde so that a wrongly typed secret can never
/// end up quoted in a deserialisation error.
pub(crate) fn parse_credentials_document(
    body: &[u8],
    format: ExpirationFormat,
) -> Result<AccessCredentials, DocumentError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| DocumentError::NotJson)?;
    let serde_json::Value::Object(object) = value else {
        return Err(DocumentError::NotObject);
    };
    let field = |name: &str| -> Result<Option<&str>, DocumentError> {
        match object.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) if s.is_empty() => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(DocumentError::Invalid(format!(
                "the field {name} is not a string"
            ))),
        }
    };
    match field("Code")? {
        Some(code) if code != "Success" => {
            return Err(DocumentError::Invalid(format!(
                "the answer's Code is {code:?}, not \"Success\""
            )));
        }
        _ => {}
    }
    let id = field("AccessKeyId")?;
    let secret = field("AccessKeySecret")?;
    let (Some(id), Some(secret)) = (id, secret) else {
        let missing: Vec<&str> = [("AccessKeyId", id), ("AccessKeySecret", secret)]
            .into_iter()
            .filter_map(|(name, v)| v.is_none().then_some(name))
            .collect();
        return Err(DocumentError::Invalid(format!(
            "the answer has no {}",
            missing.join(" and ")
        )));
    };
    let expiration = field("Expiration")?
        .map(|raw| parse_expiration(raw, format))
        .transpose()?;
    Ok(AccessCredentials {
        access_key_id: id.to_owned(),
        access_key_secret: Secret::new(secret),
        security_token: field("SecurityToken")?.map(Secret::new),
        expiration,
    })
}

fn parse_expiration(raw: &str, format: ExpirationFormat) -> Result<DateTime<Utc>, DocumentError> {
    let parsed = match format {
        ExpirationFormat::Rfc3339 => DateTime::parse_from_rfc3339(raw)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        ExpirationFormat::UtcZ => crate::timefmt::parse_utc_z(raw),
    };
    parsed.ok_or_else(|| {
        let expected = match format {
            ExpirationFormat::Rfc3339 => "an RFC 3339 time",
            ExpirationFormat::UtcZ => "a UTC time like 2024-03-10T15:56:17Z",
        };
        DocumentError::Invalid(format!("the Expiration {raw:?} is not {expected}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<AccessCredentials, DocumentError> {
        parse_credentials_document(body.as_bytes(), ExpirationFormat::UtcZ)
    }

    #[test]
    fn strict_expiration_shape() {
        for good in [
            "2024-03-10T15:56:17Z",
            "2024-03-10T15:56:17.5Z",
            "2024-03-10T15:56:17.123456789Z",
        ] {
            assert!(crate::timefmt::parse_utc_z(good).is_some(), "{good}");
        }
        for bad in [
            "2024-03-10T15:56:17+08:00",
            "2024-03-10T15:56:17+00:00",
            "2024-03-10T15:56:17",
            "2024-03-10t15:56:17Z",
            "2024-03-10T15:56:17z",
            "2024-03-10 15:56:17Z",
            "2024-03-10T15:56:17.Z",
            "+2024-03-10T15:56:17Z",
            "2024-13-10T15:56:17Z",
            "2024-03-10T25:56:17Z",
            "",
            "Z",
        ] {
            assert!(crate::timefmt::parse_utc_z(bad).is_none(), "{bad}");
        }
        assert_eq!(
            crate::timefmt::parse_utc_z("2024-03-10T15:56:17.250Z").map(|t| t.to_rfc3339()),
            Some("2024-03-10T15:56:17.250+00:00".to_owned())
        );
    }

    #[test]
    fn rfc3339_accepts_offsets() {
        let t = parse_expiration("2024-03-10T23:56:17+08:00", ExpirationFormat::Rfc3339);
        assert_eq!(
            t.map(|t| t.to_rfc3339()),
            Ok("2024-03-10T15:56:17+00:00".to_owned())
        );
    }

    #[test]
    fn wrong_types_never_quote_the_value() {
        let e = parse(r#"{"AccessKeyId":"ID","AccessKeySecret":1234567}"#);
        assert_eq!(
            e,
            Err(DocumentError::Invalid(
                "the field AccessKeySecret is not a string".into()
            ))
        );
        assert!(!format!("{e:?}").contains("1234567"));
    }

    #[test]
    fn missing_fields_are_named_together() {
        assert_eq!(
            parse(r#"{"SecurityToken":"T"}"#),
            Err(DocumentError::Invalid(
                "the answer has no AccessKeyId and AccessKeySecret".into()
            ))
        );
        assert_eq!(
            parse(r#"{"AccessKeyId":"ID","AccessKeySecret":""}"#),
            Err(DocumentError::Invalid(
                "the answer has no AccessKeySecret".into()
            ))
        );
    }

    #[test]
    fn not_json_and_not_object() {
        assert_eq!(parse("<html>"), Err(DocumentError::NotJson));
        assert_eq!(parse("[1]"), Err(DocumentError::NotObject));
    }

    #[test]
    fn messages_hide_user_info_and_query() {
        let url = Url::parse("https://user:pw@example.test:8443/creds?token=abc#frag")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(redact(&url), "https://example.test:8443/creds");
    }

    #[test]
    fn refuses_other_schemes_without_echoing_secrets() {
        let http = crate::http::build_client(&crate::http::HttpSettings::new("test"))
            .unwrap_or_else(|e| panic!("{e}"));
        for bad in ["ftp://h/x?token=s3cr3t", "not a url", "file:///etc/passwd"] {
            let e = CredentialsUriProvider::new(http.clone(), bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.starts_with("credentials URI: "), "{bad}: {e}");
            assert!(!e.contains("s3cr3t"), "{e}");
        }
    }
}

/// Fuzz-style properties of the credentials document parser.
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::fuzz_support::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn valid_document() -> Value {
        json!({
            "Code": "Success",
            "AccessKeyId": "STS.id",
            "AccessKeySecret": CANARY,
            "SecurityToken": CANARY,
            "Expiration": "2030-01-01T00:00:00Z",
        })
    }

    fn document() -> impl Strategy<Value = Vec<u8>> {
        let doc = object_of(vec![
            ("Code", json!("Success")),
            ("AccessKeyId", json!("STS.id")),
            ("AccessKeySecret", json!(CANARY)),
            ("SecurityToken", json!(CANARY)),
            // Accepted by both formats.
            ("Expiration", json!("2030-01-01T00:00:00.5Z")),
        ]);
        prop_oneof![
            doc.prop_map(|v| v.to_string().into_bytes()),
            mutations(valid_document().to_string().into_bytes()),
        ]
    }

    fn check(body: &[u8], format: ExpirationFormat) -> Result<(), TestCaseError> {
        match parse_credentials_document(body, format) {
            Ok(credentials) => {
                let held = credentials.access_key_id.len()
                    + credentials.access_key_secret.expose().len()
                    + credentials
                        .security_token
                        .as_ref()
                        .map_or(0, |t| t.expose().len());
                prop_assert!(held <= body.len());
                prop_assert!(!credentials.access_key_id.is_empty());
            }
            Err(error) => check_message(
                &error.describe("application/json", body.len()),
                body.len(),
                &["the answer's Code is \"", "the Expiration \""],
                &[CANARY],
            )?,
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn credentials_documents_never_panic_and_stay_bounded(body in document()) {
            check(&body, ExpirationFormat::UtcZ)?;
            check(&body, ExpirationFormat::Rfc3339)?;
        }

        #[test]
        fn any_expiration_string_is_parsed_or_refused(raw in prop_oneof![
            any::<String>(),
            "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,30})?([Zz]|[+-][0-9]{2}:[0-9]{2})?",
        ]) {
            for format in [ExpirationFormat::UtcZ, ExpirationFormat::Rfc3339] {
                if let Err(error) = parse_expiration(&raw, format) {
                    check_message(&error.describe("", 0), raw.len(), &["the Expiration \""], &[])?;
                }
            }
        }
    }
}
