use super::*;
use proptest::collection::vec;
use proptest::prelude::*;

fn parse(text: &str) -> Node {
    Node::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn renders_as_go_marshal_indent_with_a_tab() {
    let doc = parse(
        r#"{"current":"a","profiles":[{"name":"a","n":1,"x":[],"y":{},"z":"<&>\u2028"}],"meta_path":""}"#,
    );
    assert_eq!(
        doc.render(),
        "{\n\t\"current\": \"a\",\n\t\"profiles\": [\n\t\t{\n\t\t\t\"name\": \"a\",\n\t\t\t\"n\": 1,\n\t\t\t\"x\": [],\n\t\t\t\"y\": {},\n\t\t\t\"z\": \"\\u003c\\u0026\\u003e\\u2028\"\n\t\t}\n\t],\n\t\"meta_path\": \"\"\n}"
    );
}

#[test]
fn merge_sets_only_the_update_in_place_and_appends_new_fields() {
    let mut doc = parse(
        r#"{"zz":1,"profiles":[{"name":"b","sts_token":"keep"},{"name":"a","read_timeout":5,"sts_token":"old","mode":"CloudSSO"}],"current":"a"}"#,
    );
    let update = CredentialUpdate {
        sts_token: Some(Secret::new("new")),
        sts_expiration: Some(42),
        oauth_refresh_token: Some(Secret::new("")),
        ..CredentialUpdate::default()
    };
    merge(&mut doc, "a", &update).unwrap_or_else(|e| panic!("{e}"));
    let expected = parse(
        r#"{"zz":1,"profiles":[{"name":"b","sts_token":"keep"},{"name":"a","read_timeout":5,"sts_token":"new","mode":"CloudSSO","sts_expiration":42}],"current":"a"}"#,
    );
    assert_eq!(doc, expected);
    assert_eq!(
        merge(&mut doc, "gone", &update),
        Err(MergeError::NoProfile("gone".into()))
    );
    assert_eq!(
        merge(&mut parse("[]"), "a", &update),
        Err(MergeError::NoProfiles)
    );
}

#[test]
fn debug_shows_no_string_value() {
    let doc = parse(r#"{"profiles":[{"sts_token":"canary-7f3a"}]}"#);
    assert!(!format!("{doc:?}").contains("canary"));
    let update = CredentialUpdate {
        oauth_access_token: Some(Secret::new("canary-7f3a")),
        ..CredentialUpdate::default()
    };
    assert!(!format!("{update:?}").contains("canary"));
}

#[test]
fn write_back_follows_a_symlink_keeps_the_link_and_writes_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let real = dir.path().join("dotfiles/config.json");
    std::fs::create_dir_all(real.parent().unwrap_or(dir.path())).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&real, r#"{"profiles":[{"name":"p","x":"y"}]}"#)
        .unwrap_or_else(|e| panic!("{e}"));
    let link = dir.path().join("config.json");
    std::os::unix::fs::symlink(&real, &link).unwrap_or_else(|e| panic!("{e}"));
    let lock = ConfigLock::acquire(&link, Duration::from_secs(5));
    assert!(lock._held.is_some());
    let update = CredentialUpdate {
        sts_expiration: Some(7),
        ..CredentialUpdate::default()
    };
    lock.write_back(&crate::context::OsFs, "p", &update)
        .unwrap_or_else(|e| panic!("{e}"));
    drop(lock);
    assert!(
        std::fs::symlink_metadata(&link)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false)
    );
    let text = std::fs::read_to_string(&real).unwrap_or_default();
    assert_eq!(
        parse(&text),
        parse(r#"{"profiles":[{"name":"p","x":"y","sts_expiration":7}]}"#)
    );
    let mode = std::fs::metadata(&real)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    assert_eq!(mode, 0o600);
    assert!(dir.path().join("dotfiles/config.json.lock").is_file());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("dotfiles"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}");
}

#[test]
fn a_second_locker_waits_for_the_first() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("config.json");
    std::fs::write(&path, "{}").unwrap_or_else(|e| panic!("{e}"));
    let first = ConfigLock::acquire(&path, Duration::from_secs(5));
    let started = std::time::Instant::now();
    let second = ConfigLock::acquire(&path, Duration::from_millis(100));
    assert!(second._held.is_none() && started.elapsed() >= Duration::from_millis(100));
    drop(first);
    assert!(
        ConfigLock::acquire(&path, Duration::from_millis(100))
            ._held
            .is_some()
    );
}

/// Keys the generated files use: some written fields, some other ones.
const KEYS: &[&str] = &[
    "name",
    "mode",
    "access_key_id",
    "sts_token",
    "sts_expiration",
    "oauth_refresh_token",
    "read_timeout",
    "bearer_token",
    "x-unknown",
    "",
];

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        Just(Node::Null),
        any::<bool>().prop_map(Node::Bool),
        any::<i64>().prop_map(|n| Node::Number(n.into())),
        any::<u64>().prop_map(|n| Node::Number(n.into())),
        any::<String>().prop_map(Node::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Node::Array),
            vec((any::<String>(), inner), 0..4).prop_map(Node::Object),
        ]
    })
}

fn profile() -> impl Strategy<Value = Node> {
    let name = prop_oneof![Just("p"), Just("q"), Just("r")].prop_map(|n| Node::String(n.into()));
    (name, vec((proptest::sample::select(KEYS), node()), 0..6)).prop_map(|(name, fields)| {
        let mut entries = vec![("name".to_owned(), name)];
        entries.extend(
            fields
                .into_iter()
                .filter(|(k, _)| *k != "name")
                .map(|(k, v)| (k.to_owned(), v)),
        );
        Node::Object(entries)
    })
}

fn file() -> impl Strategy<Value = Node> {
    (vec(profile(), 0..4), vec((any::<String>(), node()), 0..3)).prop_map(|(profiles, extra)| {
        let mut top = vec![("current".to_owned(), Node::String("p".into()))];
        top.extend(extra.into_iter().filter(|(k, _)| k != "profiles"));
        top.push(("profiles".to_owned(), Node::Array(profiles)));
        Node::Object(top)
    })
}

fn update() -> impl Strategy<Value = CredentialUpdate> {
    let s = || proptest::option::of(any::<String>());
    (
        s(),
        s(),
        s(),
        proptest::option::of(any::<i64>()),
        s(),
        s(),
        proptest::option::of(any::<i64>()),
    )
        .prop_map(
            |(id, secret, token, exp, access, refresh, access_exp)| CredentialUpdate {
                access_key_id: id,
                access_key_secret: secret.map(Secret::new),
                sts_token: token.map(Secret::new),
                sts_expiration: exp,
                oauth_access_token: access.map(Secret::new),
                oauth_refresh_token: refresh.map(Secret::new),
                oauth_access_token_expire: access_exp,
            },
        )
}

fn entries(node: &Node) -> &[(String, Node)] {
    match node {
        Node::Object(entries) => entries,
        _ => &[],
    }
}

proptest! {
    #![proptest_config(crate::fuzz_support::config())]

    #[test]
    fn rendering_round_trips(doc in node()) {
        prop_assert_eq!(Node::parse(&doc.render()).ok(), Some(doc));
    }

    /// The merge never drops or changes a key it did not set: other profiles, top-level keys
    /// and every other key of the profile are the same, in the same order, after a round
    /// trip through the file format.
    #[test]
    fn merge_never_drops_a_key_it_did_not_set(doc in file(), update in update()) {
        let mut merged = doc.clone();
        let result = merge(&mut merged, "p", &update);
        let merged = Node::parse(&merged.render()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let before = entries(&doc);
        let after = entries(&merged);
        prop_assert_eq!(before.len(), after.len());
        let set: Vec<(&str, Node)> = update.entries();
        for ((k0, v0), (k1, v1)) in before.iter().zip(after) {
            prop_assert_eq!(k0, k1);
            if k0 != "profiles" {
                prop_assert_eq!(v0, v1);
                continue;
            }
            let (Node::Array(p0), Node::Array(p1)) = (v0, v1) else {
                return Err(TestCaseError::fail("profiles is a list"));
            };
            prop_assert_eq!(p0.len(), p1.len());
            let first_p = p0.iter().position(|p| entries(p).iter().any(|(k, v)| k == "name" && *v == Node::String("p".into())));
            prop_assert_eq!(result.is_ok(), first_p.is_some());
            for (i, (a, b)) in p0.iter().zip(p1).enumerate() {
                if Some(i) != first_p {
                    prop_assert_eq!(a, b);
                    continue;
                }
                let (a, b) = (entries(a), entries(b));
                // Every key of before is there, in order; values change only for set keys.
                prop_assert!(b.len() >= a.len());
                for ((ka, va), (kb, vb)) in a.iter().zip(b) {
                    prop_assert_eq!(ka, kb);
                    match set.iter().find(|(k, _)| k == ka) {
                        Some((_, value)) => prop_assert_eq!(vb, value),
                        None => prop_assert_eq!(va, vb),
                    }
                }
                for (k, v) in &b[a.len()..] {
                    prop_assert!(set.iter().any(|(sk, sv)| sk == k && sv == v));
                }
                for (k, v) in &set {
                    prop_assert!(b.iter().any(|(bk, bv)| bk == k && bv == v));
                }
            }
        }
    }
}
