//! Everything an adapter takes from the outside world, injected as one value.
//!
//! Like aws-config's `ProviderConfig`: sources and stores never reach for the process
//! environment, the real file system, the wall clock, the async timer or a fresh HTTP client on
//! their own. They get a [`Context`], which production builds once in the app's wiring and tests
//! build from a folder and a fixed clock. Every rule can then be tested without touching the real
//! home directory, without sleeping, and in parallel.
//!
//! The HTTP client is built on first use, never on a cache hit (building one loads the TLS
//! roots), and shared by every adapter of the run.

use crate::env::Environment;
use crate::http::{Client, HttpError, HttpSettings, build_client};
use crate::keychain::{self, Vault};
use crate::local_file::{self, LocalFileError, Symlinks};
use ack_ram_domain::ports::Clock;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The file system, as far as credential sources read it.
pub trait Fs: Send + Sync + fmt::Debug {
    /// Reads a whole regular file of at most `limit` bytes, never blocking on a FIFO
    /// ([`local_file::read`]).
    fn read(&self, path: &Path, limit: u64, symlinks: Symlinks) -> Result<Vec<u8>, LocalFileError>;

    /// Whether anything (a file, a FIFO, a dangling link) is at `path`; never blocks.
    fn exists(&self, path: &Path) -> bool;

    /// [`Fs::read`] for UTF-8 text.
    fn read_to_string(
        &self,
        path: &Path,
        limit: u64,
        symlinks: Symlinks,
    ) -> Result<String, LocalFileError> {
        let bytes = self.read(path, limit, symlinks)?;
        String::from_utf8(bytes)
            .map_err(|_| LocalFileError::new(path, local_file::LocalFileErrorKind::NotText))
    }
}

/// The real file system, through [`local_file`].
#[derive(Clone, Copy, Debug, Default)]
pub struct OsFs;

impl Fs for OsFs {
    fn read(&self, path: &Path, limit: u64, symlinks: Symlinks) -> Result<Vec<u8>, LocalFileError> {
        local_file::read(path, limit, symlinks)
    }

    fn exists(&self, path: &Path) -> bool {
        local_file::exists(path)
    }
}

/// A future that completes after a delay.
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Waiting, so that retries can be tested without sleeping.
pub trait Sleep: Send + Sync + fmt::Debug {
    /// Completes after `duration`.
    fn sleep(&self, duration: Duration) -> SleepFuture;
}

/// The async runtime's timer.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioSleep;

impl Sleep for TokioSleep {
    fn sleep(&self, duration: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// What adapters take from the outside world. Cheap to clone (everything is shared).
#[derive(Clone)]
pub struct Context {
    env: Environment,
    home: Option<PathBuf>,
    fs: Arc<dyn Fs>,
    clock: Arc<dyn Clock>,
    sleep: Arc<dyn Sleep>,
    http_settings: HttpSettings,
    http: Arc<OnceLock<Result<Client, Arc<HttpError>>>>,
    vault: Option<Arc<dyn Vault>>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("env", &self.env)
            .field("home", &self.home)
            .field("fs", &self.fs)
            .field("sleep", &self.sleep)
            .field("http_built", &self.http.get().is_some())
            .field("vault", &self.vault)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// The real world: the process's environment snapshot `env`, the real file system and
    /// clock, the runtime's timer, and an HTTP client built from `http_settings` (with the
    /// proxy rules of `env`) on first use.
    /// The home directory is `$HOME` from `env`.
    pub fn new(env: Environment, http_settings: HttpSettings) -> Self {
        let home = env.get("HOME").map(PathBuf::from);
        Self {
            env,
            home,
            fs: Arc::new(OsFs),
            clock: Arc::new(crate::clock::SystemClock),
            sleep: Arc::new(TokioSleep),
            http_settings,
            http: Arc::new(OnceLock::new()),
            vault: None,
        }
    }

    /// The environment snapshot.
    pub fn env(&self) -> &Environment {
        &self.env
    }

    /// The home directory, for default file locations.
    pub fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }

    /// The file system.
    pub fn fs(&self) -> &dyn Fs {
        self.fs.as_ref()
    }

    /// The clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

    /// The timer.
    pub fn sleep(&self) -> Arc<dyn Sleep> {
        Arc::clone(&self.sleep)
    }

    /// The settings HTTP clients are built with (timeouts, proxy, user agent).
    pub fn http_settings(&self) -> &HttpSettings {
        &self.http_settings
    }

    /// The shared HTTP client, built on first use; a failure (no trust roots, an unusable
    /// proxy variable) is remembered and returned to every caller.
    ///
    /// The proxy rules come from the context's environment ([`HttpSettings::with_proxy_from`]),
    /// read only here: a run that builds no client (a cache hit) never parses them.
    pub fn http(&self) -> Result<Client, Arc<HttpError>> {
        self.http
            .get_or_init(|| {
                let settings = self.http_settings.clone().with_proxy_from(&self.env);
                build_client(&settings).map_err(Arc::new)
            })
            .clone()
    }

    /// The keychain: the one given to [`Context::with_vault`], else the OS keychain shared by
    /// the whole process ([`keychain::os_vault`]), which connects on its first operation only
    /// (a file-store hit never touches D-Bus).
    pub fn vault(&self) -> Arc<dyn Vault> {
        match &self.vault {
            Some(vault) => Arc::clone(vault),
            None => keychain::os_vault(keychain::Backend::Native),
        }
    }

    /// Uses `vault` as the keychain (an in-memory one in tests).
    pub fn with_vault(mut self, vault: Arc<dyn Vault>) -> Self {
        self.vault = Some(vault);
        self
    }

    /// Replaces the environment snapshot.
    pub fn with_env(mut self, env: Environment) -> Self {
        self.env = env;
        self
    }

    /// Replaces the home directory.
    pub fn with_home(mut self, home: Option<PathBuf>) -> Self {
        self.home = home;
        self
    }

    /// Replaces the file system.
    pub fn with_fs(mut self, fs: Arc<dyn Fs>) -> Self {
        self.fs = fs;
        self
    }

    /// Replaces the clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Replaces the timer.
    pub fn with_sleep(mut self, sleep: Arc<dyn Sleep>) -> Self {
        self.sleep = sleep;
        self
    }

    /// Uses `client` instead of building one.
    pub fn with_http_client(self, client: Client) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(Ok(client));
        Self {
            http: Arc::new(cell),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_built_once_and_only_when_asked() {
        let ctx = Context::new(Environment::default(), HttpSettings::new("t"));
        assert!(format!("{ctx:?}").contains("http_built: false"));
        let shared = ctx.clone();
        assert!(ctx.http().is_ok());
        assert!(format!("{shared:?}").contains("http_built: true"));
    }

    #[test]
    fn home_comes_from_the_snapshot() {
        let env: Environment = [("HOME", "/home/u")].into_iter().collect();
        let ctx = Context::new(env, HttpSettings::new("t"));
        assert_eq!(ctx.home(), Some(Path::new("/home/u")));
        assert_eq!(ctx.with_home(None).home(), None);
    }
}
