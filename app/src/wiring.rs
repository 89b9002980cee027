//! Turns settings into adapters: the credential chain's inputs, the cache key's identity inputs,
//! endpoints, HTTP settings. Shared by every command that needs credentials.

use crate::config::Settings;
use crate::error::AppError;
use ack_ram_adapters::context::Context;
use ack_ram_adapters::env::Environment;
use ack_ram_adapters::http::{Endpoint, HttpSettings};
use ack_ram_adapters::sources::{ChainInputs, ChainProvider, ProfileFile};
use ack_ram_adapters::store::identity as store_identity;
use ack_ram_adapters::sts::{self, StsClient};
use ack_ram_domain::ApiVersion;
use ack_ram_domain::IdentityInputs;
use ack_ram_domain::retry::RetryPolicy;
use std::path::PathBuf;
use std::sync::Arc;

/// Who the caller is, as selected by flags and configuration.
pub struct Identity {
    /// What the credential chain reads.
    pub chain: ChainInputs,
    /// What names the cache file (the Go tool's rule), and the fingerprint of what the
    /// environment selects, which binds the entry.
    pub cache: IdentityInputs,
}

/// Builds the chain inputs and the cache identity from settings and `--role-arn`. The
/// fingerprint reads a few variables of the snapshot and hashes them (no file, no network, no
/// credential chain), so the cache hit path pays for it.
pub fn identity(
    settings: &Settings,
    role_arn: Option<&str>,
    env: &Environment,
) -> Result<Identity, AppError> {
    let home = env.get("HOME");
    let raw_file = settings.profile_file.as_deref().filter(|p| !p.is_empty());
    let profile_file = raw_file
        .map(|raw| -> Result<ProfileFile, AppError> {
            Ok(ProfileFile::classify(expand_home(raw, home)?))
        })
        .transpose()?;
    let profile_name = settings.profile_name.clone().filter(|p| !p.is_empty());
    let role_arn = role_arn.filter(|r| !r.is_empty()).map(str::to_owned);
    let cache = IdentityInputs {
        role_arn: role_arn.clone().unwrap_or_default(),
        profile_name: profile_name.clone().unwrap_or_default(),
        ini_path: raw_file
            .filter(|p| !p.ends_with(".json"))
            .unwrap_or_default()
            .to_owned(),
        cli_config_path: raw_file
            .filter(|p| p.ends_with(".json"))
            .unwrap_or_default()
            .to_owned(),
        selected: store_identity::select(env, settings.credential_type),
    };
    let chain = ChainInputs {
        credential_type: settings.credential_type,
        profile_file,
        profile_name,
        ignore_env: settings.ignore_env_credentials,
        ignore_cli: settings.ignore_aliyun_cli_credentials,
        role_arn,
        session_name: session_name(env),
    };
    Ok(Identity { chain, cache })
}

/// The session name for `--role-arn` and environment roles: `ALIBABA_CLOUD_ROLE_SESSION_NAME`,
/// `ALICLOUD_ROLE_SESSION_NAME`, else the program name (as the Go tool does).
fn session_name(env: &Environment) -> String {
    env.first_of(&[
        "ALIBABA_CLOUD_ROLE_SESSION_NAME",
        "ALICLOUD_ROLE_SESSION_NAME",
    ])
    .map(|(_, v)| v.to_owned())
    .unwrap_or_else(|| "ack-ram-tool".to_owned())
}

/// The STS endpoint: `--sts-endpoint` / `ACK_RAM_TOOL_STS_ENDPOINT` (settings), else
/// `ALIBABA_CLOUD_STS_ENDPOINT`, else the region's.
pub fn sts_endpoint(settings: &Settings, env: &Environment) -> Result<Endpoint, AppError> {
    let explicit = settings
        .sts_endpoint
        .as_deref()
        .filter(|e| !e.is_empty())
        .or_else(|| env.get("ALIBABA_CLOUD_STS_ENDPOINT"));
    sts::resolve_endpoint(
        explicit,
        settings.region_id.as_ref(),
        false,
        env.get("ALIBABA_CLOUD_STS_HTTP_SCHEME"),
    )
    .map_err(|e| AppError::InvalidInput {
        flag: "--sts-endpoint",
        message: e.to_string(),
    })
}

/// The ACK endpoint: `--cs-endpoint` / `ACK_RAM_TOOL_CS_ENDPOINT` / `CS_ENDPOINT`, else the region's.
pub fn cs_endpoint(settings: &Settings) -> Result<Endpoint, AppError> {
    Ok(
        match settings.cs_endpoint.as_deref().filter(|e| !e.is_empty()) {
            Some(raw) => Endpoint::parse(raw)?,
            None => Endpoint::cs_for_region(settings.region_id.as_ref())?,
        },
    )
}

/// Warns when `endpoint` sends signed requests in cleartext over the network.
pub fn warn_if_cleartext(endpoint: &Endpoint, what: &str) {
    if endpoint.is_cleartext_remote() {
        tracing::warn!(
            "the {what} {endpoint} is plain http:// to a host that is not this machine: signed requests and security tokens travel unencrypted; use https://"
        );
    }
}

/// HTTP settings from configuration (timeouts are validated when it is loaded) and the proxy
/// variables of the environment snapshot.
pub fn http_settings(settings: &Settings) -> HttpSettings {
    let mut http = HttpSettings::new(user_agent());
    http.connect_timeout = settings.http_connect_timeout;
    http.timeout = settings.http_timeout;
    http
}

/// The ExecCredential version: `--api-version` when given; else the version kubectl asked for
/// in `KUBERNETES_EXEC_INFO` (so a v1 kubeconfig works without the flag); else v1beta1. A
/// malformed `KUBERNETES_EXEC_INFO` is ignored (debug log). stdin is never read.
pub fn api_version(explicit: Option<ApiVersion>, env: &Environment) -> ApiVersion {
    if let Some(version) = explicit {
        return version;
    }
    let Some(info) = env.get("KUBERNETES_EXEC_INFO") else {
        return ApiVersion::default();
    };
    let asked = serde_json::from_str::<serde_json::Value>(info)
        .ok()
        .and_then(|v| v.get("apiVersion")?.as_str().map(str::to_owned));
    match asked.as_deref().map(str::parse::<ApiVersion>) {
        Some(Ok(version)) => {
            tracing::debug!(%version, "API version from KUBERNETES_EXEC_INFO");
            version
        }
        _ => {
            tracing::debug!(
                "ignoring a KUBERNETES_EXEC_INFO without a known apiVersion; using v1beta1"
            );
            ApiVersion::default()
        }
    }
}

/// Which store caches certificates (parsed, selected and opened in the store module).
pub use ack_ram_adapters::store::StoreKind;

/// The retry policy for the ACK call.
pub fn retry_policy(settings: &Settings) -> RetryPolicy {
    RetryPolicy {
        max_attempts: settings.retry_max_attempts,
        deadline: settings.retry_deadline,
        ..RetryPolicy::default()
    }
}

/// The outside world the adapters of this run see: the environment snapshot, the real file
/// system and clock, and one HTTP client built on first use. Built only when something has to
/// be fetched (never on a cache hit).
pub fn context(http: HttpSettings, env: &Environment) -> Context {
    Context::new(env.clone(), http)
}

/// The credential chain, ready to resolve (nothing is fetched until it is asked), with STS at
/// `sts_endpoint` through the context's HTTP client.
pub fn chain(
    identity: &Identity,
    ctx: &Context,
    client: ack_ram_adapters::http::Client,
    sts_endpoint: Endpoint,
) -> ChainProvider {
    let sts = Arc::new(StsClient::new(client, sts_endpoint, ctx.clock()));
    ChainProvider::build(identity.chain.clone(), ctx.clone(), sts)
}

/// What a command needs to call Alibaba Cloud APIs as the resolved identity: a current-thread
/// runtime, one HTTP client, the credential chain and the STS endpoint.
pub struct Session {
    /// The outside world of this run (its clock is the one every client dates requests with).
    pub ctx: Context,
    pub runtime: tokio::runtime::Runtime,
    pub client: ack_ram_adapters::http::Client,
    pub chain: ChainProvider,
    pub sts_endpoint: Endpoint,
}

impl Session {
    /// Resolves credentials through the chain.
    pub fn credentials(&self) -> Result<ack_ram_domain::AccessCredentials, AppError> {
        use ack_ram_domain::ports::AccessCredentialProvider;
        let credentials = self
            .runtime
            .block_on(self.chain.provide())
            .map_err(AppError::Credentials)?;
        tracing::debug!(access_key_id = %credentials.access_key_id, sts = credentials.security_token.is_some(), "resolved credentials");
        Ok(credentials)
    }
}

/// Builds a [`Session`] for `--role-arn` and the settings.
pub fn session(
    settings: &Settings,
    role_arn: Option<&str>,
    env: &Environment,
) -> Result<Session, AppError> {
    let identity = identity(settings, role_arn, env)?;
    let sts_endpoint = sts_endpoint(settings, env)?;
    warn_if_cleartext(&sts_endpoint, "STS endpoint");
    let ctx = context(http_settings(settings), env);
    let client = ctx
        .http()
        .map_err(|e| AppError::Http(Arc::unwrap_or_clone(e)))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(AppError::Runtime)?;
    let chain = chain(&identity, &ctx, client.clone(), sts_endpoint.clone());
    Ok(Session {
        ctx,
        runtime,
        client,
        chain,
        sts_endpoint,
    })
}

/// Expands a leading `~` the way the Go tool does (`~/x` and `~x` both become `$HOME/x`).
pub fn expand_home(raw: &str, home: Option<&str>) -> Result<PathBuf, AppError> {
    match raw.strip_prefix('~') {
        None => Ok(PathBuf::from(raw)),
        Some(rest) => {
            let home = home.ok_or_else(|| AppError::NoHome {
                path: raw.to_owned(),
            })?;
            Ok(PathBuf::from(home).join(rest.trim_start_matches('/')))
        }
    }
}

/// `User-Agent` of every request.
pub fn user_agent() -> String {
    format!(
        "ack-ram-tool/{} (rust; {}/{})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_expansion_matches_the_go_tool() {
        let home = Some("/home/u");
        assert_eq!(
            expand_home("~/x/y", home).ok(),
            Some(PathBuf::from("/home/u/x/y"))
        );
        assert_eq!(
            expand_home("~x", home).ok(),
            Some(PathBuf::from("/home/u/x"))
        );
        assert_eq!(expand_home("~", home).ok(), Some(PathBuf::from("/home/u")));
        assert_eq!(expand_home("/abs", None).ok(), Some(PathBuf::from("/abs")));
        assert_eq!(
            expand_home("rel/dir", None).ok(),
            Some(PathBuf::from("rel/dir"))
        );
        assert!(expand_home("~/x", None).is_err());
    }

    fn settings() -> Settings {
        Settings::default()
    }

    #[test]
    fn profile_files_are_classified_and_named_raw_in_the_cache_key() {
        let env: Environment = [("HOME", "/home/u")].into_iter().collect();
        let mut s = settings();
        s.profile_file = Some("~/.aliyun/config.json".into());
        s.profile_name = Some("dev".into());
        let id = identity(&s, Some("acs:ram::1:role/x"), &env).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            id.chain.profile_file,
            Some(ProfileFile::AliyunCli(PathBuf::from(
                "/home/u/.aliyun/config.json"
            )))
        );
        assert_eq!(id.cache.cli_config_path, "~/.aliyun/config.json");
        assert_eq!(id.cache.ini_path, "");
        assert_eq!(id.cache.profile_name, "dev");
        assert_eq!(id.cache.role_arn, "acs:ram::1:role/x");
        s.profile_file = Some("/etc/ack/credentials".into());
        let id = identity(&s, None, &env).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            id.chain.profile_file,
            Some(ProfileFile::Ini(PathBuf::from("/etc/ack/credentials")))
        );
        assert_eq!(id.cache.ini_path, "/etc/ack/credentials");
    }

    #[test]
    fn the_environment_selected_identity_binds_the_cache_entry_but_not_its_go_name() {
        let with_key = |id: &str| -> Environment {
            [("HOME", "/home/u"), ("ALIBABA_CLOUD_ACCESS_KEY_ID", id)]
                .into_iter()
                .collect()
        };
        let a = identity(&settings(), None, &with_key("LTAI5tFirstAccessKeyId00"))
            .unwrap_or_else(|e| panic!("{e}"));
        let b = identity(&settings(), None, &with_key("LTAI5tOtherAccessKeyId11"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.cache.digest(), b.cache.digest(), "the same Go name");
        assert_ne!(a.cache.selected.fingerprint, b.cache.selected.fingerprint);
        assert_eq!(a.cache.selected.label, "env:LTAI…Id00");
        let mut imds = settings();
        imds.credential_type = ack_ram_adapters::sources::CredentialType::Imds;
        let c = identity(&imds, None, &with_key("LTAI5tFirstAccessKeyId00"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(a.cache.selected.fingerprint, c.cache.selected.fingerprint);
        let none =
            identity(&settings(), None, &Environment::default()).unwrap_or_else(|e| panic!("{e}"));
        assert!(none.cache.selected.is_default());
    }

    #[test]
    fn api_version_comes_from_the_flag_then_kubectl_then_the_default() {
        let info = |v: &str| -> Environment { [("KUBERNETES_EXEC_INFO", v)].into_iter().collect() };
        let v1 = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#;
        let v1beta1 = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{}}"#;
        assert_eq!(api_version(None, &info(v1)), ApiVersion::V1);
        assert_eq!(api_version(None, &info(v1beta1)), ApiVersion::V1Beta1);
        assert_eq!(
            api_version(Some(ApiVersion::V1Beta1), &info(v1)),
            ApiVersion::V1Beta1
        );
        assert_eq!(api_version(None, &info("{not json")), ApiVersion::V1Beta1);
        assert_eq!(
            api_version(
                None,
                &info(r#"{"apiVersion":"client.authentication.k8s.io/v1alpha1"}"#)
            ),
            ApiVersion::V1Beta1
        );
        assert_eq!(
            api_version(None, &Environment::default()),
            ApiVersion::V1Beta1
        );
    }
}

/// `KUBERNETES_EXEC_INFO` is whatever kubectl (or anything else) put in the environment, and
/// `--api-version` whatever was typed (clap parses it with `ApiVersion::from_str`): no panic, a
/// malformed value is ignored, never an error, and a refusal is short.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    const MAX_MESSAGE: usize = 4 * 1024;
    const VERSIONS: &[&str] = &[
        "client.authentication.k8s.io/v1",
        "client.authentication.k8s.io/v1beta1",
        "client.authentication.k8s.io/v1alpha1",
        "v1",
        "v1beta1",
        "",
    ];

    fn valid_info() -> String {
        json!({
            "kind": "ExecCredential",
            "apiVersion": "client.authentication.k8s.io/v1",
            "spec": {"interactive": false, "cluster": {
                "server": "https://192.168.0.10:6443",
                "certificate-authority-data": "Q0E=",
                "config": {"arbitrary": ["x", 1, null]},
            }},
        })
        .to_string()
    }

    fn exec_info() -> BoxedStrategy<String> {
        let valid = valid_info();
        let cut = valid.clone();
        let version = prop_oneof![
            4 => proptest::sample::select(VERSIONS).prop_map(|v| json!(v)),
            1 => any::<String>().prop_map(Value::String),
            1 => any::<i64>().prop_map(Value::from),
            1 => Just(Value::Null),
        ];
        prop_oneof![
            3 => (version, any::<bool>(), any::<String>()).prop_map(|(version, interactive, server)| {
                json!({
                    "kind": "ExecCredential",
                    "apiVersion": version,
                    "spec": {"interactive": interactive, "cluster": {"server": server}},
                })
                .to_string()
            }),
            2 => (0..=cut.len()).prop_map(move |n| cut[..n].to_owned()),
            1 => any::<String>(),
            1 => (1..4096usize).prop_map(|n| "[".repeat(n) + &"]".repeat(n)),
            1 => (1..4096usize).prop_map(|n| "{\"apiVersion\":".repeat(n)),
            1 => Just(valid),
        ]
        .boxed()
    }

    fn config() -> ProptestConfig {
        ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn exec_info_never_panics_and_is_never_an_error(info in exec_info()) {
            let env: Environment = [("KUBERNETES_EXEC_INFO", info.as_str())].into_iter().collect();
            let got = api_version(None, &env);
            let asked = serde_json::from_str::<Value>(&info)
                .ok()
                .and_then(|v| v.get("apiVersion")?.as_str()?.parse::<ApiVersion>().ok());
            prop_assert_eq!(got, asked.unwrap_or_default());
        }

        #[test]
        fn explicit_versions_are_parsed_or_refused_shortly(
            flag in prop_oneof![
                proptest::sample::select(VERSIONS).prop_map(str::to_owned),
                any::<String>(),
                (0..65_536usize, any::<char>()).prop_map(|(n, c)| c.to_string().repeat(n)),
            ]
        ) {
            match flag.parse::<ApiVersion>() {
                Ok(version) => prop_assert!(
                    flag == version.short() || flag == version.group_version()
                ),
                Err(error) => {
                    let message = error.to_string();
                    // The refused value is quoted whole (Debug-escaped, up to 6 bytes a byte):
                    // it is the user's own flag.
                    prop_assert!(message.len() <= MAX_MESSAGE + 6 * flag.len());
                    prop_assert!(!message.chars().any(char::is_control), "{message:?}");
                }
            }
        }
    }
}
