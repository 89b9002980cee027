//! The credential chain, tested as data: one folder per case under `tests/chain_cases/`, one
//! test per folder, in the style of aws-config's `make_test!` cases.
//!
//! Each folder holds `case.toml` (environment, chain inputs, the HTTP traffic expected on the
//! local STS / IMDS / credentials-URI server, and the expected credentials or error) and
//! optionally `home/`, a fake home directory (`.aliyun/config.json`,
//! `.alibabacloud/credentials`, scripts, token files). `{{server}}` and `{{home}}` are replaced
//! in environment values, inputs and home files. Every expected request must arrive exactly
//! once, and nothing else may.
//!
//! A new case is a new folder plus its name in [`chain_cases!`] below (the folder's name with
//! `_` for `-`); `every_case_folder_has_a_test` fails, naming the line to add, until it is
//! listed. A failing case's test is named after its folder: `case::cli_oidc` runs
//! `tests/chain_cases/cli-oidc`.

use ack_ram_adapters::context::Context;
use ack_ram_adapters::env::Environment;
use ack_ram_adapters::http::{Endpoint, HttpSettings};
use ack_ram_adapters::sources::{ChainInputs, ChainProvider, CredentialType, ProfileFile};
use ack_ram_adapters::sts::StsClient;
use ack_ram_domain::ports::{AccessCredentialProvider, ProviderError};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wiremock::matchers::{body_string_contains, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// One `#[tokio::test]` per listed case, in `mod case`, plus the list itself for the
/// completeness check.
macro_rules! chain_cases {
    ($($name:ident),* $(,)?) => {
        const LISTED: &[&str] = &[$(stringify!($name)),*];

        mod case {
            $(
                #[tokio::test]
                async fn $name() {
                    super::run(stringify!($name)).await;
                }
            )*
        }
    };
}

chain_cases! {
    cli_chainable,
    cli_credentials_uri,
    cli_current_profile,
    cli_default_without_current,
    cli_ecs_ram_role,
    cli_env_profile,
    cli_external,
    cli_json_profile_file,
    cli_oidc,
    cli_profile_name_flag,
    cli_ram_role_arn,
    cli_ram_role_arn_with_role_name,
    cli_sts_token,
    env_access_key,
    env_ak_role_arn,
    env_alias_families_mixed,
    env_credentials_file,
    env_credentials_uri,
    env_ecs_metadata,
    env_oidc,
    env_sts_token,
    env_uri_before_ecs,
    error_assume_role_denied,
    error_chainable_cycle,
    error_cli_missing_field,
    error_ecs_no_role,
    error_external_fails,
    error_ini_missing_field,
    error_ini_missing_section,
    error_malformed_ini,
    error_malformed_json,
    error_nothing_configured,
    error_oidc_token_file_missing,
    error_unknown_profile,
    error_unreadable_profile_file,
    error_unsupported_mode,
    ignore_cli_uses_ini,
    ignore_env_uses_cli,
    imds_credential_type,
    imds_v2_disabled,
    ini_default_access_key,
    ini_ecs_ram_role,
    ini_env_profile_selects_section,
    ini_profile_file_forces_ini,
    ini_profile_name_selects_section,
    ini_ram_role_arn,
    ini_sts_security_token,
    partial_env_falls_through,
    precedence_cli_before_ini,
    precedence_env_before_cli,
    role_arn_on_cli_role,
    role_arn_on_env,
}

/// Every folder of `tests/chain_cases` holds a `case.toml` and is listed in [`chain_cases!`],
/// and every listed name has a folder.
#[test]
fn every_case_folder_has_a_test() {
    let folders: BTreeSet<String> = std::fs::read_dir(cases_dir())
        .unwrap_or_else(|e| panic!("{}: {e}", cases_dir().display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for folder in &folders {
        assert!(
            cases_dir().join(folder).join("case.toml").is_file(),
            "chain case folder {folder:?} has no case.toml"
        );
        assert!(
            folder
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "chain case folder {folder:?}: use lowercase letters, digits and `-` only"
        );
    }
    let listed: BTreeSet<String> = LISTED.iter().map(|name| folder_of(name)).collect();
    let unlisted: Vec<String> = folders
        .difference(&listed)
        .map(|f| format!("    {},", f.replace('-', "_")))
        .collect();
    assert!(
        unlisted.is_empty(),
        "chain case folders without a test; add to chain_cases! in tests/credential_chain.rs:\n{}",
        unlisted.join("\n")
    );
    let missing: Vec<&String> = listed.difference(&folders).collect();
    assert!(
        missing.is_empty(),
        "chain_cases! lists cases without a folder in tests/chain_cases: {missing:?}"
    );
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    inputs: Inputs,
    #[serde(default)]
    http: Vec<Exchange>,
    expected: Expected,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Inputs {
    /// `--profile-file`, classified by the shipped rule ([`ProfileFile::classify`]).
    profile_file: Option<String>,
    profile_name: Option<String>,
    role_arn: Option<String>,
    /// `--credential-type`, parsed by the shipped rule.
    #[serde(default)]
    credential_type: CredentialType,
    #[serde(default)]
    ignore_env: bool,
    #[serde(default)]
    ignore_cli: bool,
    session_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Exchange {
    method: String,
    path: String,
    /// Query parameters that must be present with these values.
    #[serde(default)]
    query: BTreeMap<String, String>,
    /// A string the form body must contain.
    body_contains: Option<String>,
    #[serde(default = "ok")]
    status: u16,
    #[serde(default)]
    body: String,
}

fn ok() -> u16 {
    200
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    access_key_id: Option<String>,
    access_key_secret: Option<String>,
    security_token: Option<String>,
    /// Substrings the error message must contain.
    #[serde(default)]
    error: Vec<String>,
    /// Substrings the error message must not contain.
    #[serde(default)]
    error_not: Vec<String>,
    /// The error is "not configured" (nothing found) rather than a hard failure.
    #[serde(default)]
    not_configured: bool,
}

/// The chain under test: the one place that knows how the chain is constructed.
fn chain(
    inputs: ChainInputs,
    env: Environment,
    home: &Path,
    server: &str,
) -> Result<ChainProvider, String> {
    let ctx =
        Context::new(env, HttpSettings::new("chain-tests")).with_home(Some(home.to_path_buf()));
    let http = ctx.http().map_err(|e| e.to_string())?;
    let sts = Arc::new(StsClient::new(
        http,
        Endpoint::parse(server).map_err(|e| e.to_string())?,
        ctx.clock(),
    ));
    Ok(ChainProvider::build(inputs, ctx, sts))
}

fn cases_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/chain_cases"))
}

/// The folder of a listed case: its name with `-` for `_`.
fn folder_of(name: &str) -> String {
    name.replace('_', "-")
}

/// Runs the listed case `name`; a failure names its folder.
async fn run(name: &str) {
    let folder = folder_of(name);
    if let Err(e) = run_case(&cases_dir().join(&folder)).await {
        panic!("chain case tests/chain_cases/{folder}: {e}");
    }
}

fn substitute(text: &str, server: &str, home: &Path) -> String {
    text.replace("{{server}}", server)
        .replace("{{home}}", &home.display().to_string())
}

fn copy_home(from: &Path, to: &Path, server: &str, home: &Path) {
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.unwrap_or_else(|e| panic!("{e}"));
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap_or_else(|e| panic!("{e}"));
            copy_home(&entry.path(), &target, server, home);
        } else {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(&target, substitute(&text, server, home))
                .unwrap_or_else(|e| panic!("{e}"));
            if target.extension().is_some_and(|e| e == "sh") {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
}

async fn run_case(dir: &Path) -> Result<(), String> {
    let text =
        std::fs::read_to_string(dir.join("case.toml")).map_err(|e| format!("case.toml: {e}"))?;
    let case: Case = toml::from_str(&text).map_err(|e| format!("case.toml: {e}"))?;
    if case.description.trim().is_empty() {
        return Err("case.toml needs a description".into());
    }
    let server = MockServer::start().await;
    let uri = server.uri();
    let home_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let home = home_dir.path().to_path_buf();
    if dir.join("home").is_dir() {
        copy_home(&dir.join("home"), &home, &uri, &home);
    }

    for exchange in &case.http {
        let mut mock =
            Mock::given(method(exchange.method.as_str())).and(path(exchange.path.as_str()));
        for (k, v) in &exchange.query {
            mock = mock.and(query_param(k.as_str(), substitute(v, &uri, &home).as_str()));
        }
        if let Some(needle) = &exchange.body_contains {
            mock = mock.and(body_string_contains(needle.as_str()));
        }
        mock.respond_with(
            ResponseTemplate::new(exchange.status)
                .set_body_raw(substitute(&exchange.body, &uri, &home), "application/json"),
        )
        .mount(&server)
        .await;
    }

    let mut env: Environment = case
        .env
        .iter()
        .map(|(k, v)| (k.clone(), substitute(v, &uri, &home)))
        .collect();
    env.set("HOME", &home.display().to_string());
    env.set("PATH", &std::env::var("PATH").unwrap_or_default());
    // IMDS goes to the local server unless the case says otherwise.
    if env.get("ALIBABA_CLOUD_IMDS_ENDPOINT").is_none() {
        env.set("ALIBABA_CLOUD_IMDS_ENDPOINT", &uri);
    }

    let inputs = ChainInputs {
        credential_type: case.inputs.credential_type,
        profile_file: case
            .inputs
            .profile_file
            .as_deref()
            .map(|raw| ProfileFile::classify(PathBuf::from(substitute(raw, &uri, &home)))),
        profile_name: case.inputs.profile_name.clone(),
        ignore_env: case.inputs.ignore_env,
        ignore_cli: case.inputs.ignore_cli,
        role_arn: case.inputs.role_arn.clone(),
        session_name: case
            .inputs
            .session_name
            .clone()
            .unwrap_or_else(|| "ack-ram-tool".into()),
    };
    let result = chain(inputs, env, &home, &uri)?.provide().await;

    let expected = &case.expected;
    match (&result, expected.error.is_empty()) {
        (Ok(creds), true) => {
            let check = |what: &str, want: &Option<String>, got: Option<&str>| match want {
                Some(w) if Some(w.as_str()) != got => {
                    Err(format!("{what}: want {w:?}, got {got:?}"))
                }
                _ => Ok(()),
            };
            check(
                "access_key_id",
                &expected.access_key_id,
                Some(&creds.access_key_id),
            )?;
            check(
                "access_key_secret",
                &expected.access_key_secret,
                Some(creds.access_key_secret.expose()),
            )?;
            check(
                "security_token",
                &expected.security_token,
                creds.security_token.as_ref().map(|t| t.expose()),
            )?;
            if expected.security_token.is_none() && creds.security_token.is_some() {
                return Err("unexpected security token".into());
            }
        }
        (Err(err), false) => {
            let message = err.to_string();
            for want in &expected.error {
                let want = substitute(want, &uri, &home);
                if !message.contains(&want) {
                    return Err(format!("error {message:?} lacks {want:?}"));
                }
            }
            for bad in &expected.error_not {
                if message.contains(bad.as_str()) {
                    return Err(format!("error {message:?} contains {bad:?}"));
                }
            }
            let is_not_configured = matches!(err, ProviderError::NotConfigured(_));
            if is_not_configured != expected.not_configured {
                return Err(format!(
                    "error kind: not_configured is {is_not_configured}: {err:?}"
                ));
            }
        }
        (Ok(creds), false) => {
            return Err(format!(
                "expected an error, got credentials {}",
                creds.access_key_id
            ));
        }
        (Err(err), true) => return Err(format!("expected credentials, got error: {err}")),
    }
    // Every expected request arrived exactly once, nothing else did.
    let received = server.received_requests().await.unwrap_or_default();
    let seen: Vec<String> = received
        .iter()
        .map(|r| {
            format!(
                "{} {}?{}",
                r.method,
                r.url.path(),
                r.url.query().unwrap_or("")
            )
        })
        .collect();
    if received.len() != case.http.len() {
        return Err(format!(
            "expected {} requests, got {}: {seen:#?}",
            case.http.len(),
            received.len()
        ));
    }
    for exchange in &case.http {
        let matching = received
            .iter()
            .filter(|r| {
                r.method.as_str() == exchange.method
                    && r.url.path() == exchange.path
                    && exchange.query.iter().all(|(k, v)| {
                        r.url
                            .query_pairs()
                            .any(|(qk, qv)| qk == k.as_str() && qv == substitute(v, &uri, &home))
                    })
            })
            .count();
        if matching != 1 {
            return Err(format!(
                "{} {} {:?} arrived {matching} times: {seen:#?}",
                exchange.method, exchange.path, exchange.query
            ));
        }
    }
    Ok(())
}
