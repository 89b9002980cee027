//! The command line, compatible with the Go `ack-ram-tool`: same commands, flags, short forms
//! and boolean spellings, so existing kubeconfigs keep working.

use clap::{Args, Parser, Subcommand};

/// The Alibaba Cloud ACK credential plugin for kubectl.
#[derive(Debug, Parser)]
#[command(
    name = "ack-ram-tool",
    version,
    about = "kubectl credential plugin for Alibaba Cloud ACK",
    long_about = "kubectl credential plugin for Alibaba Cloud ACK (Container Service for Kubernetes).\n\nResolves your Alibaba Cloud identity, asks the ACK API for a short-lived client certificate for a cluster, caches it, and prints it as an ExecCredential for kubectl. A drop-in replacement for the Go `ack-ram-tool credential-plugin`."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted before or after any subcommand. Serialised (given flags only) as the
/// top layer of the configuration; field names are the config keys.
#[derive(Debug, Default, Args, serde::Serialize)]
pub struct GlobalArgs {
    /// Region of the cluster; selects cs.<region>.aliyuncs.com [env: ACK_RAM_TOOL_REGION_ID]
    #[arg(long, global = true, value_name = "REGION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_id: Option<String>,
    /// aliyun CLI config.json (ends in .json) or INI credentials file [env: ACK_RAM_TOOL_PROFILE_FILE]
    #[arg(long, global = true, value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_file: Option<String>,
    /// Profile to use in the aliyun CLI config [env: ACK_RAM_TOOL_PROFILE_NAME]
    #[arg(long, global = true, value_name = "NAME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_name: Option<String>,
    /// Skip credentials from environment variables [env: ACK_RAM_TOOL_IGNORE_ENV_CREDENTIALS]
    #[arg(long, global = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignore_env_credentials: Option<bool>,
    /// Skip ~/.aliyun/config.json [env: ACK_RAM_TOOL_IGNORE_ALIYUN_CLI_CREDENTIALS]
    #[arg(long, global = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignore_aliyun_cli_credentials: Option<bool>,
    /// auto (the credential chain) or imds / ecs-role [env: ACK_RAM_TOOL_CREDENTIAL_TYPE]
    #[arg(long, global = true, value_name = "TYPE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_type: Option<String>,
    /// STS endpoint: host[:port] or URL [env: ACK_RAM_TOOL_STS_ENDPOINT]
    #[arg(long, global = true, value_name = "ENDPOINT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sts_endpoint: Option<String>,
    /// ACK (CS) OpenAPI endpoint: host[:port] (HTTPS) or an https:// or http:// URL [env: ACK_RAM_TOOL_CS_ENDPOINT, CS_ENDPOINT]
    #[arg(long, global = true, value_name = "ENDPOINT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cs_endpoint: Option<String>,
    /// RAM endpoint (accepted for compatibility; unused by these commands) [env: ACK_RAM_TOOL_RAM_ENDPOINT]
    #[arg(long, global = true, value_name = "ENDPOINT", hide = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ram_endpoint: Option<String>,
    /// debug, info, warn or error [env: ACK_RAM_TOOL_LOG_LEVEL]
    #[arg(long, global = true, value_name = "LEVEL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// Same as --log-level debug [env: ACK_RAM_TOOL_VERBOSE]
    #[arg(short = 'v', long, global = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verbose: Option<bool>,
    /// Where certificates are cached: file (the Go tool's files), keyring (OS keychain), auto (keyring when one answers, else file), none [env: ACK_RAM_TOOL_CACHE_STORE]
    #[arg(long, global = true, value_name = "STORE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_store: Option<String>,
    /// Answer yes to prompts (accepted for compatibility; these commands never prompt)
    #[arg(short = 'y', long, global = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL", hide = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assume_yes: Option<bool>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// kubectl credential plugin commands
    CredentialPlugin(CredentialPluginArgs),
    /// Alibaba Cloud identity commands
    Auth(AuthArgs),
    /// Same as `credential-plugin get-kubeconfig`
    GetKubeconfig(GetKubeconfigArgs),
    /// Print a shell completion script
    Completion(CompletionArgs),
    /// AccessKeys held in the OS keychain
    Keyring(KeyringArgs),
}

#[derive(Debug, Args)]
pub struct KeyringArgs {
    #[command(subcommand)]
    pub command: KeyringCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeyringCommand {
    /// Store an AccessKey for a profile (prompted without echo, or read from stdin: id then secret, one per line)
    SetAccessKey {
        /// The profile name (use it with --credential-type keyring --profile-name NAME)
        #[arg(long, value_name = "NAME")]
        profile: String,
        /// The AccessKey id (else prompted or read from stdin)
        #[arg(long, value_name = "ID")]
        access_key_id: Option<String>,
    },
    /// List the profiles held in the keychain (never secrets)
    List,
    /// Delete a profile's AccessKey from the keychain
    Delete {
        /// The profile name
        #[arg(long, value_name = "NAME")]
        profile: String,
    },
}

/// `credential-plugin cache` commands.
#[derive(Debug, Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub command: CacheCommand,
    /// Cache directory [default: ~/.kube/cache/ack-ram-tool/credential-plugin]
    #[arg(long, global = true, value_name = "DIR")]
    pub credential_cache_dir: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List cached certificates in every store (never key material)
    List,
    /// Remove cached certificates from disk and keychain alike
    Clear {
        /// Only this cluster's
        #[arg(short = 'c', long, value_name = "ID")]
        cluster_id: Option<String>,
    },
}

/// Flags of `completion`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct AuthArgs {
    #[command(subcommand)]
    pub command: AuthCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Show which Alibaba Cloud identity the credential chain resolves to (STS GetCallerIdentity)
    Whoami(WhoamiArgs),
}

/// Flags of `auth whoami`.
#[derive(Debug, Args)]
pub struct WhoamiArgs {
    /// Assume this RAM role (by ARN) on top of the resolved credentials first
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// Output format: text or json
    #[arg(short = 'o', long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub output: String,
}

#[derive(Debug, Args)]
pub struct CredentialPluginArgs {
    #[command(subcommand)]
    pub command: Option<PluginCommand>,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Print an ExecCredential with a client certificate for a cluster (what kubectl runs)
    GetCredential(GetCredentialArgs),
    /// Print a kubeconfig for a cluster whose users run this plugin
    GetKubeconfig(GetKubeconfigArgs),
    /// Print an ExecCredential with an ack-ram-authenticator token (token-mode kubeconfigs)
    GetToken(GetTokenArgs),
    /// Inspect or clear the certificate cache
    Cache(CacheArgs),
}

/// Flags of `get-kubeconfig`.
#[derive(Debug, Args)]
pub struct GetKubeconfigArgs {
    /// The ACK cluster id
    #[arg(short = 'c', long, value_name = "ID")]
    pub cluster_id: String,
    /// Assume this RAM role (by ARN) for the call now and in the generated kubeconfig
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// Certificate lifetime for the kubeconfig's exec entry (and this call): 15m to 72h, or 0
    #[arg(long, value_name = "DURATION", default_value = "3h0m0s")]
    pub expiration: String,
    /// Use the cluster's private (VPC) API server address
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub private_address: Option<bool>,
    /// cert (client certificates) or token (ack-ram-authenticator tokens)
    #[arg(short = 'm', long, value_name = "MODE", default_value = "cert")]
    pub mode: String,
    /// ExecCredential API version written into the kubeconfig: v1 or v1beta1
    #[arg(long, value_name = "VERSION", default_value = "v1beta1")]
    pub api_version: String,
    /// Cache directory written into the kubeconfig's exec entry, as typed
    #[arg(
        long,
        value_name = "DIR",
        default_value = "~/.kube/cache/ack-ram-tool/credential-plugin"
    )]
    pub credential_cache_dir: String,
    /// Write the kubeconfig to FILE (atomically, mode 0600) instead of stdout
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
}

/// Flags of `get-token`.
#[derive(Debug, Args)]
pub struct GetTokenArgs {
    /// The ACK cluster id
    #[arg(short = 'c', long, value_name = "ID")]
    pub cluster_id: String,
    /// Assume this RAM role (by ARN) on top of the resolved credentials
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// ExecCredential API version: v1 or v1beta1 [default: what kubectl asks for, else v1beta1]
    #[arg(long, value_name = "VERSION")]
    pub api_version: Option<String>,
}

/// Flags of `credential-plugin get-credential`.
#[derive(Debug, Args)]
pub struct GetCredentialArgs {
    /// The ACK cluster id
    #[arg(short = 'c', long, value_name = "ID")]
    pub cluster_id: String,
    /// Assume this RAM role (by ARN) on top of the resolved credentials
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// Certificate lifetime as a Go duration: 15m to 72h in whole minutes, or 0 for the server default
    #[arg(long, value_name = "DURATION", default_value = "3h0m0s")]
    pub expiration: String,
    /// ExecCredential API version: v1 or v1beta1 [default: what kubectl asks for, else v1beta1]
    #[arg(long, value_name = "VERSION")]
    pub api_version: Option<String>,
    /// Cache directory [default: ~/.kube/cache/ack-ram-tool/credential-plugin] [env: ACK_RAM_TOOL_CREDENTIAL_CACHE_DIR]
    #[arg(long, value_name = "DIR")]
    pub credential_cache_dir: Option<String>,
}

/// Go's `strconv.ParseBool` spellings.
pub fn parse_go_bool(value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        other => Err(format!(
            "{other:?} is not a boolean; use true or false (also 1/0, t/f)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("ack-ram-tool").chain(args.iter().copied()))
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_anywhere_and_bools_take_go_spellings() {
        let cli = parse(&[
            "--region-id",
            "cn-beijing",
            "credential-plugin",
            "get-credential",
            "-cc1234",
            "--ignore-env-credentials",
            "--verbose=F",
            "--log-level=error",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cli.global.region_id.as_deref(), Some("cn-beijing"));
        assert_eq!(cli.global.ignore_env_credentials, Some(true));
        assert_eq!(cli.global.verbose, Some(false));
        assert_eq!(cli.global.log_level.as_deref(), Some("error"));
        let Command::CredentialPlugin(CredentialPluginArgs {
            command: Some(PluginCommand::GetCredential(args)),
        }) = cli.command
        else {
            panic!("wrong subcommand")
        };
        assert_eq!(args.cluster_id, "c1234");
        assert_eq!(args.expiration, "3h0m0s");
        assert_eq!(args.api_version, None);
    }

    #[test]
    fn a_bare_bool_flag_does_not_swallow_the_next_word() {
        let cli = parse(&["-v", "credential-plugin", "get-credential", "-c", "x"]);
        assert!(cli.is_ok_and(|c| c.global.verbose == Some(true)));
        assert!(parse(&["--verbose=maybe", "credential-plugin"]).is_err());
    }
}
