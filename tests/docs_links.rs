//! The documentation points only at things that exist: every relative Markdown link, and every
//! `path` in backticks that names a file or folder of this repository, in README.md, docs/ and
//! emulator/README.md, resolves.

use std::path::{Path, PathBuf};

/// Top-level folders a backticked path must start with to count as a path into the repo.
const ROOTS: &[&str] = &[
    "adapters/",
    "app/",
    "bench/",
    "docs/",
    "domain/",
    "emulator/",
    "scripts/",
    "tests/",
    ".ci/",
];

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn documents() -> Vec<PathBuf> {
    let root = repo();
    let mut docs = vec![root.join("README.md"), root.join("emulator/README.md")];
    let mut in_docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap_or_else(|e| panic!("docs/: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    in_docs.sort();
    docs.extend(in_docs);
    docs
}

/// `](target)` links that are neither URLs nor in-page anchors.
fn markdown_links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        let Some(end) = rest.find(')') else { break };
        let target = rest[..end].split('#').next().unwrap_or_default().trim();
        if !target.is_empty() && !target.contains("://") && !target.starts_with("mailto:") {
            out.push(target.to_owned());
        }
        rest = &rest[end..];
    }
    out
}

/// Backticked words that start with a repo folder, cut at the first character that cannot be
/// part of a path (`::test` suffixes, `*` globs, line numbers).
fn backticked_paths(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| ROOTS.iter().any(|root| span.starts_with(root)))
        .filter_map(|span| {
            let path: String = span
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "/._-".contains(*c))
                .collect();
            let path = path.trim_end_matches(['.', ':']).to_owned();
            // Placeholders such as `tests/chain_cases/<name>/` stop at the `<`.
            (!span[path.len()..].starts_with('<') && !span[path.len()..].starts_with('{'))
                .then_some(path)
        })
        .collect()
}

#[test]
fn every_relative_link_and_path_in_the_docs_resolves() {
    let root = repo();
    let mut broken = Vec::new();
    for doc in documents() {
        let text =
            std::fs::read_to_string(&doc).unwrap_or_else(|e| panic!("{}: {e}", doc.display()));
        let base = doc.parent().unwrap_or(Path::new("."));
        for link in markdown_links(&text) {
            if !base.join(&link).exists() {
                broken.push(format!("{}: link {link}", doc.display()));
            }
        }
        for path in backticked_paths(&text) {
            if !root.join(&path).exists() {
                broken.push(format!("{}: path `{path}`", doc.display()));
            }
        }
        // A bare document name (`security.md`) must be a sibling or at the repo root.
        for name in text.split('`').skip(1).step_by(2) {
            let bare = name.ends_with(".md") && !name.contains(['/', ' ']);
            if bare && !base.join(name).exists() && !root.join(name).exists() {
                broken.push(format!("{}: document `{name}`", doc.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "dangling references:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_extractors_find_what_they_should() {
    assert_eq!(
        markdown_links("see [a](docs/a.md#x), [b](https://x.example) and [c](#top)"),
        vec!["docs/a.md"]
    );
    assert_eq!(
        backticked_paths("`tests/security.rs::a_test`, `docs/x.md`, `cargo test`, `tests/<case>/`"),
        vec!["tests/security.rs", "docs/x.md"]
    );
}
