//! `credential-plugin get-credential`: what kubectl runs before every connection.
//!
//! Inputs are validated first (cluster id, lifetime, API version, endpoint), before any file or
//! network access. Then the use case's cheap lookup runs; only on a miss are the HTTP client,
//! the async runtime and the credential source set up.

use crate::cli::GetCredentialArgs;
use crate::config::Settings;
use crate::error::AppError;
use ack_ram_adapters::ack::AckClient;
use ack_ram_adapters::clock::SystemClock;
use ack_ram_adapters::env::Environment;
use ack_ram_adapters::http::{self, Endpoint, HttpSettings};
use ack_ram_adapters::sources::EnvCredentialProvider;
use ack_ram_adapters::store::FileStore;
use ack_ram_domain::ports::{
    Clock, ClusterCredentialIssuer, CredentialStore, IssueError, IssueRequest,
};
use ack_ram_domain::service::{
    GetCredential, GetCredentialRequest, Lookup, Origin, RefreshReason, Served,
};
use ack_ram_domain::{
    AccessCredentials, ApiVersion, CacheKey, CertificateLifetime, ClusterCredential, ClusterId,
    ExecCredential, IdentityInputs,
};
use async_trait::async_trait;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Everything the command needs, validated.
struct Plan {
    request: GetCredentialRequest,
    cache_dir: PathBuf,
    endpoint: Endpoint,
    http: HttpSettings,
}

fn plan(
    args: &GetCredentialArgs,
    settings: &Settings,
    env: &Environment,
) -> Result<Plan, AppError> {
    let cluster_id = ClusterId::parse(&args.cluster_id).map_err(|e| AppError::InvalidInput {
        flag: "--cluster-id",
        message: e.to_string(),
    })?;
    let lifetime =
        CertificateLifetime::parse(&args.expiration).map_err(|e| AppError::InvalidInput {
            flag: "--expiration",
            message: e.to_string(),
        })?;
    let api_version: ApiVersion =
        args.api_version
            .parse()
            .map_err(
                |e: ack_ram_domain::model::ApiVersionError| AppError::InvalidInput {
                    flag: "--api-version",
                    message: e.to_string(),
                },
            )?;
    refuse_not_yet_supported(args, settings)?;
    let endpoint = match &settings.cs_endpoint {
        Some(raw) => Endpoint::parse(raw)?,
        None => Endpoint::cs_for_region(settings.region_id.as_deref())?,
    };
    let cache_dir = expand_home(&settings.credential_cache_dir, env.get("HOME"))?;
    for (key, value) in [
        ("http_connect_timeout_ms", settings.http_connect_timeout_ms),
        ("http_timeout_ms", settings.http_timeout_ms),
    ] {
        if value == 0 {
            return Err(AppError::InvalidInput {
                flag: key,
                message: "must be a positive number of milliseconds".into(),
            });
        }
    }
    let mut http = HttpSettings::new(user_agent());
    http.connect_timeout = Duration::from_millis(settings.http_connect_timeout_ms);
    http.timeout = Duration::from_millis(settings.http_timeout_ms);
    Ok(Plan {
        request: GetCredentialRequest {
            key: CacheKey {
                cluster_id,
                api_version,
                identity: IdentityInputs::default(),
            },
            lifetime,
        },
        cache_dir,
        endpoint,
        http,
    })
}

/// Flags whose behaviour lands with the credential-chain work: refused by name, never ignored.
fn refuse_not_yet_supported(args: &GetCredentialArgs, settings: &Settings) -> Result<(), AppError> {
    let refuse = |flag: &str, what: &'static str| {
        Err(AppError::NotYetSupported {
            flag: flag.to_owned(),
            what,
        })
    };
    if args.role_arn.as_deref().is_some_and(|r| !r.is_empty()) {
        return refuse("--role-arn", "assuming a RAM role");
    }
    if settings
        .profile_file
        .as_deref()
        .is_some_and(|p| !p.is_empty())
    {
        return refuse(
            "--profile-file (or ACK_RAM_TOOL_PROFILE_FILE)",
            "credentials from an aliyun CLI or INI file",
        );
    }
    if settings
        .profile_name
        .as_deref()
        .is_some_and(|p| !p.is_empty())
    {
        return refuse(
            "--profile-name (or ACK_RAM_TOOL_PROFILE_NAME)",
            "aliyun CLI profiles",
        );
    }
    if !settings.credential_type.eq_ignore_ascii_case("auto")
        && !settings.credential_type.is_empty()
    {
        return refuse(
            &format!("--credential-type {}", settings.credential_type),
            "credential types other than auto",
        );
    }
    if settings.ignore_env_credentials {
        return refuse(
            "--ignore-env-credentials (or ACK_RAM_TOOL_IGNORE_ENV_CREDENTIALS)",
            "environment variables are the only credential source so far",
        );
    }
    if settings.ignore_aliyun_cli_credentials {
        return refuse(
            "--ignore-aliyun-cli-credentials (or ACK_RAM_TOOL_IGNORE_ALIYUN_CLI_CREDENTIALS)",
            "the aliyun CLI credential source",
        );
    }
    Ok(())
}

/// Expands a leading `~` the way the Go tool does (`~/x` and `~x` both become `$HOME/x`).
fn expand_home(raw: &str, home: Option<&str>) -> Result<PathBuf, AppError> {
    match raw.strip_prefix('~') {
        None => Ok(PathBuf::from(raw)),
        Some(rest) => {
            let home = home.ok_or_else(|| {
                AppError::Environment(format!(
                    "cannot expand ~ in the cache directory {raw:?}: HOME is not set; set HOME or pass an absolute --credential-cache-dir"
                ))
            })?;
            Ok(PathBuf::from(home).join(rest.trim_start_matches('/')))
        }
    }
}

fn user_agent() -> String {
    format!(
        "ack-ram-tool/{} (rust; {}/{})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// Runs the command: prints the ExecCredential on stdout.
pub fn run(
    args: &GetCredentialArgs,
    settings: &Settings,
    env: &Environment,
) -> Result<(), AppError> {
    let plan = plan(args, settings, env)?;
    let store = FileStore::new(&plan.cache_dir);
    let clock = SystemClock;
    let use_case = GetCredential::new(&store, &clock);
    let cluster = plan.request.key.cluster_id.clone();

    let served = match use_case.lookup(&plan.request) {
        Lookup::Hit(credential) => Served {
            credential,
            origin: Origin::Cache,
        },
        Lookup::Refresh { reason, fallback } => {
            match &reason {
                RefreshReason::StoreUnreadable(e) => {
                    tracing::warn!("{e}; fetching a new certificate instead")
                }
                other => tracing::debug!(reason = ?other, "fetching a new certificate"),
            }
            refresh(&use_case, &plan, fallback, env).map_err(|error| match error {
                RefreshFailure::App(e) => e,
                RefreshFailure::UseCase(error) => AppError::GetCredential {
                    cluster: cluster.clone(),
                    error: Box::new(error),
                },
            })?
        }
    };
    report(&served, &store, &plan, clock.now());
    print(&ExecCredential::new(
        plan.request.key.api_version,
        served.credential,
    ))
}

enum RefreshFailure {
    App(AppError),
    UseCase(ack_ram_domain::service::GetCredentialError),
}

fn refresh(
    use_case: &GetCredential<'_>,
    plan: &Plan,
    fallback: Option<ClusterCredential>,
    env: &Environment,
) -> Result<Served, RefreshFailure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RefreshFailure::App(AppError::Runtime(e)))?;
    runtime.block_on(async {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let issuer: Box<dyn ClusterCredentialIssuer> = match http::build_client(&plan.http) {
            Ok(client) => Box::new(AckClient::new(client, plan.endpoint.clone(), clock)),
            Err(e) => Box::new(Unavailable(IssueError::Transport {
                endpoint: plan.endpoint.to_string(),
                message: e.to_string(),
            })),
        };
        let provider = EnvCredentialProvider::new(env.clone());
        use_case
            .refresh(&plan.request, fallback, &provider, issuer.as_ref())
            .await
            .map_err(RefreshFailure::UseCase)
    })
}

/// Stands in for the ACK client when no HTTP client could be built, so a still-valid cached
/// certificate is served all the same.
struct Unavailable(IssueError);

#[async_trait]
impl ClusterCredentialIssuer for Unavailable {
    async fn issue(
        &self,
        _request: &IssueRequest,
        _credentials: &AccessCredentials,
    ) -> Result<ClusterCredential, IssueError> {
        Err(self.0.clone())
    }
}

fn report(
    served: &Served,
    store: &dyn CredentialStore,
    plan: &Plan,
    now: chrono::DateTime<chrono::Utc>,
) {
    let expires = served
        .credential
        .expiration
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match &served.origin {
        Origin::Cache => tracing::debug!(
            store = store.name(),
            dir = %plan.cache_dir.display(),
            expires,
            minutes_left = (served.credential.expiration - now).num_minutes(),
            "served the cached certificate"
        ),
        Origin::Issued { store_error: None } => {
            tracing::debug!(expires, "issued and cached a new certificate")
        }
        Origin::Issued {
            store_error: Some(e),
        } => tracing::warn!(
            "{e}; the new certificate is used now but will be fetched again next time"
        ),
        Origin::StaleFallback {
            refresh_error,
            remaining,
        } => tracing::warn!(
            "could not refresh the certificate for cluster {}: {refresh_error}; using the cached certificate, still valid for {} min (until {expires})",
            plan.request.key.cluster_id,
            remaining.num_minutes()
        ),
    }
}

fn print(credential: &ExecCredential) -> Result<(), AppError> {
    let mut json = credential.to_json();
    json.push('\n');
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(json.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(AppError::Output)
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
}
