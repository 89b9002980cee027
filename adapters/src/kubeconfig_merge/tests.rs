use super::*;

const PATH: &str = "/home/u/.kube/config";

/// A kubeconfig kubectl wrote, with someone else's cluster and an extension kubectl keeps.
const EXISTING: &str = r#"apiVersion: v1
clusters:
- cluster:
    server: https://other.example:6443
    insecure-skip-tls-verify: true
  name: other
- cluster:
    server: https://stale.example
  name: dev-c1
contexts:
- context:
    cluster: other
    user: other-admin
    namespace: web
  name: other
- context:
    cluster: dev-c1
    user: dev-c1
    namespace: team-a
  name: dev-c1
current-context: other
kind: Config
preferences:
  colors: true
users:
- name: other-admin
  user:
    token: "yes"
- name: dev-c1
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
x-unknown-top:
  nested: [1, 2.5, "0755", null, ~]
"#;

/// What `kubeconfig::rewrite` makes of an ACK answer.
fn rewritten(server: &str) -> String {
    let exec = crate::kubeconfig::ExecSpec {
        command: "ack-ram-tool".into(),
        args: vec!["credential-plugin".into(), "get-credential".into()],
        api_version: "client.authentication.k8s.io/v1beta1".into(),
        provide_cluster_info: false,
    };
    let ack = format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: Q0E=\n    server: {server}\n  name: kubernetes\ncontexts:\n- context:\n    cluster: kubernetes\n    user: \"1234567890123456\"\n  name: 1234567890123456-c1\ncurrent-context: 1234567890123456-c1\nkind: Config\npreferences: {{}}\nusers:\n- name: \"1234567890123456\"\n  user:\n    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\n"
    );
    crate::kubeconfig::rewrite(&ack, &exec).unwrap_or_else(|e| panic!("{e}"))
}

fn entries(name: &str) -> ClusterEntries {
    ClusterEntries::from_rewritten(&rewritten("https://127.0.0.1:6443"), name)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn parse(text: &str) -> Kubeconfig {
    Kubeconfig::parse(text, Path::new(PATH)).unwrap_or_else(|e| panic!("{e}"))
}

fn render(config: &Kubeconfig) -> String {
    config
        .render(Path::new(PATH))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn entry<'a>(config: &'a Kubeconfig, list: &str, name: &str) -> &'a Node {
    match config.root.get(list) {
        Some(Node::Seq(items)) => items
            .iter()
            .find(|i| i.name() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in {list}")),
        _ => panic!("no {list}"),
    }
}

#[test]
fn the_answer_gives_the_cluster_and_the_exec_user_only() {
    let e = entries("dev-c1");
    assert_eq!(e.name(), "dev-c1");
    assert_eq!(
        e.cluster.get("server"),
        Some(&Node::str("https://127.0.0.1:6443"))
    );
    assert!(e.user.get("exec").is_some());
    assert!(e.user.get("client-key-data").is_none());
    assert!(matches!(
        ClusterEntries::from_rewritten("kind: Config\n", "x"),
        Err(MergeError::Answer("cluster"))
    ));
}

#[test]
fn other_entries_and_unknown_keys_are_kept_ours_replaced_in_place() {
    let mut config = parse(EXISTING);
    let original = config.clone();
    assert_eq!(config.merge(&entries("dev-c1"), false), Change::Updated);
    for list in ["clusters", "users", "contexts"] {
        assert_eq!(
            config.names(list).len(),
            2,
            "{list}: {:?}",
            config.names(list)
        );
        let other = if list == "users" {
            "other-admin"
        } else {
            "other"
        };
        assert_eq!(entry(&config, list, other), entry(&original, list, other));
    }
    assert_eq!(config.names("users"), ["other-admin", "dev-c1"]);
    assert_eq!(
        config.root.get("x-unknown-top"),
        original.root.get("x-unknown-top")
    );
    assert_eq!(
        config.root.get("preferences"),
        original.root.get("preferences")
    );
    // The user is ours whole (no stale certificate next to the exec entry) ...
    let user = entry(&config, "users", "dev-c1").get("user");
    assert!(user.and_then(|u| u.get("exec")).is_some());
    assert!(user.and_then(|u| u.get("client-key-data")).is_none());
    // ... the context keeps its namespace.
    let context = entry(&config, "contexts", "dev-c1").get("context");
    assert_eq!(
        context.and_then(|c| c.get("namespace")),
        Some(&Node::str("team-a"))
    );
    assert_eq!(config.current_context(), Some("other"));
    let text = render(&config);
    assert!(
        text.contains("token: \"yes\"") || text.contains("token: 'yes'"),
        "{text}"
    );
    assert!(
        text.contains("\"0755\"") || text.contains("'0755'"),
        "{text}"
    );
}

#[test]
fn new_entries_are_appended_and_set_context_switches() {
    let mut config = parse(EXISTING);
    assert_eq!(config.merge(&entries("prod-c2"), true), Change::Added);
    assert_eq!(config.names("clusters"), ["other", "dev-c1", "prod-c2"]);
    assert_eq!(config.names("contexts"), ["other", "dev-c1", "prod-c2"]);
    assert_eq!(config.current_context(), Some("prod-c2"));
    assert_eq!(config.merge(&entries("prod-c2"), true), Change::Unchanged);
}

#[test]
fn merging_is_idempotent_to_the_byte() {
    let mut config = parse(EXISTING);
    config.merge(&entries("dev-c1"), true);
    let once = render(&config);
    let mut again = parse(&once);
    assert_eq!(again.merge(&entries("dev-c1"), true), Change::Unchanged);
    assert_eq!(render(&again), once);
}

#[test]
fn later_duplicates_of_our_name_go() {
    let text = "clusters:\n- name: a\n  cluster: {server: https://1}\n- name: b\n  cluster: {}\n- name: a\n  cluster: {server: https://2}\n";
    let mut config = parse(text);
    config.merge(&entries("a"), false);
    assert_eq!(config.names("clusters"), ["a", "b"]);
}

#[test]
fn empty_files_start_a_kubeconfig_and_other_shapes_are_refused() {
    for text in ["", "\n", "# only a comment\n", "~\n"] {
        let mut config = parse(text);
        config.merge(&entries("x-c1"), false);
        let out = render(&config);
        assert!(out.starts_with("apiVersion: v1\n"), "{out}");
        assert_eq!(config.names("contexts"), ["x-c1"]);
    }
    for (text, want) in [
        ("- a\n- b\n", "top level is not a mapping"),
        ("clusters: x\n", "`clusters` is not a list"),
        ("users: {a: b}\n", "`users` is not a list"),
        (
            "current-context: [a]\n",
            "`current-context` is not a string",
        ),
        ("a: [\n", "not valid YAML"),
        ("a: 1\na: 2\n", "not valid YAML"),
    ] {
        let got = Kubeconfig::parse(text, Path::new(PATH))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(got.contains(want) && got.contains(PATH), "{text:?}: {got}");
    }
}

#[test]
fn default_names() {
    assert_eq!(default_name("dev", "c1"), "dev-c1");
    assert_eq!(default_name("my cluster\t", "c1"), "my-cluster-c1");
    assert_eq!(default_name("  ", "c1"), "c1");
    assert_eq!(default_name("生产", "c1"), "生产-c1");
}

#[cfg(unix)]
mod files {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{e}"))
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn creates_replaces_with_a_backup_and_leaves_an_unchanged_file_alone() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("new/.kube/config");
        let file = KubeconfigFile::new(&path);
        let merge = |name: &'static str| {
            file.update(|c| c.merge(&entries(name), false))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(merge("a-c1"), (Written::Created, Change::Added));
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap_or(dir.path())), 0o700);
        let first = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));

        let backup = dir.path().join("new/.kube/config.bak");
        assert_eq!(
            merge("b-c2"),
            (
                Written::Replaced {
                    backup: backup.clone()
                },
                Change::Added
            )
        );
        assert_eq!(std::fs::read(&backup).ok(), Some(first));
        assert_eq!(mode(&backup), 0o600);

        // Nothing changes: nothing is written, the backup stays what it was.
        std::fs::remove_file(&backup).unwrap_or_else(|e| panic!("{e}"));
        let second = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(merge("b-c2"), (Written::Unchanged, Change::Unchanged));
        assert_eq!(std::fs::read(&path).ok(), Some(second));
        assert!(!backup.exists());
        assert!(!dir.path().join("new/.kube/config.lock").exists());
    }

    #[test]
    fn a_symlinked_kubeconfig_is_replaced_where_it_lives() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let real = dir.path().join("dotfiles-kubeconfig");
        std::fs::write(&real, EXISTING).unwrap_or_else(|e| panic!("{e}"));
        let link = dir.path().join("config");
        std::os::unix::fs::symlink(&real, &link).unwrap_or_else(|e| panic!("{e}"));
        let (written, _) = KubeconfigFile::new(&link)
            .update(|c| c.merge(&entries("a-c1"), false))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(written, Written::Replaced { .. }));
        assert!(std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()));
        let text = std::fs::read_to_string(&real).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            text.contains("a-c1") && text.contains("other-admin"),
            "{text}"
        );
    }

    #[test]
    fn another_writers_lock_is_waited_for_then_reported() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("config");
        std::fs::write(dir.path().join("config.lock"), "").unwrap_or_else(|e| panic!("{e}"));
        let got = FileLock::acquire(&path, Duration::from_millis(60))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            got.contains("config.lock exists") && got.contains("remove that file"),
            "{got}"
        );
        std::fs::remove_file(dir.path().join("config.lock")).unwrap_or_else(|e| panic!("{e}"));
        let held = FileLock::acquire(&path, Duration::ZERO).unwrap_or_else(|e| panic!("{e}"));
        assert!(dir.path().join("config.lock").exists());
        drop(held);
        assert!(!dir.path().join("config.lock").exists());
    }

    #[test]
    fn a_fifo_or_a_huge_file_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let fifo = dir.path().join("config");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let got = KubeconfigFile::new(&fifo)
            .load()
            .err()
            .map(|e| e.to_string());
        assert!(
            got.as_deref()
                .is_some_and(|g| g.contains("FIFO") || g.contains("fifo")),
            "{got:?}"
        );

        let huge = dir.path().join("huge");
        let file = std::fs::File::create(&huge).unwrap_or_else(|e| panic!("{e}"));
        file.set_len(MAX_KUBECONFIG_BYTES + 1)
            .unwrap_or_else(|e| panic!("{e}"));
        let got = KubeconfigFile::new(&huge)
            .load()
            .err()
            .map(|e| e.to_string());
        assert!(
            got.as_deref().is_some_and(|g| g.contains("larger than")),
            "{got:?}"
        );
    }
}

/// Merging never drops or changes an entry it did not replace, keeps every key it does not
/// own, and is idempotent, whatever the rest of the file holds.
mod properties {
    use super::*;
    use crate::fuzz_support::config;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::select;

    /// Names and scalars that trip YAML writers up.
    const TRICKY: &[&str] = &[
        "dev-c1",
        "yes",
        "no",
        "on",
        "0",
        "0755",
        "1e3",
        "~",
        "null",
        "",
        " lead",
        "a: b",
        "- x",
        "#x",
        "it's",
        "\"q\"",
        "tab\there",
        "line\nbreak",
        "生产",
        "é\u{202e}",
        "c1",
        "true",
    ];

    fn text() -> BoxedStrategy<String> {
        prop_oneof![
            3 => select(TRICKY).prop_map(str::to_owned),
            3 => "[a-z][a-z0-9-]{0,12}",
            1 => "\\PC{0,16}",
        ]
        .boxed()
    }

    fn value() -> BoxedStrategy<Node> {
        let leaf = prop_oneof![
            Just(Node::Null),
            any::<bool>().prop_map(Node::Bool),
            any::<i64>().prop_map(|i| Node::Int(i.into())),
            (-1.0e6..1.0e6f64).prop_map(Node::Float),
            text().prop_map(Node::Str),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(Node::Seq),
                vec((text().prop_map(Node::Str), inner), 0..4).prop_map(|entries| {
                    let mut unique: Vec<(Node, Node)> = Vec::new();
                    for (k, v) in entries {
                        if !unique.iter().any(|(seen, _)| *seen == k) {
                            unique.push((k, v));
                        }
                    }
                    Node::Map(unique)
                }),
            ]
        })
        .boxed()
    }

    fn named(body_key: &'static str) -> BoxedStrategy<Node> {
        (text(), value())
            .prop_map(move |(name, body)| {
                Node::Map(vec![
                    (Node::str("name"), Node::Str(name)),
                    (Node::str(body_key), body),
                ])
            })
            .boxed()
    }

    fn kubeconfig() -> BoxedStrategy<Kubeconfig> {
        (
            vec(named("cluster"), 0..4),
            vec(named("user"), 0..4),
            vec(named("context"), 0..4),
            proptest::option::of(text()),
            vec(("x-[a-z]{1,6}", value()), 0..3),
        )
            .prop_map(|(clusters, users, contexts, current, extra)| {
                let mut root = vec![
                    (Node::str("clusters"), Node::Seq(clusters)),
                    (Node::str("users"), Node::Seq(users)),
                    (Node::str("contexts"), Node::Seq(contexts)),
                ];
                if let Some(current) = current {
                    root.push((Node::str("current-context"), Node::Str(current)));
                }
                for (k, v) in extra {
                    if !root
                        .iter()
                        .any(|(seen, _)| seen.as_str() == Some(k.as_str()))
                    {
                        root.push((Node::Str(k), v));
                    }
                }
                Kubeconfig {
                    root: Node::Map(root),
                }
            })
            .boxed()
    }

    fn items<'a>(config: &'a Kubeconfig, list: &str) -> Vec<&'a Node> {
        match config.root.get(list) {
            Some(Node::Seq(items)) => items.iter().collect(),
            _ => Vec::new(),
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn merging_keeps_what_it_does_not_replace(
            original in kubeconfig(),
            name in text(),
            set_current in any::<bool>(),
        ) {
            // Through the file's text, as a real merge goes.
            let path = Path::new(PATH);
            let first = original
                .render(path)
                .map_err(|e| TestCaseError::fail(format!("{e}: {original:?}")))?;
            let before = Kubeconfig::parse(&first, path).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(same(&before.root, &original.root));
            let mut merged = before.clone();
            merged.merge(&entries(&name), set_current);
            for list in ["clusters", "users", "contexts"] {
                let kept: Vec<&Node> = items(&before, list)
                    .into_iter()
                    .filter(|i| i.name() != Some(name.as_str()))
                    .collect();
                let after: Vec<&Node> = items(&merged, list)
                    .into_iter()
                    .filter(|i| i.name() != Some(name.as_str()))
                    .collect();
                prop_assert_eq!(kept, after, "{} changed", list);
                prop_assert_eq!(
                    items(&merged, list).iter().filter(|i| i.name() == Some(name.as_str())).count(),
                    1
                );
            }
            if let (Node::Map(b), Node::Map(a)) = (&before.root, &merged.root) {
                for (k, v) in b {
                    let owned = ["clusters", "users", "contexts", "current-context"];
                    if k.as_str().is_some_and(|k| owned.contains(&k)) {
                        continue;
                    }
                    prop_assert!(a.iter().any(|(ka, va)| ka == k && same(va, v)), "{k:?} lost");
                }
            }
            if !set_current {
                prop_assert_eq!(merged.current_context(), before.current_context());
            }
            let text = match merged.render(path) {
                Ok(text) => text,
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            };
            let mut again = Kubeconfig::parse(&text, path).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(again.merge(&entries(&name), set_current), Change::Unchanged);
            prop_assert_eq!(again.render(path).ok(), Some(text));
        }

        #[test]
        fn parsing_any_text_never_panics(text in "\\PC{0,200}") {
            if let Ok(mut config) = Kubeconfig::parse(&text, Path::new(PATH)) {
                config.merge(&entries("a"), true);
                let _ = config.render(Path::new(PATH));
            }
        }
    }
}
