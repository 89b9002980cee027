//! Diagnostics on stderr, never stdout (stdout carries only the product).
//!
//! The level comes from `--log-level` (debug, info, warn/warning, error), `-v` (debug), or the Go
//! tool's `DEBUG` variable containing `sdk`, `tea` or `ack-ram-tool`. Generated kubeconfigs pass
//! `--log-level error`, so a normal kubectl run prints nothing but real problems: errors and
//! warnings (at `error`, as the reference describes the Go tool, warnings still show).

use ack_ram_adapters::env::Environment;
use std::io::IsTerminal;
use std::sync::OnceLock;
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::{Interest, Subscriber};
use tracing::{Event, Metadata};

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
/// from the environment snapshot). The formatter itself is built on the first event the level
/// lets through: a cache hit at the kubeconfig's `--log-level error` has none, and every run
/// kubectl makes pays only for deciding that.
pub fn init(level: LevelFilter, env: &Environment) {
    let colour_wanted = env.get("NO_COLOR").is_none() && env.get("TERM") != Some("dumb");
    // Only fails when a logger is already installed, which main never does twice.
    let _ = tracing::subscriber::set_global_default(Lazy::new(level, colour_wanted));
}

/// The stderr formatter, built when first needed. It answers which levels are on by itself
/// (the only filter the formatter has is that level) and hands everything else to the
/// formatter, so spans and events behave exactly as with the formatter installed directly.
struct Lazy {
    level: LevelFilter,
    colour_wanted: bool,
    formatter: OnceLock<Box<dyn Subscriber + Send + Sync>>,
}

impl Lazy {
    fn new(level: LevelFilter, colour_wanted: bool) -> Self {
        Self {
            level,
            colour_wanted,
            formatter: OnceLock::new(),
        }
    }

    fn formatter(&self) -> &(dyn Subscriber + Send + Sync) {
        self.formatter
            .get_or_init(|| {
                Box::new(
                    tracing_subscriber::fmt()
                        .with_writer(std::io::stderr)
                        .with_max_level(self.level)
                        .with_target(false)
                        .with_ansi(self.colour_wanted && std::io::stderr().is_terminal())
                        .without_time()
                        .finish(),
                )
            })
            .as_ref()
    }
}

impl Subscriber for Lazy {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.enabled(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.level
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.level)
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        self.formatter().new_span(span)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        self.formatter().record(span, values);
    }

    fn record_follows_from(&self, span: &Id, follows: &Id) {
        self.formatter().record_follows_from(span, follows);
    }

    fn event_enabled(&self, event: &Event<'_>) -> bool {
        self.formatter().event_enabled(event)
    }

    fn event(&self, event: &Event<'_>) {
        self.formatter().event(event);
    }

    fn enter(&self, span: &Id) {
        self.formatter().enter(span);
    }

    fn exit(&self, span: &Id) {
        self.formatter().exit(span);
    }

    fn clone_span(&self, id: &Id) -> Id {
        self.formatter().clone_span(id)
    }

    fn try_close(&self, id: Id) -> bool {
        self.formatter().try_close(id)
    }

    fn current_span(&self) -> tracing_core::span::Current {
        self.formatter().current_span()
    }
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

    #[test]
    fn the_formatter_is_built_by_the_first_event_the_level_lets_through() {
        let lazy = std::sync::Arc::new(Lazy::new(LevelFilter::WARN, false));
        tracing::subscriber::with_default(std::sync::Arc::clone(&lazy), || {
            tracing::debug!("not shown");
            tracing::info!("not shown either");
            assert!(lazy.formatter.get().is_none(), "built for a disabled event");
            tracing::warn!("(a test warning, printed on purpose)");
            assert!(lazy.formatter.get().is_some(), "not built for a warning");
        });
    }

    #[test]
    fn spans_go_to_the_formatter() {
        let lazy = std::sync::Arc::new(Lazy::new(LevelFilter::DEBUG, false));
        tracing::subscriber::with_default(std::sync::Arc::clone(&lazy), || {
            let span = tracing::debug_span!("refresh", cluster = "c1");
            let _entered = span.enter();
            assert_eq!(
                tracing::Span::current().metadata().map(|m| m.name()),
                Some("refresh")
            );
        });
    }
}
