use super::*;
use clap::Parser;

/// A config file in a temp dir, named by `ACK_RAM_TOOL_CONFIG`, plus `vars`.
fn env_with_file(toml: &str, vars: &[(&str, &str)]) -> (tempfile::TempDir, Environment) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("config.toml");
    std::fs::write(&path, toml).unwrap_or_else(|e| panic!("{e}"));
    let path = path.display().to_string();
    let env = [("ACK_RAM_TOOL_CONFIG", path.as_str())]
        .iter()
        .chain(vars)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (dir, env)
}

fn global(args: &[&str]) -> GlobalArgs {
    let argv = ["ack-ram-tool"]
        .iter()
        .chain(args)
        .chain(&["auth", "whoami"])
        .copied();
    crate::cli::Cli::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("{e}"))
        .global
}

#[test]
fn defaults_match_the_go_tool() {
    let s = load(&global(&[]), None, &Environment::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s, Settings::default());
    assert_eq!(s.credential_cache_dir, DEFAULT_CACHE_DIR);
    assert_eq!(s.credential_type, CredentialType::Auto);
    assert_eq!(s.log_level, LogLevel::Info);
}

#[test]
fn file_then_environment_then_flags() {
    let (_dir, env) = env_with_file(
        "region_id = \"cn-beijing\"\nverbose = true\nhttp_timeout_ms = 1234\nprofile_name = \"file\"\nlog_level = \"warn\"\n",
        &[
            ("ACK_RAM_TOOL_REGION_ID", "cn-shenzhen"),
            ("ACK_RAM_TOOL_PROFILE_NAME", "123"),
            ("ACK_RAM_TOOL_PROFIL_ENAME", "legacy"),
            ("ACK_RAM_TOOL_RETRY_DEADLINE_MS", "250"),
            ("CS_ENDPOINT", "legacy.example"),
            ("ACK_RAM_TOOL_CREDENTIAL_TYPE", "ECS-ROLE"),
            ("ACK_RAM_TOOL_LOG_LEVEL", ""),
        ],
    );
    let s = load(&global(&["--region-id", "cn-shanghai"]), None, &env)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.region_id.as_ref().map(RegionId::as_str),
        Some("cn-shanghai")
    );
    assert!(s.verbose, "from the file");
    assert_eq!(s.http_timeout, Duration::from_millis(1234));
    assert_eq!(
        s.profile_name.as_deref(),
        Some("123"),
        "text stays text; Go's name wins"
    );
    assert_eq!(s.retry_deadline, Duration::from_millis(250));
    assert_eq!(s.cs_endpoint.as_deref(), Some("legacy.example"));
    assert_eq!(s.credential_type, CredentialType::Imds);
    assert_eq!(s.log_level, LogLevel::Warn, "an empty variable is unset");
    let s = load(&global(&[]), None, &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.region_id.as_ref().map(RegionId::as_str),
        Some("cn-shenzhen")
    );
}

#[test]
fn bad_values_are_refused_naming_their_origin() {
    for (toml, vars, want) in [
        ("regoin_id = \"x\"\n", &[][..], "regoin_id"),
        ("verbose = \"maybe\"\n", &[][..], "not a boolean"),
        (
            "",
            &[("ACK_RAM_TOOL_HTTP_TIMEOUT_MS", "0")][..],
            "positive number of milliseconds",
        ),
        (
            "",
            &[("ACK_RAM_TOOL_RETRY_MAX_ATTEMPTS", "0")][..],
            "at least 1",
        ),
        (
            "",
            &[("ACK_RAM_TOOL_CREDENTIAL_TYPE", "magic")][..],
            "unknown credential type",
        ),
        (
            "",
            &[("ACK_RAM_TOOL_LOG_LEVEL", "loud")][..],
            "unknown log level",
        ),
        (
            "",
            &[("ACK_RAM_TOOL_REGION_ID", "evil.example:1/")][..],
            "not a region id",
        ),
    ] {
        let (_dir, env) = env_with_file(toml, vars);
        let err = load(&global(&[]), None, &env)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(want), "{want}: {err}");
        let origin = match vars.first() {
            Some((name, _)) => format!("environment variable {name}"),
            None => "config.toml".to_owned(),
        };
        assert!(err.contains(&origin), "{origin}: {err}");
    }
}

#[test]
fn the_fast_path_agrees_with_the_layers() {
    for args in [
        &[][..],
        &[
            "--region-id",
            "cn-beijing",
            "--profile-name",
            "p",
            "--verbose",
        ],
        &[
            "--credential-type",
            "IMDS",
            "--cache-store",
            "none",
            "--log-level",
            "debug",
        ],
        &[
            "--ignore-env-credentials",
            "--ignore-aliyun-cli-credentials=false",
            "-y",
        ],
        &[
            "--profile-file",
            "/x.json",
            "--sts-endpoint",
            "s",
            "--cs-endpoint",
            "c",
        ],
    ] {
        let argv: Vec<&str> = ["ack-ram-tool"]
            .iter()
            .chain(args)
            .chain(&[
                "credential-plugin",
                "get-credential",
                "-c",
                "c1",
                "--credential-cache-dir",
                "/d",
                "--force-refresh",
            ])
            .copied()
            .collect();
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{e}"));
        let crate::cli::Command::CredentialPlugin(plugin) = &cli.command else {
            panic!("not credential-plugin")
        };
        let crate::cli::PluginCommand::GetCredential(command) = &plugin.command else {
            panic!("not get-credential")
        };
        let env = Environment::default();
        let fast = load(&cli.global, Some(command), &env).unwrap_or_else(|e| panic!("{e}"));
        let slow =
            layered(&cli.global, Some(command), &env, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fast, slow, "{args:?}");
        assert!(fast.force_refresh && fast.credential_cache_dir == "/d");
    }
}

#[test]
fn docs_name_every_variable() {
    let docs = include_str!("../../../docs/configuration.md");
    for var in ENV_VARS {
        for name in var.names {
            assert!(
                docs.contains(name),
                "docs/configuration.md does not mention {name}"
            );
        }
    }
}
