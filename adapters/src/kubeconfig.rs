//! Rewrites the kubeconfig the ACK API returns into one whose users run this plugin.
//!
//! Keeps what kubectl needs to reach the cluster (server, CA, contexts) and replaces each
//! user's embedded certificate and key with an `exec` entry, as the Go tool's `get-kubeconfig`
//! does. Written with serde-saphyr, which quotes strings such as `yes`, `no`, `on`, `off` and
//! numeric-looking user names, so kubectl reads back exactly what was meant.

use serde::{Deserialize, Serialize};

/// The `exec` entry every user gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecSpec {
    /// The program kubectl runs (looked up on `PATH` when bare).
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// `client.authentication.k8s.io/v1` or `.../v1beta1`.
    pub api_version: String,
    /// Whether kubectl passes the cluster's details in `KUBERNETES_EXEC_INFO`.
    pub provide_cluster_info: bool,
}

/// Why the kubeconfig could not be rewritten.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewriteError {
    #[error("the kubeconfig in the answer is not valid YAML ({0})")]
    Yaml(String),
    #[error("the kubeconfig in the answer has no {0}")]
    Missing(&'static str),
    #[error("could not write the kubeconfig: {0}")]
    Write(String),
}

#[derive(Deserialize)]
struct Input {
    #[serde(default)]
    clusters: Vec<NamedCluster>,
    #[serde(default)]
    contexts: Vec<NamedContext>,
    #[serde(rename = "current-context", default)]
    current_context: Option<String>,
    #[serde(default)]
    users: Vec<InputUser>,
}

#[derive(Deserialize)]
struct InputUser {
    name: String,
}

#[derive(Serialize, Deserialize)]
struct NamedCluster {
    name: String,
    cluster: Cluster,
}

#[derive(Serialize, Deserialize)]
struct Cluster {
    server: String,
    #[serde(
        rename = "certificate-authority-data",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    certificate_authority_data: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct NamedContext {
    name: String,
    context: Context,
}

#[derive(Serialize, Deserialize)]
struct Context {
    cluster: String,
    user: String,
}

#[derive(Serialize)]
struct Output {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    clusters: Vec<NamedCluster>,
    contexts: Vec<NamedContext>,
    #[serde(rename = "current-context")]
    current_context: String,
    users: Vec<OutputUser>,
    preferences: Preferences,
}

#[derive(Serialize)]
struct Preferences {}

#[derive(Serialize)]
struct OutputUser {
    name: String,
    user: OutputAuth,
}

#[derive(Serialize)]
struct OutputAuth {
    exec: Exec,
}

#[derive(Serialize)]
struct Exec {
    command: String,
    args: Vec<String>,
    #[serde(rename = "apiVersion")]
    api_version: String,
    #[serde(rename = "provideClusterInfo")]
    provide_cluster_info: bool,
    #[serde(rename = "interactiveMode")]
    interactive_mode: &'static str,
}

/// Parses YAML that came from the network. Kubeconfigs from the ACK API never use anchors and
/// aliases, so aliases are refused outright: a few KiB of them would otherwise expand into
/// megabytes (an "alias bomb") below the parser's own limits.
pub(crate) fn from_untrusted_yaml<T: serde::de::DeserializeOwned>(
    yaml: &str,
) -> Result<T, serde_saphyr::Error> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! { max_aliases: 0 },
    };
    serde_saphyr::from_str_with_options(yaml, options)
}

/// Rewrites `yaml` so that every user runs `exec`. The result holds no key material.
pub fn rewrite(yaml: &str, exec: &ExecSpec) -> Result<String, RewriteError> {
    let input: Input = from_untrusted_yaml(yaml).map_err(|e| {
        RewriteError::Yaml(e.to_string().lines().next().unwrap_or_default().to_owned())
    })?;
    if input.clusters.is_empty() {
        return Err(RewriteError::Missing("clusters"));
    }
    if input.users.is_empty() {
        return Err(RewriteError::Missing("users"));
    }
    let current_context = input
        .current_context
        .filter(|c| !c.is_empty())
        .or_else(|| input.contexts.first().map(|c| c.name.clone()))
        .ok_or(RewriteError::Missing("contexts"))?;
    let output = Output {
        kind: "Config",
        api_version: "v1",
        clusters: input.clusters,
        contexts: input.contexts,
        current_context,
        users: input
            .users
            .into_iter()
            .map(|u| OutputUser {
                name: u.name,
                user: OutputAuth {
                    exec: Exec {
                        command: exec.command.clone(),
                        args: exec.args.clone(),
                        api_version: exec.api_version.clone(),
                        provide_cluster_info: exec.provide_cluster_info,
                        interactive_mode: "Never",
                    },
                },
            })
            .collect(),
        preferences: Preferences {},
    };
    serde_saphyr::to_string(&output).map_err(|e| RewriteError::Write(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACK: &str = "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: Q0E=\n    server: https://192.168.0.10:6443\n    tls-server-name: dropped\n  name: kubernetes\ncontexts:\n- context:\n    cluster: kubernetes\n    user: \"1234567890123456\"\n    namespace: dropped\n  name: 1234567890123456-c1\ncurrent-context: 1234567890123456-c1\nkind: Config\npreferences: {}\nusers:\n- name: \"1234567890123456\"\n  user:\n    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\n";

    fn exec() -> ExecSpec {
        ExecSpec {
            command: "ack-ram-tool".into(),
            args: vec![
                "credential-plugin".into(),
                "get-credential".into(),
                "yes".into(),
                "0".into(),
            ],
            api_version: "client.authentication.k8s.io/v1beta1".into(),
            provide_cluster_info: false,
        }
    }

    #[derive(Deserialize)]
    struct Back {
        users: Vec<BackUser>,
        contexts: Vec<NamedContext>,
        clusters: Vec<NamedCluster>,
        #[serde(rename = "current-context")]
        current_context: String,
    }
    #[derive(Deserialize)]
    struct BackUser {
        name: String,
        user: BackAuth,
    }
    #[derive(Deserialize)]
    struct BackAuth {
        exec: BackExec,
    }
    #[derive(Deserialize)]
    struct BackExec {
        command: String,
        args: Vec<String>,
        #[serde(rename = "interactiveMode")]
        interactive_mode: String,
    }

    #[test]
    fn users_become_exec_entries_and_strings_stay_strings() {
        let out = rewrite(ACK, &exec()).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !out.contains("Q0VSVA==") && !out.contains("S0VZ"),
            "no key material: {out}"
        );
        assert!(!out.contains("dropped"));
        let back: Back = serde_saphyr::from_str(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
        assert_eq!(back.users[0].name, "1234567890123456");
        assert_eq!(back.users[0].user.exec.command, "ack-ram-tool");
        assert_eq!(back.users[0].user.exec.args, exec().args);
        assert_eq!(back.users[0].user.exec.interactive_mode, "Never");
        assert_eq!(back.contexts[0].context.user, "1234567890123456");
        assert_eq!(back.clusters[0].cluster.server, "https://192.168.0.10:6443");
        assert_eq!(back.current_context, "1234567890123456-c1");
        // A YAML 1.1 reader (kubectl's) must not see booleans or numbers where strings are meant.
        for line in out.lines() {
            let t = line.trim();
            assert!(
                t != "- yes" && t != "- 0" && !t.ends_with(": 1234567890123456"),
                "unquoted: {t}"
            );
        }
    }

    #[test]
    fn answers_without_clusters_or_users_are_errors() {
        assert_eq!(
            rewrite("users: []\nclusters: []\n", &exec()),
            Err(RewriteError::Missing("clusters"))
        );
        let no_users = "clusters:\n- name: k\n  cluster:\n    server: https://x\n";
        assert_eq!(
            rewrite(no_users, &exec()),
            Err(RewriteError::Missing("users"))
        );
        assert!(matches!(rewrite("[", &exec()), Err(RewriteError::Yaml(_))));
    }
}

/// The kubeconfig comes from the network (up to 1 MiB): no panic, no key material in the
/// result, a result that reads back with the same users, and short errors. Inputs are built
/// from YAML scalars that trip up writers (`yes`, `0`, `~`, anchors, tags, quotes).
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::fuzz_support::{CANARY, check_message, config};
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::select;

    /// Strings a YAML writer must quote or escape to keep them strings.
    const STRINGS: &[&str] = &[
        "kubernetes",
        "\"1234567890123456\"",
        "\"yes\"",
        "'off'",
        "'0'",
        "\"~\"",
        "''",
        "'it''s'",
        "\"tab\\there\"",
        "\"a: b\"",
        "\"- x\"",
        "\"#x\"",
        "https://192.168.0.10:6443",
        "!!str 5",
        "\"\\u0000\\u001b[2J\"",
        "\"\\u00e9\\u202e\"",
    ];
    /// Scalars that may or may not be strings, or break the document.
    const TRICKY: &[&str] = &[
        "yes",
        "0",
        "0x1F",
        "1e3",
        "1234567890123456",
        "~",
        "null",
        "&anchor a",
        "*anchor",
        "!!binary aGk=",
        "[a, b]",
        "{a: b}",
        "a: b",
        "- x",
        "|\n    block\n    text",
        ">-\n    folded",
    ];

    fn scalar() -> BoxedStrategy<String> {
        prop_oneof![
            12 => select(STRINGS).prop_map(str::to_owned),
            6 => "[a-zA-Z][a-zA-Z0-9._/-]{0,23}",
            1 => select(TRICKY).prop_map(str::to_owned),
            1 => "[^\n]{0,24}",
        ]
        .boxed()
    }

    fn kubeconfig() -> BoxedStrategy<String> {
        let cluster = (scalar(), scalar(), any::<bool>()).prop_map(|(name, server, ca)| {
            let ca = if ca {
                "    certificate-authority-data: Q0E=\n"
            } else {
                ""
            };
            format!(
                "- name: {name}\n  cluster:\n    server: {server}\n{ca}    tls-server-name: x\n"
            )
        });
        let context = (scalar(), scalar(), scalar()).prop_map(|(name, cluster, user)| {
            format!("- name: {name}\n  context:\n    cluster: {cluster}\n    user: {user}\n    namespace: n\n")
        });
        let user = scalar().prop_map(|name| {
            format!("- name: {name}\n  user:\n    client-certificate-data: {CANARY}-cert\n    client-key-data: {CANARY}\n")
        });
        (
            vec(cluster, 1..3),
            vec(context, 0..3),
            proptest::option::of(scalar()),
            vec(user, 1..3),
        )
            .prop_map(|(clusters, contexts, current, users)| {
                let current = current
                    .map(|c| format!("current-context: {c}\n"))
                    .unwrap_or_default();
                format!(
                    "apiVersion: v1\nkind: Config\nclusters:\n{}contexts:\n{}{current}preferences: {{}}\nusers:\n{}",
                    clusters.concat(),
                    contexts.concat(),
                    users.concat()
                )
            })
            .boxed()
    }

    fn input() -> BoxedStrategy<String> {
        prop_oneof![
            6 => kubeconfig(),
            // Cut anywhere (on a character boundary).
            2 => (kubeconfig(), any::<prop::sample::Index>()).prop_map(|(text, at)| {
                text.chars().take(at.index(text.chars().count() + 1)).collect()
            }),
            1 => any::<String>(),
            1 => "[-:{}\\[\\]&*!|>'\" \na-z0-9]{0,400}",
        ]
        .boxed()
    }

    fn exec() -> ExecSpec {
        ExecSpec {
            command: "ack-ram-tool".into(),
            args: vec!["credential-plugin".into(), "get-credential".into()],
            api_version: "client.authentication.k8s.io/v1beta1".into(),
            provide_cluster_info: false,
        }
    }

    /// Builds a kubeconfig whose clusters list repeats one anchored cluster `aliases` times,
    /// with enough other anchors to pass the alias-to-anchor ratio check.
    fn alias_bomb(server_bytes: usize, aliases: usize) -> String {
        let mut yaml = String::from("pad:\n");
        for i in 0..=aliases / 10 {
            yaml.push_str(&format!("- &p{i} x\n"));
        }
        yaml.push_str("clusters:\n- &c\n  name: k\n  cluster:\n    server: ");
        yaml.push_str(&"s".repeat(server_bytes));
        yaml.push('\n');
        yaml.push_str(&"- *c\n".repeat(aliases));
        yaml.push_str(
            "contexts:\n- name: x\n  context: {cluster: k, user: u}\nusers:\n- name: u\n",
        );
        yaml
    }

    #[test]
    fn alias_bombs_past_the_yaml_budget_are_refused() {
        let got = rewrite(&alias_bomb(100_000, 1_000), &exec());
        assert!(matches!(got, Err(RewriteError::Yaml(_))), "{got:?}");
    }

    #[test]
    fn aliases_are_refused_so_they_cannot_inflate_the_output() {
        let yaml = alias_bomb(10_000, 600);
        let got = rewrite(&yaml, &exec());
        assert!(matches!(got, Err(RewriteError::Yaml(_))), "{got:?}");
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn rewrites_never_panic_leak_keys_or_lose_users(yaml in input()) {
            match rewrite(&yaml, &exec()) {
                Ok(out) => {
                    prop_assert!(!out.contains(CANARY), "{out}");
                    // Small inputs only meet small anchors; each user gains an exec entry.
                    prop_assert!(out.len() <= 64 * yaml.len() + 4096);
                    let users = serde_saphyr::from_str::<Input>(&yaml).map(|i| i.users.len());
                    let back = serde_saphyr::from_str::<Input>(&out)
                        .unwrap_or_else(|e| panic!("{e}\n{out}"));
                    prop_assert_eq!(Ok(back.users.len()), users.map_err(|e| e.to_string()));
                    prop_assert!(!back.clusters.is_empty());
                }
                Err(error) => {
                    check_message(&error.to_string(), yaml.len(), &[], &[CANARY])?;
                }
            }
        }
    }
}
