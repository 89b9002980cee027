//! `get-kubeconfig` (also `credential-plugin get-kubeconfig`): one ACK call, then the returned
//! kubeconfig with every user rewritten to run this plugin.
//!
//! The exec entry carries the flags the user typed, in the Go tool's order (so kubeconfigs diff
//! cleanly against its output), so the generated kubeconfig resolves the same identity later:
//! unlike the Go tool it carries `--profile-file`, last before `--log-level` (the Go tool drops
//! it and the plugin then reads the default file), and it does not bake in values that came
//! from the environment or the config file (`ACK_RAM_TOOL_*`, `ALIBABA_CLOUD_STS_ENDPOINT`):
//! those are read again when the plugin runs, so the kubeconfig does not freeze them.
//!
//! With `--merge` the result goes into the kubeconfig kubectl uses instead ([`merge`]).

mod merge;

use crate::cli::{GetKubeconfigArgs, GlobalArgs, KubeconfigMode as Mode};
use crate::config::Settings;
use crate::error::AppError;
use crate::wiring;
use ack_ram_adapters::ack::{AckClient, parse_kubeconfig_answer};
use ack_ram_adapters::env::Environment;
use ack_ram_adapters::kubeconfig::{ExecSpec, rewrite};
use ack_ram_adapters::sources::CredentialType;
use ack_ram_domain::ports::IssueRequest;
use ack_ram_domain::service::GetCredentialError;
use ack_ram_domain::{ApiVersion, CertificateLifetime, ClusterId};
use std::io::Write;

/// The exec arguments, in the Go tool's order.
pub(crate) fn exec_args(
    args: &GetKubeconfigArgs,
    global: &GlobalArgs,
    mode: Mode,
    cluster_id: &ClusterId,
    api_version: ApiVersion,
    lifetime: CertificateLifetime,
) -> Vec<String> {
    let mut out: Vec<String> = vec!["credential-plugin".into()];
    match mode {
        Mode::Cert => out.extend([
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
    // The Go tool's block of global flags, in its order (reference cli.md §7.2), each only when
    // given. `--profile-file`, which it never writes, comes last before `--log-level error`, so
    // everything else lines up with the Go tool's output.
    flag(&mut out, "--profile-name", global.profile_name.as_deref());
    switch(
        &mut out,
        "--ignore-aliyun-cli-credentials",
        global.ignore_aliyun_cli_credentials,
    );
    switch(
        &mut out,
        "--ignore-env-credentials",
        global.ignore_env_credentials,
    );
    flag(&mut out, "--role-arn", args.role_arn.as_deref());
    flag(
        &mut out,
        "--region-id",
        global
            .region_id
            .as_ref()
            .map(ack_ram_domain::RegionId::as_str),
    );
    flag(&mut out, "--sts-endpoint", global.sts_endpoint.as_deref());
    flag(&mut out, "--cs-endpoint", global.cs_endpoint.as_deref());
    flag(
        &mut out,
        "--credential-type",
        global
            .credential_type
            .filter(|t| *t != CredentialType::Auto)
            .map(CredentialType::as_str),
    );
    flag(&mut out, "--profile-file", global.profile_file.as_deref());
    out.extend(["--log-level".into(), "error".into()]);
    out
}

/// `name value`, when a non-empty value is given.
fn flag(out: &mut Vec<String>, name: &str, value: Option<&str>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        out.push(name.to_owned());
        out.push(v.to_owned());
    }
}

/// `name` alone, when the switch is on.
fn switch(out: &mut Vec<String>, name: &str, on: Option<bool>) {
    if on == Some(true) {
        out.push(name.to_owned());
    }
}

/// Runs the command: prints (or writes) the kubeconfig, or merges it (`--merge`).
pub fn run(
    args: &GetKubeconfigArgs,
    global: &GlobalArgs,
    settings: &Settings,
    env: &Environment,
) -> Result<(), AppError> {
    if args.merge == Some(true) {
        return merge::run(args, global, settings, env);
    }
    // `--merge=false` with a flag that only means something with --merge.
    if args.kubeconfig.is_some()
        || args.context_name.is_some()
        || args.set_context.is_some()
        || args.all_clusters.is_some()
    {
        return Err(AppError::InvalidInput {
            flag: "--merge",
            message: "--kubeconfig, --set-context, --context-name and --all-clusters need --merge"
                .into(),
        });
    }
    let cluster_id = match args.cluster_id.as_slice() {
        [one] => one,
        _ => {
            return Err(AppError::InvalidInput {
                flag: "--cluster-id",
                message: "give one cluster id, or add --merge to merge several into a kubeconfig"
                    .into(),
            });
        }
    };
    let endpoint = wiring::cs_endpoint(settings)?;
    wiring::warn_if_cleartext(&endpoint, "ACK endpoint");
    let session = wiring::session(settings, args.role_arn.as_deref(), env)?;
    let credentials = session.credentials().map_err(|e| match e {
        AppError::Credentials(e) => AppError::GetCredential {
            cluster: cluster_id.clone(),
            error: Box::new(GetCredentialError::Credentials(e)),
        },
        other => other,
    })?;
    let ack = AckClient::new(session.client.clone(), endpoint, session.ctx.clock());
    let yaml = fetch(args, global, &session, &ack, &credentials, cluster_id)?;
    match &args.output {
        Some(path) => write_file(path, &yaml),
        None => crate::output::print(&yaml),
    }
}

/// One ACK call: the kubeconfig of `cluster_id` with its users rewritten to run this plugin.
fn fetch(
    args: &GetKubeconfigArgs,
    global: &GlobalArgs,
    session: &wiring::Session,
    ack: &AckClient,
    credentials: &ack_ram_domain::AccessCredentials,
    cluster_id: &ClusterId,
) -> Result<String, AppError> {
    let lifetime = args.expiration;
    let api_version = args.api_version;
    let request = IssueRequest {
        cluster_id: cluster_id.clone(),
        lifetime,
        private_address: args.private_address == Some(true),
    };
    let failed = |error: GetCredentialError| AppError::GetCredential {
        cluster: cluster_id.clone(),
        error: Box::new(error),
    };
    let body = session
        .runtime
        .block_on(ack.describe_user_kubeconfig(&request, credentials))
        .map_err(|e| failed(GetCredentialError::Issue(e)))?;
    let answer =
        parse_kubeconfig_answer(&body).map_err(|e| failed(GetCredentialError::Issue(e)))?;
    let exec = ExecSpec {
        command: "ack-ram-tool".into(),
        args: exec_args(args, global, args.mode, cluster_id, api_version, lifetime),
        api_version: api_version.group_version().into(),
        provide_cluster_info: false,
    };
    rewrite(answer.config.expose(), &exec).map_err(|e| {
        failed(GetCredentialError::Issue(
            ack_ram_domain::ports::IssueError::InvalidResponse(e.to_string()),
        ))
    })
}

/// Writes atomically (temp file in the same directory, fsync, rename) with mode 0600.
fn write_file(path: &std::path::Path, content: &str) -> Result<(), AppError> {
    let fail = |source: std::io::Error| AppError::Write {
        what: "kubeconfig",
        path: path.to_owned(),
        source,
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
        exec_args(
            &args,
            &global,
            mode,
            &args.cluster_id[0],
            ApiVersion::V1Beta1,
            args.expiration,
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
            Mode::Cert,
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
                "--role-arn",
                "acs:ram::1:role/dev",
                "--region-id",
                "cn-beijing",
                "--profile-file",
                "/etc/ack/creds",
                "--log-level",
                "error",
            ]
        );
    }

    /// Every flag at once: the Go tool's order (profile name, the two ignore switches, role,
    /// region, STS, CS, credential type), then ours (`--profile-file`), then the log level.
    #[test]
    fn all_flags_follow_the_go_tools_order() {
        let got = args_for(
            &[
                "-c",
                "c1",
                "--credential-type",
                "imds",
                "--cs-endpoint",
                "cs.example",
                "--sts-endpoint",
                "sts.example",
                "--region-id",
                "cn-beijing",
                "--role-arn",
                "acs:ram::1:role/dev",
                "--ignore-env-credentials",
                "--ignore-aliyun-cli-credentials",
                "--profile-file",
                "/etc/ack/creds",
                "--profile-name",
                "dev",
            ],
            Mode::Token,
        );
        assert_eq!(
            got[6..],
            [
                "--profile-name",
                "dev",
                "--ignore-aliyun-cli-credentials",
                "--ignore-env-credentials",
                "--role-arn",
                "acs:ram::1:role/dev",
                "--region-id",
                "cn-beijing",
                "--sts-endpoint",
                "sts.example",
                "--cs-endpoint",
                "cs.example",
                "--credential-type",
                "imds",
                "--profile-file",
                "/etc/ack/creds",
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
                "--ignore-env-credentials",
                "--sts-endpoint",
                "sts.example",
                "--credential-type",
                "imds",
                "--log-level",
                "error",
            ]
        );
        let mode = |m: &str| {
            crate::cli::Cli::try_parse_from(["ack-ram-tool", "get-kubeconfig", "-c", "c1", "-m", m])
                .map(|cli| match cli.command {
                    crate::cli::Command::GetKubeconfig(args) => args.mode,
                    _ => panic!("not get-kubeconfig"),
                })
        };
        assert!(mode("bogus").is_err());
        assert_eq!(mode("ram-authenticator-token").ok(), Some(Mode::Token));
        assert_eq!(mode("certificate").ok(), Some(Mode::Cert));
    }
}
