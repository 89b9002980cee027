//! `DescribeClustersV1` (`GET /api/v1/clusters`): the account's clusters, page by page, for
//! `get-kubeconfig --merge --all-clusters` and for naming merged entries.
//!
//! The API answers `{"clusters": [...], "page_info": {"page_number", "page_size",
//! "total_count"}}`. Pages are requested until `total_count` clusters were seen or a page comes
//! back empty; a server may return fewer clusters per page than asked for, so the count, not
//! the page size, decides. A cluster that appears on two pages (the list changed while it was
//! read) is kept once; an id this tool would refuse on the command line is skipped with a debug
//! line rather than failing the whole listing.

use super::client::AckClient;
use ack_ram_domain::ClusterId;
use ack_ram_domain::ports::IssueError;
use serde::Deserialize;

const ACTION: &str = "DescribeClustersV1";
/// Clusters asked for per page (the API's largest page).
pub const PAGE_SIZE: u32 = 100;
/// Pages read at most, whatever `total_count` claims: 100 000 clusters, far beyond any account,
/// and a bound on an answer that never ends.
const MAX_PAGES: u32 = 1000;

/// One cluster of the listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSummary {
    /// Its id.
    pub cluster_id: ClusterId,
    /// Its name (may be empty).
    pub name: String,
    /// Its region, when the answer says.
    pub region_id: Option<String>,
    /// Its state (`running`, `failed`, ...), when the answer says.
    pub state: Option<String>,
}

#[derive(Deserialize)]
struct PageBody {
    clusters: Option<Vec<RawCluster>>,
    page_info: Option<PageInfo>,
}

#[derive(Deserialize)]
struct RawCluster {
    cluster_id: Option<String>,
    name: Option<String>,
    region_id: Option<String>,
    state: Option<String>,
}

#[derive(Deserialize)]
struct PageInfo {
    total_count: Option<u64>,
}

/// One parsed page: its clusters and the total the API reports.
#[derive(Debug, PartialEq, Eq)]
struct Page {
    clusters: Vec<ClusterSummary>,
    total_count: u64,
}

fn parse_page(body: &[u8]) -> Result<Page, IssueError> {
    let parsed: PageBody = serde_json::from_slice(body).map_err(|e| {
        IssueError::InvalidResponse(format!(
            "the {ACTION} answer is not the expected JSON ({} bytes; {})",
            body.len(),
            e.to_string().chars().take(200).collect::<String>()
        ))
    })?;
    let raw = parsed.clusters.ok_or_else(|| {
        IssueError::InvalidResponse(format!("the {ACTION} answer has no \"clusters\" list"))
    })?;
    let listed = raw.len() as u64;
    let clusters = raw
        .into_iter()
        .filter_map(|c| {
            let raw_id = c.cluster_id.unwrap_or_default();
            match ClusterId::parse(&raw_id) {
                Ok(cluster_id) => Some(ClusterSummary {
                    cluster_id,
                    name: c.name.unwrap_or_default(),
                    region_id: c.region_id.filter(|r| !r.is_empty()),
                    state: c.state.filter(|s| !s.is_empty()),
                }),
                Err(e) => {
                    tracing::debug!("{ACTION}: skipping a cluster: {e}");
                    None
                }
            }
        })
        .collect();
    // Without a total, the page is all there is.
    let total_count = parsed
        .page_info
        .and_then(|p| p.total_count)
        .unwrap_or(listed);
    Ok(Page {
        clusters,
        total_count,
    })
}

impl AckClient {
    /// Every cluster `DescribeClustersV1` lists for these credentials, in the API's order.
    pub async fn describe_clusters(
        &self,
        credentials: &ack_ram_domain::AccessCredentials,
    ) -> Result<Vec<ClusterSummary>, IssueError> {
        let mut clusters: Vec<ClusterSummary> = Vec::new();
        let mut seen: u64 = 0;
        for page_number in 1..=MAX_PAGES {
            let query = [
                ("page_number".to_owned(), page_number.to_string()),
                ("page_size".to_owned(), PAGE_SIZE.to_string()),
            ];
            let body = self
                .signed_get(ACTION, "/api/v1/clusters", &query, credentials)
                .await?;
            let page = parse_page(&body)?;
            let on_page = page.clusters.len();
            seen += on_page as u64;
            tracing::debug!(
                page_number,
                on_page,
                total = page.total_count,
                "{ACTION} page"
            );
            for cluster in page.clusters {
                if !clusters.iter().any(|c| c.cluster_id == cluster.cluster_id) {
                    clusters.push(cluster);
                }
            }
            if on_page == 0 || seen >= page.total_count {
                return Ok(clusters);
            }
        }
        Err(IssueError::InvalidResponse(format!(
            "{ACTION} still had clusters after {MAX_PAGES} pages of {PAGE_SIZE}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(raw: &str) -> ClusterId {
        ClusterId::parse(raw).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_page_of_the_real_shape() {
        let body = br#"{"clusters":[{"cluster_id":"c1","name":"dev","region_id":"cn-beijing","state":"running","cluster_type":"ManagedKubernetes","master_url":"{}"},{"cluster_id":"c2","name":"","state":""}],"page_info":{"page_number":1,"page_size":2,"total_count":5}}"#;
        let page = parse_page(body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.total_count, 5);
        assert_eq!(
            page.clusters,
            [
                ClusterSummary {
                    cluster_id: id("c1"),
                    name: "dev".into(),
                    region_id: Some("cn-beijing".into()),
                    state: Some("running".into()),
                },
                ClusterSummary {
                    cluster_id: id("c2"),
                    name: String::new(),
                    region_id: None,
                    state: None,
                },
            ]
        );
    }

    #[test]
    fn odd_pages() {
        // No page_info: the page is everything.
        let page =
            parse_page(br#"{"clusters":[{"cluster_id":"c1"}]}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.total_count, 1);
        // An id the command line would refuse is skipped, not fatal.
        let page = parse_page(
            br#"{"clusters":[{"cluster_id":"../x"},{"name":"no id"},{"cluster_id":"c9"}],"page_info":{"total_count":3}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.clusters.len(), 1);
        for (body, want) in [
            (&b"<html>"[..], "not the expected JSON"),
            (br#"{"page_info":{}}"#, "no \"clusters\" list"),
            (br#"{"clusters":{}}"#, "not the expected JSON"),
        ] {
            let got = parse_page(body)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(got.contains(want), "{got}");
        }
    }
}

/// The listing comes from the network: no panic, no more clusters than the body could hold,
/// short messages, whatever the body.
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::fuzz_support::{check_message, config, mutations};
    use proptest::prelude::*;

    fn valid() -> Vec<u8> {
        br#"{"clusters":[{"cluster_id":"c1","name":"dev","region_id":"cn-beijing","state":"running"},{"cluster_id":"c2","name":"prod"}],"page_info":{"page_number":1,"page_size":2,"total_count":7}}"#.to_vec()
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn pages_never_panic_and_stay_bounded(
            body in prop_oneof![3 => mutations(valid()), 1 => proptest::collection::vec(any::<u8>(), 0..512)]
        ) {
            match parse_page(&body) {
                Ok(page) => {
                    // Each cluster takes at least `{"cluster_id":"x"}` of the body.
                    prop_assert!(page.clusters.len() * 17 <= body.len());
                }
                Err(error) => check_message(&error.to_string(), body.len(), &[], &[])?,
            }
        }
    }
}
