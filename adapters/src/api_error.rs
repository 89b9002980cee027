//! Error answers of Alibaba Cloud APIs, read the same way for every service.
//!
//! The fields come in PascalCase (STS) or camelCase (ACK); a non-JSON body (a proxy's HTML page)
//! is summarised by type and size, never dumped. Messages are scrubbed: services echo the
//! string they signed on `SignatureDoesNotMatch`, security token included, so that part is cut
//! and every secret of the request is masked in any encoding before a person sees it.

use crate::http::Answer;
use ack_ram_domain::AccessCredentials;
use ack_ram_domain::ports::ApiErrorDetails;
use serde_json::Value;

/// Longest message shown from an API.
const MAX_MESSAGE_CHARS: usize = 400;

/// The values to mask in anything a service says back (read only to compare, never shown).
pub fn secrets_of(credentials: &AccessCredentials) -> Vec<&str> {
    let mut secrets = vec![credentials.access_key_secret.expose()];
    if let Some(token) = &credentials.security_token {
        secrets.push(token.expose());
    }
    secrets
}

/// Reads `Code`, `Message` and `RequestId` (either spelling) of an error answer of `service`.
pub fn from_answer(
    action: &str,
    service: &str,
    answer: &Answer,
    secrets: &[&str],
) -> ApiErrorDetails {
    let json: Option<Value> = serde_json::from_slice(&answer.body)
        .ok()
        .filter(Value::is_object);
    let field = |names: &[&str]| -> Option<String> {
        let object = json.as_ref()?;
        names
            .iter()
            .find_map(|n| match object.get(*n)? {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .map(|v| scrub(&v, secrets))
    };
    let message = field(&["Message", "message"]).or_else(|| {
        json.is_none().then(|| {
            format!(
                "the error body is not JSON ({}, {} bytes); a proxy or gateway may have answered instead of {service}",
                answer.content_type,
                answer.body.len()
            )
        })
    });
    ApiErrorDetails {
        action: action.to_owned(),
        status: answer.status,
        code: field(&["Code", "code"]),
        message,
        request_id: field(&["RequestId", "requestId", "requestid"])
            .or_else(|| answer.header_request_id.clone()),
    }
}

/// Makes an API-provided text safe to show: drops an echoed string to sign (which carries every
/// parameter, the security token included), masks any secret raw, trimmed or percent-encoded
/// once or twice, and keeps it short.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = match lower.find("string to sign") {
        Some(at) => format!("{}(string to sign omitted)", &text[..at]),
        None => text.to_owned(),
    };
    let trimmed = secrets.iter().map(|s| s.trim());
    for secret in secrets.iter().copied().chain(trimmed) {
        if secret.is_empty() {
            continue;
        }
        let once = crate::percent::encode(secret);
        let twice = crate::percent::encode(&once);
        for form in [twice, once, secret.to_owned()] {
            out = out.replace(&form, "***");
        }
    }
    if out.chars().count() > MAX_MESSAGE_CHARS {
        out = out.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "...";
    }
    out
}
