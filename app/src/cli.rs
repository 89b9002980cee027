//! The command line, compatible with the Go `ack-ram-tool`: same commands, flags, short forms
//! and boolean spellings, so existing kubeconfigs keep working.

use crate::logging::LogLevel;
use ack_ram_adapters::sources::CredentialType;
use ack_ram_adapters::store::StoreKind;
use ack_ram_domain::{ApiVersion, CertificateLifetime, ClusterId, RegionId};
use clap::{Args, Parser, Subcommand, ValueEnum};

pub mod fast;

/// The names `--credential-type` offers.
const CREDENTIAL_TYPES: [&str; 4] = ["auto", "imds", "ecs-role", "keyring"];

/// The Alibaba Cloud ACK credential plugin for kubectl.
#[derive(Debug, Parser)]
#[command(
    name = "ack-ram-tool",
    version,
    about = "kubectl credential plugin for Alibaba Cloud ACK",
    arg_required_else_help = true,
    long_about = "kubectl credential plugin for Alibaba Cloud ACK (Container Service for Kubernetes).\n\nResolves your Alibaba Cloud identity, asks the ACK API for a short-lived client certificate for a cluster, caches it, and prints it as an ExecCredential for kubectl. A drop-in replacement for the Go `ack-ram-tool credential-plugin`."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted before or after any subcommand. Serialised (given flags only) as the
/// top layer of the configuration; field names are the config keys. Help lists them under
/// their own heading, apart from the options of the command itself.
#[derive(Debug, Default, Args, serde::Serialize)]
#[command(next_help_heading = "Global options (credentials, endpoints, logging, cache)")]
pub struct GlobalArgs {
    /// Region of the cluster; selects cs.<region>.aliyuncs.com [env: ACK_RAM_TOOL_REGION_ID]
    #[arg(long, global = true, value_name = "REGION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_id: Option<RegionId>,
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
    /// auto (the credential chain), imds / ecs-role (the ECS instance RAM role only) or keyring (an AccessKey in the OS keychain) [env: ACK_RAM_TOOL_CREDENTIAL_TYPE]
    #[arg(long, global = true, value_name = "TYPE", ignore_case = true, value_parser = one_of::<CredentialType>(&CREDENTIAL_TYPES))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_type: Option<CredentialType>,
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
    /// debug, info, warn (warning) or error [env: ACK_RAM_TOOL_LOG_LEVEL]
    #[arg(long, global = true, value_name = "LEVEL", ignore_case = true, value_parser = one_of::<LogLevel>(&LogLevel::NAMES))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<LogLevel>,
    /// Same as --log-level debug [env: ACK_RAM_TOOL_VERBOSE]
    #[arg(short = 'v', long, global = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verbose: Option<bool>,
    /// Where certificates are cached: file (the Go tool's files), keyring (OS keychain), auto (keyring when one answers, else file), none [env: ACK_RAM_TOOL_CACHE_STORE]
    #[arg(long, global = true, value_name = "STORE", ignore_case = true, value_parser = one_of::<StoreKind>(&StoreKind::NAMES))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_store: Option<StoreKind>,
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
    /// Print the resolved credentials for other tools, or run a command with them
    #[command(long_about = EXPORT_CREDENTIALS_ABOUT)]
    ExportCredentials(ExportCredentialsArgs),
    /// Print the version, the git commit and the target this binary was built for
    Version(VersionArgs),
    /// Check the setup (credentials, identity, clock, ACK access, proxy, cache, keychain, kubeconfigs) and say how to fix what fails
    Doctor(DoctorArgs),
}

/// Flags of `doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Also check that the identity may see this cluster (DescribeClusterDetail: read-only, issues no certificate)
    #[arg(short = 'c', long, value_name = "ID")]
    pub cluster_id: Option<ClusterId>,
    /// Assume this RAM role (by ARN) on top of the resolved credentials, as the kubeconfig does
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// Cache directory to check [default: ~/.kube/cache/ack-ram-tool/credential-plugin] [env: ACK_RAM_TOOL_CREDENTIAL_CACHE_DIR]
    #[arg(long, value_name = "DIR")]
    pub credential_cache_dir: Option<String>,
    /// Output format: one line per check, or a JSON array of {check, status, finding, fix}
    #[arg(short = 'o', long, value_name = "FORMAT", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Flags of `version`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Output format
    #[arg(short = 'o', long, value_name = "FORMAT", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

const EXPORT_CREDENTIALS_ABOUT: &str = "Print the resolved credentials for other tools, or run a command with them.

Credentials are resolved like every other command does (the credential chain, then --role-arn on top), afresh on every run: nothing is cached.

With `-- CMD [ARGS...]` CMD runs with stdin, stdout and stderr inherited and the credentials in its environment: ALIBABA_CLOUD_*, ALIBABACLOUD_*, ALICLOUD_* and ALIYUN_LOG_CLI_* variables and ALIBABACLOUD_IGNORE_PROFILE=TRUE; with an AccessKey (no token) the token variables inherited from this environment are removed. The exit code is CMD's (128+N when signal N killed it).

Unlike the Go tool: an unknown --format is refused; Expiration is the credentials' real expiry when the source states one (else now + 10 minutes); ALICLOUD_SECRET_KEY holds the AccessKey secret, never its id; the environment-variables text is safe to eval (headings are # comments, values single-quoted; with an AccessKey it unsets stale token variables); the INI output is read back by this tool; -- CMD runs whatever the format, unless another format is named; and CMD's exit code is passed on.";

/// Flags of `export-credentials`.
#[derive(Debug, Args)]
pub struct ExportCredentialsArgs {
    /// Output format [default: aliyun-cli-config-json]
    #[arg(short = 'f', long, value_name = "FORMAT", value_enum)]
    pub format: Option<ExportFormat>,
    /// Assume this RAM role (by ARN) on top of the resolved credentials
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// Run this command with the credentials in its environment (put `--` before it)
    #[arg(value_name = "CMD", trailing_var_arg = true)]
    pub command: Vec<std::ffi::OsString>,
}

/// What `export-credentials` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// An aliyun CLI profile (mode, access_key_id, access_key_secret, sts_token) for `External` profiles (alias: aliyuncli-json)
    #[value(name = "aliyun-cli-config-json", alias = "aliyuncli-json")]
    AliyunCliConfigJson,
    /// A credentials-URI answer (Code, AccessKeyId, AccessKeySecret, SecurityToken, Expiration) (alias: aliyuncli-uri)
    #[value(name = "aliyun-cli-uri-json", alias = "aliyuncli-uri")]
    AliyunCliUriJson,
    /// The ECS metadata service's answer: the same document (alias: ecs)
    #[value(name = "ecs-metadata-json", alias = "ecs")]
    EcsMetadataJson,
    /// A [default] section of ~/.alibabacloud/credentials (alias: ini)
    #[value(name = "credential-file-ini", alias = "ini")]
    CredentialFileIni,
    /// export lines for a POSIX shell, safe to eval (alias: env)
    #[value(name = "environment-variables", alias = "env")]
    EnvironmentVariables,
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
    /// Output format
    #[arg(short = 'o', long, value_name = "FORMAT", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// How a command prints what it found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned text for a person.
    Text,
    /// JSON for scripts.
    Json,
}

/// A command group: without a subcommand it prints its help on stderr and exits 1, like the
/// top level does.
#[derive(Debug, Args)]
#[command(arg_required_else_help = true)]
pub struct CredentialPluginArgs {
    #[command(subcommand)]
    pub command: PluginCommand,
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
    /// The ACK cluster id (repeatable with --merge)
    #[arg(
        short = 'c',
        long,
        value_name = "ID",
        required_unless_present = "all_clusters"
    )]
    pub cluster_id: Vec<ClusterId>,
    /// Assume this RAM role (by ARN) for the call now and in the generated kubeconfig
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// Certificate lifetime for the kubeconfig's exec entry (and this call): 15m to 72h, or 0
    #[arg(long, value_name = "DURATION", default_value = "3h0m0s")]
    pub expiration: CertificateLifetime,
    /// Use the cluster's private (VPC) API server address
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub private_address: Option<bool>,
    /// cert (client certificates) or token (ack-ram-authenticator tokens)
    #[arg(short = 'm', long, value_name = "MODE", value_enum, default_value_t = KubeconfigMode::Cert)]
    pub mode: KubeconfigMode,
    /// ExecCredential API version written into the kubeconfig: v1 or v1beta1
    #[arg(long, value_name = "VERSION", default_value = "v1beta1")]
    pub api_version: ApiVersion,
    /// Cache directory written into the kubeconfig's exec entry, as typed
    #[arg(
        long,
        value_name = "DIR",
        default_value = "~/.kube/cache/ack-ram-tool/credential-plugin"
    )]
    pub credential_cache_dir: String,
    /// Write the kubeconfig to FILE (atomically, mode 0600) instead of stdout
    #[arg(short = 'o', long, value_name = "FILE", conflicts_with = "merge")]
    pub output: Option<std::path::PathBuf>,
    /// Merge the cluster, user and context into the kubeconfig kubectl uses (the first path of $KUBECONFIG, else ~/.kube/config), keeping everything else in it; the previous file goes to <file>.bak
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub merge: Option<bool>,
    /// With --merge: the kubeconfig file to merge into
    #[arg(long, value_name = "PATH", requires = "merge")]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// With --merge: make the merged context the current context (one cluster only)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL", requires = "merge")]
    pub set_context: Option<bool>,
    /// With --merge: the name of the cluster, user and context (one cluster only) [default: <cluster name>-<cluster id>]
    #[arg(long, value_name = "NAME", requires = "merge")]
    pub context_name: Option<String>,
    /// With --merge: merge every cluster the identity can list (DescribeClustersV1)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL", requires = "merge", conflicts_with = "cluster_id")]
    pub all_clusters: Option<bool>,
}

/// What the users of a generated kubeconfig authenticate with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KubeconfigMode {
    /// Client certificates (`get-credential`).
    #[value(alias = "certificate")]
    Cert,
    /// ack-ram-authenticator tokens (`get-token`).
    #[value(alias = "ram-authenticator-token")]
    Token,
}

/// Flags of `get-token`.
#[derive(Debug, Args)]
pub struct GetTokenArgs {
    /// The ACK cluster id
    #[arg(short = 'c', long, value_name = "ID")]
    pub cluster_id: ClusterId,
    /// Assume this RAM role (by ARN) on top of the resolved credentials
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// ExecCredential API version: v1 or v1beta1 [default: what kubectl asks for, else v1beta1]
    #[arg(long, value_name = "VERSION")]
    pub api_version: Option<ApiVersion>,
}

/// Flags of `credential-plugin get-credential`.
#[derive(Debug, Args)]
pub struct GetCredentialArgs {
    /// The ACK cluster id
    #[arg(short = 'c', long, value_name = "ID")]
    pub cluster_id: ClusterId,
    /// Assume this RAM role (by ARN) on top of the resolved credentials
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// Certificate lifetime as a Go duration: 15m to 72h in whole minutes, or 0 for the server default
    #[arg(long, value_name = "DURATION", default_value = "3h0m0s")]
    pub expiration: CertificateLifetime,
    /// ExecCredential API version: v1 or v1beta1 [default: what kubectl asks for, else v1beta1]
    #[arg(long, value_name = "VERSION")]
    pub api_version: Option<ApiVersion>,
    /// Cache directory [default: ~/.kube/cache/ack-ram-tool/credential-plugin] [env: ACK_RAM_TOOL_CREDENTIAL_CACHE_DIR]
    #[arg(long, value_name = "DIR")]
    pub credential_cache_dir: Option<String>,
    /// Fetch a new certificate even if a fresh one is cached (it is then cached as usual; concurrent callers still share one refresh) [env: ACK_RAM_TOOL_FORCE_REFRESH]
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub force_refresh: Option<bool>,
}

/// A parser that offers `names` (for help and shell completion, any case) and turns the
/// chosen one into `T` with its `FromStr`.
fn one_of<T>(names: &'static [&'static str]) -> impl clap::builder::TypedValueParser<Value = T>
where
    T: std::str::FromStr + Clone + Send + Sync + 'static,
    T::Err: std::fmt::Display,
{
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(names.iter().copied())
        .try_map(|name| name.parse::<T>().map_err(|e| e.to_string()))
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
        assert_eq!(
            cli.global.region_id.as_ref().map(RegionId::as_str),
            Some("cn-beijing")
        );
        assert_eq!(cli.global.ignore_env_credentials, Some(true));
        assert_eq!(cli.global.verbose, Some(false));
        assert_eq!(cli.global.log_level, Some(LogLevel::Error));
        let Command::CredentialPlugin(CredentialPluginArgs {
            command: PluginCommand::GetCredential(args),
        }) = cli.command
        else {
            panic!("wrong subcommand")
        };
        assert_eq!(args.cluster_id.as_str(), "c1234");
        assert_eq!(args.expiration.to_string(), "3h0m0s");
        assert_eq!(args.api_version, None);
    }

    #[test]
    fn a_bare_bool_flag_does_not_swallow_the_next_word() {
        let cli = parse(&["-v", "credential-plugin", "get-credential", "-c", "x"]);
        assert!(cli.is_ok_and(|c| c.global.verbose == Some(true)));
        assert!(parse(&["--verbose=maybe", "credential-plugin"]).is_err());
    }
}
