//! Whether a keychain can be used, within a deadline, leaving nothing behind.
//!
//! `--cache-store auto` picks the keychain only when it answers; `--cache-store keyring` and
//! `cache clear` refuse early rather than hang on an unlock prompt nobody answers. A locked
//! Secret Service collection still answers searches but refuses writes, so the probe writes a
//! non-secret entry ([`PROBE_ACCOUNT`]) and deletes it again. Versions before this one wrote it
//! once and left it; [`remove_probe_leftover`] removes such a leftover.

use super::PROBE_ACCOUNT;
use super::backend::UnavailableReason;
use super::error::{KeychainError, PlatformError};
use super::vault::Vault;
use std::sync::Arc;
use std::time::Duration;

const PROBE_VALUE: &[u8] = b"ack-ram-tool keychain probe (not a secret)";

/// Whether the keychain behind `vault` answers and takes writes within `timeout`
/// ([`super::DEFAULT_PROBE_TIMEOUT`] in production). Every failure is
/// [`KeychainError::Unavailable`]; a keychain that has not answered by then (an unlock prompt,
/// a hung daemon) is [`UnavailableReason::NoAnswer`], and the probe thread is left to finish on
/// its own. Writes and deletes the entry [`PROBE_ACCOUNT`].
pub fn probe(vault: &Arc<dyn Vault>, timeout: Duration) -> Result<(), KeychainError> {
    let result = within(vault, timeout, |vault| {
        vault.set(PROBE_ACCOUNT, PROBE_VALUE)?;
        if let Err(e) = vault.delete(PROBE_ACCOUNT) {
            // Usable all the same; `cache clear` removes the entry later.
            tracing::debug!(error = %e, "keychain probe: could not delete the probe entry");
        }
        Ok(())
    })
    .map_err(|e| match e {
        unavailable @ KeychainError::Unavailable { .. } => unavailable,
        other => KeychainError::unavailable(
            other.backend(),
            UnavailableReason::Other,
            Some(PlatformError::new(crate::http::error_chain(&other))),
        ),
    });
    let backend = vault.backend().name();
    match &result {
        Ok(()) => tracing::debug!(backend, "keychain probe: available"),
        Err(e) => {
            tracing::debug!(backend, reason = %crate::http::error_chain(e), "keychain probe: unavailable")
        }
    }
    result
}

/// Removes the probe entry earlier versions left in the keychain; `true` when there was one.
/// Same deadline rule as [`probe`].
pub fn remove_probe_leftover(
    vault: &Arc<dyn Vault>,
    timeout: Duration,
) -> Result<bool, KeychainError> {
    within(vault, timeout, |vault| vault.delete(PROBE_ACCOUNT))
}

/// Runs `op` on a thread of its own and waits at most `timeout` for it.
fn within<T: Send + 'static>(
    vault: &Arc<dyn Vault>,
    timeout: Duration,
    op: impl FnOnce(&dyn Vault) -> Result<T, KeychainError> + Send + 'static,
) -> Result<T, KeychainError> {
    let backend = vault.backend();
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = Arc::clone(vault);
    let spawned = std::thread::Builder::new()
        .name("keychain-probe".into())
        .spawn(move || {
            let _ = tx.send(op(worker.as_ref()));
        });
    match spawned {
        Ok(_) => rx.recv_timeout(timeout).unwrap_or_else(|_| {
            Err(KeychainError::unavailable(
                backend,
                UnavailableReason::NoAnswer { waited: timeout },
                None,
            ))
        }),
        Err(e) => Err(KeychainError::unavailable(
            backend,
            UnavailableReason::Other,
            Some(PlatformError::new(format!(
                "could not start the probe: {e}"
            ))),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::MemoryVault;
    use super::*;

    #[test]
    fn a_usable_keychain_keeps_nothing_of_the_probe() {
        let memory = Arc::new(MemoryVault::new());
        let vault: Arc<dyn Vault> = memory.clone();
        assert_eq!(probe(&vault, Duration::from_secs(3)), Ok(()));
        assert_eq!(memory.writes(), 1);
        assert!(memory.entries().is_empty());

        memory
            .entries()
            .insert(PROBE_ACCOUNT.into(), PROBE_VALUE.to_vec());
        assert_eq!(
            remove_probe_leftover(&vault, Duration::from_secs(3)),
            Ok(true)
        );
        assert_eq!(
            remove_probe_leftover(&vault, Duration::from_secs(3)),
            Ok(false)
        );
    }

    #[test]
    fn an_unusable_keychain_is_unavailable_with_its_reason() {
        let memory = Arc::new(MemoryVault::new());
        memory.make_unavailable(UnavailableReason::Locked, "no result found");
        let vault: Arc<dyn Vault> = memory;
        let err = probe(&vault, Duration::from_secs(3)).err();
        assert_eq!(
            err.and_then(|e| e.unavailable_reason()),
            Some(UnavailableReason::Locked)
        );
    }

    /// A vault that never answers, as behind an unlock prompt nobody sees.
    #[derive(Debug)]
    struct Hung;

    impl Vault for Hung {
        fn backend(&self) -> super::super::Backend {
            super::super::Backend::Native
        }
        fn get(&self, _: &str) -> Result<Option<super::super::SecretBytes>, KeychainError> {
            std::thread::sleep(Duration::from_secs(60));
            Ok(None)
        }
        fn set(&self, _: &str, _: &[u8]) -> Result<(), KeychainError> {
            std::thread::sleep(Duration::from_secs(60));
            Ok(())
        }
        fn delete(&self, _: &str) -> Result<bool, KeychainError> {
            std::thread::sleep(Duration::from_secs(60));
            Ok(false)
        }
    }

    #[test]
    fn a_keychain_that_does_not_answer_is_given_up_on_in_time() {
        let vault: Arc<dyn Vault> = Arc::new(Hung);
        let started = std::time::Instant::now();
        let err = probe(&vault, Duration::from_millis(50)).err();
        assert!(started.elapsed() < Duration::from_secs(5));
        let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
        assert!(
            matches!(
                err.and_then(|e| e.unavailable_reason()),
                Some(UnavailableReason::NoAnswer { .. })
            ),
            "{text}"
        );
        assert!(text.contains("within 50 ms"), "{text}");
    }
}
