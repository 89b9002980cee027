//! The HTTP control API under `/__emulator/` on the main listener.
//!
//! Tests that run the emulator *binary* (for example the plugin's black-box tests starting
//! `cargo run -p ack-ram-emulator`) cannot call Rust methods on it; this small JSON API gives
//! them the same fault injection ([`crate::faults`]) and counters. It is unauthenticated: the
//! emulator is a loopback test fixture. Control requests are not API traffic: they are not
//! counted, recorded or delayed, and faults never apply to them.
//!
//! * `GET /__emulator/stats` → counters and pending faults;
//! * `POST /__emulator/faults` with one fault object or an array of them → queues them all
//!   (or none, answering 400 with `{"error"}`, when one is invalid);
//! * `GET /__emulator/faults` → pending faults; `DELETE /__emulator/faults` → clears them;
//! * `GET /__emulator/sso`, `POST /__emulator/sso` → the CloudSSO portal's token, expiry and
//!   queued errors ([`crate::sso::configure`]); `GET`/`POST /__emulator/oauth` → the OAuth
//!   server's tokens, rotation and queued errors ([`crate::oauth::configure`]).
//!
//! A fault object: `{"api": "ack"|"sts" (default "ack"), "count": N (default 1), "kind": K, ...}`
//! with `K` one of `error` (`status`, `code`, optional `message`), `delay` (`delay_ms`),
//! `truncated_json`, `html`, `huge` (`bytes`), `kubeconfig_without_users`, `bad_base64`,
//! `expired`, `expiration_mismatch` (the corrupting kinds take an optional `status`).

use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;

use crate::faults::{self, Answer, Fault, FaultTarget, Malformed};
use crate::state::State;

/// Path prefix of the control API.
pub const CONTROL_PREFIX: &str = "/__emulator/";

/// Largest number of answers one fault object may cover.
const MAX_COUNT: u64 = 1_000_000;

fn error(status: u16, message: impl Into<String>) -> Answer {
    Answer::json(status, &serde_json::json!({ "error": message.into() }))
}

fn pending(state: &State) -> serde_json::Value {
    let one = |target| {
        let (answers, delays) = state.pending_faults(target);
        serde_json::json!({ "answers": answers, "delays": delays })
    };
    serde_json::json!({ "ack": one(FaultTarget::Ack), "sts": one(FaultTarget::Sts) })
}

/// The counters, as `GET /__emulator/stats` returns them.
pub(crate) fn stats(state: &State) -> serde_json::Value {
    let sso = crate::sso::lock(&state.sso);
    let oauth = crate::sso::lock(&state.oauth);
    serde_json::json!({
        "request_count": state.requests(),
        "issued_count": state.issued(),
        "sts_request_count": state.sts_requests.load(Ordering::SeqCst),
        "sts_issued_count": state.sts_issued.load(Ordering::SeqCst),
        "kube_request_count": state.kube_request_count(),
        "kube_endpoint": state.kube_endpoint(),
        "pending_faults": pending(state),
        "sso_request_count": sso.requests,
        "sso_issued_count": sso.issued,
        "oauth_token_request_count": oauth.token_requests,
        "oauth_exchange_request_count": oauth.exchange_requests,
        "oauth_issued_count": oauth.issued,
    })
}

/// Serves one control request.
pub(crate) fn handle(state: &State, method: &str, path: &str, body: &[u8]) -> Answer {
    match (method, path) {
        ("GET", "/__emulator/stats") => Answer::json(200, &stats(state)),
        ("GET", "/__emulator/faults") => {
            Answer::json(200, &serde_json::json!({ "pending": pending(state) }))
        }
        ("DELETE", "/__emulator/faults") => {
            state.clear_faults();
            Answer::json(200, &serde_json::json!({ "pending": pending(state) }))
        }
        ("POST", "/__emulator/faults") => {
            let value: serde_json::Value = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => return error(400, format!("the body is not JSON: {e}")),
            };
            let specs = match value {
                serde_json::Value::Array(items) => items,
                other => vec![other],
            };
            let mut parsed = Vec::with_capacity(specs.len());
            for (i, spec) in specs.iter().enumerate() {
                match parse_fault(spec) {
                    Ok(f) => parsed.push(f),
                    Err(e) => return error(400, format!("fault #{i}: {e}")),
                }
            }
            let queued: usize = parsed.iter().map(|(_, count, _)| count).sum();
            for (target, count, fault) in parsed {
                state.push_faults(target, count, fault);
            }
            Answer::json(
                200,
                &serde_json::json!({ "queued": queued, "pending": pending(state) }),
            )
        }
        ("GET", "/__emulator/sso") => Answer::json(200, &crate::sso::view(state)),
        ("POST", "/__emulator/sso") => match crate::sso::configure(state, body, Utc::now()) {
            Ok(()) => Answer::json(200, &crate::sso::view(state)),
            Err(e) => error(400, e),
        },
        ("GET", "/__emulator/oauth") => Answer::json(200, &crate::oauth::view(state)),
        ("POST", "/__emulator/oauth") => match crate::oauth::configure(state, body, Utc::now()) {
            Ok(()) => Answer::json(200, &crate::oauth::view(state)),
            Err(e) => error(400, e),
        },
        (
            _,
            "/__emulator/stats" | "/__emulator/faults" | "/__emulator/sso" | "/__emulator/oauth",
        ) => error(405, "method not allowed"),
        _ => error(404, format!("unknown control route {path}")),
    }
}

/// Parses and validates one fault object: (target, count, fault).
pub(crate) fn parse_fault(spec: &serde_json::Value) -> Result<(FaultTarget, usize, Fault), String> {
    let obj = spec.as_object().ok_or("a fault must be a JSON object")?;
    let target = match obj.get("api").map(|v| v.as_str()) {
        None => FaultTarget::Ack,
        Some(Some("ack")) => FaultTarget::Ack,
        Some(Some("sts")) => FaultTarget::Sts,
        Some(_) => return Err("\"api\" must be \"ack\" or \"sts\"".to_owned()),
    };
    let count = match obj.get("count") {
        None => 1,
        Some(v) => match v.as_u64() {
            Some(n) if n <= MAX_COUNT => n,
            _ => {
                return Err(format!(
                    "\"count\" must be an integer from 0 to {MAX_COUNT}"
                ));
            }
        },
    };
    let count = usize::try_from(count).map_err(|e| e.to_string())?;
    let kind = obj
        .get("kind")
        .and_then(|k| k.as_str())
        .ok_or("\"kind\" (a string) is required")?;
    let status = match obj.get("status") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .ok_or("\"status\" must be an HTTP status code")?,
        ),
    };
    let malformed = |kind| Fault::Malformed { kind, status };
    let fault = match kind {
        "error" => Fault::Error {
            status: status.ok_or("an \"error\" fault needs \"status\"")?,
            code: obj
                .get("code")
                .and_then(|c| c.as_str())
                .ok_or("an \"error\" fault needs \"code\" (a string)")?
                .to_owned(),
            message: obj
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("fault injected by ack-ram-emulator")
                .to_owned(),
        },
        "delay" => Fault::Delay(Duration::from_millis(
            obj.get("delay_ms")
                .and_then(|d| d.as_u64())
                .ok_or("a \"delay\" fault needs \"delay_ms\" (an integer)")?,
        )),
        "truncated_json" => malformed(Malformed::TruncatedJson),
        "html" => malformed(Malformed::Html),
        "huge" => {
            let bytes = obj
                .get("bytes")
                .and_then(|b| b.as_u64())
                .and_then(|b| usize::try_from(b).ok())
                .ok_or("a \"huge\" fault needs \"bytes\" (an integer)")?;
            malformed(Malformed::Huge(bytes))
        }
        "kubeconfig_without_users" => malformed(Malformed::KubeconfigWithoutUsers),
        "bad_base64" => malformed(Malformed::BadBase64),
        "expired" => malformed(Malformed::ExpiredExpiration),
        "expiration_mismatch" => malformed(Malformed::ExpirationMismatch),
        other => return Err(format!("unknown fault kind \"{other}\"")),
    };
    faults::validate(target, &fault).map_err(|e| e.to_string())?;
    Ok((target, count, fault))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        let ok = [
            (
                r#"{"kind":"error","status":503,"code":"ServiceUnavailable"}"#,
                1,
            ),
            (r#"{"kind":"delay","delay_ms":10,"count":3}"#, 3),
            (r#"{"kind":"truncated_json"}"#, 1),
            (r#"{"kind":"html","status":502}"#, 1),
            (r#"{"kind":"huge","bytes":1048576}"#, 1),
            (r#"{"kind":"kubeconfig_without_users"}"#, 1),
            (r#"{"kind":"bad_base64","count":2}"#, 2),
            (r#"{"kind":"expired","api":"sts"}"#, 1),
            (r#"{"kind":"expiration_mismatch"}"#, 1),
        ];
        for (json, count) in ok {
            let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
            let parsed = parse_fault(&v);
            assert!(parsed.is_ok(), "{json}: {parsed:?}");
            assert_eq!(parsed.map(|p| p.1).unwrap_or_default(), count);
        }
        for bad in [
            r#"{"kind":"error","code":"X"}"#,
            r#"{"kind":"error","status":503}"#,
            r#"{"kind":"delay"}"#,
            r#"{"kind":"huge"}"#,
            r#"{"kind":"bad_base64","api":"sts"}"#,
            r#"{"kind":"nope"}"#,
            r#"{"kind":"html","api":"cs"}"#,
            r#"{"kind":"html","count":-1}"#,
            r#"[]"#,
        ] {
            let v: serde_json::Value = serde_json::from_str(bad).unwrap_or_default();
            assert!(parse_fault(&v).is_err(), "{bad}");
        }
    }
}
