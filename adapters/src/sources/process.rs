//! Credentials printed by an external program: the aliyun CLI's `External` mode and the INI
//! file's `type = external` (`credential-sources.md` §8).
//!
//! The Go tool split the command on whitespace, so a quoted argument broke, and passed the
//! output on unchecked (`reference/README.md` item 21). Here the command is split with shell
//! quoting rules (without running a shell), the program runs with the injected environment
//! snapshot, no stdin and captured output (the plugin's own stdout belongs to kubectl), under a
//! timeout that kills it. Its stdout may hold secrets, so no message ever quotes it; a failure
//! shows the exit status and the end of stderr instead.
//!
//! This module only runs the program and finds the JSON object it printed. What the object
//! means (its `mode`, including another `External`) is the caller's business.

use crate::env::Environment;
use ack_ram_domain::ports::ProviderError;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

const SOURCE: &str = "credential process";
/// Most stdout read from the program; a credential object is a few hundred bytes.
pub const MAX_STDOUT_BYTES: usize = 1024 * 1024;
/// How much of the end of stderr a failure shows.
const STDERR_TAIL_BYTES: usize = 2 * 1024;
/// How many lines of the end of stderr a failure shows.
const STDERR_TAIL_LINES: usize = 10;

/// What to run. `Debug` shows the program's name only: arguments may carry a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ProcessConfig {
    /// The command line, split with shell quoting rules; the first word is the program.
    pub command: String,
    /// Time allowed before the program is killed.
    pub timeout: Duration,
}

impl ProcessConfig {
    /// `command` with the default timeout of 30 s.
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            timeout: Duration::from_secs(30),
        }
    }
}

impl std::fmt::Debug for ProcessConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let program = shell_words::split(&self.command)
            .ok()
            .and_then(|words| words.first().map(|p| program_name(p)))
            .unwrap_or_default();
        f.debug_struct("ProcessConfig")
            .field("program", &program)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Runs a credential process and returns the JSON object it printed (the aliyun CLI profile
/// shape, e.g. `{"mode":"StsToken","access_key_id":..,"access_key_secret":..,"sts_token":..}`).
pub async fn run_credential_process(
    config: &ProcessConfig,
    env: &Environment,
) -> Result<Map<String, Value>, ProviderError> {
    let words = shell_words::split(&config.command).map_err(|e| {
        failed(format!(
            "process_command cannot be split into words ({e}); check its quotes"
        ))
    })?;
    let Some((program, args)) = words.split_first() else {
        return Err(failed("process_command is empty".to_owned()));
    };
    let name = program_name(program);
    let path = find_program(program, env.get("PATH")).await?;
    tracing::debug!(
        program = %path.display(),
        args = args.len(),
        timeout = ?config.timeout,
        "running a credential process"
    );

    let mut command = tokio::process::Command::new(&path);
    command
        .args(args)
        .env_clear()
        .envs(env.iter())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // Its own process group, so that on a timeout the whole tree it started can be killed, not
    // just the first process (a shell wrapper's children would otherwise live on).
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command
        .spawn()
        .map_err(|e| failed(format!("could not start {name}: {e}")))?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();

    let run = async {
        let (stdout, stderr) = tokio::join!(read_head(stdout), read_tail(stderr));
        (stdout, stderr, child.wait().await)
    };
    let Ok((stdout, stderr, status)) = tokio::time::timeout(config.timeout, run).await else {
        // Kill the whole group, then reap the child so it is gone now.
        kill_group(&child);
        let _ = child.start_kill();
        let _ = child.wait().await;
        return Err(failed(format!(
            "{name} did not finish within {:?} and was killed",
            config.timeout
        )));
    };
    let status = status.map_err(|e| failed(format!("could not wait for {name}: {e}")))?;
    let stdout = stdout.map_err(|e| failed(format!("reading the output of {name}: {e}")))?;
    let stderr = stderr.unwrap_or_default();
    tracing::debug!(
        %status,
        stdout_bytes = match &stdout {
            Head::Complete(bytes) => bytes.len(),
            Head::TooLarge => MAX_STDOUT_BYTES + 1,
        },
        stderr_tail_bytes = stderr.len(),
        "credential process ended"
    );

    // Checked first: reading stops at the cap, and the closed pipe may be what made it fail.
    let Head::Complete(stdout) = stdout else {
        return Err(failed(format!(
            "{name} printed more than {} KiB on stdout; a credential object is far smaller",
            MAX_STDOUT_BYTES / 1024
        )));
    };
    if !status.success() {
        let tail = stderr_tail(&stderr);
        let tail = if tail.is_empty() {
            "it printed nothing on stderr".to_owned()
        } else {
            format!("its stderr ends with:\n{tail}")
        };
        return Err(failed(format!("{name} failed ({status}); {tail}")));
    }
    find_credential_object(&stdout).ok_or_else(|| {
        let what = if stdout.iter().all(u8::is_ascii_whitespace) {
            "printed nothing on stdout".to_owned()
        } else {
            format!(
                "printed {} bytes on stdout that are not a JSON credential object",
                stdout.len()
            )
        };
        failed(format!(
            "{name} {what}; it must print one, e.g. {{\"mode\":\"StsToken\",\"access_key_id\":...}}"
        ))
    })
}

fn failed(message: String) -> ProviderError {
    ProviderError::Failed {
        source_name: SOURCE.to_owned(),
        message,
    }
}

/// The program's file name, for messages (a path may be long; arguments may be secret).
fn program_name(program: &str) -> String {
    let name = Path::new(program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| program.to_owned());
    format!("`{name}`")
}

/// Kills every process of the child's process group (the child leads its own group).
fn kill_group(child: &tokio::process::Child) {
    #[cfg(unix)]
    if let Some(pid) = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// When the credentials a process printed stop working, if it says: `expiration` /
/// `Expiration` (RFC 3339) or `sts_expiration` (Unix seconds, the aliyun CLI's field).
pub fn stated_expiration(
    output: &Map<String, Value>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ProviderError> {
    if let Some(value) = output
        .get("expiration")
        .or_else(|| output.get("Expiration"))
    {
        return match value {
            Value::Null => Ok(None),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| Some(t.with_timezone(&chrono::Utc)))
                .map_err(|_| {
                    failed(format!(
                        "its output has an expiration {s:?} that is not an RFC 3339 time such as 2030-01-01T00:00:00Z"
                    ))
                }),
            _ => Err(failed(
                "its output has an expiration that is not a string".to_owned(),
            )),
        };
    }
    match output.get("sts_expiration") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
            .map(Some)
            .ok_or_else(|| failed(format!("its output has an sts_expiration {n} out of range"))),
        Some(_) => Err(failed(
            "its output has an sts_expiration that is not a number of Unix seconds".to_owned(),
        )),
    }
}

/// Resolves `program` like a shell: as a path when it contains `/`, else on `PATH`. Unlike a
/// shell, only absolute `PATH` entries are searched: an empty entry, `.` or any relative one
/// would run whatever program of that name sits in the directory kubectl was started from.
async fn find_program(program: &str, search_path: Option<&str>) -> Result<PathBuf, ProviderError> {
    if program.contains('/') {
        let path = PathBuf::from(program);
        return if is_executable(&path).await {
            Ok(path)
        } else {
            Err(failed(format!(
                "{} is not an executable file",
                program_name(program)
            )))
        };
    }
    let Some(search_path) = search_path else {
        return Err(failed(format!(
            "cannot find {}: PATH is not set",
            program_name(program)
        )));
    };
    for dir in std::env::split_paths(search_path) {
        if !dir.is_absolute() {
            tracing::debug!(entry = %dir.display(), "not searching a relative PATH entry for the credential process");
            continue;
        }
        let candidate = dir.join(program);
        if is_executable(&candidate).await {
            return Ok(candidate);
        }
    }
    Err(failed(format!(
        "{} was not found in the absolute directories of PATH (relative entries such as `.` are never searched)",
        program_name(program)
    )))
}

async fn is_executable(path: &Path) -> bool {
    let Ok(meta) = tokio::fs::metadata(path).await else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// The start of stdout, or the news that it went past the cap.
enum Head {
    Complete(Vec<u8>),
    TooLarge,
}

/// Reads up to `MAX_STDOUT_BYTES`; past that, stops reading (closing the pipe).
async fn read_head(pipe: Option<impl AsyncRead + Unpin>) -> std::io::Result<Head> {
    let Some(pipe) = pipe else {
        return Ok(Head::Complete(Vec::new()));
    };
    let mut buffer = Vec::new();
    let limit = u64::try_from(MAX_STDOUT_BYTES).unwrap_or(u64::MAX);
    pipe.take(limit + 1).read_to_end(&mut buffer).await?;
    Ok(if buffer.len() > MAX_STDOUT_BYTES {
        Head::TooLarge
    } else {
        Head::Complete(buffer)
    })
}

/// Reads all of stderr, keeping only its last `STDERR_TAIL_BYTES`.
async fn read_tail(pipe: Option<impl AsyncRead + Unpin>) -> std::io::Result<Vec<u8>> {
    let Some(mut pipe) = pipe else {
        return Ok(Vec::new());
    };
    let mut tail = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = pipe.read(&mut chunk).await?;
        if n == 0 {
            return Ok(tail);
        }
        tail.extend_from_slice(&chunk[..n]);
        if tail.len() > 2 * STDERR_TAIL_BYTES {
            tail.drain(..tail.len() - STDERR_TAIL_BYTES);
        }
    }
}

/// The last lines of stderr, bounded in lines and bytes, indented under the message.
fn stderr_tail(stderr: &[u8]) -> String {
    let start = stderr.len().saturating_sub(STDERR_TAIL_BYTES);
    let text = String::from_utf8_lossy(&stderr[start..]);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    let from = lines.len().saturating_sub(STDERR_TAIL_LINES);
    lines[from..]
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The credential object in stdout: all of it when it is one JSON object, else the first flat
/// JSON object with a non-empty string `mode`, embedded in other output (the Go tool's fallback,
/// which also finds an object that starts with `{"mode":`).
fn find_credential_object(stdout: &[u8]) -> Option<Map<String, Value>> {
    if let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(stdout) {
        return Some(object);
    }
    let text = String::from_utf8_lossy(stdout);
    // Candidates run from the last `{` before a `}` to that `}`: flat objects, disjoint, so the
    // scan is linear however the output is shaped.
    let mut open = None;
    for (i, c) in text.char_indices() {
        match c {
            '{' => open = Some(i),
            '}' => {
                if let Some(start) = open.take() {
                    let candidate = &text[start..=i];
                    if !candidate.contains("\"mode\"") {
                        continue;
                    }
                    if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(candidate) {
                        let has_mode =
                            matches!(object.get("mode"), Some(Value::String(m)) if !m.is_empty());
                        if has_mode {
                            return Some(object);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(text: &str) -> Option<String> {
        find_credential_object(text.as_bytes()).map(|o| Value::Object(o).to_string())
    }

    #[test]
    fn pure_json_object_is_taken_whole() {
        assert_eq!(
            find(" {\"mode\":\"AK\",\"nested\":{\"a\":1}}\n").as_deref(),
            Some(r#"{"mode":"AK","nested":{"a":1}}"#)
        );
        // Pure JSON without a mode is still the output; the caller judges it.
        assert_eq!(find(r#"{"x":1}"#).as_deref(), Some(r#"{"x":1}"#));
    }

    #[test]
    fn embedded_objects_are_found() {
        let out = "login ok\n{\"mode\":\"StsToken\",\"access_key_id\":\"ID\"}\nbye {\"other\":1}";
        assert_eq!(
            find(out).as_deref(),
            Some(r#"{"access_key_id":"ID","mode":"StsToken"}"#)
        );
        // The Go fallback's shape: something before "mode".
        assert_eq!(
            find("x {\"a\":\"b\", \"mode\": \"AK\"} y").as_deref(),
            Some(r#"{"a":"b","mode":"AK"}"#)
        );
        // A stray brace before the object does not hide it.
        assert_eq!(
            find("{ progress {\"mode\":\"AK\"}").as_deref(),
            Some(r#"{"mode":"AK"}"#)
        );
        // Skips objects without a usable mode.
        assert_eq!(
            find("{\"mode\":\"\"} {\"mode\":1} {\"mode\":\"AK\"}").as_deref(),
            Some(r#"{"mode":"AK"}"#)
        );
    }

    #[test]
    fn nothing_usable() {
        for text in [
            "",
            "hello",
            "[1,2]",
            "{\"mode\":",
            "{mode: AK}",
            "}{",
            "{\"a\":1} x",
        ] {
            assert_eq!(find(text), None, "{text:?}");
        }
    }

    #[test]
    fn pathological_output_is_scanned_quickly() {
        let text = "{".repeat(300_000) + &"}".repeat(300_000);
        let started = std::time::Instant::now();
        assert_eq!(find(&text), None);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn stderr_tail_keeps_the_last_lines() {
        let text: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        let tail = stderr_tail(text.as_bytes());
        assert!(tail.starts_with("  line 21\n"), "{tail}");
        assert!(tail.ends_with("  line 30"), "{tail}");
        let long = "x".repeat(10_000);
        assert!(stderr_tail(long.as_bytes()).len() <= STDERR_TAIL_BYTES + 2);
    }

    #[test]
    fn debug_hides_the_arguments() {
        let shown = format!(
            "{:?}",
            ProcessConfig::new("/opt/bin/helper --token canary-7f3a")
        );
        assert!(!shown.contains("canary-7f3a"), "{shown}");
        assert!(shown.contains("helper"), "{shown}");
    }

    #[test]
    fn expirations_are_read_in_either_shape() {
        let map = |json: &str| -> Map<String, Value> {
            serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(stated_expiration(&map("{}")).ok(), Some(None));
        assert_eq!(
            stated_expiration(&map(r#"{"expiration":"2030-01-01T00:00:00Z"}"#))
                .ok()
                .flatten()
                .map(|t| t.timestamp()),
            Some(1_893_456_000)
        );
        assert_eq!(
            stated_expiration(&map(r#"{"sts_expiration":1893456000}"#))
                .ok()
                .flatten()
                .map(|t| t.timestamp()),
            Some(1_893_456_000)
        );
        assert!(stated_expiration(&map(r#"{"Expiration":"tomorrow"}"#)).is_err());
        assert!(stated_expiration(&map(r#"{"sts_expiration":"soon"}"#)).is_err());
    }

    #[test]
    fn program_names_hide_directories() {
        assert_eq!(program_name("/opt/bin/get-creds"), "`get-creds`");
        assert_eq!(program_name("aliyun"), "`aliyun`");
    }
}

/// What a credential process prints is untrusted: arbitrary bytes, progress output around the
/// object, brace soup. No panic, nothing larger than the output, short messages.
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::fuzz_support::{
        CANARY, any_json, check_message, config, mutations, object_of, string_bytes,
    };
    use proptest::collection::{btree_map, vec};
    use proptest::prelude::*;
    use serde_json::json;

    fn profile() -> BoxedStrategy<Value> {
        object_of(vec![
            ("mode", json!("StsToken")),
            ("access_key_id", json!("STS.id")),
            ("access_key_secret", json!(CANARY)),
            ("sts_token", json!(CANARY)),
            ("expiration", json!("2030-01-01T00:00:00Z")),
        ])
    }

    fn output() -> BoxedStrategy<Vec<u8>> {
        let valid = json!({"mode": "AK", "access_key_id": "id", "access_key_secret": CANARY});
        prop_oneof![
            // The object with other output around it.
            3 => (".{0,200}", profile(), ".{0,200}").prop_map(|(before, object, after)| {
                format!("{before}{object}{after}").into_bytes()
            }),
            2 => "[{}\":a-z ,\\\\\n]{0,4096}".prop_map(String::into_bytes),
            1 => (vec("[{}]{0,8}\"mode\":\"[A-Z]{0,3}\"[{}]{0,8}", 0..64))
                .prop_map(|pieces| pieces.concat().into_bytes()),
            2 => mutations(format!("log line\n{valid}\n").into_bytes()),
        ]
        .boxed()
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn credential_objects_are_found_or_not_without_panic(stdout in output()) {
            if let Some(object) = find_credential_object(&stdout) {
                // Invalid UTF-8 is scanned lossily: one byte may become a 3-byte U+FFFD.
                prop_assert!(string_bytes(&Value::Object(object)) <= 3 * stdout.len());
            }
        }

        #[test]
        fn stated_expirations_never_panic_and_stay_bounded(
            output in btree_map(
                prop_oneof![
                    Just("expiration".to_owned()),
                    Just("Expiration".to_owned()),
                    Just("sts_expiration".to_owned()),
                    "[a-z_]{1,12}",
                ],
                prop_oneof![
                    any_json(),
                    Just(json!("2030-01-01T00:00:00+08:00")),
                    any::<i64>().prop_map(Value::from),
                    any::<u64>().prop_map(Value::from),
                ],
                0..4,
            )
        ) {
            let output: Map<String, Value> = output.into_iter().collect();
            let len = Value::Object(output.clone()).to_string().len();
            if let Err(error) = stated_expiration(&output) {
                check_message(&error.to_string(), len, &["expiration \""], &[])?;
            }
        }

        #[test]
        fn stderr_tails_are_bounded(stderr in vec(any::<u8>(), 0..8192)) {
            let tail = stderr_tail(&stderr);
            prop_assert!(tail.len() <= 3 * STDERR_TAIL_BYTES + 3 * STDERR_TAIL_LINES);
            prop_assert!(tail.lines().count() <= STDERR_TAIL_LINES);
        }
    }
}
