//! The one error type of the keychain layer.
//!
//! Every vault, the chunking and the probe fail with a [`KeychainError`]: either the keychain
//! cannot be used at all ([`KeychainError::Unavailable`], with a [`UnavailableReason`] the
//! callers turn into advice) or one operation on one entry failed. The platform's own words
//! travel as the error's source, a [`PlatformError`]: a copy of what the platform said that
//! never holds secret bytes (the `keyring` crate's `BadEncoding` carries the stored value, and
//! its `Debug` would print it).

use super::backend::{Backend, UnavailableReason};
use super::{CHUNK_BYTES, MAX_CHUNKS};
use std::fmt;

/// What was attempted on a keychain entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Looking an entry up.
    Open,
    /// Reading an entry.
    Read,
    /// Creating or replacing an entry.
    Write,
    /// Removing an entry.
    Delete,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Open => "open",
            Self::Read => "read",
            Self::Write => "write",
            Self::Delete => "delete",
        })
    }
}

/// What the platform said about a failure: the D-Bus error name when there is one, and the
/// message. Never secret (built from error texts only, never from stored values).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PlatformError {
    /// The D-Bus error name, e.g. `org.freedesktop.DBus.Error.ServiceUnknown`.
    pub name: Option<String>,
    /// The platform's words.
    pub message: String,
}

impl PlatformError {
    /// A platform error with only a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            name: None,
            message: message.into(),
        }
    }

    /// The words of a `keyring` crate error, without the bytes `BadEncoding` carries.
    pub(crate) fn from_keyring(error: &keyring::Error) -> Self {
        Self::new(match error {
            keyring::Error::PlatformFailure(e) | keyring::Error::NoStorageAccess(e) => {
                e.to_string()
            }
            keyring::Error::NoEntry => "no such entry".into(),
            keyring::Error::BadEncoding(_) => "the stored value is not UTF-8".into(),
            keyring::Error::TooLong(name, limit) => {
                format!("{name} is longer than the platform limit of {limit}")
            }
            keyring::Error::Invalid(name, reason) => format!("{name} is invalid: {reason}"),
            keyring::Error::Ambiguous(items) => ambiguous(items.len()),
            _ => "unknown keychain error".into(),
        })
    }
}

/// The words for an account that matches several entries.
pub(crate) fn ambiguous(count: usize) -> String {
    format!("{count} entries match; remove the duplicates with the keychain's own tool")
}

/// A keychain operation that failed. Never holds a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeychainError {
    /// The keychain cannot be used at all.
    #[error("the {backend} is not usable: {reason}")]
    Unavailable {
        /// The keychain.
        backend: Backend,
        /// Why, as a category.
        reason: UnavailableReason,
        /// What the platform said, if anything.
        #[source]
        cause: Option<PlatformError>,
    },
    /// One operation on one entry failed; the keychain itself answers.
    #[error("could not {operation} {}", backend.location(account))]
    Failed {
        /// What was attempted.
        operation: Operation,
        /// The keychain.
        backend: Backend,
        /// The entry.
        account: String,
        /// What the platform said.
        #[source]
        cause: PlatformError,
    },
    /// A secret that does not fit in [`MAX_CHUNKS`] entries (or an empty one).
    #[error(
        "a secret of {bytes} bytes does not fit in 1 to {MAX_CHUNKS} entries of {CHUNK_BYTES} bytes ({})",
        backend.location(account)
    )]
    TooLarge {
        /// The keychain.
        backend: Backend,
        /// The first entry of the secret.
        account: String,
        /// Its size.
        bytes: usize,
    },
}

impl KeychainError {
    /// An unavailable keychain.
    pub fn unavailable(
        backend: Backend,
        reason: UnavailableReason,
        cause: Option<PlatformError>,
    ) -> Self {
        Self::Unavailable {
            backend,
            reason,
            cause,
        }
    }

    /// Why the keychain cannot be used; `None` when it answers (one operation failed).
    pub fn unavailable_reason(&self) -> Option<UnavailableReason> {
        match self {
            Self::Unavailable { reason, .. } => Some(*reason),
            _ => None,
        }
    }

    /// The keychain the error is about.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Unavailable { backend, .. }
            | Self::Failed { backend, .. }
            | Self::TooLarge { backend, .. } => *backend,
        }
    }

    /// Sorts a `keyring` crate failure into "the keychain is unusable" or a failed operation.
    /// Recognises the wordings of the kernel keyring and of the platform stores.
    pub(crate) fn from_keyring(
        backend: Backend,
        operation: Operation,
        account: &str,
        error: &keyring::Error,
    ) -> Self {
        let cause = PlatformError::from_keyring(error);
        match classify_words(error, &cause.message) {
            Some(reason) => Self::unavailable(backend, reason, Some(cause)),
            None => Self::Failed {
                operation,
                backend,
                account: account.to_owned(),
                cause,
            },
        }
    }
}

/// The unavailability a `keyring` crate error stands for, if any.
fn classify_words(error: &keyring::Error, words: &str) -> Option<UnavailableReason> {
    let lower = words.to_ascii_lowercase();
    match error {
        keyring::Error::NoStorageAccess(_) => Some(UnavailableReason::Locked),
        keyring::Error::PlatformFailure(_) => Some(if lower.contains("quota") {
            UnavailableReason::QuotaExceeded
        } else if lower.contains("not provided by any .service files")
            || lower.contains("serviceunknown")
        {
            UnavailableReason::ServiceNotProvided
        } else if lower.contains("autolaunch")
            || lower.contains("dbus_session_bus_address")
            || lower.contains("failed to connect to socket")
            || lower.contains("connection refused")
        {
            UnavailableReason::NoSessionBus
        } else if lower.contains("islocked") || lower.contains("locked collection") {
            UnavailableReason::Locked
        } else {
            UnavailableReason::Other
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::error_chain;

    #[test]
    fn recognises_the_platform_wordings() {
        let platform = |s: &str| keyring::Error::PlatformFailure(s.to_owned().into());
        let cases = [
            (
                platform("Using X11 for dbus-daemon autolaunch was disabled at compile time"),
                UnavailableReason::NoSessionBus,
            ),
            (
                platform("Failed to connect to socket /tmp/x: Connection refused"),
                UnavailableReason::NoSessionBus,
            ),
            (
                platform("The name org.freedesktop.secrets was not provided by any .service files"),
                UnavailableReason::ServiceNotProvided,
            ),
            (
                platform("Cannot create an item in a locked collection"),
                UnavailableReason::Locked,
            ),
            (platform("QuotaExceeded"), UnavailableReason::QuotaExceeded),
            (
                keyring::Error::NoStorageAccess("no result found".to_owned().into()),
                UnavailableReason::Locked,
            ),
            (platform("something else"), UnavailableReason::Other),
        ];
        for (error, want) in cases {
            let got = KeychainError::from_keyring(Backend::Native, Operation::Read, "a", &error);
            assert_eq!(got.unavailable_reason(), Some(want), "{error}");
        }
        let missing = KeychainError::from_keyring(
            Backend::Native,
            Operation::Read,
            "a",
            &keyring::Error::NoEntry,
        );
        assert_eq!(missing.unavailable_reason(), None);
        // The bytes of a badly encoded secret never reach a message or a Debug print.
        let bad = KeychainError::from_keyring(
            Backend::Native,
            Operation::Read,
            "a",
            &keyring::Error::BadEncoding(b"SECRETBYTES".to_vec()),
        );
        assert!(!error_chain(&bad).contains("SECRET") && !format!("{bad:?}").contains("SECRET"));
    }

    #[test]
    fn messages_name_the_backend_the_reason_and_the_platform_words() {
        let error = KeychainError::unavailable(
            Backend::Native,
            UnavailableReason::NoSessionBus,
            Some(PlatformError::new("Failed to connect to socket /x/bus")),
        );
        let text = error_chain(&error);
        assert!(
            text.starts_with("the Secret Service is not usable: there is no D-Bus session bus")
                && text.ends_with(": Failed to connect to socket /x/bus"),
            "{text}"
        );
        let failed = KeychainError::Failed {
            operation: Operation::Write,
            backend: Backend::KernelKeyutils,
            account: "credential:x.json".into(),
            cause: PlatformError::new("EACCES"),
        };
        assert_eq!(
            error_chain(&failed),
            "could not write ack-ram-tool/credential:x.json in the kernel keyring (keyutils): EACCES"
        );
        let slow = UnavailableReason::NoAnswer {
            waited: std::time::Duration::from_millis(1500),
        };
        assert!(slow.to_string().contains("within 1500 ms"));
    }
}
