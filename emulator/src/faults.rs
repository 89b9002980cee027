//! Fault injection: scripted errors, delays and malformed answers for reliability tests.
//!
//! A client's failure handling (retries, timeouts, size limits, parse errors, sanity checks of
//! the kubeconfig and of the expiration) can only be tested against a server that misbehaves on
//! demand. Faults are queued per API ([`FaultTarget`]) and consumed one per answer, in order:
//! an *answer* fault (an error, or a malformed body) replaces or corrupts the next answer, and a
//! *delay* fault, queued separately, delays the next answer; both can be pending at once. They
//! are driven from Rust ([`crate::Emulator::inject_faults`] and friends) or over HTTP
//! (`POST /__emulator/faults`, see [`crate::control`]), so tests running the emulator binary can
//! drive it too.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::api::ApiError;

/// Largest body a [`Malformed::Huge`] fault may produce (256 MiB).
pub const MAX_HUGE_BYTES: usize = 256 * 1024 * 1024;

/// The value `bad_base64` writes into `client-certificate-data` and `client-key-data`.
pub const NOT_BASE64: &str = "%%not*base64!!";

/// Which API a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FaultTarget {
    /// ACK `DescribeClusterUserKubeconfig` (`GET /k8s/{ClusterId}/user_config`).
    #[default]
    Ack,
    /// STS (`POST /`: `AssumeRole`, `GetCallerIdentity`).
    Sts,
}

impl FaultTarget {
    /// `ack` or `sts`, as in the control API.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultTarget::Ack => "ack",
            FaultTarget::Sts => "sts",
        }
    }
}

/// How an answer is corrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// The JSON body cut in half (first `len / 2` bytes), same status and content type.
    TruncatedJson,
    /// An HTML error page (`text/html`) instead of JSON.
    Html,
    /// A body of exactly this many bytes (`{"padding":"aaa…"}`; only `a`s below 14 bytes), at
    /// most [`MAX_HUGE_BYTES`].
    Huge(usize),
    /// ACK only: the kubeconfig has `users: []` (its context still names the user).
    KubeconfigWithoutUsers,
    /// ACK only: `client-certificate-data` and `client-key-data` are not base64 ([`NOT_BASE64`]).
    BadBase64,
    /// An expiration one hour in the past. ACK: `expiration` and the certificate's notAfter are
    /// both now − 1 h (notBefore now − 2 h). STS: `Credentials.Expiration` is now − 1 h and the
    /// minted key is already expired.
    ExpiredExpiration,
    /// ACK only: `expiration` is the certificate's notAfter + 1 h.
    ExpirationMismatch,
}

impl Malformed {
    /// The control-API name (`truncated_json`, `html`, `huge`, `kubeconfig_without_users`,
    /// `bad_base64`, `expired`, `expiration_mismatch`).
    pub fn name(self) -> &'static str {
        match self {
            Malformed::TruncatedJson => "truncated_json",
            Malformed::Html => "html",
            Malformed::Huge(_) => "huge",
            Malformed::KubeconfigWithoutUsers => "kubeconfig_without_users",
            Malformed::BadBase64 => "bad_base64",
            Malformed::ExpiredExpiration => "expired",
            Malformed::ExpirationMismatch => "expiration_mismatch",
        }
    }

    fn applies_to(self, target: FaultTarget) -> bool {
        match self {
            Malformed::TruncatedJson
            | Malformed::Html
            | Malformed::Huge(_)
            | Malformed::ExpiredExpiration => true,
            Malformed::KubeconfigWithoutUsers
            | Malformed::BadBase64
            | Malformed::ExpirationMismatch => target == FaultTarget::Ack,
        }
    }
}

/// One injected fault (applies to one answer; queue several with a count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this error (the API's own error shape) before any check.
    Error {
        /// HTTP status.
        status: u16,
        /// Error code (`Throttling.User`, `ServiceUnavailable`, ...).
        code: String,
        /// Error message.
        message: String,
    },
    /// Delay the answer (in addition to [`crate::EmulatorConfig::response_delay`]).
    Delay(Duration),
    /// Corrupt the answer. The request is still checked and served normally first; the kinds
    /// that alter a success (`kubeconfig_without_users`, `bad_base64`, `expired`,
    /// `expiration_mismatch`) leave an error answer unchanged (the fault is used up all the
    /// same). `status` overrides the HTTP status of the corrupted answer.
    Malformed {
        /// What to break.
        kind: Malformed,
        /// HTTP status to answer with instead of the normal one.
        status: Option<u16>,
    },
}

/// Why a fault could not be queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    /// The kind makes no sense for that API (e.g. `bad_base64` for STS).
    #[error("fault kind \"{kind}\" does not apply to the {target} API")]
    NotApplicable {
        /// Control-API kind name.
        kind: &'static str,
        /// `ack` or `sts`.
        target: &'static str,
    },
    /// A field is out of range.
    #[error("invalid fault: {0}")]
    Invalid(String),
}

/// Checks a fault against its target.
pub(crate) fn validate(target: FaultTarget, fault: &Fault) -> Result<(), FaultError> {
    match fault {
        Fault::Error { status, .. } if !(100..=599).contains(status) => Err(FaultError::Invalid(
            format!("status {status} is not an HTTP status"),
        )),
        Fault::Malformed { kind, status } => {
            if !kind.applies_to(target) {
                return Err(FaultError::NotApplicable {
                    kind: kind.name(),
                    target: target.as_str(),
                });
            }
            match kind {
                Malformed::Huge(n) if *n > MAX_HUGE_BYTES => {
                    return Err(FaultError::Invalid(format!(
                        "huge body of {n} bytes is over the {MAX_HUGE_BYTES}-byte limit"
                    )));
                }
                _ => {}
            }
            match status {
                Some(s) if !(100..=599).contains(s) => Err(FaultError::Invalid(format!(
                    "status {s} is not an HTTP status"
                ))),
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// What replaces or corrupts one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AnswerFault {
    Error(ApiError),
    Malformed {
        kind: Malformed,
        status: Option<u16>,
    },
}

/// Pending faults of one API.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    pub answers: VecDeque<AnswerFault>,
    pub delays: VecDeque<Duration>,
}

impl FaultQueue {
    pub fn push(&mut self, count: usize, fault: Fault) {
        match fault {
            Fault::Error {
                status,
                code,
                message,
            } => self.answers.extend(std::iter::repeat_n(
                AnswerFault::Error(ApiError::new(status, &code, message)),
                count,
            )),
            Fault::Delay(d) => self.delays.extend(std::iter::repeat_n(d, count)),
            Fault::Malformed { kind, status } => self.answers.extend(std::iter::repeat_n(
                AnswerFault::Malformed { kind, status },
                count,
            )),
        }
    }

    /// The faults for the next answer: (extra delay, answer fault).
    pub fn take(&mut self) -> (Duration, Option<AnswerFault>) {
        (
            self.delays.pop_front().unwrap_or_default(),
            self.answers.pop_front(),
        )
    }

    pub fn clear(&mut self) {
        self.answers.clear();
        self.delays.clear();
    }
}

/// A rendered answer, before it goes on the wire.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

pub(crate) const JSON: &str = "application/json;charset=utf-8";

impl Answer {
    pub fn json(status: u16, body: &serde_json::Value) -> Answer {
        Answer {
            status,
            content_type: JSON,
            body: body.to_string().into_bytes(),
        }
    }
}

/// Applies a body-level corruption to a rendered answer. `success` is the JSON of a 200 answer
/// (None for an error answer); the success-altering kinds rewrite it, the others replace the
/// bytes. [`Malformed::ExpiredExpiration`] is applied earlier, when the answer is produced.
pub(crate) fn corrupt(
    kind: Malformed,
    status: Option<u16>,
    mut answer: Answer,
    success: Option<&serde_json::Value>,
) -> Answer {
    match kind {
        Malformed::TruncatedJson => {
            answer.body.truncate(answer.body.len() / 2);
        }
        Malformed::Html => {
            answer.content_type = "text/html;charset=utf-8";
            answer.body = HTML_PAGE.as_bytes().to_vec();
        }
        Malformed::Huge(n) => {
            answer.body = huge_body(n);
        }
        Malformed::KubeconfigWithoutUsers
        | Malformed::BadBase64
        | Malformed::ExpirationMismatch => {
            if let Some(value) = success {
                let mut value = value.clone();
                rewrite_success(kind, &mut value);
                answer.body = value.to_string().into_bytes();
            }
        }
        Malformed::ExpiredExpiration => {}
    }
    if let Some(s) = status {
        answer.status = s;
    }
    answer
}

const HTML_PAGE: &str = "<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title></head>\n\
    <body>\n<center><h1>502 Bad Gateway</h1></center>\n<hr><center>ack-ram-emulator</center>\n\
    </body>\n</html>\n";

fn huge_body(n: usize) -> Vec<u8> {
    const HEAD: &[u8] = b"{\"padding\":\"";
    const TAIL: &[u8] = b"\"}";
    if n < HEAD.len() + TAIL.len() {
        return vec![b'a'; n];
    }
    let mut body = Vec::with_capacity(n);
    body.extend_from_slice(HEAD);
    body.resize(n - TAIL.len(), b'a');
    body.extend_from_slice(TAIL);
    body
}

fn rewrite_success(kind: Malformed, value: &mut serde_json::Value) {
    match kind {
        Malformed::KubeconfigWithoutUsers => {
            if let Some(config) = value.get("config").and_then(|c| c.as_str()) {
                let stripped = match config.find("\nusers:\n") {
                    Some(at) => format!("{}\nusers: []\n", &config[..at]),
                    None => config.to_owned(),
                };
                value["config"] = serde_json::Value::String(stripped);
            }
        }
        Malformed::BadBase64 => {
            if let Some(config) = value.get("config").and_then(|c| c.as_str()) {
                let rewritten: Vec<String> = config
                    .lines()
                    .map(|line| {
                        let trimmed = line.trim_start();
                        let indent = &line[..line.len() - trimmed.len()];
                        for field in ["client-certificate-data:", "client-key-data:"] {
                            if trimmed.starts_with(field) {
                                return format!("{indent}{field} \"{NOT_BASE64}\"");
                            }
                        }
                        line.to_owned()
                    })
                    .collect();
                value["config"] = serde_json::Value::String(rewritten.join("\n") + "\n");
            }
        }
        Malformed::ExpirationMismatch => {
            let shifted = value
                .get("expiration")
                .and_then(|e| e.as_str())
                .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
                .map(|e| {
                    (e.with_timezone(&Utc) + chrono::TimeDelta::hours(1))
                        .to_rfc3339_opts(SecondsFormat::Secs, true)
                });
            if let Some(shifted) = shifted {
                value["expiration"] = serde_json::Value::String(shifted);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> Answer {
        Answer::json(200, &serde_json::json!({"config": "x", "expiration": "y"}))
    }

    #[test]
    fn huge_bodies_have_the_exact_size() {
        for n in [0, 1, 13, 14, 15, 1000] {
            let body = huge_body(n);
            assert_eq!(body.len(), n);
            if n >= 14 {
                assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());
            }
        }
    }

    #[test]
    fn truncation_and_html() {
        let a = corrupt(Malformed::TruncatedJson, None, answer(), None);
        assert!(serde_json::from_slice::<serde_json::Value>(&a.body).is_err());
        assert_eq!(a.status, 200);
        let h = corrupt(Malformed::Html, Some(502), answer(), None);
        assert_eq!(h.status, 502);
        assert!(h.content_type.starts_with("text/html"));
    }

    #[test]
    fn success_rewrites() {
        let config = "apiVersion: v1\nclusters: []\nusers:\n- name: \"1\"\n  user:\n    \
                      client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\n";
        let ok = serde_json::json!({"config": config, "expiration": "2030-01-01T00:00:00Z"});
        let a = corrupt(Malformed::KubeconfigWithoutUsers, None, answer(), Some(&ok));
        let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap_or_default();
        assert_eq!(v["config"], "apiVersion: v1\nclusters: []\nusers: []\n");
        let b = corrupt(Malformed::BadBase64, None, answer(), Some(&ok));
        let v: serde_json::Value = serde_json::from_slice(&b.body).unwrap_or_default();
        let c = v["config"].as_str().unwrap_or_default();
        assert!(c.contains("    client-certificate-data: \"%%not*base64!!\"\n"));
        assert!(c.contains("    client-key-data: \"%%not*base64!!\"\n"));
        let m = corrupt(Malformed::ExpirationMismatch, None, answer(), Some(&ok));
        let v: serde_json::Value = serde_json::from_slice(&m.body).unwrap_or_default();
        assert_eq!(v["expiration"], "2030-01-01T01:00:00Z");
        // Error answers pass through.
        let e = corrupt(Malformed::BadBase64, None, answer(), None);
        assert_eq!(e.body, answer().body);
    }

    #[test]
    fn validation() {
        let bad = Fault::Malformed {
            kind: Malformed::BadBase64,
            status: None,
        };
        assert!(validate(FaultTarget::Sts, &bad).is_err());
        assert!(validate(FaultTarget::Ack, &bad).is_ok());
        let huge = Fault::Malformed {
            kind: Malformed::Huge(MAX_HUGE_BYTES + 1),
            status: None,
        };
        assert!(validate(FaultTarget::Ack, &huge).is_err());
        let err = Fault::Error {
            status: 42,
            code: "X".into(),
            message: String::new(),
        };
        assert!(validate(FaultTarget::Ack, &err).is_err());
    }
}
