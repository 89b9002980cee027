//! Which keychain holds the entries, and the ways a keychain can be unusable.
//!
//! Kept apart from the error type so that messages, metadata files and `keyring list` name a
//! backend the same way everywhere ([`Backend::name`] for people, [`Backend::id`] on disk).

use super::SERVICE;
use std::fmt;
use std::time::Duration;

/// Which keychain holds the entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The platform's own: the Secret Service on Linux and the BSDs, the Keychain on macOS, the
    /// Credential Manager on Windows.
    #[default]
    Native,
    /// The Linux kernel key retention service (keyutils): no daemon, works headless, but in
    /// memory only (lost on reboot; the persistent keyring expires after days unused) and with
    /// a small per-user quota for non-root users (20000 bytes).
    KernelKeyutils,
}

impl Backend {
    /// The name people know it by, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::KernelKeyutils => "kernel keyring (keyutils)",
            Self::Native if cfg!(target_os = "macos") => "macOS Keychain",
            Self::Native if cfg!(target_os = "ios") => "iOS Keychain",
            Self::Native if cfg!(target_os = "windows") => "Windows Credential Manager",
            Self::Native => "Secret Service",
        }
    }

    /// A stable identifier, recorded in the metadata files.
    pub fn id(self) -> &'static str {
        match self {
            Self::KernelKeyutils => "keyutils",
            Self::Native if cfg!(any(target_os = "macos", target_os = "ios")) => "keychain",
            Self::Native if cfg!(target_os = "windows") => "credential-manager",
            Self::Native => "secret-service",
        }
    }

    /// "service/account in the backend", for messages.
    pub fn location(self, account: &str) -> String {
        format!("{SERVICE}/{account} in the {}", self.name())
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a keychain cannot be used. `Display` explains it to a person, with what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnavailableReason {
    /// No D-Bus session bus (containers, CI, ssh without a desktop session).
    NoSessionBus,
    /// A session bus, but nothing provides `org.freedesktop.secrets` on it.
    ServiceNotProvided,
    /// The default collection is locked, missing, or the unlock prompt was dismissed.
    Locked,
    /// The kernel key quota is exhausted.
    QuotaExceeded,
    /// This build has no such backend on this platform.
    Unsupported,
    /// The keychain did not answer within `waited` (an unlock prompt may be waiting).
    NoAnswer {
        /// How long the caller waited.
        waited: Duration,
    },
    /// Any other failure of the platform store.
    Other,
}

impl fmt::Display for UnavailableReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSessionBus => f.write_str(
                "there is no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset or points at nothing), as in most containers, CI jobs and ssh sessions",
            ),
            Self::ServiceNotProvided => f.write_str(
                "nothing provides the Secret Service (org.freedesktop.secrets) on the session bus; start gnome-keyring or KeePassXC",
            ),
            Self::Locked => f.write_str(
                "its default collection is locked or does not exist; unlock it (log in to the desktop, or `gnome-keyring-daemon --unlock`)",
            ),
            Self::QuotaExceeded => f.write_str(
                "the kernel key quota of this user is exhausted (see /proc/sys/kernel/keys/maxbytes)",
            ),
            Self::Unsupported => f.write_str("this build has no such keychain on this platform"),
            Self::NoAnswer { waited } => write!(
                f,
                "it did not answer within {} ms (an unlock prompt may be waiting)",
                waited.as_millis()
            ),
            Self::Other => f.write_str("it failed"),
        }
    }
}
