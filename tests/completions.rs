//! Shell completions, exercised in the real shells: bash's completion function driven with
//! `COMP_WORDS`/`COMP_CWORD` at every depth, fish's `complete -C`, zsh loading the script
//! under `compinit`. `scripts/install-test-deps.sh` installs zsh and fish.

mod support;

use std::path::Path;
use std::process::Command;
use support::*;

/// The script `ack-ram-tool completion SHELL` prints, saved in `dir`.
fn script(shell: &str, dir: &Path) -> std::path::PathBuf {
    let out = Sandbox::new()
        .bare()
        .args(["completion", shell])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success(), "{shell}: {}", stderr(&out));
    let path = dir.join(format!("completion.{shell}"));
    std::fs::write(&path, &out.stdout).unwrap_or_else(|e| panic!("{e}"));
    path
}

/// What bash offers after `words` (the last one being completed).
fn bash_complete(script: &Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let prev = if cword > 0 { words[cword - 1] } else { "" };
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={cword}; _ack__ram__tool ack-ram-tool '{}' '{prev}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words[cword],
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .unwrap_or_else(|e| panic!("bash: {e}"));
    assert!(out.status.success(), "{program}: {}", stderr(&out));
    assert_eq!(stderr(&out), "", "{program}");
    stdout(&out).lines().map(str::to_owned).collect()
}

#[test]
fn bash_completes_subcommands_flags_and_values_at_every_depth() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let script = script("bash", dir.path());
    for (words, want) in [
        (&["ack-ram-tool", "cred"][..], &["credential-plugin"][..]),
        (
            &["ack-ram-tool", "credential-plugin", "get"],
            &["get-credential", "get-kubeconfig", "get-token"],
        ),
        (
            &[
                "ack-ram-tool",
                "credential-plugin",
                "get-credential",
                "--clu",
            ],
            &["--cluster-id"],
        ),
        (
            &["ack-ram-tool", "credential-plugin", "cache", "l"],
            &["list"],
        ),
        (
            &[
                "ack-ram-tool",
                "credential-plugin",
                "get-credential",
                "--credential-type",
                "",
            ],
            &["auto", "imds", "ecs-role", "keyring"],
        ),
        (
            &["ack-ram-tool", "get-kubeconfig", "--mode", ""],
            &["cert", "token"],
        ),
        (
            &["ack-ram-tool", "auth", "whoami", "-o", ""],
            &["text", "json"],
        ),
        (&["ack-ram-tool", "--log-level", "w"], &["warn", "warning"]),
    ] {
        let got = bash_complete(&script, words);
        for w in want {
            assert!(got.iter().any(|g| g == w), "{words:?}: {w} not in {got:?}");
        }
    }
}

#[test]
fn fish_completes_in_the_real_shell() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let script = script("fish", dir.path());
    let program = format!(
        "source '{}'; complete -C 'ack-ram-tool credential-plugin get-'; complete -C 'ack-ram-tool credential-plugin get-credential --credential-type '",
        script.display()
    );
    let out = Command::new("fish")
        .args(["--no-config", "-c", &program])
        .env("HOME", dir.path())
        .output()
        .unwrap_or_else(|e| panic!("fish: {e}"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let got = stdout(&out);
    for want in [
        "get-credential",
        "get-kubeconfig",
        "get-token",
        "keyring",
        "ecs-role",
    ] {
        assert!(
            got.lines().any(|l| l.starts_with(want)),
            "{want} not in {got}"
        );
    }
}

#[test]
fn zsh_loads_the_script_without_error() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let script = script("zsh", dir.path());
    let program = format!(
        "autoload -Uz compinit && compinit -u -d '{}/zcompdump' && source '{}' && whence -w _ack-ram-tool",
        dir.path().display(),
        script.display()
    );
    let out = Command::new("zsh")
        .args(["-f", "-c", &program])
        .env("HOME", dir.path())
        .output()
        .unwrap_or_else(|e| panic!("zsh: {e}"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert!(
        stdout(&out).contains("_ack-ram-tool: function"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_closed_pipe_is_a_quiet_success() {
    let out = Command::new("bash")
        .args([
            "-c",
            &format!(
                "set -o pipefail; '{}' completion bash | head -1",
                env!("CARGO_BIN_EXE_ack-ram-tool")
            ),
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert!(
        stdout(&out).starts_with("_ack__ram__tool()"),
        "{}",
        stdout(&out)
    );
}
