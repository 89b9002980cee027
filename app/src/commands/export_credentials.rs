//! `export-credentials`: hands the identity the credential chain resolves (with `--role-arn` on
//! top) to other tools, printed in one of the Go tool's formats, or put into the environment of
//! a command run as a child (`-- CMD ARGS...`). Nothing is cached: every run resolves afresh.
//!
//! The formats keep the Go tool's shape (`sso-oauth-export.md` §3): its JSON is Go's
//! `MarshalIndent` with prefix and indent `" "` and Go's escaping (`<`, `>`, `&` as `\u003c`...),
//! its INI section and its trailing newlines, byte for byte for the same credentials. Where the
//! Go tool is wrong we are not (docs/credential-sources.md, "export-credentials"):
//! - `Expiration` is the credentials' real expiry when the source states one, and only otherwise
//!   a stand-in (now + 10 minutes, the middle of the Go tool's random 8 to 12); the CLI profile
//!   carries a known expiry of STS credentials as `sts_expiration`;
//! - `ALICLOUD_SECRET_KEY` holds the secret (the Go tool prints the AccessKey id there);
//! - the shell text can be `eval`ed: headings are `#` comments, values are single-quoted, and
//!   with an AccessKey the token variables are unset instead of left stale;
//! - an INI value our reader would mangle (spaces, a leading quote) is quoted, and one no INI
//!   reader can hold (a line break) is refused instead of printed broken;
//! - `-- CMD` passes on CMD's exit code, and with an AccessKey removes token variables inherited
//!   from this environment, so a stale token does not ride along with a new key.

use crate::cli::{ExportCredentialsArgs, ExportFormat};
use crate::config::Settings;
use crate::error::AppError;
use crate::wiring;
use ack_ram_adapters::env::Environment;
use ack_ram_domain::AccessCredentials;
use chrono::{DateTime, TimeDelta, Utc};
use clap::ValueEnum;
use std::borrow::Cow;
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;

/// The expiry stated for credentials whose source states none (an AccessKey, an STS token from
/// the environment or a profile): the middle of the Go tool's window of 8 to 12 minutes.
const UNKNOWN_EXPIRY: TimeDelta = TimeDelta::minutes(10);

/// Runs the command: prints the credentials, or runs `-- CMD` with them and exits with its code.
pub fn run(
    args: &ExportCredentialsArgs,
    settings: &Settings,
    env: &Environment,
) -> Result<(), AppError> {
    if !args.command.is_empty()
        && let Some(other) = args
            .format
            .filter(|f| *f != ExportFormat::EnvironmentVariables)
    {
        return Err(AppError::InvalidInput {
            flag: "--format",
            message: format!(
                "{} prints the credentials, while `-- CMD` runs CMD with them in its environment; drop one of them (a command gets environment variables)",
                format_name(other)
            ),
        });
    }
    let session = wiring::session(settings, args.role_arn.as_deref(), env)?;
    let credentials = session.credentials()?;
    if let Some((program, rest)) = args.command.split_first() {
        let code = run_command(program, rest, &credentials, &session.runtime)?;
        drop(credentials);
        drop(session);
        if code == 0 {
            return Ok(());
        }
        // CMD's own exit code, as `env` or `sudo` pass it on; nothing is left to flush or clean
        // up (stdout was never written, the secrets above are dropped).
        std::process::exit(code);
    }
    let format = args.format.unwrap_or(ExportFormat::AliyunCliConfigJson);
    let text = render(format, &credentials, session.ctx.clock().now())?;
    crate::output::print(&text)
}

/// The name a format is typed as.
fn format_name(format: ExportFormat) -> String {
    format
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

/// What every format shows.
struct View<'a> {
    id: &'a str,
    secret: &'a str,
    /// The STS token; `None` for an AccessKey.
    token: Option<&'a str>,
    expiration: Option<DateTime<Utc>>,
}

impl<'a> View<'a> {
    fn of(credentials: &'a AccessCredentials) -> Self {
        Self {
            id: &credentials.access_key_id,
            secret: credentials.access_key_secret.expose(),
            token: credentials
                .security_token
                .as_ref()
                .map(|t| t.expose())
                .filter(|t| !t.is_empty()),
            expiration: credentials.expiration,
        }
    }

    /// The aliyun CLI's `mode`, as the Go tool names it.
    fn mode(&self) -> &'static str {
        if self.token.is_some() {
            "StsToken"
        } else {
            "AK"
        }
    }
}

/// The text printed for `format`, with its final newline (the Go tool prints `text + "\n"`).
fn render(
    format: ExportFormat,
    credentials: &AccessCredentials,
    now: DateTime<Utc>,
) -> Result<String, AppError> {
    let view = View::of(credentials);
    Ok(match format {
        ExportFormat::AliyunCliConfigJson => cli_profile_json(&view),
        ExportFormat::AliyunCliUriJson | ExportFormat::EcsMetadataJson => uri_json(&view, now),
        ExportFormat::CredentialFileIni => ini(&view)?,
        ExportFormat::EnvironmentVariables => shell(&view),
    })
}

/// A JSON member value.
enum Json<'a> {
    Str(&'a str),
    Int(i64),
}

/// Go's `json.MarshalIndent(v, " ", " ")` of a flat object: `{`, each member on its own line
/// indented by two spaces, ` }`; then the newline the Go tool prints after it.
fn go_json_object(members: &[(&str, Json<'_>)]) -> String {
    let mut out = String::from("{\n");
    for (i, (key, value)) in members.iter().enumerate() {
        out.push_str("  ");
        go_json_string(&mut out, key);
        out.push_str(": ");
        match value {
            Json::Str(s) => go_json_string(&mut out, s),
            Json::Int(n) => {
                let _ = write!(out, "{n}");
            }
        }
        out.push_str(if i + 1 < members.len() { ",\n" } else { "\n" });
    }
    out.push_str(" }\n");
    out
}

/// A JSON string as Go's encoder writes it: `\b \f \n \r \t` short, other control characters
/// as `\u00XX`, and (HTML escaping, on by default) `<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX`.
fn go_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}') => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// (A) An aliyun CLI profile without name or region, for `External` profiles and `mode` readers.
fn cli_profile_json(view: &View<'_>) -> String {
    let mut members = vec![
        ("mode", Json::Str(view.mode())),
        ("access_key_id", Json::Str(view.id)),
        ("access_key_secret", Json::Str(view.secret)),
    ];
    if let Some(token) = view.token {
        members.push(("sts_token", Json::Str(token)));
        // Ours: the aliyun CLI's own field for when the STS credentials stop working, so an
        // `External` profile running this command knows it (the Go tool never says).
        if let Some(expiration) = view.expiration {
            members.push(("sts_expiration", Json::Int(expiration.timestamp())));
        }
    }
    go_json_object(&members)
}

/// (B) The credentials-URI (and ECS metadata) document.
fn uri_json(view: &View<'_>, now: DateTime<Utc>) -> String {
    let expiration = view
        .expiration
        .unwrap_or(now + UNKNOWN_EXPIRY)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    go_json_object(&[
        ("Code", Json::Str("Success")),
        ("AccessKeyId", Json::Str(view.id)),
        ("AccessKeySecret", Json::Str(view.secret)),
        ("SecurityToken", Json::Str(view.token.unwrap_or_default())),
        ("Expiration", Json::Str(&expiration)),
    ])
}

/// (C) A `[default]` section of `~/.alibabacloud/credentials`, then the Go tool's empty line.
fn ini(view: &View<'_>) -> Result<String, AppError> {
    let mut out = String::from("[default]\nenable = true\n");
    out.push_str(match view.token {
        None => "type = access_key\n",
        Some(_) => "type = sts\n",
    });
    let mut line = |key: &str, value: &str| -> Result<(), AppError> {
        let value = ini_value(value).ok_or_else(|| AppError::InvalidInput {
            flag: "--format",
            message: format!(
                "the {key} cannot be written so that INI readers read it back (it has a control character, surrounding whitespace, a final backslash or both kinds of quotes); use another format"
            ),
        })?;
        out.push_str(key);
        out.push_str(" = ");
        out.push_str(&value);
        out.push('\n');
        Ok(())
    };
    line("access_key_id", view.id)?;
    line("access_key_secret", view.secret)?;
    if let Some(token) = view.token {
        line("security_token", token)?;
    }
    out.push('\n');
    Ok(out)
}

/// An INI value our reader (and the SDKs') reads back as `value`: bare when nothing in it is
/// special (always so for real keys and tokens, so the text is the Go tool's), else in quotes.
/// A leading quote starts a quoted value, whitespace then `#` or `;` starts a comment, and a
/// final `\` continues the line. `None` when it cannot be written at all: readers trim values
/// (quoted ones too) and no line holds a line break.
fn ini_value(value: &str) -> Option<Cow<'_, str>> {
    if value.chars().any(char::is_control) || value.trim() != value {
        return None;
    }
    let bare = !value.is_empty()
        && !value.chars().any(char::is_whitespace)
        && !value.starts_with(['"', '\''])
        && !value.ends_with('\\');
    if bare {
        return Some(Cow::Borrowed(value));
    }
    // Inside quotes only the closing quote ends the value, and a backslash before it would
    // take it in.
    if value.ends_with('\\') {
        return None;
    }
    ['"', '\'']
        .into_iter()
        .find(|q| !value.contains(*q))
        .map(|q| Cow::Owned(format!("{q}{value}{q}")))
}

/// How a shell line uses the credentials.
#[derive(Clone, Copy)]
enum Value {
    Id,
    Secret,
    /// The token: exported for STS credentials, unset for an AccessKey.
    Token,
    /// A token variable the Go tool never sets: only unset for an AccessKey.
    StaleToken,
}

/// The shell text: the Go tool's headings and variables, in its order.
const SHELL_SECTIONS: &[(&str, &[(&str, Value)])] = &[
    (
        "for aliyun cli:",
        &[
            ("ALIBABACLOUD_ACCESS_KEY_ID", Value::Id),
            ("ALIBABACLOUD_ACCESS_KEY_SECRET", Value::Secret),
            ("ALIBABACLOUD_SECURITY_TOKEN", Value::Token),
        ],
    ),
    (
        "for terraform:",
        &[
            ("ALICLOUD_ACCESS_KEY", Value::Id),
            ("ALICLOUD_SECRET_KEY", Value::Secret),
            ("ALICLOUD_SECURITY_TOKEN", Value::Token),
        ],
    ),
    (
        "for other tools:",
        &[
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", Value::Id),
            ("ALICLOUD_ACCESS_KEY", Value::Id),
            ("ALIBABACLOUD_ACCESS_KEY_ID", Value::Id),
            // The Go tool prints the AccessKey id here.
            ("ALICLOUD_SECRET_KEY", Value::Secret),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", Value::Secret),
            ("ALIBABACLOUD_ACCESS_KEY_SECRET", Value::Secret),
            ("ALIBABA_CLOUD_SECURITY_TOKEN", Value::Token),
            ("ALICLOUD_SECURITY_TOKEN", Value::Token),
            ("ALIBABACLOUD_SECURITY_TOKEN", Value::Token),
            ("ALICLOUD_ACCESS_KEY_STS_TOKEN", Value::Token),
            ("ALIYUN_LOG_CLI_STS_TOKEN", Value::Token),
            ("SECURITY_TOKEN", Value::StaleToken),
        ],
    ),
];

/// (D) `export` lines for a POSIX shell, safe to `eval`: the Go tool's text with its headings
/// as comments and every value single-quoted.
fn shell(view: &View<'_>) -> String {
    let mut out = String::from("\n");
    for (heading, lines) in SHELL_SECTIONS {
        let _ = write!(out, "# {heading}\n\n");
        for (name, value) in *lines {
            let value = match (value, view.token) {
                (Value::Id, _) => view.id,
                (Value::Secret, _) => view.secret,
                (Value::Token, Some(token)) => token,
                (Value::StaleToken, Some(_)) => continue,
                (Value::Token | Value::StaleToken, None) => {
                    let _ = writeln!(out, "unset {name}");
                    continue;
                }
            };
            let _ = writeln!(out, "export {name}={}", sh_quote(value));
        }
        out.push('\n');
    }
    out
}

/// `value` as one POSIX shell word: in single quotes, each `'` written as `'\''`.
fn sh_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// A change to the environment the child inherits (no `Debug`: it holds the secret).
#[derive(PartialEq, Eq)]
enum EnvChange<'a> {
    Set(&'static str, &'a str),
    Remove(&'static str),
}

const ID_VARS: &[&str] = &[
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALICLOUD_ACCESS_KEY",
    "ALIBABACLOUD_ACCESS_KEY_ID",
    "ALIYUN_LOG_CLI_ACCESSID",
];
const SECRET_VARS: &[&str] = &[
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALICLOUD_SECRET_KEY",
    "ALIBABACLOUD_ACCESS_KEY_SECRET",
    "ALIYUN_LOG_CLI_ACCESSKEY",
];
const TOKEN_VARS: &[&str] = &[
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "ALICLOUD_SECURITY_TOKEN",
    "ALIBABACLOUD_SECURITY_TOKEN",
    "ALICLOUD_ACCESS_KEY_STS_TOKEN",
    "ALIYUN_LOG_CLI_STS_TOKEN",
];
/// Token variables the Go tool never sets that credential readers (ours and its own) take.
const OTHER_TOKEN_VARS: &[&str] = &["SECURITY_TOKEN"];

/// The child's environment on top of ours: the Go tool's variables, and for an AccessKey no
/// token variable at all (an inherited one would pair a stale token with the new key).
fn child_environment<'a>(view: &View<'a>) -> Vec<EnvChange<'a>> {
    let mut changes: Vec<EnvChange<'a>> = ID_VARS
        .iter()
        .map(|n| EnvChange::Set(n, view.id))
        .chain(SECRET_VARS.iter().map(|n| EnvChange::Set(n, view.secret)))
        .collect();
    match view.token {
        Some(token) => changes.extend(TOKEN_VARS.iter().map(|n| EnvChange::Set(n, token))),
        None => changes.extend(
            TOKEN_VARS
                .iter()
                .chain(OTHER_TOKEN_VARS)
                .map(|n| EnvChange::Remove(n)),
        ),
    }
    // Makes an `aliyun` child ignore its config.json and use these variables.
    changes.push(EnvChange::Set("ALIBABACLOUD_IGNORE_PROFILE", "TRUE"));
    changes
}

/// Runs `program args` with the credentials in its environment, stdin, stdout and stderr
/// inherited; returns the exit code to end with: the child's, or 128 + the signal that killed it.
fn run_command(
    program: &OsStr,
    args: &[OsString],
    credentials: &AccessCredentials,
    runtime: &tokio::runtime::Runtime,
) -> Result<i32, AppError> {
    let mut command = std::process::Command::new(program);
    command.args(args);
    for change in child_environment(&View::of(credentials)) {
        match change {
            EnvChange::Set(name, value) => command.env(name, value),
            EnvChange::Remove(name) => command.env_remove(name),
        };
    }
    let _waiting = wait_through_terminal_signals(runtime);
    tracing::debug!(program = ?program, "running the command with the credentials in its environment");
    let status = command.status().map_err(|source| AppError::RunCommand {
        program: program.to_string_lossy().into_owned(),
        source,
    })?;
    Ok(exit_code(status))
}

/// Ctrl-C and Ctrl-\ at the terminal reach the child as well as us. Like a shell waiting for a
/// job, we let the child decide (terraform, for one, stops cleanly) and end with its status,
/// instead of dying first and leaving it running behind the prompt. Once caught, these signals
/// stay caught in this process (which only waits from here on); the child starts with the
/// default handling.
#[cfg(unix)]
fn wait_through_terminal_signals(
    runtime: &tokio::runtime::Runtime,
) -> Vec<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{SignalKind, signal};
    let _entered = runtime.enter();
    [SignalKind::interrupt(), SignalKind::quit()]
        .into_iter()
        .filter_map(|kind| {
            signal(kind)
                .map_err(|e| tracing::debug!("cannot catch {kind:?}: {e}"))
                .ok()
        })
        .collect()
}

#[cfg(not(unix))]
fn wait_through_terminal_signals(_: &tokio::runtime::Runtime) {}

/// The exit code of a shell for a finished child: its code, or 128 + the signal that killed it.
fn exit_code(status: std::process::ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    1
}

#[cfg(test)]
mod tests;
