//! The ACK (Container Service, "CS") OpenAPI: `DescribeClusterUserKubeconfig`, which issues a
//! client certificate for one cluster.

mod client;
mod kubeconfig;
pub mod roa;

pub use client::{AckClient, KubeconfigAnswer, MAX_RESPONSE_BYTES, parse_kubeconfig_answer};
pub use kubeconfig::{KubeconfigError, extract_client_credential};
