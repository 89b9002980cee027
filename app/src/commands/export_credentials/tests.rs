use super::*;
use ack_ram_domain::Secret;

fn ak() -> AccessCredentials {
    AccessCredentials::access_key("LTAI5tExample", Secret::new("s3cr3t"))
}

fn sts() -> AccessCredentials {
    AccessCredentials::sts(
        "STS.FAKEKEYID",
        Secret::new("FAKESECRET"),
        Secret::new("CAISFAKE"),
    )
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default() // 2026-01-01T00:00:00Z
}

fn text(format: ExportFormat, credentials: &AccessCredentials) -> String {
    render(format, credentials, now()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_cli_profile_is_go_marshal_indent() {
    assert_eq!(
        text(ExportFormat::AliyunCliConfigJson, &sts()),
        "{\n  \"mode\": \"StsToken\",\n  \"access_key_id\": \"STS.FAKEKEYID\",\n  \"access_key_secret\": \"FAKESECRET\",\n  \"sts_token\": \"CAISFAKE\"\n }\n"
    );
    assert_eq!(
        text(ExportFormat::AliyunCliConfigJson, &ak()),
        "{\n  \"mode\": \"AK\",\n  \"access_key_id\": \"LTAI5tExample\",\n  \"access_key_secret\": \"s3cr3t\"\n }\n"
    );
}

#[test]
fn a_known_expiry_is_stated_never_invented() {
    let mut credentials = sts();
    credentials.expiration = DateTime::from_timestamp(1_767_229_200, 500_000_000);
    assert!(
        text(ExportFormat::AliyunCliConfigJson, &credentials)
            .ends_with("\"sts_token\": \"CAISFAKE\",\n  \"sts_expiration\": 1767229200\n }\n")
    );
    assert!(
        text(ExportFormat::AliyunCliUriJson, &credentials)
            .contains("\"Expiration\": \"2026-01-01T01:00:00Z\"\n }\n")
    );
    // Unknown: the middle of the Go tool's window, the same on every run.
    assert!(
        text(ExportFormat::AliyunCliUriJson, &sts())
            .contains("\"Expiration\": \"2026-01-01T00:10:00Z\"")
    );
}

#[test]
fn the_uri_document_has_an_empty_token_for_an_access_key() {
    let want = "{\n  \"Code\": \"Success\",\n  \"AccessKeyId\": \"LTAI5tExample\",\n  \"AccessKeySecret\": \"s3cr3t\",\n  \"SecurityToken\": \"\",\n  \"Expiration\": \"2026-01-01T00:10:00Z\"\n }\n";
    assert_eq!(text(ExportFormat::AliyunCliUriJson, &ak()), want);
    assert_eq!(text(ExportFormat::EcsMetadataJson, &ak()), want);
}

#[test]
fn json_strings_are_escaped_as_go_does() {
    let mut out = String::new();
    go_json_string(
        &mut out,
        "a\"b\\c<d>e&f\u{8}\u{c}\n\r\t\u{1}\u{7f}\u{2028}\u{2029}é/",
    );
    assert_eq!(
        out,
        "\"a\\\"b\\\\c\\u003cd\\u003ee\\u0026f\\b\\f\\n\\r\\t\\u0001\u{7f}\\u2028\\u2029é/\""
    );
    // What serde reads back is what went in.
    let back: String = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        back,
        "a\"b\\c<d>e&f\u{8}\u{c}\n\r\t\u{1}\u{7f}\u{2028}\u{2029}é/"
    );
}

#[test]
fn the_ini_section_is_the_go_tools() {
    assert_eq!(
        text(ExportFormat::CredentialFileIni, &sts()),
        "[default]\nenable = true\ntype = sts\naccess_key_id = STS.FAKEKEYID\naccess_key_secret = FAKESECRET\nsecurity_token = CAISFAKE\n\n"
    );
    assert_eq!(
        text(ExportFormat::CredentialFileIni, &ak()),
        "[default]\nenable = true\ntype = access_key\naccess_key_id = LTAI5tExample\naccess_key_secret = s3cr3t\n\n"
    );
}

#[test]
fn ini_values_are_quoted_only_when_they_must_be() {
    for (value, want) in [
        ("abc+/=", Some("abc+/=")),
        ("a#b;c[d]", Some("a#b;c[d]")),
        ("a\\b", Some("a\\b")),
        ("a #b", Some("\"a #b\"")),
        ("in side", Some("\"in side\"")),
        (" lead", None),
        ("trail ", None),
        ("\"q", Some("'\"q'")),
        ("it's \"x\"", None),
        ("ends\\", None),
        ("two\nlines", None),
        ("", Some("\"\"")),
    ] {
        assert_eq!(ini_value(value).as_deref(), want, "{value:?}");
    }
    let bad = AccessCredentials::access_key("id", Secret::new("a\nb"));
    let err = render(ExportFormat::CredentialFileIni, &bad, now())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("access_key_secret") && !err.contains("a\nb"),
        "{err}"
    );
}

/// Whatever the INI renderer writes, our reader reads back as it was.
#[test]
fn ini_output_reads_back_through_our_reader() {
    use ack_ram_adapters::sources::CredentialSpec;
    for secret in ["plain", "a #b ;c", "'lead", "\"lead", "x\\y", "ü=é"] {
        let credentials =
            AccessCredentials::sts("STS.id", Secret::new(secret), Secret::new("tok#;en"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("credentials");
        std::fs::write(&path, text(ExportFormat::CredentialFileIni, &credentials))
            .unwrap_or_else(|e| panic!("{e}"));
        let (spec, _) = ack_ram_adapters::sources::ini::load(
            &ack_ram_adapters::context::OsFs,
            &path,
            "default",
        )
        .unwrap_or_else(|e| panic!("{secret:?}: {e}"));
        match spec {
            CredentialSpec::StsToken {
                id,
                secret: s,
                token,
            } => {
                assert_eq!(
                    (id.as_str(), s.expose(), token.expose()),
                    ("STS.id", secret, "tok#;en")
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn the_shell_text_is_the_go_tools_made_eval_safe() {
    let want = "
# for aliyun cli:

export ALIBABACLOUD_ACCESS_KEY_ID='STS.FAKEKEYID'
export ALIBABACLOUD_ACCESS_KEY_SECRET='FAKESECRET'
export ALIBABACLOUD_SECURITY_TOKEN='CAISFAKE'

# for terraform:

export ALICLOUD_ACCESS_KEY='STS.FAKEKEYID'
export ALICLOUD_SECRET_KEY='FAKESECRET'
export ALICLOUD_SECURITY_TOKEN='CAISFAKE'

# for other tools:

export ALIBABA_CLOUD_ACCESS_KEY_ID='STS.FAKEKEYID'
export ALICLOUD_ACCESS_KEY='STS.FAKEKEYID'
export ALIBABACLOUD_ACCESS_KEY_ID='STS.FAKEKEYID'
export ALICLOUD_SECRET_KEY='FAKESECRET'
export ALIBABA_CLOUD_ACCESS_KEY_SECRET='FAKESECRET'
export ALIBABACLOUD_ACCESS_KEY_SECRET='FAKESECRET'
export ALIBABA_CLOUD_SECURITY_TOKEN='CAISFAKE'
export ALICLOUD_SECURITY_TOKEN='CAISFAKE'
export ALIBABACLOUD_SECURITY_TOKEN='CAISFAKE'
export ALICLOUD_ACCESS_KEY_STS_TOKEN='CAISFAKE'
export ALIYUN_LOG_CLI_STS_TOKEN='CAISFAKE'

";
    assert_eq!(text(ExportFormat::EnvironmentVariables, &sts()), want);
    let ak = text(ExportFormat::EnvironmentVariables, &ak());
    assert!(!ak.contains("FAKE") && !ak.contains("export ALICLOUD_SECRET_KEY='LTAI"));
    for name in TOKEN_VARS.iter().chain(OTHER_TOKEN_VARS) {
        assert!(ak.contains(&format!("\nunset {name}\n")), "{name}: {ak}");
    }
}

#[test]
fn shell_words_survive_quotes() {
    assert_eq!(sh_quote("plain"), "'plain'");
    assert_eq!(sh_quote("it's $HOME `x`"), r"'it'\''s $HOME `x`'");
    assert_eq!(sh_quote(""), "''");
}

#[test]
fn the_child_gets_the_go_tools_variables_and_no_stale_token() {
    let credentials = sts();
    let changes = child_environment(&View::of(&credentials));
    for name in ["ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIYUN_LOG_CLI_ACCESSID"] {
        assert!(changes.contains(&EnvChange::Set(name, "STS.FAKEKEYID")));
    }
    assert!(changes.contains(&EnvChange::Set("ALICLOUD_SECRET_KEY", "FAKESECRET")));
    assert!(changes.contains(&EnvChange::Set("ALIYUN_LOG_CLI_STS_TOKEN", "CAISFAKE")));
    assert!(changes.contains(&EnvChange::Set("ALIBABACLOUD_IGNORE_PROFILE", "TRUE")));
    assert!(!changes.iter().any(|c| matches!(c, EnvChange::Remove(_))));

    let credentials = ak();
    let changes = child_environment(&View::of(&credentials));
    for name in TOKEN_VARS.iter().chain(OTHER_TOKEN_VARS) {
        assert!(changes.contains(&EnvChange::Remove(name)), "{name}");
    }
    assert!(
        !changes
            .iter()
            .any(|c| matches!(c, EnvChange::Set(n, _) if n.contains("TOKEN")))
    );
}

#[cfg(unix)]
#[test]
fn exit_codes_are_a_shells() {
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(exit_code(std::process::ExitStatus::from_raw(7 << 8)), 7);
    assert_eq!(exit_code(std::process::ExitStatus::from_raw(0)), 0);
    assert_eq!(exit_code(std::process::ExitStatus::from_raw(15)), 143); // SIGTERM
    assert_eq!(exit_code(std::process::ExitStatus::from_raw(9)), 137); // SIGKILL
}

#[test]
fn formats_are_named_as_typed_and_aliases_parse() {
    use clap::Parser;
    assert_eq!(
        format_name(ExportFormat::EnvironmentVariables),
        "environment-variables"
    );
    for (typed, want) in [
        ("aliyuncli-json", ExportFormat::AliyunCliConfigJson),
        ("aliyuncli-uri", ExportFormat::AliyunCliUriJson),
        ("ecs", ExportFormat::EcsMetadataJson),
        ("ini", ExportFormat::CredentialFileIni),
        ("env", ExportFormat::EnvironmentVariables),
    ] {
        let cli =
            crate::cli::Cli::try_parse_from(["ack-ram-tool", "export-credentials", "-f", typed])
                .unwrap_or_else(|e| panic!("{e}"));
        let crate::cli::Command::ExportCredentials(args) = cli.command else {
            panic!("not export-credentials")
        };
        assert_eq!(args.format, Some(want));
    }
    let cli = crate::cli::Cli::try_parse_from([
        "ack-ram-tool",
        "export-credentials",
        "-f",
        "env",
        "sh",
        "-c",
        "exit 7",
        "--role-arn",
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let crate::cli::Command::ExportCredentials(args) = cli.command else {
        panic!("not export-credentials")
    };
    assert_eq!(args.command, ["sh", "-c", "exit 7", "--role-arn"]);
    assert_eq!(args.role_arn, None);
    let err = crate::cli::Cli::try_parse_from(["ack-ram-tool", "export-credentials", "-f", "yaml"])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("aliyun-cli-config-json") && err.contains("environment-variables"),
        "{err}"
    );
}
