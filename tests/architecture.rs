//! Architecture checks: the domain crate stays pure.
//!
//! DESIGN.md's first rule is that arrows point inward and the domain does no I/O. This test
//! fails the build the day someone adds an I/O crate to `ack-ram-domain` (directly or through a
//! dependency) or reaches for the filesystem, environment, network or processes in its source.

use std::collections::BTreeSet;
use std::path::PathBuf;

/// Crates that mean I/O, an async runtime or OS services.
const FORBIDDEN: &[&str] = &[
    "tokio",
    "mio",
    "reqwest",
    "hyper",
    "hyper-util",
    "h2",
    "socket2",
    "rustls",
    "native-tls",
    "openssl",
    "keyring",
    "dbus",
    "zbus",
    "tempfile",
    "fs4",
    "fd-lock",
    "dirs",
    "home",
    "figment",
    "tracing-subscriber",
    "async-std",
    "smol",
    "wiremock",
    "libc",
    "nix",
    "rustix",
];

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn domain_depends_on_no_io_crate() {
    // `cargo tree -p` resolves features for the domain alone, as `cargo build -p` would; the
    // whole-workspace resolve of `cargo metadata` would blame the domain for features its
    // neighbours enable.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "tree",
            "-p",
            "ack-ram-domain",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}", "--offline", "--manifest-path"])
        .arg(workspace_root().join("Cargo.toml"))
        .output()
        .unwrap_or_else(|e| panic!("cargo tree: {e}"));
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let closure: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect();
    let bad: Vec<&String> = closure
        .iter()
        .filter(|n| FORBIDDEN.contains(&n.as_str()))
        .collect();
    assert!(
        bad.is_empty(),
        "ack-ram-domain pulls in I/O crates {bad:?} (closure: {closure:?})"
    );
    for expected in ["ack-ram-domain", "serde", "chrono"] {
        assert!(
            closure.contains(expected),
            "sanity: {expected} in {closure:?}"
        );
    }
}

#[test]
fn domain_source_does_no_io() {
    let forbidden = [
        "std::fs",
        "std::env",
        "std::net",
        "std::process",
        "std::io::stdin",
        "std::io::stdout",
        "std::io::stderr",
        "std::thread::sleep",
        "SystemTime::now",
        "Utc::now",
        "Local::now",
        "println!",
        "eprintln!",
        "print!(",
        "eprint!(",
    ];
    let mut offenders = Vec::new();
    let mut dirs = vec![workspace_root().join("domain/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
                for needle in forbidden {
                    if text.contains(needle) {
                        offenders.push(format!("{}: {needle}", path.display()));
                    }
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "I/O in the domain crate: {offenders:#?}"
    );
}
