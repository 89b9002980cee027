//! `doctor`: why the plugin fails, found before kubectl hides the reason behind "getting
//! credentials: exec: executable ack-ram-tool failed".
//!
//! One line per check: which credential source the chain selects and whose identity it is, the
//! ACK endpoint and the local clock against its `Date`, with `--cluster-id` whether the identity
//! may see that cluster (`DescribeClusterDetail`, read-only), the proxy and CA settings, the
//! cache directory and its entries, the keychain, and the kubeconfig users that run this plugin.
//! A check that fails says how to fix it, and any failure makes the exit code 1; warnings do not.
//!
//! Every check is bounded in time (network calls by [`remote::NETWORK_DEADLINE`], the keychain
//! by its probe deadline, files by the capped non-blocking reader) and none prints a secret:
//! sources are described by kind and location (AccessKey ids shortened, credential-process
//! commands and credentials URIs not shown), proxy passwords are masked, and kubeconfigs are
//! read for their users' `exec` entries only.
//!
//! The checks live in three modules: [`remote`] (what needs the APIs), [`local`] (this machine)
//! and [`kubeconfig`] (the kubeconfig users that run ack-ram-tool).

mod kubeconfig;
mod local;
mod remote;

use crate::cli::{DoctorArgs, OutputFormat};
use crate::config::Settings;
use crate::error::{AppError, terminal_safe};
use crate::wiring;
use ack_ram_adapters::env::Environment;
use serde::Serialize;

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

/// One line of the report: `{check, status, finding, fix}` in JSON.
#[derive(Debug, Serialize)]
struct Check {
    check: String,
    status: Status,
    finding: String,
    fix: Option<String>,
}

impl Check {
    fn new(check: impl Into<String>, status: Status, finding: impl AsRef<str>) -> Self {
        Self {
            check: one_line(check.into().as_str()),
            status,
            finding: one_line(finding.as_ref()),
            fix: None,
        }
    }

    fn ok(check: impl Into<String>, finding: impl AsRef<str>) -> Self {
        Self::new(check, Status::Ok, finding)
    }

    fn warn(check: impl Into<String>, finding: impl AsRef<str>) -> Self {
        Self::new(check, Status::Warn, finding)
    }

    fn fail(check: impl Into<String>, finding: impl AsRef<str>) -> Self {
        Self::new(check, Status::Fail, finding)
    }

    fn fix(mut self, fix: impl AsRef<str>) -> Self {
        self.fix = Some(one_line(fix.as_ref()));
        self
    }

    fn maybe_fix(self, fix: Option<String>) -> Self {
        match fix {
            Some(fix) => self.fix(fix),
            None => self,
        }
    }

    /// A failure explained the way errors are everywhere else: the message and its hint.
    fn from_error(check: &str, error: &AppError) -> Self {
        let (finding, fix) = error.explain();
        Self::fail(check, finding).maybe_fix(fix)
    }
}

/// Text for one line of a terminal: control characters escaped, length capped, no line breaks.
fn one_line(text: &str) -> String {
    terminal_safe(&text.replace(['\n', '\t'], " "))
}

/// Runs every check, prints the report, and fails (exit 1) if any check failed.
pub fn run(args: &DoctorArgs, settings: &Settings, env: &Environment) -> Result<(), AppError> {
    let mut checks = Vec::new();
    let ctx = match wiring::session(settings, args.role_arn.as_deref(), env) {
        Ok(session) => {
            remote::checks(&session, args, settings, &mut checks);
            session.ctx.clone()
        }
        Err(e) => {
            // No session (an unusable proxy variable, no trust roots, a bad endpoint): nothing
            // can be asked of the APIs; the local checks below still run.
            checks.push(Check::from_error("setup", &e));
            wiring::context(wiring::http_settings(settings), env)
        }
    };
    checks.push(local::proxy(env));
    checks.push(local::ca_certificates(env));
    checks.extend(local::cache(args, settings, env, &ctx));
    checks.push(local::keychain(settings, &ctx));
    checks.extend(kubeconfig::checks(env));

    let report = match args.output {
        OutputFormat::Text => text(&checks),
        OutputFormat::Json => serde_json::to_value(&checks)
            .map(|v| format!("{v:#}\n"))
            .unwrap_or_default(),
    };
    crate::output::print(&report)?;
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    if failed > 0 {
        return Err(AppError::DoctorFailed {
            failed,
            total: checks.len(),
        });
    }
    Ok(())
}

/// `ok    check: finding`, and the fix on the next line, indented.
fn text(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        out.push_str(&format!(
            "{:<4}  {}: {}\n",
            c.status.as_str(),
            c.check,
            c.finding
        ));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("      fix: {fix}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_are_one_terminal_safe_line() {
        let c = Check::fail("x", "a\nb\u{1b}[2J").fix("c\td");
        assert_eq!(c.finding, "a b\\u{1b}[2J");
        assert_eq!(c.fix.as_deref(), Some("c d"));
    }

    #[test]
    fn text_puts_the_fix_under_its_check() {
        let checks = vec![
            Check::ok("proxy", "direct"),
            Check::fail("clock", "off").fix("sync it"),
        ];
        assert_eq!(
            text(&checks),
            "ok    proxy: direct\nfail  clock: off\n      fix: sync it\n"
        );
    }
}
