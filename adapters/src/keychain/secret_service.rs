//! The Secret Service (gnome-keyring, KeePassXC) over D-Bus: one connection and one session for
//! the whole process.
//!
//! The `keyring` crate opens a D-Bus connection and negotiates a Diffie-Hellman session per
//! operation: about 10 ms for a cache hit here, 5 ms of it the 1024-bit DH on both ends. This
//! vault talks to the service through `dbus-secret-service` (what the crate uses underneath),
//! connects on the first operation and keeps the connection and a `plain` session until the
//! process ends. A hit costs the connection (socket, authentication, `Hello`), `OpenSession`,
//! `SearchItems` and `GetSecret`: four round trips.
//!
//! Why `plain`: the session bus is a socket only this user (and root) can connect to; any
//! process that could observe the traffic could as well call `GetSecret` itself. The DH
//! algorithm the service offers is unauthenticated 1024-bit DH, and the implementation we would
//! use draws its private exponent from a non-cryptographic generator, so the encryption bought
//! little for its 5 ms. kubelogin and the GitHub CLI (through zalando/go-keyring) make the same
//! choice. See `docs/keyring.md`.
//!
//! Items are the ones the `keyring` crate writes (attributes `service`, `username` = account,
//! `target` = `default`), so entries written by earlier versions keep working.

use super::SERVICE;
use super::backend::{Backend, UnavailableReason};
use super::error::{KeychainError, Operation, PlatformError, ambiguous};
use super::vault::{SecretBytes, Vault};
use dbus_secret_service::{EncryptionType, Error as SsError, Item, SecretService};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

const BACKEND: Backend = Backend::Native;
const CONTENT_TYPE: &str = "text/plain";

/// The Secret Service, connected on first use.
#[derive(Default)]
pub(crate) struct SecretServiceVault {
    service: Mutex<Option<SecretService>>,
}

impl fmt::Debug for SecretServiceVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let connected = self.service.try_lock().map(|s| s.is_some()).unwrap_or(true);
        f.debug_struct("SecretServiceVault")
            .field("connected", &connected)
            .finish()
    }
}

/// The attributes that identify `account`'s item.
fn attributes(account: &str) -> HashMap<&str, &str> {
    HashMap::from([
        ("service", SERVICE),
        ("username", account),
        ("target", "default"),
    ])
}

/// An item's label, for people looking at their keyring.
fn label(account: &str) -> String {
    format!("{account}@{SERVICE}:default")
}

/// The platform's words for a failure.
fn platform_error(error: &SsError) -> PlatformError {
    match error {
        SsError::Dbus(e) => PlatformError {
            name: e.name().map(str::to_owned),
            message: e.message().or(e.name()).unwrap_or("D-Bus error").to_owned(),
        },
        other => PlatformError::new(other.to_string()),
    }
}

/// How long one D-Bus call may take (`dbus-secret-service`'s own timeout).
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// The unavailability a failure stands for, if any. D-Bus errors are sorted by their names,
/// with libdbus's wordings for the failures to reach the bus at all. `connecting`: the failure
/// came before the service answered, so it is never an ordinary failed operation.
fn classify(error: &SsError, connecting: bool) -> Option<UnavailableReason> {
    let SsError::Dbus(e) = error else {
        return match error {
            SsError::Locked | SsError::NoResult | SsError::Prompt => {
                Some(UnavailableReason::Locked)
            }
            SsError::Unavailable => Some(UnavailableReason::ServiceNotProvided),
            _ if connecting => Some(UnavailableReason::Other),
            _ => None,
        };
    };
    let name = e.name().unwrap_or_default();
    let short = name.rsplit('.').next().unwrap_or_default();
    let message = e.message().unwrap_or_default().to_ascii_lowercase();
    let bus = message.contains("autolaunch")
        || message.contains("dbus-launch")
        || message.contains("dbus_session_bus_address")
        || message.contains("failed to connect")
        || message.contains("address does not contain")
        || matches!(
            short,
            "NotSupported"
                | "FileNotFound"
                | "NoServer"
                | "BadAddress"
                | "Disconnected"
                | "NoNetwork"
                | "IOError"
                | "AuthFailed"
        );
    if bus {
        Some(UnavailableReason::NoSessionBus)
    } else if matches!(short, "ServiceUnknown" | "NameHasNoOwner")
        || name.contains(".Spawn.")
        || message.contains("not provided by any .service files")
    {
        Some(UnavailableReason::ServiceNotProvided)
    } else if short == "IsLocked" || message.contains("locked") {
        Some(UnavailableReason::Locked)
    } else if matches!(short, "NoReply" | "Timeout" | "TimedOut") {
        Some(UnavailableReason::NoAnswer {
            waited: CALL_TIMEOUT,
        })
    } else if connecting {
        Some(UnavailableReason::Other)
    } else {
        None
    }
}

/// A failure of one vault operation.
enum OpError {
    Service(SsError),
    /// Several items match the account.
    Ambiguous(usize),
}

impl From<SsError> for OpError {
    fn from(e: SsError) -> Self {
        Self::Service(e)
    }
}

impl SecretServiceVault {
    /// Runs `op` on the connected service; a failure that means the service is gone drops the
    /// connection, so the next operation tries again.
    fn with<T>(
        &self,
        operation: Operation,
        account: &str,
        op: impl FnOnce(&SecretService) -> Result<T, OpError>,
    ) -> Result<T, KeychainError> {
        let mut guard = self.connected()?;
        let Some(service) = guard.as_ref() else {
            return Err(KeychainError::unavailable(
                BACKEND,
                UnavailableReason::Other,
                None,
            ));
        };
        op(service).map_err(|e| {
            let (cause, reason) = match &e {
                OpError::Service(e) => (platform_error(e), classify(e, false)),
                OpError::Ambiguous(count) => (PlatformError::new(ambiguous(*count)), None),
            };
            match reason {
                Some(reason) => {
                    *guard = None;
                    KeychainError::unavailable(BACKEND, reason, Some(cause))
                }
                None => KeychainError::Failed {
                    operation,
                    backend: BACKEND,
                    account: account.to_owned(),
                    cause,
                },
            }
        })
    }

    /// The lock on the connection, connecting first if needed.
    fn connected(&self) -> Result<MutexGuard<'_, Option<SecretService>>, KeychainError> {
        let mut guard = self.service.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.is_none() {
            let service = SecretService::connect(EncryptionType::Plain).map_err(|e| {
                KeychainError::unavailable(
                    BACKEND,
                    classify(&e, true).unwrap_or(UnavailableReason::Other),
                    Some(platform_error(&e)),
                )
            })?;
            tracing::debug!("connected to the Secret Service (one session for this process)");
            *guard = Some(service);
        }
        Ok(guard)
    }
}

/// The items of `account`, each with whether it is locked (as the search says: no extra round
/// trip to ask).
fn find<'a>(service: &'a SecretService, account: &str) -> Result<Vec<(Item<'a>, bool)>, SsError> {
    let found = service.search_items(attributes(account))?;
    let unlocked = found.unlocked.into_iter().map(|item| (item, false));
    Ok(unlocked
        .chain(found.locked.into_iter().map(|item| (item, true)))
        .collect())
}

/// Unlocks a locked item (the service may prompt).
fn usable<'a>((item, locked): (Item<'a>, bool)) -> Result<Item<'a>, SsError> {
    if locked {
        item.unlock()?;
    }
    Ok(item)
}

/// The one item of `account`, unlocked; `None` when there is none.
fn unique<'a>(service: &'a SecretService, account: &str) -> Result<Option<Item<'a>>, OpError> {
    let mut items = find(service, account)?;
    if items.len() > 1 {
        return Err(OpError::Ambiguous(items.len()));
    }
    Ok(items.pop().map(usable).transpose()?)
}

impl Vault for SecretServiceVault {
    fn backend(&self) -> Backend {
        BACKEND
    }

    fn get(&self, account: &str) -> Result<Option<SecretBytes>, KeychainError> {
        self.with(Operation::Read, account, |service| {
            match unique(service, account)? {
                Some(item) => Ok(Some(SecretBytes::new(item.get_secret()?))),
                None => Ok(None),
            }
        })
    }

    fn set(&self, account: &str, value: &[u8]) -> Result<(), KeychainError> {
        self.with(Operation::Write, account, |service| {
            if let Some(item) = unique(service, account)? {
                return Ok(item.set_secret(value, CONTENT_TYPE)?);
            }
            let collection = service.get_default_collection()?;
            collection.ensure_unlocked()?;
            let mut attributes = attributes(account);
            // The `keyring` crate's value: an item of an earlier version and a new one have the
            // same attributes, so a `CreateItem(replace)` by either replaces the other.
            attributes.insert("application", "rust-keyring");
            collection.create_item(&label(account), attributes, value, true, CONTENT_TYPE)?;
            Ok(())
        })
    }

    fn delete(&self, account: &str) -> Result<bool, KeychainError> {
        self.with(Operation::Delete, account, |service| {
            let items = find(service, account)?;
            let found = !items.is_empty();
            for item in items {
                usable(item)?.delete()?;
            }
            Ok(found)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dbus(name: &str, message: &str) -> SsError {
        SsError::Dbus(dbus::Error::new_custom(name, message))
    }

    #[test]
    fn sorts_failures_by_their_d_bus_names_and_libdbus_wordings() {
        let cases = [
            (
                dbus(
                    "org.freedesktop.DBus.Error.FileNotFound",
                    "Failed to connect to socket /x/bus: No such file or directory",
                ),
                true,
                Some(UnavailableReason::NoSessionBus),
            ),
            (
                dbus(
                    "org.freedesktop.DBus.Error.NotSupported",
                    "Using X11 for dbus-daemon autolaunch was disabled at compile time, set your DBUS_SESSION_BUS_ADDRESS instead",
                ),
                true,
                Some(UnavailableReason::NoSessionBus),
            ),
            (
                dbus(
                    "org.freedesktop.DBus.Error.ServiceUnknown",
                    "The name org.freedesktop.secrets was not provided by any .service files",
                ),
                true,
                Some(UnavailableReason::ServiceNotProvided),
            ),
            (
                dbus(
                    "org.freedesktop.Secret.Error.IsLocked",
                    "Cannot create an item in a locked collection",
                ),
                false,
                Some(UnavailableReason::Locked),
            ),
            (
                dbus(
                    "org.freedesktop.DBus.Error.NoReply",
                    "Did not receive a reply",
                ),
                false,
                Some(UnavailableReason::NoAnswer {
                    waited: CALL_TIMEOUT,
                }),
            ),
            (SsError::NoResult, false, Some(UnavailableReason::Locked)),
            (SsError::Prompt, false, Some(UnavailableReason::Locked)),
            (
                dbus("org.freedesktop.DBus.Error.UnknownMethod", "no such method"),
                false,
                None,
            ),
            (
                dbus("org.freedesktop.DBus.Error.UnknownMethod", "no such method"),
                true,
                Some(UnavailableReason::Other),
            ),
            (SsError::Parse, false, None),
        ];
        for (error, connecting, want) in cases {
            assert_eq!(classify(&error, connecting), want, "{error}");
        }
        let words = platform_error(&dbus("org.freedesktop.DBus.Error.NoServer", "refused"));
        assert_eq!(
            (words.name.as_deref(), words.message.as_str()),
            (Some("org.freedesktop.DBus.Error.NoServer"), "refused")
        );
    }

    #[test]
    fn items_look_like_the_keyring_crates() {
        let attributes = attributes("credential:x.json");
        assert_eq!(attributes.get("service"), Some(&SERVICE));
        assert_eq!(attributes.get("username"), Some(&"credential:x.json"));
        assert_eq!(attributes.get("target"), Some(&"default"));
        assert_eq!(label("probe"), "probe@ack-ram-tool:default");
    }
}
