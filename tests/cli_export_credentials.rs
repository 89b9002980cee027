//! `export-credentials` through the binary: every format and alias against golden files (the Go
//! tool's bytes where we keep its shape), each format read back by our own credential chain,
//! `--role-arn` against a local STS, `-- CMD` mode (the child's environment, stdin, exit code
//! and signals), refusals, and no secret on stderr. Credentials come from environment variables
//! or local files, so nothing here needs a network; every run has a timeout.

mod support;

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};
use support::{AK_ID, AK_SECRET, STS_TOKEN, Sandbox, run, stderr, stdout};
use wiremock::matchers::{method, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const STS_ID: &str = "STS.NTestStsAccessKeyId";
/// Characters that JSON (Go escapes `<`, `>`, `&`) and the shell (`'`, `$`, backquotes) treat
/// specially.
const SPECIAL_ID: &str = "STS.NSpecialKeyId";
const SPECIAL_SECRET: &str = "it's <b>&\"q\" $HOME `id`";
const SPECIAL_TOKEN: &str = "CAIS'<tok>&\\x";
const ROLE_ARN: &str = "acs:ram::1234567890123456:role/ack-dev";

/// Every format with its aliases, and the golden file name's stem.
const FORMATS: &[(&str, &[&str], &str)] = &[
    (
        "aliyun-cli-config-json",
        &["aliyuncli-json"],
        "aliyun-cli-config-json",
    ),
    (
        "aliyun-cli-uri-json",
        &["aliyuncli-uri"],
        "aliyun-cli-uri-json",
    ),
    ("ecs-metadata-json", &["ecs"], "aliyun-cli-uri-json"),
    ("credential-file-ini", &["ini"], "credential-file-ini"),
    ("environment-variables", &["env"], "environment-variables"),
];

/// Which credentials the environment holds.
#[derive(Clone, Copy, Debug)]
enum Creds {
    Ak,
    Sts,
    Special,
}

impl Creds {
    fn name(self) -> &'static str {
        match self {
            Self::Ak => "ak",
            Self::Sts => "sts",
            Self::Special => "special",
        }
    }

    /// (id, secret, token)
    fn values(self) -> (&'static str, &'static str, Option<&'static str>) {
        match self {
            Self::Ak => (AK_ID, AK_SECRET, None),
            Self::Sts => (STS_ID, AK_SECRET, Some(STS_TOKEN)),
            Self::Special => (SPECIAL_ID, SPECIAL_SECRET, Some(SPECIAL_TOKEN)),
        }
    }

    fn secrets(self) -> Vec<&'static str> {
        let (_, secret, token) = self.values();
        std::iter::once(secret).chain(token).collect()
    }

    /// The binary with these credentials in its environment.
    fn command(self, sandbox: &Sandbox) -> Command {
        let (id, secret, token) = self.values();
        let mut cmd = sandbox.bare();
        cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", id)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret);
        if let Some(token) = token {
            cmd.env("ALIBABA_CLOUD_SECURITY_TOKEN", token);
        }
        cmd
    }
}

fn golden(stem: &str, creds: Creds) -> String {
    let ext = match stem {
        "credential-file-ini" => "ini",
        "environment-variables" => "sh",
        _ => "json",
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/export")
        .join(format!("{stem}.{}.{ext}", creds.name()));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Fails on a failed run, and on any secret on stderr.
fn succeeded(out: &Output, secrets: &[&str]) -> String {
    let err = stderr(out);
    assert!(out.status.success(), "{:?}: {err}", out.status);
    no_secret_in(&err, secrets);
    stdout(out)
}

fn no_secret_in(text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "a secret on stderr: {text}");
    }
}

/// `export-credentials -f format` with `creds` in the environment, logging at debug level (so
/// the no-secret check sees everything that is logged).
fn export(sandbox: &Sandbox, creds: Creds, format: &str) -> String {
    let mut cmd = creds.command(sandbox);
    cmd.args(["export-credentials", "--log-level", "debug", "-f", format]);
    succeeded(
        &cmd.output().unwrap_or_else(|e| panic!("{e}")),
        &creds.secrets(),
    )
}

/// Replaces the `Expiration` value with `EXPIRATION`, returning it.
fn take_expiration(text: &str) -> (String, String) {
    let key = "\"Expiration\": \"";
    let start = text
        .find(key)
        .unwrap_or_else(|| panic!("no Expiration: {text}"))
        + key.len();
    let end = start + text[start..].find('"').unwrap_or_else(|| panic!("{text}"));
    (
        format!("{}EXPIRATION{}", &text[..start], &text[end..]),
        text[start..end].to_owned(),
    )
}

fn parse_expiration(raw: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%SZ")
        .map(|t| t.and_utc())
        .unwrap_or_else(|e| panic!("{raw:?}: {e}"))
}

#[test]
fn every_format_and_alias_prints_the_golden_bytes() {
    let sandbox = Sandbox::new();
    for creds in [Creds::Ak, Creds::Sts, Creds::Special] {
        for (format, aliases, stem) in FORMATS {
            if *stem == "credential-file-ini" && matches!(creds, Creds::Special) {
                continue; // refused: see ini_refuses_values_no_ini_file_can_hold
            }
            let want = golden(stem, creds);
            for typed in std::iter::once(format).chain(aliases.iter()) {
                let before = chrono::Utc::now();
                let mut got = export(&sandbox, creds, typed);
                if *stem == "aliyun-cli-uri-json" {
                    // No expiry is known for environment credentials: now + 10 minutes.
                    let (text, expiration) = take_expiration(&got);
                    let expiration = parse_expiration(&expiration);
                    let after = chrono::Utc::now();
                    let ten = chrono::TimeDelta::minutes(10);
                    let second = chrono::TimeDelta::seconds(1);
                    assert!(
                        expiration >= before + ten - second && expiration <= after + ten,
                        "{expiration}"
                    );
                    got = text;
                }
                assert_eq!(got, want, "{typed} with {creds:?}");
            }
        }
    }
    // The default format.
    let mut cmd = Creds::Sts.command(&sandbox);
    cmd.arg("export-credentials");
    assert_eq!(
        succeeded(
            &cmd.output().unwrap_or_else(|e| panic!("{e}")),
            &Creds::Sts.secrets()
        ),
        golden("aliyun-cli-config-json", Creds::Sts)
    );
}

#[test]
fn an_unknown_format_is_refused_with_the_list() {
    let sandbox = Sandbox::new();
    let mut cmd = Creds::Sts.command(&sandbox);
    cmd.args(["export-credentials", "-f", "yaml"]);
    let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    for (format, _, _) in FORMATS {
        assert!(err.contains(format), "{format} not listed: {err}");
    }
    assert!(err.contains("yaml"), "{err}");
}

#[test]
fn ini_refuses_values_no_ini_file_can_hold() {
    let sandbox = Sandbox::new();
    let mut cmd = Creds::Special.command(&sandbox);
    cmd.args(["export-credentials", "-f", "ini"]);
    let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("access_key_secret") && err.contains("another format"),
        "{err}"
    );
    no_secret_in(&err, &Creds::Special.secrets());
}

/// The identity a `aliyun-cli-config-json` output names: (mode, id, secret, token).
fn identity(json: &str) -> (String, String, String, Option<String>) {
    let value: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let field = |name: &str| value[name].as_str().map(str::to_owned);
    (
        field("mode").unwrap_or_default(),
        field("access_key_id").unwrap_or_default(),
        field("access_key_secret").unwrap_or_default(),
        field("sts_token"),
    )
}

/// `export-credentials` with no credentials in the environment, only what `setup` adds.
fn resolve_again(sandbox: &Sandbox, creds: Creds, setup: impl FnOnce(&mut Command)) -> String {
    let mut cmd = sandbox.bare();
    setup(&mut cmd);
    cmd.args(["export-credentials", "--log-level", "debug"]);
    succeeded(
        &cmd.output().unwrap_or_else(|e| panic!("{e}")),
        &creds.secrets(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}

#[test]
fn the_cli_profile_ini_and_shell_formats_read_back_as_the_same_identity() {
    for creds in [Creds::Ak, Creds::Sts, Creds::Special] {
        let sandbox = Sandbox::new();
        let dir = sandbox.home.path();
        let want = export(&sandbox, creds, "aliyun-cli-config-json");
        let (id, secret, token) = creds.values();
        assert_eq!(
            identity(&want),
            (
                if token.is_some() { "StsToken" } else { "AK" }.to_owned(),
                id.to_owned(),
                secret.to_owned(),
                token.map(str::to_owned)
            )
        );

        // As a profile of an aliyun CLI config.json.
        let mut profile: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&want).unwrap_or_else(|e| panic!("{e}"));
        profile.insert("name".into(), "exported".into());
        let config = serde_json::json!({"current": "exported", "profiles": [profile]});
        let path = write(dir, "config.json", &config.to_string());
        let got = resolve_again(&sandbox, creds, |cmd| {
            cmd.arg("--profile-file").arg(&path);
        });
        assert_eq!(got, want, "config.json with {creds:?}");

        // As the INI credentials file.
        if !matches!(creds, Creds::Special) {
            let path = write(dir, "credentials", &export(&sandbox, creds, "ini"));
            let got = resolve_again(&sandbox, creds, |cmd| {
                cmd.arg("--profile-file").arg(&path);
            });
            assert_eq!(got, want, "INI with {creds:?}");
        }

        // `eval`ed by /bin/sh, which then runs the plugin with what it exported.
        let path = write(dir, "exports.sh", &export(&sandbox, creds, "env"));
        let out = Command::new("/bin/sh")
            .env_clear()
            .env("HOME", dir)
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .args([
                "-c",
                r#"eval "$(cat "$1")" && exec "$2" export-credentials"#,
                "sh",
            ])
            .arg(&path)
            .arg(env!("CARGO_BIN_EXE_ack-ram-tool"))
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            succeeded(&out, &creds.secrets()),
            want,
            "eval with {creds:?}"
        );
    }
}

/// What `env` prints, as a map.
fn env_map(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn the_shell_text_sets_every_variable_and_unsets_stale_tokens() {
    let sandbox = Sandbox::new();
    for creds in [Creds::Ak, Creds::Sts] {
        let path = write(
            sandbox.home.path(),
            "exports.sh",
            &export(&sandbox, creds, "environment-variables"),
        );
        let out = Command::new("/bin/sh")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("ALIBABA_CLOUD_SECURITY_TOKEN", "stale-token")
            .env("SECURITY_TOKEN", "stale-token")
            .args(["-c", r#"eval "$(cat "$1")" && env"#, "sh"])
            .arg(&path)
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let vars = env_map(&succeeded(&out, &[]));
        let (id, secret, token) = creds.values();
        for name in [
            "ALIBABA_CLOUD_ACCESS_KEY_ID",
            "ALIBABACLOUD_ACCESS_KEY_ID",
            "ALICLOUD_ACCESS_KEY",
        ] {
            assert_eq!(vars.get(name).map(String::as_str), Some(id), "{name}");
        }
        // The Go tool sets ALICLOUD_SECRET_KEY to the AccessKey id last; here it is the secret.
        for name in [
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            "ALIBABACLOUD_ACCESS_KEY_SECRET",
            "ALICLOUD_SECRET_KEY",
        ] {
            assert_eq!(vars.get(name).map(String::as_str), Some(secret), "{name}");
        }
        for name in [
            "ALIBABA_CLOUD_SECURITY_TOKEN",
            "ALIBABACLOUD_SECURITY_TOKEN",
            "ALICLOUD_SECURITY_TOKEN",
            "ALICLOUD_ACCESS_KEY_STS_TOKEN",
            "ALIYUN_LOG_CLI_STS_TOKEN",
        ] {
            assert_eq!(vars.get(name).map(String::as_str), token, "{name}");
        }
        let stale = vars.get("SECURITY_TOKEN").map(String::as_str);
        assert_eq!(
            stale,
            token.map(|_| "stale-token"),
            "left alone beside a new token"
        );
    }
}

#[tokio::test]
async fn the_uri_document_reads_back_through_a_credentials_uri() {
    for creds in [Creds::Ak, Creds::Sts, Creds::Special] {
        let sandbox = Sandbox::new();
        let want = identity(&export(&sandbox, creds, "aliyun-cli-config-json"));
        let document = export(&sandbox, creds, "aliyun-cli-uri-json");
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string(document))
            .expect(1)
            .mount(&server)
            .await;
        let mut cmd = sandbox.bare();
        cmd.env(
            "ALIBABA_CLOUD_CREDENTIALS_URI",
            format!("{}/creds", server.uri()),
        )
        .args(["export-credentials", "--log-level", "debug"]);
        let got = succeeded(&run(cmd).await, &creds.secrets());
        assert_eq!(identity(&got), want, "{creds:?}");
    }
}

fn assumed_role(expiration: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "RequestId": "REQ-STS",
        "AssumedRoleUser": {"Arn": "acs:ram::1234567890123456:assumed-role/ack-dev/ack-ram-tool", "AssumedRoleId": "3:ack-ram-tool"},
        "Credentials": {
            "AccessKeyId": "STS.Role", "AccessKeySecret": "RoleSecret-1a2b3c",
            "SecurityToken": "RoleToken/xyz==", "Expiration": expiration
        }
    }))
}

#[tokio::test]
async fn role_arn_is_assumed_on_top_and_its_real_expiry_is_printed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(query_param("Action", "AssumeRole"))
        .and(query_param("RoleArn", ROLE_ARN))
        .and(query_param("AccessKeyId", AK_ID))
        .respond_with(assumed_role("2099-01-01T00:00:00Z"))
        .expect(2)
        .mount(&server)
        .await;
    let sandbox = Sandbox::new();
    let secrets = ["RoleSecret-1a2b3c", "RoleToken/xyz==", AK_SECRET];
    let export_role = |format: &str| {
        let mut cmd = Creds::Ak.command(&sandbox);
        cmd.args(["export-credentials", "--log-level", "debug", "-f", format])
            .args(["--role-arn", ROLE_ARN, "--sts-endpoint", &server.uri()]);
        cmd
    };
    let uri = succeeded(&run(export_role("aliyuncli-uri")).await, &secrets);
    assert_eq!(
        uri,
        "{\n  \"Code\": \"Success\",\n  \"AccessKeyId\": \"STS.Role\",\n  \"AccessKeySecret\": \"RoleSecret-1a2b3c\",\n  \"SecurityToken\": \"RoleToken/xyz==\",\n  \"Expiration\": \"2099-01-01T00:00:00Z\"\n }\n"
    );
    let profile = succeeded(&run(export_role("aliyun-cli-config-json")).await, &secrets);
    assert_eq!(
        profile,
        "{\n  \"mode\": \"StsToken\",\n  \"access_key_id\": \"STS.Role\",\n  \"access_key_secret\": \"RoleSecret-1a2b3c\",\n  \"sts_token\": \"RoleToken/xyz==\",\n  \"sts_expiration\": 4070908800\n }\n"
    );
}

/// `export-credentials [extra] -- child...` with `creds`, and the parent environment `parent`.
fn with_child(sandbox: &Sandbox, creds: Creds, extra: &[&str], child: &[&str]) -> Command {
    let mut cmd = creds.command(sandbox);
    cmd.arg("export-credentials")
        .args(extra)
        .arg("--")
        .args(child);
    cmd
}

#[test]
fn the_child_sees_the_credentials_and_the_rest_of_the_environment() {
    let sandbox = Sandbox::new();
    let mut cmd = with_child(&sandbox, Creds::Sts, &["--log-level", "debug"], &["env"]);
    cmd.env("KEEP_ME", "kept");
    let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
    let vars = env_map(&succeeded(&out, &Creds::Sts.secrets()));
    let want: &[(&str, &str)] = &[
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", STS_ID),
        ("ALICLOUD_ACCESS_KEY", STS_ID),
        ("ALIBABACLOUD_ACCESS_KEY_ID", STS_ID),
        ("ALIYUN_LOG_CLI_ACCESSID", STS_ID),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", AK_SECRET),
        ("ALICLOUD_SECRET_KEY", AK_SECRET),
        ("ALIBABACLOUD_ACCESS_KEY_SECRET", AK_SECRET),
        ("ALIYUN_LOG_CLI_ACCESSKEY", AK_SECRET),
        ("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN),
        ("ALICLOUD_SECURITY_TOKEN", STS_TOKEN),
        ("ALIBABACLOUD_SECURITY_TOKEN", STS_TOKEN),
        ("ALICLOUD_ACCESS_KEY_STS_TOKEN", STS_TOKEN),
        ("ALIYUN_LOG_CLI_STS_TOKEN", STS_TOKEN),
        ("ALIBABACLOUD_IGNORE_PROFILE", "TRUE"),
        ("KEEP_ME", "kept"),
    ];
    for (name, value) in want {
        assert_eq!(vars.get(*name).map(String::as_str), Some(*value), "{name}");
    }

    // Without `--`, everything after the command's name is the command's.
    let mut cmd = Creds::Sts.command(&sandbox);
    cmd.args([
        "export-credentials",
        "-f",
        "env",
        "sh",
        "-c",
        "echo \"$ALICLOUD_SECRET_KEY\" \"$0\"",
        "--role-arn",
    ]);
    let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(succeeded(&out, &[]), format!("{AK_SECRET} --role-arn\n"));
}

#[test]
fn an_access_key_child_inherits_no_token() {
    let sandbox = Sandbox::new();
    // An AccessKey from an INI file (which turns the environment source off), while the
    // environment still holds a token from an earlier session.
    let ini = write(
        sandbox.home.path(),
        "credentials",
        &format!(
            "[default]\ntype = access_key\naccess_key_id = {AK_ID}\naccess_key_secret = {AK_SECRET}\n"
        ),
    );
    let mut cmd = sandbox.bare();
    for name in [
        "ALIBABA_CLOUD_SECURITY_TOKEN",
        "ALICLOUD_SECURITY_TOKEN",
        "ALIBABACLOUD_SECURITY_TOKEN",
        "ALICLOUD_ACCESS_KEY_STS_TOKEN",
        "ALIYUN_LOG_CLI_STS_TOKEN",
        "SECURITY_TOKEN",
    ] {
        cmd.env(name, "stale-token");
    }
    cmd.arg("export-credentials")
        .arg("--profile-file")
        .arg(&ini)
        .args(["--", "env"]);
    let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
    let vars = env_map(&succeeded(&out, &[AK_SECRET]));
    assert_eq!(
        vars.get("ALIBABA_CLOUD_ACCESS_KEY_ID").map(String::as_str),
        Some(AK_ID)
    );
    assert_eq!(
        vars.get("ALICLOUD_SECRET_KEY").map(String::as_str),
        Some(AK_SECRET)
    );
    let tokens: Vec<&String> = vars.keys().filter(|k| k.contains("TOKEN")).collect();
    assert!(tokens.is_empty(), "{tokens:?}");
}

#[test]
fn the_childs_exit_code_stdin_and_signal_are_passed_on() {
    let sandbox = Sandbox::new();
    let code = |child: &[&str]| {
        with_child(&sandbox, Creds::Ak, &[], child)
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
            .status
            .code()
    };
    assert_eq!(code(&["sh", "-c", "exit 7"]), Some(7));
    assert_eq!(code(&["sh", "-c", "exit 0"]), Some(0));
    assert_eq!(code(&["sh", "-c", "kill -TERM $$"]), Some(128 + 15));

    let mut cmd = with_child(
        &sandbox,
        Creds::Ak,
        &["-f", "environment-variables"],
        &["sh", "-c", "read line; echo \"got $line\""],
    );
    cmd.write_stdin("hello\n");
    let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(succeeded(&out, &[]), "got hello\n");
}

#[test]
fn a_missing_command_or_a_printing_format_with_a_command_is_an_error() {
    let sandbox = Sandbox::new();
    let out = with_child(&sandbox, Creds::Sts, &[], &["no-such-command-ack-ram-tool"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("could not run \"no-such-command-ack-ram-tool\""),
        "{err}"
    );
    no_secret_in(&err, &Creds::Sts.secrets());

    let out = with_child(&sandbox, Creds::Sts, &["-f", "ini"], &["env"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out).contains("credential-file-ini"),
        "{}",
        stderr(&out)
    );
}

/// Ctrl-C reaches the whole foreground process group; the plugin waits for the child to decide
/// instead of dying first. Here SIGINT goes to the plugin alone: it keeps waiting, and ends with
/// the child's code.
#[test]
fn an_interrupt_waits_for_the_child() {
    let sandbox = Sandbox::new();
    let marker = sandbox.home.path().join("started");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ack-ram-tool"))
        .env_clear()
        .env("HOME", sandbox.home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", AK_SECRET)
        .args([
            "export-credentials",
            "--",
            "sh",
            "-c",
            "echo > \"$1\"; sleep 1; exit 3",
            "sh",
        ])
        .arg(&marker)
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !marker.exists() {
        assert!(Instant::now() < deadline, "the child never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(killed.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the plugin did not end");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(3), "{status:?}");
}

#[test]
fn help_documents_the_formats_and_the_differences() {
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.bare();
    cmd.args(["export-credentials", "--help"]);
    let help = succeeded(&cmd.output().unwrap_or_else(|e| panic!("{e}")), &[]);
    for want in [
        "aliyun-cli-config-json",
        "aliyuncli-json",
        "aliyun-cli-uri-json",
        "aliyuncli-uri",
        "ecs-metadata-json",
        "credential-file-ini",
        "environment-variables",
        "Unlike the Go tool",
        "ALICLOUD_SECRET_KEY",
        "128+N",
    ] {
        assert!(help.contains(want), "{want} missing: {help}");
    }
}
