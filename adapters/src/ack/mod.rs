//! The ACK (Container Service, "CS") OpenAPI: `DescribeClusterUserKubeconfig`, which issues a
//! client certificate for one cluster, and `DescribeClustersV1`, which lists the account's
//! clusters.

mod client;
mod clusters;
mod kubeconfig;
pub mod roa;

pub use client::{AckClient, KubeconfigAnswer, MAX_RESPONSE_BYTES, parse_kubeconfig_answer};
pub use client::{ClusterDetail, Reached};
pub use clusters::{ClusterSummary, PAGE_SIZE as CLUSTERS_PAGE_SIZE};
pub use kubeconfig::{KubeconfigError, extract_client_credential};
