//! Error answers of Alibaba Cloud APIs, read the same way for every service.
//!
//! The fields come in PascalCase (STS) or camelCase (ACK); a non-JSON body (a proxy's HTML page)
//! is summarised by type and size, never dumped. Messages are scrubbed: services echo the
//! string they signed on `SignatureDoesNotMatch`, security token included, so that part is cut
//! and every secret of the request is masked in any encoding before a person sees it.

use crate::http::Answer;
use crate::scrub::Scrubber;
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
    let scrubber = Scrubber::new(secrets.iter().copied());
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
            .map(|v| scrub_api_text(&v, &scrubber))
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
        request_id: field(&["RequestId", "requestId", "requestid"]).or_else(|| {
            // A header is as much an echo as the body: a hostile server can put a token
            // there, so it is shown scrubbed (masked if it held a secret).
            answer
                .header_request_id
                .as_deref()
                .map(|id| scrub_api_text(id, &scrubber))
        }),
    }
}

/// Makes an API-provided text safe to show: drops an echoed string to sign (which carries every
/// parameter, the security token included), masks every secret in any encoding (see
/// [`Scrubber`]), and keeps it short.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    scrub_api_text(text, &Scrubber::new(secrets.iter().copied()))
}

/// [`scrub`] with a [`Scrubber`] built once for several texts.
pub fn scrub_api_text(text: &str, scrubber: &Scrubber) -> String {
    let lower = text.to_ascii_lowercase();
    let kept = match lower.find("string to sign") {
        Some(at) => format!(
            "{}(string to sign omitted)",
            text.get(..at).unwrap_or_default()
        ),
        None => text.to_owned(),
    };
    let mut out = scrubber.scrub(&kept);
    if out.chars().count() > MAX_MESSAGE_CHARS {
        out = out.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "...";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str, header_request_id: Option<&str>) -> Answer {
        Answer {
            status: 400,
            content_type: "application/json".into(),
            header_request_id: header_request_id.map(str::to_owned),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn header_request_id_is_scrubbed() {
        let token = "CAIS/tok+en==";
        let hostile = "id-CAIS%2ftok%2Ben%3d%3D";
        let e = from_answer("AssumeRole", "STS", &answer("{}", Some(hostile)), &[token]);
        assert_eq!(e.request_id.as_deref(), Some("id-***"));
        let e = from_answer(
            "AssumeRole",
            "STS",
            &answer("{}", Some("8A1D3F2C-44F2-5B7E-9C0D-0123456789AB")),
            &[token],
        );
        assert_eq!(
            e.request_id.as_deref(),
            Some("8A1D3F2C-44F2-5B7E-9C0D-0123456789AB")
        );
    }

    #[test]
    fn every_field_is_scrubbed_in_any_encoding() {
        let token = "CAIS/tok+en==";
        let body = serde_json::json!({
            "Code": "Echo CAIS%2ftok%2ben%3d%3d",
            "Message": format!("bearer {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, token)),
            "RequestId": "R CAIS/tok en==",
        });
        let e = from_answer(
            "AssumeRole",
            "STS",
            &answer(&body.to_string(), None),
            &[token],
        );
        assert_eq!(
            (
                e.code.as_deref(),
                e.message.as_deref(),
                e.request_id.as_deref()
            ),
            (Some("Echo ***"), Some("bearer ***"), Some("R ***"))
        );
    }
}
