//! Configuration, layered with figment: built-in defaults < config file < environment < flags.
//!
//! The config file is `$ACK_RAM_TOOL_CONFIG` when set (it must exist), else
//! `$XDG_CONFIG_HOME/ack-ram-tool/config.toml` or `~/.config/ack-ram-tool/config.toml` when
//! present. Environment variables are the Go tool's `ACK_RAM_TOOL_*` names (plus its legacy
//! `ACK_RAM_TOOL_PROFIL_ENAME` and `CS_ENDPOINT` fallbacks); empty values count as unset. Keys
//! are the flag names with `_` for `-`; an unknown key in the file is an error, not a silent no-op.

use crate::cli::{GetCredentialArgs, GlobalArgs, parse_go_bool};
use ack_ram_adapters::local_file::{self, Symlinks, caps};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize};
use std::path::PathBuf;

/// The Go tool's default cache directory.
pub const DEFAULT_CACHE_DIR: &str = "~/.kube/cache/ack-ram-tool/credential-plugin";

/// Keys that may come from `ACK_RAM_TOOL_*` variables.
const ENV_KEYS: &[&str] = &[
    "region_id",
    "profile_file",
    "profile_name",
    "ignore_env_credentials",
    "ignore_aliyun_cli_credentials",
    "credential_type",
    "sts_endpoint",
    "cs_endpoint",
    "ram_endpoint",
    "log_level",
    "verbose",
    "assume_yes",
    "credential_cache_dir",
    "http_connect_timeout_ms",
    "http_timeout_ms",
    "retry_max_attempts",
    "retry_deadline_ms",
    "lock_timeout_ms",
    "cache_store",
];

/// The resolved settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub region_id: Option<String>,
    pub profile_file: Option<String>,
    pub profile_name: Option<String>,
    #[serde(deserialize_with = "go_bool")]
    pub ignore_env_credentials: bool,
    #[serde(deserialize_with = "go_bool")]
    pub ignore_aliyun_cli_credentials: bool,
    pub credential_type: String,
    pub sts_endpoint: Option<String>,
    pub cs_endpoint: Option<String>,
    pub ram_endpoint: Option<String>,
    pub log_level: String,
    #[serde(deserialize_with = "go_bool")]
    pub verbose: bool,
    #[serde(deserialize_with = "go_bool")]
    pub assume_yes: bool,
    pub credential_cache_dir: String,
    /// Time allowed to connect to an API, in milliseconds.
    pub http_connect_timeout_ms: u64,
    /// Time allowed for a whole API request, in milliseconds.
    pub http_timeout_ms: u64,
    /// Attempts at the ACK call in all (1 = no retry); only transient failures are retried.
    pub retry_max_attempts: u32,
    /// No retry starts later than this after the first attempt, in milliseconds.
    pub retry_deadline_ms: u64,
    /// How long a refresh waits for another process refreshing the same entry, in milliseconds.
    pub lock_timeout_ms: u64,
    /// Where certificates are cached: file, keyring, auto or none.
    pub cache_store: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            region_id: None,
            profile_file: None,
            profile_name: None,
            ignore_env_credentials: false,
            ignore_aliyun_cli_credentials: false,
            credential_type: "auto".into(),
            sts_endpoint: None,
            cs_endpoint: None,
            ram_endpoint: None,
            log_level: "info".into(),
            verbose: false,
            assume_yes: false,
            credential_cache_dir: DEFAULT_CACHE_DIR.into(),
            http_connect_timeout_ms: 5_000,
            http_timeout_ms: 30_000,
            retry_max_attempts: 3,
            retry_deadline_ms: 10_000,
            lock_timeout_ms: 30_000,
            cache_store: "file".into(),
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
fn config_file(home: Option<&str>) -> Result<Option<PathBuf>, ConfigError> {
    if let Some(explicit) = std::env::var_os("ACK_RAM_TOOL_CONFIG").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(explicit);
        return if local_file::exists(&path) {
            Ok(Some(path))
        } else {
            Err(ConfigError::MissingFile(path))
        };
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(xdg) => PathBuf::from(xdg),
        None => match home {
            Some(home) => PathBuf::from(home).join(".config"),
            None => return Ok(None),
        },
    };
    let path = base.join("ack-ram-tool").join("config.toml");
    // Present means anything at all is there: a FIFO or a device is then reported, not skipped.
    Ok(local_file::exists(&path).then_some(path))
}

/// An `Env` provider that skips variables set to the empty string, as the Go tool does.
fn non_empty(env: Env, prefix: &'static str) -> Env {
    env.filter(move |key| {
        std::env::var_os(format!("{prefix}{}", key.as_str().to_ascii_uppercase()))
            .is_some_and(|v| !v.is_empty())
    })
}

/// Loads the settings for a `get-credential` style command.
pub fn load(
    global: &GlobalArgs,
    command: Option<&GetCredentialArgs>,
    home: Option<&str>,
) -> Result<Settings, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(Settings::default()));
    let path = config_file(home)?;
    if let Some(path) = &path {
        // Read here, bounded and without blocking (a FIFO or /dev/zero in its place must not
        // hang or exhaust kubectl), then parsed from memory.
        let text = local_file::read_to_string(path, caps::CONFIG_TOML, Symlinks::Follow)?;
        figment = figment.merge(Toml::string(&text));
    }
    figment = figment
        .merge(
            non_empty(Env::raw().only(&["ack_ram_tool_profil_ename"]), "")
                .map(|_| "profile_name".into()),
        )
        .merge(non_empty(Env::raw().only(&["cs_endpoint"]), ""))
        .merge(non_empty(
            Env::prefixed("ACK_RAM_TOOL_").only(ENV_KEYS),
            "ACK_RAM_TOOL_",
        ));
    // Flags win; the global flags serialise only the ones given (`None` is skipped).
    figment = figment.merge(Serialized::defaults(global));
    if let Some(dir) = command.and_then(|c| c.credential_cache_dir.as_deref()) {
        figment = figment.merge(Serialized::default("credential_cache_dir", dir));
    }
    figment
        .extract()
        .map_err(|e| ConfigError::Invalid(render_figment_error(e, path.as_deref())))
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
            format!("{path}{}{origin}", e.kind)
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
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_go_tool() {
        let s = Settings::default();
        assert_eq!(s.credential_cache_dir, DEFAULT_CACHE_DIR);
        assert_eq!(s.credential_type, "auto");
        assert_eq!(s.log_level, "info");
    }

    #[test]
    fn file_values_are_overridden_by_flags() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "region_id = \"cn-beijing\"\nverbose = true\nhttp_timeout_ms = 1234\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let figment = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file_exact(&path))
            .merge(Serialized::defaults(GlobalArgs {
                region_id: Some("cn-shanghai".into()),
                ..GlobalArgs::default()
            }));
        let s: Settings = figment.extract().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.region_id.as_deref(), Some("cn-shanghai"));
        assert!(s.verbose);
        assert_eq!(s.http_timeout_ms, 1234);
    }

    #[test]
    fn unknown_keys_and_bad_bools_are_reported_with_their_origin() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "regoin_id = \"x\"\n").unwrap_or_else(|e| panic!("{e}"));
        let err = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file_exact(&path))
            .extract::<Settings>()
            .map_err(|e| render_figment_error(e, None))
            .err()
            .unwrap_or_default();
        assert!(err.contains("regoin_id") && err.contains("c.toml"), "{err}");
        std::fs::write(&path, "verbose = \"maybe\"\n").unwrap_or_else(|e| panic!("{e}"));
        let err = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file_exact(&path))
            .extract::<Settings>()
            .map_err(|e| render_figment_error(e, None))
            .err()
            .unwrap_or_default();
        assert!(
            err.contains("verbose") && err.contains("not a boolean"),
            "{err}"
        );
    }
}
