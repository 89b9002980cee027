//! `DescribeClustersV1` (`GET /api/v1/clusters`): the account's clusters, page by page.
//!
//! The emulator keeps a list of clusters ([`ListedCluster`]): by default those of
//! [`crate::EmulatorConfig::clusters`] (named `cluster-1`, `cluster-2`, ...) or, when any
//! well-formed id is accepted, the [`DEMO_CLUSTERS`]; [`crate::Emulator::set_listed_clusters`]
//! replaces it. The list is independent of which ids `DescribeClusterUserKubeconfig` accepts,
//! so a test can list a cluster whose kubeconfig call then fails (a cluster being deleted, or
//! one the identity may list but not use).
//!
//! The request is checked like the certificate call (ROA headers, AccessKey, clock, nonce,
//! signature, security token; action `DescribeClustersV1`), then its paging parameters:
//! `page_number` (default 1) and `page_size` (default 10, as ACK), positive integers, else 400
//! `InvalidParameter`. A page holds at most [`crate::Emulator::set_list_page_size_max`]
//! clusters (default [`LIST_PAGE_SIZE_MAX`], ACK's largest page), so a handful of clusters can
//! span several pages and a client is seen to follow `total_count` rather than the page size
//! it asked for. The answer has ACK's shape: `{"clusters": [...], "page_info": {"page_number",
//! "page_size", "total_count"}}`, clusters in snake_case with the fields clients read most.
//! Like `DescribeClusterDetail` it counts in [`crate::Emulator::request_count`] and takes the
//! next queued ACK fault, so a listing failure can be injected with
//! [`crate::Emulator::fail_next`].

use std::sync::atomic::Ordering;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::api::{self, ApiError, IncomingRequest};
use crate::faults::{self, Answer, AnswerFault, FaultTarget};
use crate::roa;
use crate::state::State;

/// Largest page by default (ACK's `page_size` maximum).
pub const LIST_PAGE_SIZE_MAX: usize = 100;
/// Page size when the request names none (ACK's default).
pub const LIST_PAGE_SIZE_DEFAULT: usize = 10;
/// `(id, name)` of the clusters listed when the emulator accepts any cluster id.
pub const DEMO_CLUSTERS: [(&str, &str); 3] = [
    ("c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f50", "dev"),
    ("c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f61", "staging"),
    ("c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f72", "production"),
];
/// Region reported for listed clusters unless set otherwise.
pub const LISTED_REGION: &str = "cn-hangzhou";

/// One cluster `DescribeClustersV1` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedCluster {
    /// `cluster_id`.
    pub cluster_id: String,
    /// `name`.
    pub name: String,
    /// `region_id`.
    pub region_id: String,
    /// `state` (`running`, `failed`, `deleting`, ...).
    pub state: String,
}

impl ListedCluster {
    /// A running cluster in [`LISTED_REGION`].
    pub fn new(cluster_id: &str, name: &str) -> ListedCluster {
        ListedCluster {
            cluster_id: cluster_id.to_owned(),
            name: name.to_owned(),
            region_id: LISTED_REGION.to_owned(),
            state: "running".to_owned(),
        }
    }
}

/// The listed clusters and the page limit.
#[derive(Debug)]
pub(crate) struct Catalog {
    pub clusters: Vec<ListedCluster>,
    pub page_size_max: usize,
}

impl Catalog {
    /// The default list for the accepted ids (`None`: any).
    pub(crate) fn new(known: Option<&[String]>) -> Catalog {
        let clusters = match known {
            Some(ids) => ids
                .iter()
                .enumerate()
                .map(|(i, id)| ListedCluster::new(id, &format!("cluster-{}", i + 1)))
                .collect(),
            None => DEMO_CLUSTERS
                .iter()
                .map(|(id, name)| ListedCluster::new(id, name))
                .collect(),
        };
        Catalog {
            clusters,
            page_size_max: LIST_PAGE_SIZE_MAX,
        }
    }
}

fn catalog(state: &State) -> std::sync::MutexGuard<'_, Catalog> {
    state
        .catalog
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A positive integer query parameter, or its default.
fn positive(query: &[(String, String)], name: &str, default: usize) -> Result<usize, ApiError> {
    match query.iter().find(|(k, _)| k == name) {
        None => Ok(default),
        Some((_, v)) => match v.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(ApiError::new(
                400,
                "InvalidParameter",
                format!(
                    "The specified parameter \"{name}\" is not valid: got \"{v}\", expected a positive integer."
                ),
            )),
        },
    }
}

/// The checks, then one page of the list.
pub(crate) fn describe_clusters_v1(
    state: &State,
    req: &IncomingRequest<'_>,
    now: DateTime<Utc>,
) -> Result<serde_json::Value, ApiError> {
    api::authenticate(state, req, "DescribeClustersV1", now)?;
    let query = roa::decode_query(req.raw_query);
    let page_number = positive(&query, "page_number", 1)?;
    let page_size = positive(&query, "page_size", LIST_PAGE_SIZE_DEFAULT)?;
    let catalog = catalog(state);
    let served = page_size.min(catalog.page_size_max.max(1));
    let created = state.started_at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let clusters: Vec<serde_json::Value> = catalog
        .clusters
        .iter()
        .skip((page_number - 1).saturating_mul(served))
        .take(served)
        .map(|c| {
            serde_json::json!({
                "cluster_id": c.cluster_id,
                "name": c.name,
                "region_id": c.region_id,
                "state": c.state,
                "cluster_type": "ManagedKubernetes",
                "profile": "Default",
                "current_version": crate::KUBE_GIT_VERSION.trim_start_matches('v'),
                "created": created,
                "updated": created,
            })
        })
        .collect();
    Ok(serde_json::json!({
        "clusters": clusters,
        "page_info": {
            "page_number": page_number,
            "page_size": served,
            "total_count": catalog.clusters.len(),
        },
    }))
}

/// The HTTP answer and the code logged, faults applied.
pub(crate) async fn answer(
    state: &State,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    request_id: &str,
) -> (Answer, String) {
    let incoming = IncomingRequest {
        method,
        path,
        raw_query: query,
        headers,
    };
    state.requests.fetch_add(1, Ordering::SeqCst);
    let (extra_delay, fault) = state.take_faults(FaultTarget::Ack);
    let delay = state.response_delay + extra_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let malformed = match fault {
        Some(AnswerFault::Error(e)) => return (crate::server::cs_error(&e, request_id), e.code),
        Some(AnswerFault::Malformed { kind, status }) => Some((kind, status)),
        None => None,
    };
    match describe_clusters_v1(state, &incoming, Utc::now()) {
        Ok(body) => match malformed {
            None => (Answer::json(200, &body), "OK".to_owned()),
            Some((kind, status)) => (
                faults::corrupt(kind, status, Answer::json(200, &body), Some(&body)),
                format!("OK (fault {})", kind.name()),
            ),
        },
        Err(e) => (crate::server::cs_error(&e, request_id), e.code),
    }
}

impl crate::Emulator {
    /// Replaces the clusters `DescribeClustersV1` lists (in this order). Which ids
    /// `DescribeClusterUserKubeconfig` accepts does not change.
    pub fn set_listed_clusters(&self, clusters: Vec<ListedCluster>) {
        catalog(&self.state).clusters = clusters;
    }

    /// The clusters `DescribeClustersV1` lists.
    pub fn listed_clusters(&self) -> Vec<ListedCluster> {
        catalog(&self.state).clusters.clone()
    }

    /// Serves at most `max` clusters per page (at least 1), whatever `page_size` asks for.
    pub fn set_list_page_size_max(&self, max: usize) {
        catalog(&self.state).page_size_max = max.max(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_lists() {
        let any = Catalog::new(None);
        assert_eq!(any.clusters.len(), DEMO_CLUSTERS.len());
        assert!(
            any.clusters
                .iter()
                .all(|c| api::looks_like_cluster_id(&c.cluster_id))
        );
        let known = Catalog::new(Some(&["c1".to_owned(), "c2".to_owned()]));
        assert_eq!(known.clusters[1], ListedCluster::new("c2", "cluster-2"));
    }

    #[test]
    fn paging_parameters() {
        let q = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
        assert_eq!(positive(&[], "page_size", 10).ok(), Some(10));
        assert_eq!(
            positive(&q("page_size", "3"), "page_size", 10).ok(),
            Some(3)
        );
        for bad in ["0", "-1", "x", ""] {
            let e = positive(&q("page_number", bad), "page_number", 1).err();
            assert_eq!(
                e.map(|e| e.code),
                Some("InvalidParameter".to_owned()),
                "{bad}"
            );
        }
    }
}
