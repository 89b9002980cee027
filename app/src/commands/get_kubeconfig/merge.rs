//! `get-kubeconfig --merge`: the cluster, user and context of one or many clusters put into the
//! kubeconfig kubectl uses, everything else in it kept
//! ([`ack_ram_adapters::kubeconfig_merge`] says what is kept and how the file is written).
//!
//! - The file: `--kubeconfig`, else the first path of `$KUBECONFIG`, else `~/.kube/config`. It
//!   is read (and refused when it cannot be merged into) before any network call.
//! - Names: `--context-name` (one cluster; then no listing is needed), else
//!   `<cluster name>-<cluster id>` from `DescribeClustersV1`, the same for the cluster, the
//!   user and the context, so re-running replaces instead of piling up.
//! - Clusters: the `--cluster-id`s, or with `--all-clusters` every cluster the identity can
//!   list. One ACK call each; a cluster that fails is reported on stderr and the others are
//!   still merged, in one write; the exit code is then 1.
//! - stdout says what happened to each context and to the file.

use super::fetch;
use crate::cli::{GetKubeconfigArgs, GlobalArgs};
use crate::config::Settings;
use crate::error::AppError;
use crate::wiring;
use ack_ram_adapters::ack::{AckClient, ClusterSummary};
use ack_ram_adapters::env::Environment;
use ack_ram_adapters::kubeconfig_merge::{
    Change, ClusterEntries, KubeconfigFile, Written, default_name,
};
use ack_ram_domain::ClusterId;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Runs `get-kubeconfig --merge`.
pub fn run(
    args: &GetKubeconfigArgs,
    global: &GlobalArgs,
    settings: &Settings,
    env: &Environment,
) -> Result<(), AppError> {
    let all = args.all_clusters == Some(true);
    let mut ids: Vec<ClusterId> = Vec::new();
    for id in &args.cluster_id {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    let one = !all && ids.len() == 1;
    if !one && (args.context_name.is_some() || args.set_context == Some(true)) {
        return Err(AppError::InvalidInput {
            flag: if args.context_name.is_some() {
                "--context-name"
            } else {
                "--set-context"
            },
            message: "it applies to one cluster; with several, the names are <cluster name>-<cluster id> (switch with `kubectl config use-context`)".into(),
        });
    }
    let context_name = match args.context_name.as_deref() {
        Some(name) if name.trim().is_empty() || name.chars().any(char::is_control) => {
            return Err(AppError::InvalidInput {
                flag: "--context-name",
                message: "the name is empty or holds control characters".into(),
            });
        }
        other => other,
    };
    let file = KubeconfigFile::new(target(args, env)?);
    // A file that cannot be merged into fails now, before any call is made.
    file.load()?;

    let endpoint = wiring::cs_endpoint(settings)?;
    wiring::warn_if_cleartext(&endpoint, "ACK endpoint");
    let session = wiring::session(settings, args.role_arn.as_deref(), env)?;
    let credentials = session.credentials()?;
    let ack = AckClient::new(session.client.clone(), endpoint, session.ctx.clock());

    let (targets, mut failures) = match (context_name, ids.as_slice()) {
        (Some(name), [id]) => (vec![(id.clone(), name.to_owned())], Vec::new()),
        _ => {
            let listed = session
                .runtime
                .block_on(ack.describe_clusters(&credentials))
                .map_err(AppError::ListClusters)?;
            named(&listed, &ids, all)
        }
    };

    // One ACK call per cluster; a failure does not stop the others.
    let total = targets.len() + failures.len();
    let mut entries: Vec<(ClusterId, ClusterEntries)> = Vec::new();
    for (id, name) in &targets {
        let merged = fetch(args, global, &session, &ack, &credentials, id).and_then(|yaml| {
            ClusterEntries::from_rewritten(&yaml, name).map_err(AppError::Kubeconfig)
        });
        match merged {
            Ok(e) => entries.push((id.clone(), e)),
            Err(e) => failures.push(e),
        }
    }
    for failure in &failures {
        eprintln!("{}", failure.render());
    }
    let path = file.path().to_owned();
    if entries.is_empty() {
        return match failures.len() {
            0 => {
                eprintln!(
                    "This identity can list no clusters (DescribeClustersV1); {} was not changed.",
                    path.display()
                );
                Ok(())
            }
            failed => Err(AppError::MergeIncomplete {
                failed,
                total,
                path,
            }),
        };
    }

    let set_current = args.set_context == Some(true);
    let (written, changes) = file.update(|config| {
        entries
            .iter()
            .map(|(_, e)| config.merge(e, set_current))
            .collect::<Vec<Change>>()
    })?;
    let current = entries
        .first()
        .filter(|_| set_current)
        .map(|(_, e)| e.name());
    crate::output::print(&report(&entries, &changes, current, &path, &written))?;
    match failures.len() {
        0 => Ok(()),
        failed => Err(AppError::MergeIncomplete {
            failed,
            total,
            path,
        }),
    }
}

/// The clusters to merge, named `<cluster name>-<cluster id>` from the listing: all of them with
/// `all`, else the `ids`; an id the listing lacks is a failure.
fn named(
    listed: &[ClusterSummary],
    ids: &[ClusterId],
    all: bool,
) -> (Vec<(ClusterId, String)>, Vec<AppError>) {
    let name_of = |c: &ClusterSummary| default_name(&c.name, c.cluster_id.as_str());
    let mut targets: Vec<(ClusterId, String)> = Vec::new();
    let mut failures = Vec::new();
    if all {
        targets.extend(listed.iter().map(|c| (c.cluster_id.clone(), name_of(c))));
    }
    for id in ids {
        match listed.iter().find(|c| &c.cluster_id == id) {
            Some(c) => targets.push((id.clone(), name_of(c))),
            None => failures.push(AppError::InvalidInput {
                flag: "--cluster-id",
                message: format!(
                    "cluster {id} is not among the {} clusters this identity can list (DescribeClustersV1); check the id and the account, or name it with --context-name",
                    listed.len()
                ),
            }),
        }
    }
    (targets, failures)
}

/// What stdout says: each context, the current one when switched, and the file.
fn report(
    entries: &[(ClusterId, ClusterEntries)],
    changes: &[Change],
    current: Option<&str>,
    path: &std::path::Path,
    written: &Written,
) -> String {
    let mut text = String::new();
    for ((id, e), change) in entries.iter().zip(changes) {
        let what = match change {
            Change::Added => "added",
            Change::Updated => "updated",
            Change::Unchanged => "unchanged",
        };
        let _ = writeln!(text, "Context \"{}\" {what} (cluster {id}).", e.name());
    }
    if let Some(name) = current {
        let _ = writeln!(text, "Current context: \"{name}\".");
    }
    let _ = match written {
        Written::Unchanged => writeln!(text, "{} is unchanged.", path.display()),
        Written::Created => writeln!(text, "Created {}.", path.display()),
        Written::Replaced { backup } => writeln!(
            text,
            "Wrote {} (the previous version is in {}).",
            path.display(),
            backup.display()
        ),
    };
    text
}

/// The file to merge into: `--kubeconfig`, else the first path of `$KUBECONFIG` (as kubectl
/// writes new entries there), else `~/.kube/config`.
fn target(args: &GetKubeconfigArgs, env: &Environment) -> Result<PathBuf, AppError> {
    let home = env.get("HOME").filter(|h| !h.is_empty());
    if let Some(path) = &args.kubeconfig {
        return match path.to_str() {
            Some(raw) => wiring::expand_home(raw, home),
            None => Ok(path.clone()),
        };
    }
    if let Some(first) = env
        .get("KUBECONFIG")
        .and_then(|list| std::env::split_paths(list).find(|p| !p.as_os_str().is_empty()))
    {
        return Ok(first);
    }
    match home {
        Some(home) => Ok(PathBuf::from(home).join(".kube").join("config")),
        None => Err(AppError::NoHome {
            path: "~/.kube/config".into(),
        }),
    }
}
