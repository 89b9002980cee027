//! Diagnostics on stderr, never stdout (stdout carries only the product).
//!
//! The level comes from `--log-level` (debug, info, warn/warning, error), `-v` (debug), or the Go
//! tool's `DEBUG` variable containing `sdk`, `tea` or `ack-ram-tool`. Generated kubeconfigs pass
//! `--log-level error`, so a normal kubectl run prints nothing but real problems: errors and
//! warnings (at `error`, as the reference describes the Go tool, warnings still show).

use ack_ram_adapters::env::Environment;
use std::io::IsTerminal;
use tracing::level_filters::LevelFilter;

/// `--log-level`: debug, info, warn (or warning), error, any case. Unknown values are refused
/// like every other enum-like flag (the Go tool silently used info).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

impl LogLevel {
    /// The spellings accepted, for help and completion.
    pub const NAMES: [&'static str; 5] = ["debug", "info", "warn", "warning", "error"];

    fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

impl std::str::FromStr for LogLevel {
    type Err = String;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.to_ascii_lowercase().as_str() {
            "debug" => Ok(Self::Debug),
            "info" | "" => Ok(Self::Info),
            "warn" | "warning" => Ok(Self::Warn),
            "error" => Ok(Self::Error),
            _ => Err(format!(
                "unknown log level {raw:?}; use {}",
                Self::NAMES.join(", ")
            )),
        }
    }
}

impl TryFrom<String> for LogLevel {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        raw.parse()
    }
}

impl From<LogLevel> for String {
    fn from(level: LogLevel) -> Self {
        level.as_str().to_owned()
    }
}

/// The filter for `log_level`, `-v` (debug) and the Go tool's `DEBUG` variable.
pub fn level(log_level: LogLevel, verbose: bool, debug_env: Option<&str>) -> LevelFilter {
    let debug_requested = debug_env.is_some_and(|v| {
        v.to_ascii_lowercase()
            .split(',')
            .any(|part| matches!(part.trim(), "sdk" | "tea" | "ack-ram-tool"))
    });
    if verbose || debug_requested {
        return LevelFilter::DEBUG;
    }
    match log_level {
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        // Generated kubeconfigs pass `--log-level error`; warnings (a stale certificate served,
        // a cache that could not be written) still matter to that user, as in the Go tool.
        LogLevel::Warn | LogLevel::Error => LevelFilter::WARN,
    }
}

/// Installs the stderr logger; colours only on a terminal that wants them (`NO_COLOR`, `TERM`
/// from the environment snapshot).
pub fn init(level: LevelFilter, env: &Environment) {
    let ansi = std::io::stderr().is_terminal()
        && env.get("NO_COLOR").is_none()
        && env.get("TERM") != Some("dumb");
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .with_ansi(ansi)
        .without_time()
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &str) -> LogLevel {
        raw.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn levels() {
        assert_eq!(level(parsed("ERROR"), false, None), LevelFilter::WARN);
        assert_eq!(level(parsed("warning"), false, None), LevelFilter::WARN);
        assert_eq!(level(parsed("error"), true, None), LevelFilter::DEBUG);
        assert_eq!(
            level(parsed("error"), false, Some("foo,SDK")),
            LevelFilter::DEBUG
        );
        assert_eq!(
            level(parsed("error"), false, Some("dara")),
            LevelFilter::WARN
        );
        let err = "loud".parse::<LogLevel>().err().unwrap_or_default();
        assert!(err.contains("debug, info, warn, warning, error"), "{err}");
    }
}
