//! The credential chain, tested as data: one folder per case under `tests/chain_cases/`, in the
//! style of aws-config's test cases.
//!
//! Each folder holds `case.toml` (environment, chain inputs, the HTTP traffic expected on the
//! local STS / IMDS / credentials-URI server, and the expected credentials or error) and
//! optionally `home/`, a fake home directory (`.aliyun/config.json`,
//! `.alibabacloud/credentials`, scripts, token files). `{{server}}` and `{{home}}` are replaced
//! in environment values, inputs and home files. Every expected request must arrive exactly
//! once, and nothing else may.

use ack_ram_adapters::clock::SystemClock;
use ack_ram_adapters::env::Environment;
use ack_ram_adapters::http::{Endpoint, HttpSettings, build_client};
use ack_ram_adapters::sources::{ChainInputs, ChainProvider, CredentialType, ProfileFile};
use ack_ram_adapters::sts::StsClient;
use ack_ram_domain::ports::{AccessCredentialProvider, ProviderError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wiremock::matchers::{body_string_contains, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

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
    profile_file: Option<String>,
    profile_name: Option<String>,
    role_arn: Option<String>,
    #[serde(default)]
    credential_type: Option<String>,
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

fn cases_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/chain_cases"))
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

    let profile_file = case.inputs.profile_file.as_deref().map(|raw| {
        let raw = substitute(raw, &uri, &home);
        let expanded = match raw.strip_prefix("~/") {
            Some(rest) => home.join(rest),
            None => PathBuf::from(&raw),
        };
        if raw.ends_with(".json") {
            ProfileFile::AliyunCli(expanded)
        } else {
            ProfileFile::Ini(expanded)
        }
    });
    let inputs = ChainInputs {
        credential_type: match case.inputs.credential_type.as_deref() {
            Some("imds") => CredentialType::Imds,
            _ => CredentialType::Auto,
        },
        profile_file,
        profile_name: case.inputs.profile_name.clone(),
        ignore_env: case.inputs.ignore_env,
        ignore_cli: case.inputs.ignore_cli,
        role_arn: case.inputs.role_arn.clone(),
        session_name: case
            .inputs
            .session_name
            .clone()
            .unwrap_or_else(|| "ack-ram-tool".into()),
        home: Some(home.clone()),
    };
    let http = build_client(&HttpSettings::new("chain-tests")).map_err(|e| e.to_string())?;
    let sts = Arc::new(StsClient::new(
        http.clone(),
        Endpoint::parse(&uri).map_err(|e| e.to_string())?,
        Arc::new(SystemClock),
    ));
    let chain = ChainProvider::build(inputs, env, http, sts, "chain-tests");
    let result = chain.provide().await;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_chain_case() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap_or_else(|e| panic!("{}: {e}", cases_dir().display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("case.toml").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 30, "all cases found ({})", dirs.len());
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Err(e) = run_case(dir).await {
            failures.push(format!("{name}: {e}"));
        } else {
            println!("ok   {name}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n")
    );
}
