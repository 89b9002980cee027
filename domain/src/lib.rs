//! The pure core of the ACK credential plugin.
//!
//! This crate knows what a cluster credential is, when a cached one may be served, and how the
//! get-credential use case runs. It performs no I/O: no files, no environment, no network, no
//! clock. Everything outside reaches it through the traits in [`ports`], which is what lets every
//! rule here be tested without sleeping, without a home directory and without a cloud account.
//! A test in the `tests` crate fails if this crate ever gains an I/O dependency.

pub mod model;
pub mod policy;
pub mod ports;
pub mod retry;
pub mod service;

pub use model::{
    AccessCredentials, ApiVersion, CacheKey, CertificateLifetime, ClusterCredential, ClusterId,
    ExecCredential, IdentityInputs, RegionId, Secret,
};
