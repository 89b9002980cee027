//! The fast parser against clap: whatever it accepts, clap parses to the same value; what
//! kubeconfigs contain, it accepts.

use super::*;
use clap::Parser;
use proptest::prelude::*;

const CLUSTER: &str = "c0123456789abcdef0123456789abcdef";

fn os(args: &[&str]) -> Vec<OsString> {
    std::iter::once("ack-ram-tool")
        .chain(args.iter().copied())
        .map(OsString::from)
        .collect()
}

/// The fast parser's answer, checked against clap's: `Some` only when clap agrees.
fn agreed(args: &[OsString]) -> Option<String> {
    let fast = parse(args).map(|cli| format!("{cli:?}"));
    if let Some(fast) = &fast {
        match Cli::try_parse_from(args) {
            Ok(cli) => assert_eq!(*fast, format!("{cli:?}"), "for {args:?}"),
            Err(e) => panic!("the fast parser accepted {args:?}, which clap refuses: {e}"),
        }
    }
    fast
}

#[test]
fn the_exec_entries_get_kubeconfig_writes_are_recognised() {
    use crate::cli::{Command, KubeconfigMode};
    let given: &[&[&str]] = &[
        &[],
        &[
            "--profile-name",
            "dev",
            "--ignore-aliyun-cli-credentials",
            "--ignore-env-credentials",
            "--role-arn",
            "acs:ram::1234567890123456:role/ack-dev",
            "--region-id",
            "cn-beijing",
            "--sts-endpoint",
            "sts.cn-beijing.aliyuncs.com",
            "--cs-endpoint",
            "127.0.0.1:8443",
            "--credential-type",
            "ecs-role",
            "--profile-file",
            "/home/me/.aliyun/config.json",
            "--expiration",
            "15m",
            "--api-version",
            "v1",
            "--credential-cache-dir",
            "/tmp/ack cache",
        ],
    ];
    for extra in given {
        let mut words = vec!["get-kubeconfig", "--cluster-id", CLUSTER];
        words.extend_from_slice(extra);
        let cli = Cli::try_parse_from(os(&words)).unwrap_or_else(|e| panic!("{e}"));
        let Command::GetKubeconfig(args) = &cli.command else {
            panic!("not get-kubeconfig")
        };
        let exec = crate::commands::get_kubeconfig::exec_args(
            args,
            &cli.global,
            KubeconfigMode::Cert,
            &args.cluster_id[0],
            args.api_version,
            args.expiration,
        );
        let exec: Vec<&str> = exec.iter().map(String::as_str).collect();
        assert!(agreed(&os(&exec)).is_some(), "declined {exec:?}");
    }
}

#[test]
fn the_go_tools_exec_entry_and_hand_written_variants_are_recognised() {
    // reference/cli.md §7.2, then the spellings people write by hand.
    let shapes: &[&[&str]] = &[
        &[
            "credential-plugin",
            "get-credential",
            "--cluster-id",
            CLUSTER,
            "--api-version",
            "v1beta1",
            "--expiration",
            "3h0m0s",
            "--credential-cache-dir",
            "~/.kube/cache/ack-ram-tool/credential-plugin",
            "--role-arn",
            "acs:ram::1234567890123456:role/ack-dev",
            "--region-id",
            "cn-beijing",
            "--sts-endpoint",
            "sts.cn-beijing.aliyuncs.com",
            "--log-level",
            "error",
        ],
        &["credential-plugin", "get-credential", "-c", CLUSTER],
        &["credential-plugin", "get-credential", "-c=c1"],
        &[
            "credential-plugin",
            "get-credential",
            "--cluster-id=c1",
            "--expiration=1h",
            "--api-version=v1",
            "--verbose=false",
            "--force-refresh",
            "--cache-store",
            "keyring",
            "--ram-endpoint",
            "ram.aliyuncs.com",
        ],
    ];
    for shape in shapes {
        assert!(agreed(&os(shape)).is_some(), "declined {shape:?}");
    }
}

#[test]
fn anything_unusual_is_left_to_clap() {
    let declined: &[&[&str]] = &[
        &[],
        &["credential-plugin"],
        &["credential-plugin", "get-credential"],
        &["credential-plugin", "get-credential", "--help"],
        &["credential-plugin", "get-credential", "-c", "c1", "-h"],
        &[
            "credential-plugin",
            "get-credential",
            "-c",
            "c1",
            "--version",
        ],
        &["credential-plugin", "get-kubeconfig", "-c", "c1"],
        &[
            "--log-level",
            "error",
            "credential-plugin",
            "get-credential",
            "-c",
            "c1",
        ],
        &["credential-plugin", "get-credential", "-cc1"],
        &["credential-plugin", "get-credential", "-c"],
        &[
            "credential-plugin",
            "get-credential",
            "-c",
            "c1",
            "-c",
            "c2",
        ],
        &["credential-plugin", "get-credential", "-c", "--role-arn"],
        &[
            "credential-plugin",
            "get-credential",
            "-c",
            "c1",
            "--profile-name=",
        ],
        &[
            "credential-plugin",
            "get-credential",
            "-c",
            "c1",
            "--unknown",
            "x",
        ],
        &["credential-plugin", "get-credential", "-c", "c1", "--", "x"],
        &["credential-plugin", "get-credential", "-c", "c1", "extra"],
        &["credential-plugin", "get-credential", "-c", "bad id!"],
        &[
            "credential-plugin",
            "get-credential",
            "-c",
            "c1",
            "--expiration",
            "5m",
        ],
        &[
            "credential-plugin",
            "get-credential",
            "-c",
            "c1",
            "--api-version",
            "v2",
        ],
        &[
            "credential-plugin",
            "get-credential",
            "-c",
            "c1",
            "--log-level",
            "ERROR",
        ],
        &[
            "credential-plugin",
            "get-credential",
            "-c",
            "c1",
            "--log-level",
            "loud",
        ],
        &[
            "credential-plugin",
            "get-credential",
            "-c",
            "c1",
            "--cache-store",
            "disk",
        ],
        &[
            "credential-plugin",
            "get-credential",
            "-c",
            "c1",
            "--verbose=maybe",
        ],
        &[
            "credential-plugin",
            "get-credential",
            "-c",
            "c1",
            "--region-id",
            "cn/../x",
        ],
        &["credential-plugin", "get-credential", "-c", "c1", "-v"],
    ];
    for args in declined {
        assert_eq!(agreed(&os(args)), None, "accepted {args:?}");
    }
}

#[cfg(unix)]
#[test]
fn words_that_are_not_utf8_are_left_to_clap() {
    use std::os::unix::ffi::OsStringExt;
    let mut args = os(&[
        "credential-plugin",
        "get-credential",
        "-c",
        "c1",
        "--role-arn",
    ]);
    args.push(OsString::from_vec(vec![0xff, 0xfe]));
    assert!(parse(&args).is_none());
}

/// Words an argument list is made of: every recognised option in each spelling, values good
/// and bad, and words clap gives meaning to.
fn word() -> impl Strategy<Value = String> {
    let names = prop::sample::select(vec![
        "--cluster-id",
        "-c",
        "--role-arn",
        "--expiration",
        "--api-version",
        "--credential-cache-dir",
        "--force-refresh",
        "--region-id",
        "--profile-file",
        "--profile-name",
        "--ignore-env-credentials",
        "--ignore-aliyun-cli-credentials",
        "--credential-type",
        "--sts-endpoint",
        "--cs-endpoint",
        "--ram-endpoint",
        "--log-level",
        "--verbose",
        "-v",
        "--cache-store",
        "--assume-yes",
        "--help",
        "--",
        "-",
    ]);
    let values = prop::sample::select(vec![
        "c1",
        CLUSTER,
        "",
        "3h0m0s",
        "15m",
        "0",
        "5m",
        "v1",
        "v1beta1",
        "client.authentication.k8s.io/v1",
        "true",
        "F",
        "maybe",
        "error",
        "Warn",
        "warning",
        "file",
        "KEYRING",
        "ecs-role",
        "imds",
        "cn-hangzhou",
        "cn hangzhou",
        "~/x",
        "-x",
        "a=b",
    ]);
    prop_oneof![
        names.clone().prop_map(str::to_owned),
        values.clone().prop_map(str::to_owned),
        (names, values).prop_map(|(n, v)| format!("{n}={v}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn never_accepts_anything_differently_from_clap(
        words in prop::collection::vec(word(), 0..10),
    ) {
        let mut args = os(&["credential-plugin", "get-credential"]);
        args.extend(words.into_iter().map(OsString::from));
        agreed(&args);
    }

    #[test]
    fn accepts_every_well_formed_selection_of_options(
        picked in prop::sample::subsequence(
            vec![
                ("--role-arn", "acs:ram::1:role/r"),
                ("--expiration", "1h30m"),
                ("--api-version", "v1"),
                ("--credential-cache-dir", "~/c"),
                ("--region-id", "cn-shanghai"),
                ("--profile-file", "/p.json"),
                ("--profile-name", "default"),
                ("--credential-type", "imds"),
                ("--sts-endpoint", "sts.aliyuncs.com"),
                ("--cs-endpoint", "cs.aliyuncs.com"),
                ("--log-level", "warn"),
                ("--cache-store", "none"),
            ],
            0..=12,
        ),
        inline in any::<bool>(),
    ) {
        let mut args = os(&["credential-plugin", "get-credential", "--cluster-id", CLUSTER]);
        for (name, value) in picked {
            if inline {
                args.push(format!("{name}={value}").into());
            } else {
                args.extend([name.into(), value.into()]);
            }
        }
        prop_assert!(agreed(&args).is_some(), "declined {:?}", args);
    }
}

#[test]
fn every_option_of_get_credential_is_recognised_or_deliberately_left_to_clap() {
    use clap::CommandFactory;
    // Never written into exec entries: `--assume-yes` (hidden, does nothing here) and the
    // help/version flags, which are clap's by nature.
    const LEFT_TO_CLAP: [&str; 3] = ["--assume-yes", "--help", "--version"];
    let mut root = Cli::command();
    root.build();
    let plugin = root
        .find_subcommand_mut("credential-plugin")
        .unwrap_or_else(|| panic!("no credential-plugin"));
    let command = plugin
        .find_subcommand_mut("get-credential")
        .unwrap_or_else(|| panic!("no get-credential"));
    command.build();
    let longs: Vec<String> = command
        .get_arguments()
        .filter_map(|arg| arg.get_long().map(|long| format!("--{long}")))
        .collect();
    assert!(longs.len() > 15, "the globals are missing: {longs:?}");
    for long in longs {
        assert!(
            Flag::named(&long).is_some() || LEFT_TO_CLAP.contains(&long.as_str()),
            "{long} is neither recognised by cli/fast.rs nor listed as left to clap"
        );
    }
}
