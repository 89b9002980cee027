//! `credential-plugin get-credential`: what kubectl runs before every connection.
//!
//! Inputs are validated first (cluster id, lifetime, API version, endpoint), before any file or
//! network access. Then the use case's cheap lookup runs; only on a miss are the HTTP client,
//! the async runtime and the credential source set up.

use crate::cli::GetCredentialArgs;
use crate::config::Settings;
use crate::error::AppError;
use crate::wiring::{self, Identity};
use ack_ram_adapters::ack::AckClient;
use ack_ram_adapters::clock::SystemClock;
use ack_ram_adapters::env::Environment;
use ack_ram_adapters::http::{self, Endpoint, HttpSettings};
use ack_ram_adapters::store::FileStore;
use ack_ram_domain::ports::{
    AccessCredentialProvider, Clock, ClusterCredentialIssuer, CredentialStore, IssueError,
    IssueRequest, ProviderError,
};
use ack_ram_domain::service::{
    GetCredential, GetCredentialRequest, Lookup, Origin, RefreshReason, Served,
};
use ack_ram_domain::{
    AccessCredentials, ApiVersion, CacheKey, CertificateLifetime, ClusterCredential, ClusterId,
    ExecCredential,
};
use async_trait::async_trait;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// Everything the command needs, validated.
struct Plan {
    request: GetCredentialRequest,
    cache_dir: PathBuf,
    endpoint: Endpoint,
    sts_endpoint: Endpoint,
    http: HttpSettings,
    identity: Identity,
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
    let identity = wiring::identity(settings, args.role_arn.as_deref(), env)?;
    let endpoint = wiring::cs_endpoint(settings)?;
    let sts_endpoint = wiring::sts_endpoint(settings, env)?;
    let cache_dir = wiring::expand_home(&settings.credential_cache_dir, env.get("HOME"))?;
    let http = wiring::http_settings(settings)?;
    Ok(Plan {
        request: GetCredentialRequest {
            key: CacheKey {
                cluster_id,
                api_version,
                identity: identity.cache.clone(),
            },
            lifetime,
        },
        cache_dir,
        endpoint,
        sts_endpoint,
        http,
        identity,
    })
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
        let (provider, issuer): (
            Box<dyn AccessCredentialProvider>,
            Box<dyn ClusterCredentialIssuer>,
        ) = match http::build_client(&plan.http) {
            Ok(client) => (
                Box::new(wiring::chain(
                    &plan.identity,
                    client.clone(),
                    plan.sts_endpoint.clone(),
                    env,
                )),
                Box::new(AckClient::new(client, plan.endpoint.clone(), clock)),
            ),
            // Without an HTTP client nothing can be fetched; a still-valid cached
            // certificate is served all the same.
            Err(e) => {
                let unavailable = Arc::new(e.to_string());
                (
                    Box::new(Unavailable(Arc::clone(&unavailable))),
                    Box::new(Unavailable(unavailable)),
                )
            }
        };
        use_case
            .refresh(&plan.request, fallback, provider.as_ref(), issuer.as_ref())
            .await
            .map_err(RefreshFailure::UseCase)
    })
}

/// Stands in for the credential chain and the ACK client when no HTTP client could be built.
struct Unavailable(Arc<String>);

#[async_trait]
impl AccessCredentialProvider for Unavailable {
    async fn provide(&self) -> Result<AccessCredentials, ProviderError> {
        Err(ProviderError::Failed {
            source_name: "HTTP client".into(),
            message: self.0.to_string(),
        })
    }
}

#[async_trait]
impl ClusterCredentialIssuer for Unavailable {
    async fn issue(
        &self,
        _request: &IssueRequest,
        _credentials: &AccessCredentials,
    ) -> Result<ClusterCredential, IssueError> {
        Err(IssueError::Transport {
            endpoint: "the ACK API".into(),
            message: self.0.to_string(),
        })
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
