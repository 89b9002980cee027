//! The checks that ask the APIs: which credential source the chain selects and whose identity it
//! is, the ACK endpoint and the clock against its `Date`, and access to one cluster.

use super::Check;
use crate::cli::DoctorArgs;
use crate::config::Settings;
use crate::error::AppError;
use crate::wiring::{self, Session};
use ack_ram_adapters::ack::{AckClient, ClusterDetail};
use ack_ram_adapters::context::Context;
use ack_ram_adapters::http::Endpoint;
use ack_ram_adapters::sources::{CredentialSpec, ProfileFile, aliyun_cli};
use ack_ram_adapters::sts::{CallerIdentity, StsClient};
use ack_ram_domain::ports::{AccessCredentialProvider, IssueError};
use ack_ram_domain::{AccessCredentials, ClusterId};
use chrono::{DateTime, TimeDelta, Utc};
use std::future::Future;
use std::time::{Duration, Instant};

/// The longest any one network step (resolving credentials, one API call) may take.
pub(super) const NETWORK_DEADLINE: Duration = Duration::from_secs(15);
/// Clock skew above this is a warning...
const SKEW_WARN: TimeDelta = TimeDelta::seconds(60);
/// ...and above this a failure (the API refuses requests 15 minutes off; certificates and STS
/// tokens look expired or not yet valid much earlier).
const SKEW_FAIL: TimeDelta = TimeDelta::minutes(5);

const NETWORK_FIX: &str = "Check the network path to the ACK API (HTTPS_PROXY / NO_PROXY, firewall) and the region (--region-id) or --cs-endpoint.";
const CLOCK_FIX: &str = "Synchronise the system clock (NTP: `timedatectl set-ntp true`, chrony or ntpd); the ACK API refuses requests more than 15 minutes off, and certificates and STS tokens look expired or not yet valid long before that.";

/// Runs `future` on the session's runtime, giving up after [`NETWORK_DEADLINE`].
fn bounded<T>(session: &Session, future: impl Future<Output = T>) -> Option<T> {
    session
        .runtime
        // The timer is created inside the runtime, which it needs.
        .block_on(async { tokio::time::timeout(NETWORK_DEADLINE, future).await })
        .ok()
}

fn too_slow(what: &str) -> String {
    format!(
        "{what} did not finish within {} s",
        NETWORK_DEADLINE.as_secs()
    )
}

/// The checks that need the session: credentials, identity, ACK endpoint, clock, cluster.
pub(super) fn checks(
    session: &Session,
    args: &DoctorArgs,
    settings: &Settings,
    checks: &mut Vec<Check>,
) {
    let credentials = credential_checks(session, settings, checks);
    let endpoint = match wiring::cs_endpoint(settings) {
        Ok(endpoint) => endpoint,
        Err(e) => {
            checks.push(Check::from_error("ack endpoint", &e));
            return;
        }
    };
    wiring::warn_if_cleartext(&endpoint, "ACK endpoint");
    let ack = AckClient::new(
        session.client.clone(),
        endpoint.clone(),
        session.ctx.clock(),
    );
    checks.extend(endpoint_and_clock_checks(session, &ack, &endpoint));
    if let Some(cluster) = &args.cluster_id {
        checks.push(cluster_check(session, &ack, cluster, credentials.as_ref()));
    }
}

/// Which source the chain selects (described without fetching), then the identity behind it
/// (STS `GetCallerIdentity`). Returns the credentials for the cluster check.
fn credential_checks(
    session: &Session,
    settings: &Settings,
    checks: &mut Vec<Check>,
) -> Option<AccessCredentials> {
    match session.chain.selection() {
        Ok((step, spec)) => checks.push(Check::ok(
            "credentials",
            describe_source(step, &spec, settings, &session.ctx),
        )),
        Err(e) => {
            checks.push(Check::from_error("credentials", &AppError::Credentials(e)));
            return None;
        }
    }
    let credentials = match bounded(session, session.chain.provide()) {
        Some(Ok(credentials)) => credentials,
        Some(Err(e)) => {
            checks.push(Check::from_error("identity", &AppError::Credentials(e)));
            return None;
        }
        None => {
            checks.push(
                Check::fail("identity", too_slow("resolving the credentials"))
                    .fix("Check the network path to the credential source (STS, the ECS metadata service, the credentials URI) and HTTPS_PROXY / NO_PROXY."),
            );
            return None;
        }
    };
    let sts = StsClient::new(
        session.client.clone(),
        session.sts_endpoint.clone(),
        session.ctx.clock(),
    );
    checks.push(
        match bounded(session, sts.get_caller_identity(&credentials)) {
            Some(Ok(caller)) => Check::ok("identity", describe_caller(&caller)),
            Some(Err(e)) => Check::from_error("identity", &AppError::Sts(e)),
            None => Check::fail(
                "identity",
                too_slow(&format!("STS GetCallerIdentity at {}", session.sts_endpoint)),
            )
            .fix("Check the network path to STS (HTTPS_PROXY / NO_PROXY, firewall) and --sts-endpoint."),
        },
    );
    Some(credentials)
}

/// `step (where): what`, never a secret.
fn describe_source(
    step: &str,
    spec: &CredentialSpec,
    settings: &Settings,
    ctx: &Context,
) -> String {
    let profile_file = || {
        settings
            .profile_file
            .as_deref()
            .filter(|p| !p.is_empty())
            .and_then(|raw| wiring::expand_home(raw, ctx.env().get("HOME")).ok())
            .map(ProfileFile::classify)
    };
    let whence = match step {
        "aliyun CLI config" => {
            let path = match profile_file() {
                Some(ProfileFile::AliyunCli(path)) => Some(path),
                _ => ctx.home().map(|h| h.join(".aliyun/config.json")),
            };
            path.and_then(|path| {
                aliyun_cli::load(
                    ctx.fs(),
                    &path,
                    settings.profile_name.as_deref(),
                    ctx.env().get("ALIBABA_CLOUD_PROFILE"),
                    "ack-ram-tool",
                )
                .ok()
                .map(|loaded| loaded.origin.to_string())
            })
        }
        "credentials file" => {
            let path = match profile_file() {
                Some(ProfileFile::Ini(path)) => Some(path),
                _ => ctx.home().map(|h| h.join(".alibabacloud/credentials")),
            };
            let section = settings
                .profile_name
                .as_deref()
                .or_else(|| ctx.env().get("ALIBABA_CLOUD_PROFILE"))
                .unwrap_or("default");
            path.map(|p| format!("section {section:?} in {}", p.display()))
        }
        "OS keychain" => Some(format!(
            "profile {:?}",
            settings.profile_name.as_deref().unwrap_or("default")
        )),
        _ => None,
    };
    match whence {
        Some(whence) => format!("{step} ({whence}): {}", describe_spec(spec)),
        None => format!("{step}: {}", describe_spec(spec)),
    }
}

/// What kind of credentials a spec stands for; ids shortened, nothing secret.
fn describe_spec(spec: &CredentialSpec) -> String {
    match spec {
        CredentialSpec::AccessKey { id, .. } => format!("AccessKey {}", short_id(id)),
        CredentialSpec::StsToken { id, .. } => {
            format!("STS token of AccessKey {}", short_id(id))
        }
        CredentialSpec::AssumeRole { base, role_arn, .. } => {
            format!("role {role_arn} assumed with {}", describe_spec(base))
        }
        CredentialSpec::EcsRamRole {
            role_name: Some(name),
        } => format!("ECS instance RAM role {name}"),
        CredentialSpec::EcsRamRole { role_name: None } => {
            "ECS instance RAM role (its name asked of the metadata service)".to_owned()
        }
        CredentialSpec::Oidc(config) => format!(
            "RRSA: role {} through OIDC provider {}, token file {}",
            config.role_arn,
            config.oidc_provider_arn,
            config.token_file.display()
        ),
        CredentialSpec::External { .. } => {
            "a credential process (its command is not shown)".to_owned()
        }
        CredentialSpec::CredentialsUri { .. } => {
            "a credentials URI (not shown: it may carry a token)".to_owned()
        }
        CredentialSpec::CloudSso(profile) => format!(
            "CloudSSO, account {}, access configuration {}",
            profile.account_id, profile.access_config
        ),
        CredentialSpec::OAuth(profile) => format!("OAuth ({})", profile.origin),
    }
}

/// An AccessKey id with its middle left out (`LTAI…KeyId`): enough to tell keys apart.
fn short_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 10 {
        return id.to_owned();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

fn describe_caller(c: &CallerIdentity) -> String {
    format!("{} ({}, account {})", c.arn, c.identity_type, c.account_id)
}

/// Whether the ACK endpoint answers (an unsigned request), and the local clock against the
/// `Date` of that answer.
fn endpoint_and_clock_checks(
    session: &Session,
    ack: &AckClient,
    endpoint: &Endpoint,
) -> Vec<Check> {
    let clock = session.ctx.clock();
    let before = clock.now();
    let started = Instant::now();
    let reached = bounded(session, ack.reach());
    let after = clock.now();
    let elapsed = started.elapsed().as_millis();
    let unmeasured = |why: &str| {
        Check::warn(
            "clock",
            format!("not compared with the ACK API's clock: {why}"),
        )
    };
    match reached {
        Some(Ok(reached)) => vec![
            Check::ok(
                "ack endpoint",
                format!("{endpoint} answers (HTTP {}, {elapsed} ms)", reached.status),
            ),
            match reached.server_date {
                Some(server) => clock_check(server, before, after),
                None => unmeasured("its answer has no Date header"),
            },
        ],
        Some(Err(IssueError::Redirected {
            status,
            location_host,
            ..
        })) => vec![
            Check::warn(
                "ack endpoint",
                format!("{endpoint} answers with a redirect (HTTP {status} to {location_host})"),
            )
            .fix("If `get-credential` fails too, a proxy or gateway is in the way: point --cs-endpoint (or --region-id) at the ACK OpenAPI itself."),
            unmeasured("the endpoint redirected"),
        ],
        Some(Err(e)) => vec![
            Check::fail("ack endpoint", e.to_string()).fix(NETWORK_FIX),
            unmeasured("the endpoint did not answer"),
        ],
        None => vec![
            Check::fail("ack endpoint", too_slow(&format!("a request to {endpoint}")))
                .fix(NETWORK_FIX),
            unmeasured("the endpoint did not answer"),
        ],
    }
}

/// The local clock against `server`, a `Date` header (whole seconds) of an answer to a request
/// sent at `before` and answered by `after`, local time.
fn clock_check(server: DateTime<Utc>, before: DateTime<Utc>, after: DateTime<Utc>) -> Check {
    // The server stamped the answer somewhere in the round trip and cut it to whole seconds:
    // compare with the middle of the trip, half a second on.
    let local = before + (after - before) / 2;
    let skew = local - (server + TimeDelta::milliseconds(500));
    let seconds = skew.num_seconds().abs();
    let direction = if skew > TimeDelta::zero() {
        "ahead of"
    } else {
        "behind"
    };
    let finding = if seconds <= 1 {
        "the local clock agrees with the ACK API's (within a second)".to_owned()
    } else {
        format!("the local clock is {seconds} s {direction} the ACK API's")
    };
    let off = skew.abs();
    if off > SKEW_FAIL {
        Check::fail("clock", finding).fix(CLOCK_FIX)
    } else if off > SKEW_WARN {
        Check::warn("clock", finding).fix(CLOCK_FIX)
    } else {
        Check::ok("clock", finding)
    }
}

/// Whether the identity may see `cluster`: `DescribeClusterDetail`, read-only.
fn cluster_check(
    session: &Session,
    ack: &AckClient,
    cluster: &ClusterId,
    credentials: Option<&AccessCredentials>,
) -> Check {
    const NAME: &str = "cluster access";
    let Some(credentials) = credentials else {
        return Check::warn(
            NAME,
            format!("{cluster} not checked: there are no credentials to ask with (see above)"),
        );
    };
    match bounded(session, ack.describe_cluster_detail(cluster, credentials)) {
        Some(Ok(detail)) => Check::ok(NAME, describe_cluster(cluster, &detail)),
        Some(Err(e)) => {
            let fix = match &e {
                IssueError::Api(api) => cluster_fix(api.status, api.code.as_deref()),
                IssueError::Transport { .. } => NETWORK_FIX,
                IssueError::Redirected { .. } => {
                    "Point --cs-endpoint (or --region-id) at the ACK OpenAPI itself; a proxy or gateway that redirects is not trusted with signed requests."
                }
                IssueError::InvalidResponse(_) => {
                    "This is not an answer the ACK API gives; check that --cs-endpoint points at the ACK OpenAPI."
                }
            };
            Check::fail(NAME, e.to_string()).fix(fix)
        }
        None => Check::fail(
            NAME,
            too_slow(&format!("DescribeClusterDetail of {cluster}")),
        )
        .fix(NETWORK_FIX),
    }
}

/// What to do about a `DescribeClusterDetail` refusal.
fn cluster_fix(status: u16, code: Option<&str>) -> &'static str {
    let code = code.unwrap_or_default();
    if code.starts_with("InvalidAccessKeyId")
        || code.starts_with("SignatureDoesNotMatch")
        || code.starts_with("InvalidSecurityToken")
        || status == 401
    {
        "Check the AccessKey id and secret (and the security token for STS credentials): they were not accepted."
    } else if code.contains("RequestTimeTooSkewed") {
        CLOCK_FIX
    } else if status == 403 {
        "Grant this identity the RAM permission cs:DescribeClusterDetail on the cluster (get-credential needs cs:DescribeClusterUserKubeconfig too), or use another identity (--role-arn, --profile-name)."
    } else if status == 404 {
        "Check the cluster id and that --region-id or --cs-endpoint selects the cluster's region."
    } else if status == 429 || code.starts_with("Throttling") {
        "The ACK API is throttling requests; wait a moment and retry."
    } else {
        "Retry later; quote the RequestId if you contact Alibaba Cloud support."
    }
}

fn describe_cluster(cluster: &ClusterId, d: &ClusterDetail) -> String {
    let mut parts = Vec::new();
    if let Some(name) = d.name.as_deref().filter(|n| !n.is_empty()) {
        parts.push(format!("{name:?}"));
    }
    for value in [&d.cluster_type, &d.state, &d.region_id] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            parts.push(v.to_owned());
        }
    }
    if let Some(v) = d.current_version.as_deref().filter(|v| !v.is_empty()) {
        parts.push(format!("Kubernetes {v}"));
    }
    if parts.is_empty() {
        format!("{cluster} may be described by this identity")
    } else {
        format!(
            "{cluster} may be described by this identity: {}",
            parts.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::doctor::Status;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap_or_default()
    }
    #[test]
    fn clock_skew_is_ok_then_a_warning_then_a_failure() {
        let ok = clock_check(at(0), at(0), at(1));
        assert_eq!(ok.status, Status::Ok, "{}", ok.finding);
        let ahead = clock_check(at(0), at(90), at(90));
        assert_eq!(ahead.status, Status::Warn);
        assert!(ahead.finding.contains("ahead of"), "{}", ahead.finding);
        assert!(ahead.fix.is_some());
        let behind = clock_check(at(600), at(0), at(0));
        assert_eq!(behind.status, Status::Fail);
        assert!(behind.finding.contains("behind"), "{}", behind.finding);
        assert_eq!(clock_check(at(0), at(59), at(59)).status, Status::Ok);
        assert_eq!(clock_check(at(0), at(299), at(299)).status, Status::Warn);
    }

    #[test]
    fn access_key_ids_are_shortened() {
        assert_eq!(short_id("LTAI5tTestAccessKeyId"), "LTAI…eyId");
        assert_eq!(short_id("short"), "short");
    }
}
