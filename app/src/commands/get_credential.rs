//! `credential-plugin get-credential`: what kubectl runs before every connection.
//!
//! Inputs are validated first (cluster id, lifetime, API version, endpoint), before any file or
//! network access. Then the use case's cheap lookup runs; only on a miss are the HTTP client,
//! the async runtime and the credential source set up.

use crate::cli::GetCredentialArgs;
use crate::config::Settings;
use crate::error::AppError;
use crate::wiring::{self, Identity, StoreKind};
use ack_ram_adapters::ack::AckClient;
use ack_ram_adapters::clock::SystemClock;
use ack_ram_adapters::context::Context;
use ack_ram_adapters::env::Environment;
use ack_ram_adapters::http::Endpoint;
use ack_ram_adapters::retry::RetryingIssuer;
use ack_ram_adapters::store::{self, CacheDir};
use ack_ram_domain::ports::{
    AccessCredentialProvider, Clock, ClusterCredentialIssuer, CredentialStore, IssueError,
    IssueRequest, ProviderError,
};
use ack_ram_domain::retry::RetryPolicy;
use ack_ram_domain::service::{
    GetCredential, GetCredentialRequest, Lookup, Origin, RefreshReason, Served,
};
use ack_ram_domain::{AccessCredentials, CacheKey, ClusterCredential, ExecCredential};
use async_trait::async_trait;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Everything the command needs, validated.
struct Plan {
    request: GetCredentialRequest,
    cache_dir: PathBuf,
    endpoint: Endpoint,
    sts_endpoint: Endpoint,
    identity: Identity,
    retry: RetryPolicy,
    lock_timeout: Duration,
    store: StoreKind,
}

fn plan(
    args: &GetCredentialArgs,
    settings: &Settings,
    env: &Environment,
) -> Result<Plan, AppError> {
    let api_version = wiring::api_version(args.api_version, env);
    let identity = wiring::identity(settings, args.role_arn.as_deref(), env)?;
    let endpoint = wiring::cs_endpoint(settings)?;
    let sts_endpoint = wiring::sts_endpoint(settings, env)?;
    let cache_dir = wiring::expand_home(&settings.credential_cache_dir, env.get("HOME"))?;
    let retry = wiring::retry_policy(settings);
    let store = settings.cache_store;
    Ok(Plan {
        request: GetCredentialRequest {
            key: CacheKey {
                cluster_id: args.cluster_id.clone(),
                api_version,
                identity: identity.cache.clone(),
            },
            lifetime: args.expiration,
            force_refresh: settings.force_refresh,
        },
        cache_dir,
        endpoint,
        sts_endpoint,
        identity,
        retry,
        lock_timeout: settings.lock_timeout,
        store,
    })
}

/// Runs the command: prints the ExecCredential on stdout.
pub fn run(
    args: &GetCredentialArgs,
    settings: &Settings,
    env: &Environment,
) -> Result<(), AppError> {
    let plan = plan(args, settings, env)?;
    // One context for the run; it connects to nothing until a refresh asks it to.
    let ctx = wiring::context(wiring::http_settings(settings), env);
    let store = open_store(&plan, &ctx);
    let clock = SystemClock;
    let use_case = GetCredential::new(store.as_ref(), &clock);
    let cluster = plan.request.key.cluster_id.clone();

    let mut warned: Option<String> = None;
    let served = match use_case.lookup(&plan.request) {
        Lookup::Hit(credential) => Served {
            credential,
            origin: Origin::Cache,
        },
        Lookup::Refresh { reason, fallback } => {
            if plan.store == StoreKind::Keyring {
                // Asked for the keychain: without one, say so rather than fetch a key that
                // could not be kept (and never write it to disk instead).
                store::require_keychain(&ctx)?;
            }
            match &reason {
                RefreshReason::StoreUnreadable(e) => {
                    tracing::warn!("{e}; fetching a new certificate instead");
                    warned = Some(e.to_string());
                }
                other => tracing::debug!(reason = ?other, "fetching a new certificate"),
            }
            refresh(&use_case, &plan, fallback, &ctx).map_err(|error| match error {
                RefreshFailure::App(e) => e,
                RefreshFailure::UseCase(error) => AppError::GetCredential {
                    cluster: cluster.clone(),
                    error: Box::new(error),
                },
            })?
        }
    };
    report(
        &served,
        store.as_ref(),
        &plan,
        clock.now(),
        warned.as_deref(),
    );
    print(&ExecCredential::new(
        plan.request.key.api_version,
        served.credential,
    ))
}

/// The store `--cache-store` selects for this entry (`auto` is decided by [`store::open`]:
/// without a keychain round trip when the entry already exists in one store). The keychain is
/// the process's shared one, so the refresh path reuses its connection.
fn open_store(plan: &Plan, ctx: &Context) -> Box<dyn CredentialStore> {
    let dir = CacheDir::new(&plan.cache_dir).with_lock_timeout(plan.lock_timeout);
    store::open(plan.store, ctx, &dir, &plan.request.key)
}

enum RefreshFailure {
    App(AppError),
    UseCase(ack_ram_domain::service::GetCredentialError),
}

fn refresh(
    use_case: &GetCredential<'_>,
    plan: &Plan,
    fallback: Option<ClusterCredential>,
    ctx: &Context,
) -> Result<Served, RefreshFailure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RefreshFailure::App(AppError::Runtime(e)))?;
    wiring::warn_if_cleartext(&plan.endpoint, "ACK endpoint");
    wiring::warn_if_cleartext(&plan.sts_endpoint, "STS endpoint");
    runtime.block_on(async {
        let (provider, issuer): (
            Box<dyn AccessCredentialProvider>,
            Box<dyn ClusterCredentialIssuer>,
        ) = match ctx.http() {
            Ok(client) => (
                Box::new(wiring::chain(
                    &plan.identity,
                    ctx,
                    client.clone(),
                    plan.sts_endpoint.clone(),
                )),
                Box::new(RetryingIssuer::new(
                    Box::new(AckClient::new(client, plan.endpoint.clone(), ctx.clock())),
                    plan.retry,
                    ctx.sleep(),
                )),
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
    already_warned: Option<&str>,
) {
    let expires = served
        .credential
        .expiration
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match &served.origin {
        Origin::Cache => tracing::debug!(
            store = store.name(),
            dir = %plan.cache_dir.display(),
            identity = %plan.request.key.identity.selected.label,
            expires,
            minutes_left = (served.credential.expiration - now).num_minutes(),
            "served the cached certificate"
        ),
        Origin::RefreshedElsewhere => tracing::debug!(
            expires,
            "another process refreshed the certificate while this one waited"
        ),
        Origin::Issued {
            store_error,
            unlocked,
        } => {
            if let Some(e) = unlocked {
                // Something is wrong in the cache directory (a planted link, a FIFO, a
                // read-only file system): worth fixing, not worth failing kubectl for.
                tracing::warn!("refreshed without the cross-process lock: {e}");
            }
            match store_error {
                None => tracing::debug!(
                    expires,
                    identity = %plan.request.key.identity.selected.label,
                    "issued and cached a new certificate"
                ),
                // Same cause as the warning already printed when reading the cache.
                Some(e) if Some(e.to_string().as_str()) == already_warned => {}
                Some(e) => tracing::warn!(
                    "{e}; the new certificate is used now but will be fetched again next time"
                ),
            }
        }
        Origin::StaleFallback {
            refresh_error,
            remaining,
        } => tracing::warn!(
            "could not refresh the certificate for cluster {}: {}; using the cached certificate, still valid for {} min (until {expires})",
            plan.request.key.cluster_id,
            crate::error::terminal_safe(&refresh_error.to_string()),
            remaining.num_minutes()
        ),
    }
}

fn print(credential: &ExecCredential) -> Result<(), AppError> {
    let mut json = credential.to_json();
    json.push('\n');
    crate::output::print(&json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    fn plan_in(dir: &std::path::Path, store: &str) -> Plan {
        let cli = Cli::try_parse_from([
            "ack-ram-tool",
            "credential-plugin",
            "get-credential",
            "-c",
            "c1",
            "--credential-cache-dir",
            &dir.display().to_string(),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let crate::cli::Command::CredentialPlugin(crate::cli::CredentialPluginArgs {
            command: crate::cli::PluginCommand::GetCredential(args),
        }) = cli.command
        else {
            panic!("not get-credential")
        };
        let settings = Settings {
            credential_cache_dir: dir.display().to_string(),
            cache_store: store.parse().unwrap_or_else(|e| panic!("{e}")),
            ..Settings::default()
        };
        plan(&args, &settings, &Environment::default()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn explicit_stores_are_used_as_asked() {
        // `auto` selection is tested with the store module (adapters/src/store/tests.rs).
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for (asked, name) in [("file", "file"), ("keyring", "keyring"), ("none", "none")] {
            let plan = plan_in(dir.path(), asked);
            let ctx = crate::wiring::context(
                ack_ram_adapters::http::HttpSettings::new("t"),
                &Environment::default(),
            );
            assert_eq!(open_store(&plan, &ctx).name(), name);
        }
    }
}
