//! Configuration, layered with figment: built-in defaults < config file < environment < flags.
//!
//! The config file is `$ACK_RAM_TOOL_CONFIG` when set (it must exist), else
//! `$XDG_CONFIG_HOME/ack-ram-tool/config.toml` or `~/.config/ack-ram-tool/config.toml` when
//! present. Environment variables are the Go tool's `ACK_RAM_TOOL_*` names (plus its legacy
//! `ACK_RAM_TOOL_PROFIL_ENAME` and `CS_ENDPOINT` fallbacks); empty values count as unset. Keys
//! are the flag names with `_` for `-`; an unknown key in the file is an error, not a silent no-op.

use crate::cli::{GetCredentialArgs, GlobalArgs, parse_go_bool};
use crate::logging::LogLevel;
use ack_ram_adapters::env::Environment;
use ack_ram_adapters::local_file::{self, Symlinks, caps};
use ack_ram_adapters::sources::CredentialType;
use ack_ram_adapters::store::StoreKind;
use ack_ram_domain::RegionId;
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Deserializer, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The Go tool's default cache directory.
pub const DEFAULT_CACHE_DIR: &str = "~/.kube/cache/ack-ram-tool/credential-plugin";

/// Every setting that can come from the environment: its config key, the variables that set
/// it (the first one set wins: the Go tool's name before its legacy spelling), and whether the
/// value is a number. figment reads this table, and `docs_name_every_variable` checks that
/// docs/configuration.md does too.
pub const ENV_VARS: &[EnvVar] = &[
    EnvVar::text("region_id", &["ACK_RAM_TOOL_REGION_ID"]),
    EnvVar::text("profile_file", &["ACK_RAM_TOOL_PROFILE_FILE"]),
    EnvVar::text(
        "profile_name",
        &["ACK_RAM_TOOL_PROFILE_NAME", "ACK_RAM_TOOL_PROFIL_ENAME"],
    ),
    EnvVar::text(
        "ignore_env_credentials",
        &["ACK_RAM_TOOL_IGNORE_ENV_CREDENTIALS"],
    ),
    EnvVar::text(
        "ignore_aliyun_cli_credentials",
        &["ACK_RAM_TOOL_IGNORE_ALIYUN_CLI_CREDENTIALS"],
    ),
    EnvVar::text("credential_type", &["ACK_RAM_TOOL_CREDENTIAL_TYPE"]),
    EnvVar::text("sts_endpoint", &["ACK_RAM_TOOL_STS_ENDPOINT"]),
    EnvVar::text("cs_endpoint", &["ACK_RAM_TOOL_CS_ENDPOINT", "CS_ENDPOINT"]),
    EnvVar::text("ram_endpoint", &["ACK_RAM_TOOL_RAM_ENDPOINT"]),
    EnvVar::text("log_level", &["ACK_RAM_TOOL_LOG_LEVEL"]),
    EnvVar::text("verbose", &["ACK_RAM_TOOL_VERBOSE"]),
    EnvVar::text("assume_yes", &["ACK_RAM_TOOL_ASSUME_YES"]),
    EnvVar::text(
        "credential_cache_dir",
        &["ACK_RAM_TOOL_CREDENTIAL_CACHE_DIR"],
    ),
    EnvVar::number(
        "http_connect_timeout_ms",
        &["ACK_RAM_TOOL_HTTP_CONNECT_TIMEOUT_MS"],
    ),
    EnvVar::number("http_timeout_ms", &["ACK_RAM_TOOL_HTTP_TIMEOUT_MS"]),
    EnvVar::number("retry_max_attempts", &["ACK_RAM_TOOL_RETRY_MAX_ATTEMPTS"]),
    EnvVar::number("retry_deadline_ms", &["ACK_RAM_TOOL_RETRY_DEADLINE_MS"]),
    EnvVar::number("lock_timeout_ms", &["ACK_RAM_TOOL_LOCK_TIMEOUT_MS"]),
    EnvVar::text("cache_store", &["ACK_RAM_TOOL_CACHE_STORE"]),
    EnvVar::text("force_refresh", &["ACK_RAM_TOOL_FORCE_REFRESH"]),
];

/// A setting's environment variables.
#[derive(Clone, Copy, Debug)]
pub struct EnvVar {
    /// The config key (the flag name with `_` for `-`).
    pub key: &'static str,
    /// The variables, in precedence order.
    pub names: &'static [&'static str],
    /// Whether the value is read as a number (else as text, so a profile named `123` stays a
    /// name).
    pub number: bool,
}

impl EnvVar {
    const fn text(key: &'static str, names: &'static [&'static str]) -> Self {
        Self {
            key,
            names,
            number: false,
        }
    }

    const fn number(key: &'static str, names: &'static [&'static str]) -> Self {
        Self {
            key,
            names,
            number: true,
        }
    }
}

/// The resolved settings, typed: anything that does not parse is refused when the
/// configuration is loaded, naming where the value came from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub region_id: Option<RegionId>,
    pub profile_file: Option<String>,
    pub profile_name: Option<String>,
    #[serde(deserialize_with = "go_bool")]
    pub ignore_env_credentials: bool,
    #[serde(deserialize_with = "go_bool")]
    pub ignore_aliyun_cli_credentials: bool,
    pub credential_type: CredentialType,
    pub sts_endpoint: Option<String>,
    pub cs_endpoint: Option<String>,
    pub ram_endpoint: Option<String>,
    pub log_level: LogLevel,
    #[serde(deserialize_with = "go_bool")]
    pub verbose: bool,
    #[serde(deserialize_with = "go_bool")]
    pub assume_yes: bool,
    pub credential_cache_dir: String,
    /// Time allowed to connect to an API (`http_connect_timeout_ms`).
    #[serde(rename = "http_connect_timeout_ms", with = "positive_millis")]
    pub http_connect_timeout: Duration,
    /// Time allowed for a whole API request (`http_timeout_ms`).
    #[serde(rename = "http_timeout_ms", with = "positive_millis")]
    pub http_timeout: Duration,
    /// Attempts at the ACK call in all (1 = no retry); only transient failures are retried.
    #[serde(deserialize_with = "at_least_one")]
    pub retry_max_attempts: u32,
    /// No retry starts later than this after the first attempt (`retry_deadline_ms`).
    #[serde(rename = "retry_deadline_ms", with = "millis")]
    pub retry_deadline: Duration,
    /// How long a refresh waits for another process refreshing the same entry
    /// (`lock_timeout_ms`).
    #[serde(rename = "lock_timeout_ms", with = "millis")]
    pub lock_timeout: Duration,
    /// Where certificates are cached: file, keyring, auto or none.
    pub cache_store: StoreKind,
    /// `get-credential --force-refresh`: fetch a new certificate even if one is fresh.
    #[serde(deserialize_with = "go_bool")]
    pub force_refresh: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            region_id: None,
            profile_file: None,
            profile_name: None,
            ignore_env_credentials: false,
            ignore_aliyun_cli_credentials: false,
            credential_type: CredentialType::Auto,
            sts_endpoint: None,
            cs_endpoint: None,
            ram_endpoint: None,
            log_level: LogLevel::Info,
            verbose: false,
            assume_yes: false,
            credential_cache_dir: DEFAULT_CACHE_DIR.into(),
            http_connect_timeout: Duration::from_secs(5),
            http_timeout: Duration::from_secs(30),
            retry_max_attempts: 3,
            retry_deadline: Duration::from_secs(10),
            lock_timeout: Duration::from_secs(30),
            cache_store: StoreKind::File,
            force_refresh: false,
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("ACK_RAM_TOOL_CONFIG names {0}, which does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("unusable config file: {0}")]
    Unreadable(#[from] ack_ram_adapters::local_file::LocalFileError),
}

/// Where the config file is, if there is one.
fn config_file(env: &Environment) -> Result<Option<PathBuf>, ConfigError> {
    if let Some(explicit) = env.get("ACK_RAM_TOOL_CONFIG") {
        // Absolute, so every message names the file whatever the working directory.
        let path = std::path::absolute(explicit).unwrap_or_else(|_| PathBuf::from(explicit));
        return if local_file::exists(&path) {
            Ok(Some(path))
        } else {
            Err(ConfigError::MissingFile(path))
        };
    }
    let base = match env.get("XDG_CONFIG_HOME") {
        Some(xdg) => PathBuf::from(xdg),
        None => match env.get("HOME") {
            Some(home) => PathBuf::from(home).join(".config"),
            None => return Ok(None),
        },
    };
    let path = base.join("ack-ram-tool").join("config.toml");
    // Present means anything at all is there: a FIFO or a device is then reported, not skipped.
    Ok(local_file::exists(&path).then_some(path))
}

/// One setting from one environment variable of the snapshot, named in errors.
struct FromEnv {
    key: &'static str,
    name: &'static str,
    value: Value,
}

impl Provider for FromEnv {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("environment variable {}", self.name))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        dict.insert(self.key.to_owned(), self.value.clone());
        Ok(Profile::Default.collect(dict))
    }
}

/// The settings the environment snapshot sets (empty values count as unset, as in the Go
/// tool), as figment layers.
fn env_layers(env: &Environment) -> impl Iterator<Item = FromEnv> + '_ {
    ENV_VARS.iter().filter_map(|var| {
        let (name, raw) = env.first_of(var.names)?;
        let value = if var.number {
            raw.parse::<Value>().unwrap_or_else(|never| match never {})
        } else {
            Value::from(raw.to_owned())
        };
        Some(FromEnv {
            key: var.key,
            name,
            value,
        })
    })
}

/// Loads the settings: built-in defaults < config file < environment snapshot < flags.
///
/// When there is no config file and no setting comes from the environment (the common case of
/// a kubectl run), the flags are applied to the defaults directly: figment's layering is not
/// needed, and the cache hit is the plugin's heartbeat.
pub fn load(
    global: &GlobalArgs,
    command: Option<&GetCredentialArgs>,
    env: &Environment,
) -> Result<Settings, ConfigError> {
    let path = config_file(env)?;
    if path.is_none() && env_layers(env).next().is_none() {
        return Ok(with_flags(Settings::default(), global, command));
    }
    layered(global, command, env, path)
}

/// `settings` with the given flags on top (the flags' types are already the settings' types).
fn with_flags(
    mut settings: Settings,
    global: &GlobalArgs,
    command: Option<&GetCredentialArgs>,
) -> Settings {
    fn set<T: Clone>(field: &mut T, flag: &Option<T>) {
        if let Some(value) = flag {
            *field = value.clone();
        }
    }
    fn set_some<T: Clone>(field: &mut Option<T>, flag: &Option<T>) {
        if flag.is_some() {
            field.clone_from(flag);
        }
    }
    // Destructured, so a new global flag cannot be forgotten here.
    let GlobalArgs {
        region_id,
        profile_file,
        profile_name,
        ignore_env_credentials,
        ignore_aliyun_cli_credentials,
        credential_type,
        sts_endpoint,
        cs_endpoint,
        ram_endpoint,
        log_level,
        verbose,
        cache_store,
        assume_yes,
    } = global;
    set_some(&mut settings.region_id, region_id);
    set_some(&mut settings.profile_file, profile_file);
    set_some(&mut settings.profile_name, profile_name);
    set(&mut settings.ignore_env_credentials, ignore_env_credentials);
    set(
        &mut settings.ignore_aliyun_cli_credentials,
        ignore_aliyun_cli_credentials,
    );
    set(&mut settings.credential_type, credential_type);
    set_some(&mut settings.sts_endpoint, sts_endpoint);
    set_some(&mut settings.cs_endpoint, cs_endpoint);
    set_some(&mut settings.ram_endpoint, ram_endpoint);
    set(&mut settings.log_level, log_level);
    set(&mut settings.verbose, verbose);
    set(&mut settings.cache_store, cache_store);
    set(&mut settings.assume_yes, assume_yes);
    if let Some(command) = command {
        set(
            &mut settings.credential_cache_dir,
            &command.credential_cache_dir,
        );
        set(&mut settings.force_refresh, &command.force_refresh);
    }
    settings
}

/// The figment layers: defaults < config file < environment < flags.
fn layered(
    global: &GlobalArgs,
    command: Option<&GetCredentialArgs>,
    env: &Environment,
    path: Option<PathBuf>,
) -> Result<Settings, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(Settings::default()));
    if let Some(path) = &path {
        // Read here, bounded and without blocking (a FIFO or /dev/zero in its place must not
        // hang or exhaust kubectl), then parsed from memory.
        let text = local_file::read_to_string(path, caps::CONFIG_TOML, Symlinks::Follow)?;
        figment = figment.merge(Toml::string(&text));
    }
    for layer in env_layers(env) {
        figment = figment.merge(layer);
    }
    // Flags win; the global flags serialise only the ones given (`None` is skipped).
    figment = figment.merge(Serialized::defaults(global));
    if let Some(dir) = command.and_then(|c| c.credential_cache_dir.as_deref()) {
        figment = figment.merge(Serialized::default("credential_cache_dir", dir));
    }
    if let Some(force) = command.and_then(|c| c.force_refresh) {
        figment = figment.merge(Serialized::default("force_refresh", force));
    }
    figment
        .extract()
        .map_err(|e| ConfigError::Invalid(render_figment_error(e, path.as_deref())))
}

/// A duration written as whole milliseconds.
mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

/// A duration written as whole milliseconds, more than zero.
mod positive_millis {
    use serde::{Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        super::millis::serialize(value, serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let value = super::millis::deserialize(deserializer)?;
        if value.is_zero() {
            return Err(serde::de::Error::custom(
                "must be a positive number of milliseconds",
            ));
        }
        Ok(value)
    }
}

/// A count of at least one.
fn at_least_one<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    match u32::deserialize(deserializer)? {
        0 => Err(serde::de::Error::custom(
            "must be at least 1 (1 means no retry)",
        )),
        n => Ok(n),
    }
}

fn render_figment_error(error: figment::Error, file: Option<&std::path::Path>) -> String {
    error
        .into_iter()
        .map(|e| {
            let origin = e
                .metadata
                .as_ref()
                .map(|m| match (&m.source, file) {
                    (Some(source), _) => format!(" (from {source})"),
                    // The file was read into memory: name it, not "TOML source string".
                    (None, Some(file)) if m.name.starts_with("TOML") => {
                        format!(" (from {})", file.display())
                    }
                    (None, _) => format!(" (from {})", m.name),
                })
                .unwrap_or_default();
            let path = if e.path.is_empty() {
                String::new()
            } else {
                format!("{}: ", e.path.join("."))
            };
            let kind = match &e.kind {
                // figment's own text nests backticks ("expected `one of `a`, `b``").
                figment::error::Kind::UnknownField(field, known) => {
                    format!("unknown key {field:?} (known keys: {})", known.join(", "))
                }
                other => other.to_string(),
            };
            format!("{path}{kind}{origin}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Booleans from TOML (`true`), the environment (`1`, `t`, `TRUE`, ... as Go reads them) or flags.
fn go_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bool(bool),
        Int(i64),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Bool(b) => Ok(b),
        Raw::Int(1) => Ok(true),
        Raw::Int(0) => Ok(false),
        Raw::Int(n) => Err(serde::de::Error::custom(format!(
            "{n} is not a boolean; use true or false"
        ))),
        Raw::Text(t) => parse_go_bool(&t).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests;
