//! `DescribeClusterUserKubeconfig`: request validation and the success body.
//!
//! This is the behavioural heart of the emulator, kept free of HTTP plumbing so the order of the
//! checks is easy to read and to compare with the real service. A request is checked in this
//! order, the first failure wins (CS error shape, see [`ApiError`]):
//!
//! 1. required headers present and well-formed (400 `MissingParameter` / `InvalidParameter` /
//!    `IncompleteSignature`);
//! 2. AccessKey id known (404 `InvalidAccessKeyId.NotFound`);
//! 3. `date` within 15 minutes of now (400 `RequestTimeTooSkewed`);
//! 4. nonce not seen before (400 `SignatureNonceUsed`);
//! 5. signature (400 `SignatureDoesNotMatch`, message carries the server's string to sign);
//! 6. security token (400 `MissingSecurityToken` for an `STS.` id without one, 403
//!    `InvalidSecurityToken.MismatchWithAccessKey` for a wrong one, 400
//!    `InvalidSecurityToken.Expired` for an expired temporary key from `AssumeRole`);
//! 7. cluster exists (404 `ErrorClusterNotFound`);
//! 8. query parameters (400 `InvalidParameter`).

use chrono::{DateTime, SubsecRound, Utc};

use crate::kubeconfig::{self, KubeconfigParts};
use crate::roa;
use crate::state::State;

/// Largest accepted distance between the `date` header and the server clock.
pub const MAX_CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(15);
/// Accepted `TemporaryDurationMinutes` range.
pub const DURATION_MINUTES: std::ops::RangeInclusive<i64> = 15..=4320;
/// Lifetime of a certificate when `TemporaryDurationMinutes` is absent (3 years, as ACK).
pub const DEFAULT_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::days(3 * 365);
/// How far in the past `notBefore` of issued certificates is set (tolerates client clock skew).
pub const NOT_BEFORE_BACKDATE: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// A CS-style error: HTTP status, `code` and `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Alibaba Cloud error code (`SignatureDoesNotMatch`, ...).
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(status: u16, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    fn missing(header: &str) -> ApiError {
        ApiError::new(
            400,
            "MissingParameter",
            format!(
                "The input parameter \"{header}\" that is mandatory for processing this request is not supplied."
            ),
        )
    }

    fn invalid(what: &str, value: &str, expected: &str) -> ApiError {
        ApiError::new(
            400,
            "InvalidParameter",
            format!(
                "The specified parameter \"{what}\" is not valid: got \"{value}\", expected {expected}."
            ),
        )
    }

    /// 404 for any route other than `GET /k8s/{ClusterId}/user_config`.
    pub(crate) fn api_not_found() -> ApiError {
        ApiError::new(
            404,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        )
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The kubeconfig YAML.
    pub config: String,
    /// `expiration`, also the certificate's notAfter.
    pub expiration: DateTime<Utc>,
}

/// How a success is minted ([`crate::Malformed::ExpiredExpiration`] needs an expired
/// certificate, not just a rewritten field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum IssueMode {
    #[default]
    Normal,
    /// notBefore = now − 2 h, notAfter = expiration = now − 1 h.
    Expired,
}

/// The parts of a request the API looks at.
#[derive(Debug, Clone)]
pub struct IncomingRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path as sent.
    pub path: &'a str,
    /// Raw query, without `?`.
    pub raw_query: &'a str,
    /// Headers (lower-case names as hyper delivers them; the lookups are case-insensitive anyway).
    pub headers: &'a [(String, String)],
}

/// Which route a request targets.
pub(crate) enum Route<'a> {
    /// `GET /k8s/{ClusterId}/user_config`, with the still-encoded cluster segment.
    UserConfig(&'a str),
    /// `GET /clusters/{ClusterId}` (`DescribeClusterDetail`), with the still-encoded segment.
    ClusterDetail(&'a str),
    /// `GET /api/v1/clusters` (`DescribeClustersV1`, [`crate::clusters`]).
    Clusters,
    NotFound,
}

pub(crate) fn route<'a>(method: &str, path: &'a str) -> Route<'a> {
    if method == "GET" && path == "/api/v1/clusters" {
        return Route::Clusters;
    }
    if let Some(id) = path.strip_prefix("/clusters/")
        && method == "GET"
        && !id.is_empty()
        && !id.contains('/')
    {
        return Route::ClusterDetail(id);
    }
    let segment = path
        .strip_prefix("/k8s/")
        .and_then(|rest| rest.strip_suffix("/user_config"));
    match segment {
        Some(id) if method == "GET" && !id.is_empty() && !id.contains('/') => Route::UserConfig(id),
        _ => Route::NotFound,
    }
}

/// Whether an id looks like an ACK cluster id (`c` + hex in practice; lower-case alphanumerics
/// and `-`, 1 to 64 characters, accepted).
pub fn looks_like_cluster_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
}

/// The cluster of a still-encoded path segment, or 404 `ErrorClusterNotFound` when the
/// emulator does not know it.
fn known_cluster(state: &State, cluster_segment: &str) -> Result<String, ApiError> {
    let cluster_id = roa::percent_decode(cluster_segment);
    let known = match &state.clusters {
        Some(set) => set.contains(&cluster_id),
        None => looks_like_cluster_id(&cluster_id),
    };
    if !known {
        return Err(ApiError::new(
            404,
            "ErrorClusterNotFound",
            format!("cluster {cluster_id} not found"),
        ));
    }
    Ok(cluster_id)
}

/// `DescribeClusterDetail` (read-only): checks 1 to 6 as for the certificate, then the cluster;
/// the body has the real answer's most-read fields (snake_case, as ACK writes them).
pub(crate) fn describe_cluster_detail(
    state: &State,
    req: &IncomingRequest<'_>,
    cluster_segment: &str,
    now: DateTime<Utc>,
) -> Result<serde_json::Value, ApiError> {
    authenticate(state, req, "DescribeClusterDetail", now)?;
    let cluster_id = known_cluster(state, cluster_segment)?;
    // As `DescribeClustersV1` lists it; an accepted id it does not list gets a made-up name.
    let listed = state
        .catalog
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clusters
        .iter()
        .find(|c| c.cluster_id == cluster_id)
        .cloned()
        .unwrap_or_else(|| {
            crate::clusters::ListedCluster::new(
                &cluster_id,
                &format!("emulated-{}", cluster_id.get(..8).unwrap_or(&cluster_id)),
            )
        });
    let (public_server, private_server) = state.api_servers();
    let created = state
        .started_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Ok(serde_json::json!({
        "cluster_id": cluster_id,
        "name": listed.name,
        "region_id": listed.region_id,
        "state": listed.state,
        "cluster_type": "ManagedKubernetes",
        "profile": "Default",
        "current_version": crate::KUBE_GIT_VERSION.trim_start_matches('v'),
        "created": created,
        "updated": created,
        "master_url": serde_json::json!({
            "api_server_endpoint": public_server,
            "intranet_api_server_endpoint": private_server,
        })
        .to_string(),
    }))
}

/// Runs every check and, when all pass, mints the certificate and renders the kubeconfig.
pub(crate) fn describe_cluster_user_kubeconfig(
    state: &State,
    req: &IncomingRequest<'_>,
    cluster_segment: &str,
    now: DateTime<Utc>,
    mode: IssueMode,
) -> Result<Issued, ApiError> {
    // 1. to 6.
    let (key_id, key) = authenticate(state, req, "DescribeClusterUserKubeconfig", now)?;

    // 7. Cluster.
    let cluster_id = known_cluster(state, cluster_segment)?;

    // 8. Query parameters.
    let query = roa::decode_query(req.raw_query);
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let private = match param("PrivateIpAddress") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => return Err(ApiError::invalid("PrivateIpAddress", v, "true or false")),
    };
    let now = now.trunc_subsecs(0);
    let expiration = match param("TemporaryDurationMinutes") {
        None => now + DEFAULT_LIFETIME,
        Some(v) => match v.parse::<i64>() {
            Ok(m) if DURATION_MINUTES.contains(&m) => now + chrono::TimeDelta::minutes(m),
            _ => {
                return Err(ApiError::invalid(
                    "TemporaryDurationMinutes",
                    v,
                    "an integer number of minutes from 15 to 4320",
                ));
            }
        },
    };

    // Issue.
    let uid = key.principal.certificate_cn(&key_id);
    let (not_before, expiration) = match mode {
        IssueMode::Normal => (now - NOT_BEFORE_BACKDATE, expiration),
        IssueMode::Expired => (
            now - chrono::TimeDelta::hours(2),
            now - chrono::TimeDelta::hours(1),
        ),
    };
    let cert = state
        .ca
        .issue_client(&uid, not_before, expiration)
        .map_err(|e| {
            ApiError::new(
                500,
                "InternalError",
                format!("certificate issue failed: {e}"),
            )
        })?;
    let (public_server, private_server) = state.api_servers();
    let config = kubeconfig::render(&KubeconfigParts {
        server: if private {
            &private_server
        } else {
            &public_server
        },
        ca_pem: state.ca.pem(),
        uid: &uid,
        cluster_id: &cluster_id,
        cert_pem: &cert.cert_pem,
        key_pem: &cert.key_pem,
    });
    Ok(Issued { config, expiration })
}

/// Steps 1 to 6, shared by every CS action: the ROA headers, the AccessKey, the clock, the
/// nonce, the signature and the security token of a request for `action`. Returns the
/// AccessKey id and its entry.
pub(crate) fn authenticate(
    state: &State,
    req: &IncomingRequest<'_>,
    action: &str,
    now: DateTime<Utc>,
) -> Result<(String, crate::state::KeyEntry), ApiError> {
    let header = |name: &str| roa::header_value(req.headers, name);
    let required = |name: &str| header(name).ok_or_else(|| ApiError::missing(name));

    // 1. Required headers.
    let date = required("date")?;
    let nonce = required("x-acs-signature-nonce")?;
    if nonce.is_empty() {
        return Err(ApiError::invalid(
            "x-acs-signature-nonce",
            nonce,
            "a non-empty random string",
        ));
    }
    let method = required("x-acs-signature-method")?;
    if method != "HMAC-SHA1" {
        return Err(ApiError::invalid(
            "x-acs-signature-method",
            method,
            "\"HMAC-SHA1\"",
        ));
    }
    let sig_version = required("x-acs-signature-version")?;
    if sig_version != "1.0" {
        return Err(ApiError::invalid(
            "x-acs-signature-version",
            sig_version,
            "\"1.0\"",
        ));
    }
    let version = required("x-acs-version")?;
    if version != "2015-12-15" {
        return Err(ApiError::invalid(
            "x-acs-version",
            version,
            "\"2015-12-15\"",
        ));
    }
    let sent_action = required("x-acs-action")?;
    if sent_action != action {
        return Err(ApiError::invalid(
            "x-acs-action",
            sent_action,
            &format!("\"{action}\""),
        ));
    }
    let authorization = required("authorization")?;
    let (key_id, client_signature) = authorization
        .strip_prefix("acs ")
        .and_then(|rest| rest.split_once(':'))
        .filter(|(id, sig)| !id.is_empty() && !sig.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                400,
                "IncompleteSignature",
                "The request signature does not conform to Aliyun standards: the authorization \
                 header must be \"acs <AccessKeyId>:<Signature>\".",
            )
        })?;
    match header("x-acs-accesskey-id") {
        Some(header_id) if header_id != key_id => {
            return Err(ApiError::invalid(
                "x-acs-accesskey-id",
                header_id,
                "the AccessKey id of the authorization header",
            ));
        }
        _ => {}
    }

    // 2. AccessKey id.
    let Some(key) = state.key(key_id) else {
        return Err(ApiError::new(
            404,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        ));
    };

    // 3. Clock skew.
    let sent_at: DateTime<Utc> = match httpdate::parse_http_date(date) {
        Ok(t) => t.into(),
        Err(_) => {
            return Err(ApiError::invalid(
                "date",
                date,
                "an RFC 7231 date such as \"Sun, 10 Mar 2024 09:56:17 GMT\"",
            ));
        }
    };
    if (now - sent_at).abs() > MAX_CLOCK_SKEW {
        return Err(ApiError::new(
            400,
            "RequestTimeTooSkewed",
            format!(
                "The difference between the request time ({date}) and the server time ({}) is \
                 more than 15 minutes.",
                httpdate::fmt_http_date(now.into())
            ),
        ));
    }

    // 4. Nonce (looked up now, recorded only once the signature is proven).
    let nonce_used = || {
        ApiError::new(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        )
    };
    if state.nonce_seen(nonce) {
        return Err(nonce_used());
    }

    // 5. Signature.
    let string_to_sign = roa::string_to_sign(req.method, req.path, req.raw_query, req.headers);
    if !roa::verify(&key.secret, &string_to_sign, client_signature) {
        return Err(ApiError::new(
            400,
            "SignatureDoesNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server string to sign is:{}",
                string_to_sign.replace('\n', "\\n")
            ),
        ));
    }
    if !state.record_nonce(nonce, now) {
        return Err(nonce_used());
    }

    // 6. Security token.
    check_security_token(
        &key,
        key_id,
        header("x-acs-security-token"),
        "its x-acs-security-token",
        now,
    )?;
    Ok((key_id.to_owned(), key))
}

/// A temporary key used after its `Expiration`.
/// The security token rules both APIs share: a presented token must be one registered with the
/// key, an `STS.` key must present one, and a temporary key must not have expired.
pub(crate) fn check_security_token(
    key: &crate::state::KeyEntry,
    key_id: &str,
    presented: Option<&str>,
    where_sent: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    match presented {
        Some(token) if !key.tokens.iter().any(|t| t == token) => {
            return Err(ApiError::new(
                403,
                "InvalidSecurityToken.MismatchWithAccessKey",
                "The security token you provided does not match the access key id.",
            ));
        }
        None if key_id.starts_with("STS.") => {
            return Err(ApiError::new(
                400,
                "MissingSecurityToken",
                format!(
                    "SecurityToken is mandatory for this action: an STS AccessKey must be used with {where_sent}."
                ),
            ));
        }
        _ => {}
    }
    if key.expires.is_some_and(|expires| now >= expires) {
        return Err(expired_token());
    }
    Ok(())
}

pub(crate) fn expired_token() -> ApiError {
    ApiError::new(
        400,
        "InvalidSecurityToken.Expired",
        "Specified SecurityToken is expired.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert!(matches!(
            route("GET", "/k8s/c1/user_config"),
            Route::UserConfig("c1")
        ));
        assert!(matches!(
            route("POST", "/k8s/c1/user_config"),
            Route::NotFound
        ));
        assert!(matches!(route("GET", "/k8s//user_config"), Route::NotFound));
        assert!(matches!(
            route("GET", "/k8s/a/b/user_config"),
            Route::NotFound
        ));
        assert!(matches!(route("GET", "/"), Route::NotFound));
        assert!(matches!(
            route("GET", "/clusters/c1"),
            Route::ClusterDetail("c1")
        ));
        assert!(matches!(route("GET", "/clusters/"), Route::NotFound));
        assert!(matches!(route("GET", "/clusters/c1/x"), Route::NotFound));
        assert!(matches!(route("DELETE", "/clusters/c1"), Route::NotFound));
    }

    #[test]
    fn cluster_ids() {
        assert!(looks_like_cluster_id("c0123456789abcdef0123456789abcdef"));
        assert!(looks_like_cluster_id("c1234"));
        assert!(!looks_like_cluster_id("C1234"));
        assert!(!looks_like_cluster_id("c weird*~id"));
        assert!(!looks_like_cluster_id(""));
        assert!(!looks_like_cluster_id(&"a".repeat(65)));
    }
}
