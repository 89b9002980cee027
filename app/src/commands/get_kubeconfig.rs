//! `get-kubeconfig` (also `credential-plugin get-kubeconfig`): one ACK call, then the returned
//! kubeconfig with every user rewritten to run this plugin.
//!
//! The exec entry carries the flags the user typed, so the generated kubeconfig resolves the
//! same identity later: unlike the Go tool it carries `--profile-file` (the Go tool drops it and
//! the plugin then reads the default file), and it does not bake in values that came from the
//! environment or the config file (`ACK_RAM_TOOL_*`, `ALIBABA_CLOUD_STS_ENDPOINT`): those are
//! read again when the plugin runs, so the kubeconfig does not freeze them.

use crate::cli::{GetKubeconfigArgs, GlobalArgs};
use crate::config::Settings;
use crate::error::AppError;
use crate::wiring;
use ack_ram_adapters::ack::{AckClient, parse_kubeconfig_answer};
use ack_ram_adapters::clock::SystemClock;
use ack_ram_adapters::env::Environment;
use ack_ram_adapters::kubeconfig::{ExecSpec, rewrite};
use ack_ram_domain::ports::IssueRequest;
use ack_ram_domain::service::GetCredentialError;
use ack_ram_domain::{ApiVersion, CertificateLifetime, ClusterId};
use std::io::Write;
use std::sync::Arc;

/// Which command the generated exec entry runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Certificate,
    Token,
}

fn mode(raw: &str) -> Result<Mode, AppError> {
    match raw {
        "cert" | "certificate" => Ok(Mode::Certificate),
        "token" | "ram-authenticator-token" => Ok(Mode::Token),
        other => Err(AppError::InvalidInput {
            flag: "--mode",
            message: format!(
                "unknown mode {other:?}; use cert (client certificates) or token (ack-ram-authenticator)"
            ),
        }),
    }
}

/// The exec arguments, in the Go tool's order.
fn exec_args(
    args: &GetKubeconfigArgs,
    global: &GlobalArgs,
    mode: Mode,
    cluster_id: &ClusterId,
    api_version: ApiVersion,
    lifetime: CertificateLifetime,
) -> Vec<String> {
    let mut out: Vec<String> = vec!["credential-plugin".into()];
    match mode {
        Mode::Certificate => out.extend([
            "get-credential".into(),
            "--cluster-id".into(),
            cluster_id.to_string(),
            "--api-version".into(),
            api_version.short().into(),
            "--expiration".into(),
            lifetime.to_string(),
            "--credential-cache-dir".into(),
            args.credential_cache_dir.clone(),
        ]),
        Mode::Token => out.extend([
            "get-token".into(),
            "--cluster-id".into(),
            cluster_id.to_string(),
            "--api-version".into(),
            api_version.short().into(),
        ]),
    }
    let mut flag = |name: &str, value: Option<&str>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            out.push(name.to_owned());
            out.push(v.to_owned());
        }
    };
    flag("--profile-name", global.profile_name.as_deref());
    flag("--profile-file", global.profile_file.as_deref());
    flag("--role-arn", args.role_arn.as_deref());
    flag("--region-id", global.region_id.as_deref());
    flag("--sts-endpoint", global.sts_endpoint.as_deref());
    flag("--cs-endpoint", global.cs_endpoint.as_deref());
    flag(
        "--credential-type",
        global
            .credential_type
            .as_deref()
            .filter(|t| !t.eq_ignore_ascii_case("auto")),
    );
    if global.ignore_aliyun_cli_credentials == Some(true) {
        out.push("--ignore-aliyun-cli-credentials".into());
    }
    if global.ignore_env_credentials == Some(true) {
        out.push("--ignore-env-credentials".into());
    }
    out.extend(["--log-level".into(), "error".into()]);
    out
}

/// Runs the command: prints (or writes) the kubeconfig.
pub fn run(
    args: &GetKubeconfigArgs,
    global: &GlobalArgs,
    settings: &Settings,
    env: &Environment,
) -> Result<(), AppError> {
    let cluster_id = ClusterId::parse(&args.cluster_id).map_err(|e| AppError::InvalidInput {
        flag: "--cluster-id",
        message: e.to_string(),
    })?;
    let lifetime =
        CertificateLifetime::parse(&args.expiration).map_err(|e| AppError::InvalidInput {
            flag: "--expiration",
            message: e.to_string(),
        })?;
    let api_version = wiring::api_version(Some(&args.api_version), env)?;
    let mode = mode(&args.mode)?;
    let endpoint = wiring::cs_endpoint(settings)?;
    wiring::warn_if_cleartext(&endpoint, "ACK endpoint");
    let session = wiring::session(settings, args.role_arn.as_deref(), env)?;
    let request = IssueRequest {
        cluster_id: cluster_id.clone(),
        lifetime,
        private_address: args.private_address == Some(true),
    };
    let failed = |error: GetCredentialError| AppError::GetCredential {
        cluster: cluster_id.clone(),
        error: Box::new(error),
    };
    let credentials = session.credentials().map_err(|e| match e {
        AppError::Credentials(e) => failed(GetCredentialError::Credentials(e)),
        other => other,
    })?;
    let ack = AckClient::new(session.client.clone(), endpoint, Arc::new(SystemClock));
    let body = session
        .runtime
        .block_on(ack.describe_user_kubeconfig(&request, &credentials))
        .map_err(|e| failed(GetCredentialError::Issue(e)))?;
    let answer =
        parse_kubeconfig_answer(&body).map_err(|e| failed(GetCredentialError::Issue(e)))?;
    let exec = ExecSpec {
        command: "ack-ram-tool".into(),
        args: exec_args(args, global, mode, &cluster_id, api_version, lifetime),
        api_version: api_version.group_version().into(),
        provide_cluster_info: false,
    };
    let yaml = rewrite(answer.config.expose(), &exec).map_err(|e| {
        failed(GetCredentialError::Issue(
            ack_ram_domain::ports::IssueError::InvalidResponse(e.to_string()),
        ))
    })?;
    match &args.output {
        Some(path) => write_file(path, &yaml),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(yaml.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(AppError::Output)
        }
    }
}

/// Writes atomically (temp file in the same directory, fsync, rename) with mode 0600.
fn write_file(path: &std::path::Path, content: &str) -> Result<(), AppError> {
    let fail = |e: std::io::Error| {
        AppError::Environment(format!(
            "could not write the kubeconfig to {}: {e}",
            path.display()
        ))
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".ack-ram-tool-kubeconfig-")
        .tempfile_in(&dir)
        .map_err(fail)?;
    tmp.write_all(content.as_bytes()).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    tracing::debug!(path = %path.display(), "wrote the kubeconfig");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parsed(argv: &[&str]) -> (GetKubeconfigArgs, GlobalArgs) {
        let cli = crate::cli::Cli::try_parse_from(
            ["ack-ram-tool", "get-kubeconfig"].iter().chain(argv.iter()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        match cli.command {
            crate::cli::Command::GetKubeconfig(args) => (args, cli.global),
            _ => panic!("not get-kubeconfig"),
        }
    }

    fn args_for(argv: &[&str], mode: Mode) -> Vec<String> {
        let (args, global) = parsed(argv);
        let cluster = ClusterId::parse(&args.cluster_id).unwrap_or_else(|e| panic!("{e}"));
        let lifetime =
            CertificateLifetime::parse(&args.expiration).unwrap_or_else(|e| panic!("{e}"));
        exec_args(
            &args,
            &global,
            mode,
            &cluster,
            ApiVersion::V1Beta1,
            lifetime,
        )
    }

    #[test]
    fn cert_mode_args_follow_the_go_tool_with_profile_file_carried() {
        let got = args_for(
            &[
                "-c",
                "c1",
                "--region-id",
                "cn-beijing",
                "--role-arn",
                "acs:ram::1:role/dev",
                "--profile-file",
                "/etc/ack/creds",
                "--expiration",
                "90m",
            ],
            Mode::Certificate,
        );
        assert_eq!(
            got,
            [
                "credential-plugin",
                "get-credential",
                "--cluster-id",
                "c1",
                "--api-version",
                "v1beta1",
                "--expiration",
                "1h30m0s",
                "--credential-cache-dir",
                "~/.kube/cache/ack-ram-tool/credential-plugin",
                "--profile-file",
                "/etc/ack/creds",
                "--role-arn",
                "acs:ram::1:role/dev",
                "--region-id",
                "cn-beijing",
                "--log-level",
                "error",
            ]
        );
    }

    #[test]
    fn token_mode_and_ignore_flags() {
        let got = args_for(
            &[
                "-c",
                "c1",
                "--ignore-env-credentials",
                "--credential-type",
                "imds",
                "--sts-endpoint",
                "sts.example",
            ],
            Mode::Token,
        );
        assert_eq!(
            got,
            [
                "credential-plugin",
                "get-token",
                "--cluster-id",
                "c1",
                "--api-version",
                "v1beta1",
                "--sts-endpoint",
                "sts.example",
                "--credential-type",
                "imds",
                "--ignore-env-credentials",
                "--log-level",
                "error",
            ]
        );
        assert!(mode("bogus").is_err());
        assert_eq!(mode("ram-authenticator-token").ok(), Some(Mode::Token));
    }
}
