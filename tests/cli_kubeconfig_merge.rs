//! `get-kubeconfig --merge`, black-box against the local ACK emulator: merging into a kubeconfig
//! that holds other clusters, users, contexts and keys this tool does not know (all kept, the
//! file 0600, the previous one backed up), re-running (byte-identical, no new backup),
//! `--all-clusters` over several pages of `DescribeClustersV1`, a cluster that fails while the
//! others merge, files that cannot be merged into, and real kubectl (`$KUBECTL`, set by
//! scripts/test.sh) listing the merged contexts and reaching two clusters through the plugin.
//! Every process runs under a timeout.

mod support;

use ack_ram_emulator::{Emulator, EmulatorConfig, ListedCluster, account_uid};
use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;
use support::{AK_ID, AK_SECRET, mode, stderr, stdout};

const TIMEOUT: Duration = Duration::from_secs(60);

/// The account's clusters: (name, id). Names with a space and non-ASCII on purpose.
fn clusters() -> Vec<(&'static str, String)> {
    ["dev", "staging", "prod eu", "data", "生产"]
        .into_iter()
        .enumerate()
        .map(|(i, name)| (name, format!("c{:032x}", 0xa11ce0 + i)))
        .collect()
}

/// The name a cluster's entries get by default.
fn entry_name(name: &str, id: &str) -> String {
    format!("{}-{id}", name.replace(' ', "-"))
}

struct World {
    emulator: Emulator,
    home: tempfile::TempDir,
}

/// An emulator listing `clusters()` at most `page_max` per page, whose certificate call accepts
/// only `accepted` of them (all when `None`), with its Kubernetes API.
fn world(page_max: usize, accepted: Option<usize>) -> World {
    let all = clusters();
    let emulator = Emulator::start_blocking(EmulatorConfig {
        access_keys: vec![(AK_ID.to_owned(), AK_SECRET.to_owned())],
        clusters: Some(
            all.iter()
                .take(accepted.unwrap_or(all.len()))
                .map(|(_, id)| id.clone())
                .collect(),
        ),
        kube_api: true,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("emulator: {e}"));
    emulator.set_listed_clusters(
        all.iter()
            .map(|(name, id)| ListedCluster::new(id, name))
            .collect(),
    );
    emulator.set_list_page_size_max(page_max);
    World {
        emulator,
        home: tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")),
    }
}

/// PATH with the binary under test first (kubectl runs it by its bare name).
fn path_with_binary() -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_ack-ram-tool"))
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .to_path_buf();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

impl World {
    fn env(&self, cmd: &mut Command) {
        cmd.env_clear()
            .env("HOME", self.home.path())
            .env("PATH", path_with_binary())
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", AK_SECRET)
            .timeout(TIMEOUT);
    }

    /// `ack-ram-tool get-kubeconfig --merge ARGS` against the emulator.
    fn merge(&self, args: &[&str]) -> Output {
        self.merge_with(args, &[])
    }

    fn merge_with(&self, args: &[&str], env: &[(&str, &Path)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ack-ram-tool"));
        self.env(&mut cmd);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.args(["get-kubeconfig", "--merge", "--cs-endpoint"])
            .arg(self.emulator.endpoint())
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("spawn: {e}"))
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.home.path().join(relative)
    }

    /// The DescribeClustersV1 pages requested, by `page_number`.
    fn pages(&self) -> Vec<String> {
        self.emulator
            .requests()
            .into_iter()
            .filter(|r| r.path == "/api/v1/clusters")
            .map(|r| r.query)
            .collect()
    }

    /// The clusters whose kubeconfig was asked for, in order.
    fn kubeconfig_calls(&self) -> Vec<String> {
        self.emulator
            .requests()
            .into_iter()
            .filter_map(|r| {
                r.path
                    .strip_prefix("/k8s/")
                    .and_then(|p| p.strip_suffix("/user_config"))
                    .map(str::to_owned)
            })
            .collect()
    }
}

fn yaml(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn names(doc: &serde_json::Value, list: &str) -> Vec<String> {
    doc[list]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["name"].as_str().map(str::to_owned))
        .collect()
}

fn named<'a>(doc: &'a serde_json::Value, list: &str, name: &str) -> &'a serde_json::Value {
    doc[list]
        .as_array()
        .and_then(|items| items.iter().find(|e| e["name"] == name))
        .unwrap_or_else(|| panic!("no {name} in {list}: {doc}"))
}

/// Someone's kubeconfig: another cluster, user and context, and keys this tool does not know.
const EXISTING: &str = r#"apiVersion: v1
kind: Config
preferences: {}
current-context: other
clusters:
- name: other
  cluster:
    server: https://other.example:6443
    insecure-skip-tls-verify: true
    extensions:
    - name: team
      extension: {owner: web}
contexts:
- name: other
  context: {cluster: other, user: other-admin, namespace: web}
users:
- name: other-admin
  user:
    token: not-a-real-token
x-team-notes:
  on-call: "alice"
  rotation: [mon, tue]
  since: 2024-01-01
"#;

fn write_existing(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new("/")))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(path, EXISTING).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn merge_keeps_everything_else_backs_up_and_reruns_byte_identically() {
    let w = world(100, None);
    let (name, id) = clusters()[2].clone();
    // kubectl writes to the first path of KUBECONFIG; so does the merge.
    let main = w.path("kube/main");
    let second = w.path("kube/second");
    write_existing(&main);
    let kubeconfig_var = PathBuf::from(format!("{}:{}", main.display(), second.display()));
    let env = [("KUBECONFIG", kubeconfig_var.as_path())];

    let out = w.merge_with(&["--cluster-id", &id], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let merged_name = entry_name(name, &id);
    let report = stdout(&out);
    assert!(
        report.contains(&format!("Context \"{merged_name}\" added (cluster {id})"))
            && report.contains("the previous version is in"),
        "{report}"
    );
    assert!(
        !second.exists(),
        "only the first KUBECONFIG path is written"
    );

    // Everything that was there is still there, unchanged; ours is added under one name.
    let before: serde_json::Value =
        serde_saphyr::from_str(EXISTING).unwrap_or_else(|e| panic!("{e}"));
    let after = yaml(&main);
    for (list, theirs) in [
        ("clusters", "other"),
        ("users", "other-admin"),
        ("contexts", "other"),
    ] {
        assert_eq!(
            named(&after, list, theirs),
            named(&before, list, theirs),
            "{list}"
        );
        assert_eq!(names(&after, list), [theirs, merged_name.as_str()]);
    }
    for key in ["x-team-notes", "preferences", "apiVersion", "kind"] {
        assert_eq!(after[key], before[key], "{key}");
    }
    assert_eq!(
        after["current-context"], "other",
        "not switched without --set-context"
    );
    let context = &named(&after, "contexts", &merged_name)["context"];
    assert_eq!(context["cluster"], merged_name.as_str());
    assert_eq!(context["user"], merged_name.as_str());
    let exec = &named(&after, "users", &merged_name)["user"]["exec"];
    assert_eq!(exec["command"], "ack-ram-tool");
    let args: Vec<&str> = exec["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str())
        .collect();
    assert_eq!(
        args[..4],
        ["credential-plugin", "get-credential", "--cluster-id", &id]
    );
    assert_eq!(
        named(&after, "clusters", &merged_name)["cluster"]["server"],
        w.emulator.kube_endpoint().as_str()
    );

    // Written 0600; the previous bytes kept in <file>.bak, 0600 too.
    let backup = w.path("kube/main.bak");
    assert_eq!(mode(&main), 0o600);
    assert_eq!(mode(&backup), 0o600);
    assert_eq!(
        std::fs::read_to_string(&backup).ok().as_deref(),
        Some(EXISTING)
    );
    assert!(!w.path("kube/main.lock").exists(), "the lock is released");

    // Re-running changes nothing: same bytes, and the backup still holds the original.
    let first = std::fs::read(&main).unwrap_or_else(|e| panic!("{e}"));
    let out = w.merge_with(&["--cluster-id", &id], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("unchanged") && stdout(&out).contains("is unchanged."),
        "{}",
        stdout(&out)
    );
    assert_eq!(std::fs::read(&main).ok(), Some(first.clone()));
    assert_eq!(
        std::fs::read_to_string(&backup).ok().as_deref(),
        Some(EXISTING)
    );

    // --set-context switches, and only that changes.
    let out = w.merge_with(&["--cluster-id", &id, "--set-context"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let switched = yaml(&main);
    assert_eq!(switched["current-context"], merged_name.as_str());
    assert_eq!(
        std::fs::read(&backup).ok(),
        Some(first),
        "the backup is the version just replaced"
    );
}

#[test]
fn all_clusters_over_several_pages_merges_each_with_stable_names() {
    let w = world(2, None);
    let file = w.path("merged/config");
    let file_arg = file.display().to_string();
    let out = w.merge(&["--all-clusters", "--kubeconfig", &file_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("Created {file_arg}.")),
        "{}",
        stdout(&out)
    );

    // Five clusters, two per page: three pages, each asked for once.
    let pages = w.pages();
    assert_eq!(pages.len(), 3, "{pages:?}");
    for (i, query) in pages.iter().enumerate() {
        assert!(
            query.contains(&format!("page_number={}", i + 1)) && query.contains("page_size=100"),
            "{query}"
        );
    }
    let all = clusters();
    assert_eq!(
        w.kubeconfig_calls(),
        all.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>(),
        "one kubeconfig call per cluster"
    );
    let doc = yaml(&file);
    let want: Vec<String> = all.iter().map(|(n, id)| entry_name(n, id)).collect();
    for list in ["clusters", "users", "contexts"] {
        assert_eq!(names(&doc, list), want, "{list}");
    }
    assert_eq!(mode(&file), 0o600);
    assert!(!w.path("merged/config.bak").exists(), "nothing to back up");

    // Again: byte-identical, no backup made.
    let first = std::fs::read(&file).unwrap_or_else(|e| panic!("{e}"));
    let out = w.merge(&["--all-clusters", "--kubeconfig", &file_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(&file).ok(), Some(first));
    assert!(!w.path("merged/config.bak").exists());
    assert_eq!(stdout(&out).matches(" unchanged (cluster ").count(), 5);
}

#[test]
fn a_failing_cluster_is_reported_and_the_others_are_merged() {
    // The fifth cluster is listed but its kubeconfig call fails (404 ErrorClusterNotFound).
    let w = world(3, Some(4));
    let all = clusters();
    let (_, broken) = all[4].clone();
    let file = w.path("config");
    let file_arg = file.display().to_string();
    let out = w.merge(&["--all-clusters", "--kubeconfig", &file_arg]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cluster {broken}"))
            && err.contains("ErrorClusterNotFound")
            && err.contains(&format!(
                "1 of 5 clusters could not be merged into {file_arg}; the others were"
            )),
        "{err}"
    );
    let doc = yaml(&file);
    let want: Vec<String> = all[..4].iter().map(|(n, id)| entry_name(n, id)).collect();
    assert_eq!(names(&doc, "contexts"), want);

    // Repeated --cluster-id: an id the account does not list is reported, the other merged.
    let (name, id) = all[0].clone();
    let out = w.merge(&[
        "-c",
        &id,
        "-c",
        "cdeadbeef",
        "-c",
        &id,
        "--kubeconfig",
        &file_arg,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cluster cdeadbeef is not among the 5 clusters"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains(&format!("Context \"{}\" unchanged", entry_name(name, &id))),
        "{}",
        stdout(&out)
    );
}

#[test]
fn context_name_needs_no_listing_and_one_cluster() {
    let w = world(100, None);
    let (_, id) = clusters()[1].clone();
    let file = w.path(".kube/config");
    let out = w.merge(&["-c", &id, "--context-name", "mine", "--set-context"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(w.pages().is_empty(), "no DescribeClustersV1 call");
    let doc = yaml(&file);
    assert_eq!(names(&doc, "contexts"), ["mine"]);
    assert_eq!(doc["current-context"], "mine");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&w.path(".kube")), 0o700);

    for (args, want) in [
        (
            vec!["--all-clusters", "--context-name", "x"],
            "--context-name: it applies to one cluster",
        ),
        (
            vec!["-c", "c1", "-c", "c2", "--set-context"],
            "--set-context: it applies to one cluster",
        ),
        (vec!["--all-clusters", "-c", "c1"], "cannot be used with"),
    ] {
        let out = w.merge(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
    }
    // Without --merge: one cluster, and the merge-only flags are refused.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ack-ram-tool"));
    w.env(&mut cmd);
    let out = cmd
        .args(["get-kubeconfig", "-c", "c1", "-c", "c2"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("add --merge to merge several"),
        "{}",
        stderr(&out)
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ack-ram-tool"));
    w.env(&mut cmd);
    let out = cmd
        .args(["get-kubeconfig", "-c", "c1", "--set-context"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--merge"), "{}", stderr(&out));
}

#[test]
fn files_that_cannot_be_merged_into_fail_before_any_call() {
    let w = world(100, None);
    let (_, id) = clusters()[0].clone();

    let fifo = w.path("fifo");
    mkfifo(&fifo);
    let started = std::time::Instant::now();
    let out = w.merge(&["-c", &id, "--kubeconfig", &fifo.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(20), "did not block");
    assert!(
        stderr(&out).contains("FIFO") && stderr(&out).contains("nothing was changed"),
        "{}",
        stderr(&out)
    );

    let huge = w.path("huge");
    std::fs::File::create(&huge)
        .and_then(|f| f.set_len(17 * 1024 * 1024))
        .unwrap_or_else(|e| panic!("{e}"));
    let out = w.merge(&["-c", &id, "--kubeconfig", &huge.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("larger than"), "{}", stderr(&out));

    let broken = w.path("broken");
    std::fs::write(&broken, "clusters: [\n").unwrap_or_else(|e| panic!("{e}"));
    let out = w.merge(&["-c", &id, "--kubeconfig", &broken.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not valid YAML"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(&broken).ok().as_deref(),
        Some("clusters: [\n")
    );
    assert_eq!(w.emulator.request_count(), 0, "no API call was made");
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap_or_else(|e| panic!("mkfifo: {e}"));
    assert!(status.success());
}

/// kubectl from `$KUBECTL` (scripts/test.sh sets kubectl 1.37); `None`, said on stderr, when
/// unset.
fn kubectl() -> Option<PathBuf> {
    match std::env::var_os("KUBECTL").filter(|k| !k.is_empty()) {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            eprintln!("skipped: KUBECTL is not set (scripts/test.sh sets it to kubectl 1.37)");
            None
        }
    }
}

#[test]
fn kubectl_lists_the_merged_contexts_and_reaches_two_clusters_through_the_plugin() {
    let Some(kubectl) = kubectl() else {
        return;
    };
    let w = world(2, None);
    let all = clusters();
    let config = w.path(".kube/config");
    write_existing(&config);
    let (first_name, first) = all[0].clone();
    let (second_name, second) = all[3].clone();
    let out = w.merge(&["-c", &first]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = w.merge(&["-c", &second, "--set-context"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (a, b) = (
        entry_name(first_name, &first),
        entry_name(second_name, &second),
    );

    let run = |args: &[&str]| {
        let mut cmd = Command::new(&kubectl);
        w.env(&mut cmd);
        cmd.args(args).output().unwrap_or_else(|e| panic!("{e}"))
    };
    let out = run(&["config", "get-contexts", "-o", "name"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // kubectl lists them sorted by name.
    let listed: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    let mut want = vec!["other".to_owned(), a.clone(), b.clone()];
    want.sort();
    assert_eq!(listed, want);
    let out = run(&["config", "current-context"]);
    assert_eq!(stdout(&out).trim(), b);

    for (context, id) in [(&a, &first), (&b, &second)] {
        let calls_before = w.kubeconfig_calls().len();
        let kube_before = w.emulator.kube_requests().len();
        let out = run(&["--context", context, "get", "ns"]);
        assert!(
            out.status.success(),
            "kubectl --context {context} get ns: {}",
            stderr(&out)
        );
        assert!(stdout(&out).contains("kube-system"), "{}", stdout(&out));
        // The plugin asked for this context's cluster, and the API server saw its certificate.
        assert_eq!(
            &w.kubeconfig_calls()[calls_before..],
            std::slice::from_ref(id),
            "{context}"
        );
        let seen = w.emulator.kube_requests();
        assert!(seen.len() > kube_before);
        assert!(
            seen[kube_before..]
                .iter()
                .all(|r| r.common_name == account_uid(AK_ID) && r.status == 200),
            "{seen:?}"
        );
    }
}
