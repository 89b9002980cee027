//! The kubeconfig users that run ack-ram-tool: does their command lead to this binary, and do
//! their args parse. Kubeconfigs hold keys and tokens; only users' `exec` entries are read.

use super::Check;
use super::Status;
use super::local::unix_mode;
use crate::cli::{Cli, Command, PluginCommand};
use crate::error::usage_paragraph;
use ack_ram_adapters::env::Environment;
use ack_ram_adapters::local_file::{self, Symlinks};
use clap::Parser;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Largest kubeconfig read (one with hundreds of clusters is a few MiB).
const KUBECONFIG_CAP: u64 = 8 * 1024 * 1024;

/// The parts of a kubeconfig doctor reads: users' `exec` entries, nothing else (a kubeconfig
/// holds keys and tokens; they are never deserialised).
#[derive(Default, Deserialize)]
#[serde(default)]
struct KubeconfigDoc {
    users: Option<Vec<NamedUser>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct NamedUser {
    name: String,
    user: Option<UserEntry>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct UserEntry {
    exec: Option<ExecEntry>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct ExecEntry {
    command: String,
    args: Option<Vec<String>>,
}

/// The kubeconfigs kubectl reads: `$KUBECONFIG` (a list of paths), else `~/.kube/config`.
fn kubeconfig_paths(env: &Environment) -> Vec<PathBuf> {
    match env.get("KUBECONFIG").filter(|v| !v.is_empty()) {
        Some(list) => std::env::split_paths(list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        None => env
            .get("HOME")
            .map(|home| vec![Path::new(home).join(".kube/config")])
            .unwrap_or_default(),
    }
}

/// One check per kubeconfig user that runs ack-ram-tool (or this binary by another name): does
/// its command resolve to this binary, and do its args parse.
pub(super) fn checks(env: &Environment) -> Vec<Check> {
    const NAME: &str = "kubeconfig";
    let this = std::env::current_exe().and_then(std::fs::canonicalize).ok();
    let paths = kubeconfig_paths(env);
    let mut checks = Vec::new();
    let mut read = Vec::new();
    for path in &paths {
        if !local_file::exists(path) {
            continue;
        }
        let text = match local_file::read_to_string(path, KUBECONFIG_CAP, Symlinks::Follow) {
            Ok(text) => text,
            Err(e) => {
                checks.push(
                    Check::fail(NAME, e.to_string())
                        .fix("Make it a readable kubeconfig, or remove it from KUBECONFIG."),
                );
                continue;
            }
        };
        let doc: KubeconfigDoc = if text.trim().is_empty() {
            KubeconfigDoc::default()
        } else {
            match serde_saphyr::from_str(&text) {
                Ok(doc) => doc,
                Err(e) => {
                    // The location only: the parser's message may quote the file's content.
                    let at = e
                        .location()
                        .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
                        .unwrap_or_default();
                    checks.push(
                        Check::fail(
                            NAME,
                            format!(
                                "{} is not a kubeconfig kubectl can read (YAML error{at})",
                                path.display()
                            ),
                        )
                        .fix("Fix the YAML, or remove the file from KUBECONFIG."),
                    );
                    continue;
                }
            }
        };
        read.push(path.display().to_string());
        let dir = path.parent().unwrap_or(Path::new("."));
        for user in doc.users.unwrap_or_default() {
            let Some(exec) = user.user.and_then(|u| u.exec) else {
                continue;
            };
            let resolved = resolve_command(&exec.command, dir, env.get("PATH"));
            let canonical = resolved
                .as_deref()
                .and_then(|p| std::fs::canonicalize(p).ok());
            let is_this = canonical.is_some() && canonical == this;
            if !is_this && !is_ack_ram_tool(&exec.command) {
                continue;
            }
            checks.push(user_check(
                path,
                &user.name,
                &exec,
                resolved.as_deref(),
                is_this,
                this.as_deref(),
            ));
        }
    }
    if checks.is_empty() {
        let finding = if read.is_empty() {
            let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            format!("no kubeconfig found (looked at {})", shown.join(", "))
        } else {
            format!("no user in {} runs ack-ram-tool", read.join(", "))
        };
        checks.push(Check::warn(NAME, finding).fix(
            "Write one with `ack-ram-tool get-kubeconfig --cluster-id ID -o FILE` and point KUBECONFIG at it.",
        ));
    }
    checks
}

/// Whether `command` names ack-ram-tool (by its file name).
fn is_ack_ram_tool(command: &str) -> bool {
    Path::new(command)
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n == "ack-ram-tool" || n == "ack-ram-tool.exe")
}

/// Where kubectl finds `command`: an absolute path as is, a relative path with a separator
/// relative to the kubeconfig's directory (as client-go resolves it), a bare name on `PATH`
/// (absolute entries only).
fn resolve_command(
    command: &str,
    kubeconfig_dir: &Path,
    path_var: Option<&str>,
) -> Option<PathBuf> {
    if command.is_empty() {
        return None;
    }
    let given = Path::new(command);
    if given.is_absolute() {
        return is_executable(given).then(|| given.to_path_buf());
    }
    if command.contains('/') {
        let joined = kubeconfig_dir.join(given);
        return is_executable(&joined).then_some(joined);
    }
    std::env::split_paths(path_var?)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(command))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && unix_mode(&m) & 0o111 != 0)
}

/// One kubeconfig user: where its command leads and whether its args parse.
fn user_check(
    path: &Path,
    name: &str,
    exec: &ExecEntry,
    resolved: Option<&Path>,
    is_this: bool,
    this: Option<&Path>,
) -> Check {
    let check = format!("kubeconfig user {name:?}");
    let this_shown = this.map_or_else(|| "this binary".to_owned(), |p| p.display().to_string());
    let mut status = Status::Ok;
    let mut findings = vec![format!("in {}", path.display())];
    let mut fixes = Vec::new();
    match resolved {
        None => {
            status = Status::Fail;
            findings.push(format!(
                "its command {:?} is not found (kubectl looks it up on PATH)",
                exec.command
            ));
            fixes.push(format!(
                "Put ack-ram-tool on the PATH kubectl runs with, or set the user's exec command to {this_shown}."
            ));
        }
        Some(_) if is_this => findings.push("runs this binary".to_owned()),
        Some(other) => {
            status = Status::Warn;
            findings.push(format!(
                "runs {}, another ack-ram-tool than this one ({this_shown})",
                other.display()
            ));
            fixes.push(format!(
                "Put this binary first on PATH, or set the user's exec command to {this_shown} (the other one, e.g. the Go tool, behaves differently)."
            ));
        }
    }
    let args = exec.args.clone().unwrap_or_default();
    match Cli::try_parse_from(std::iter::once("ack-ram-tool".to_owned()).chain(args)) {
        Ok(cli) => match cli.command {
            Command::CredentialPlugin(plugin)
                if matches!(
                    plugin.command,
                    PluginCommand::GetCredential(_) | PluginCommand::GetToken(_)
                ) =>
            {
                findings.push("its args parse".to_owned());
            }
            _ => {
                status = Status::Fail;
                findings.push(
                    "its args parse but do not print an ExecCredential (use credential-plugin get-credential or get-token)".to_owned(),
                );
                fixes.push(
                    "Regenerate the user with `ack-ram-tool get-kubeconfig --cluster-id ID`."
                        .to_owned(),
                );
            }
        },
        Err(e) => {
            status = Status::Fail;
            let why = match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                | clap::error::ErrorKind::DisplayVersion => {
                    "they only print help or the version".to_owned()
                }
                _ => usage_paragraph(&e.render().to_string()),
            };
            findings.push(format!("its args do not parse: {why}"));
            fixes.push(
                "Regenerate the user with `ack-ram-tool get-kubeconfig --cluster-id ID`, or correct its args.".to_owned(),
            );
        }
    }
    let check_line = Check::new(check, status, findings.join("; "));
    if fixes.is_empty() {
        check_line
    } else {
        check_line.fix(fixes.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_resolve_like_kubectl_does() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
        let tool = bin.join("ack-ram-tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap_or_else(|e| panic!("{e}"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let path = format!("relative:{}", bin.display());
        assert_eq!(
            resolve_command("ack-ram-tool", Path::new("/nowhere"), Some(&path)),
            Some(tool.clone())
        );
        assert_eq!(
            resolve_command("bin/ack-ram-tool", dir.path(), None),
            Some(dir.path().join("bin/ack-ram-tool"))
        );
        assert_eq!(
            resolve_command("ack-ram-tool", dir.path(), Some("bin")),
            None
        );
        assert_eq!(resolve_command("", dir.path(), Some(&path)), None);
        assert!(is_ack_ram_tool("/usr/local/bin/ack-ram-tool"));
        assert!(!is_ack_ram_tool("kubelogin"));
    }
}
