//! Diagnostics on stderr, never stdout (stdout carries only the product).
//!
//! The level comes from `--log-level` (debug, info, warn/warning, error), `-v` (debug), or the Go
//! tool's `DEBUG` variable containing `sdk`, `tea` or `ack-ram-tool`. Generated kubeconfigs pass
//! `--log-level error`, so a normal kubectl run prints nothing but real problems: errors and
//! warnings (at `error`, as the reference describes the Go tool, warnings still show).

use std::io::IsTerminal;
use tracing::level_filters::LevelFilter;

/// Resolves the level; the second value names an unrecognised `--log-level`, if any.
pub fn level(
    log_level: &str,
    verbose: bool,
    debug_env: Option<&str>,
) -> (LevelFilter, Option<String>) {
    let debug_requested = debug_env.is_some_and(|v| {
        v.to_ascii_lowercase()
            .split(',')
            .any(|part| matches!(part.trim(), "sdk" | "tea" | "ack-ram-tool"))
    });
    if verbose || debug_requested {
        return (LevelFilter::DEBUG, None);
    }
    match log_level.to_ascii_lowercase().as_str() {
        "debug" => (LevelFilter::DEBUG, None),
        "info" | "" => (LevelFilter::INFO, None),
        "warn" | "warning" => (LevelFilter::WARN, None),
        // Generated kubeconfigs pass `--log-level error`; warnings (a stale certificate served,
        // a cache that could not be written) still matter to that user, as in the Go tool.
        "error" => (LevelFilter::WARN, None),
        other => (LevelFilter::INFO, Some(other.to_owned())),
    }
}

/// Installs the stderr logger.
pub fn init(level: LevelFilter) {
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none()
        && std::env::var("TERM").map_or(true, |t| t != "dumb");
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

    #[test]
    fn levels() {
        assert_eq!(level("ERROR", false, None), (LevelFilter::WARN, None));
        assert_eq!(level("warning", false, None), (LevelFilter::WARN, None));
        assert_eq!(level("error", true, None).0, LevelFilter::DEBUG);
        assert_eq!(level("error", false, Some("foo,SDK")).0, LevelFilter::DEBUG);
        assert_eq!(level("error", false, Some("dara")).0, LevelFilter::WARN);
        assert_eq!(
            level("loud", false, None),
            (LevelFilter::INFO, Some("loud".into()))
        );
    }
}
