//! Adapters: one module per outside system, each implementing one port of `ack-ram-domain`.
//!
//! - [`ack`]: the ACK (CS) OpenAPI client and its ROA signer ([`ClusterCredentialIssuer`]).
//! - [`sources`]: where Alibaba Cloud credentials come from ([`AccessCredentialProvider`]).
//! - [`store`]: where issued certificates are cached ([`CredentialStore`]).
//! - [`sts`]: the STS client (AssumeRole, AssumeRoleWithOIDC, GetCallerIdentity) and its RPC signer.
//! - [`http`]: the one place that builds HTTP clients.
//! - [`clock`]: the system clock ([`Clock`]).
//! - [`kubeconfig_merge`]: `get-kubeconfig --merge`, entries put into the kubeconfig kubectl uses.
//!
//! Which adapter runs is decided by the app's configuration; nothing here reads process-wide
//! state on its own (the environment arrives as an [`env::Environment`] value).
//!
//! [`ClusterCredentialIssuer`]: ack_ram_domain::ports::ClusterCredentialIssuer
//! [`AccessCredentialProvider`]: ack_ram_domain::ports::AccessCredentialProvider
//! [`CredentialStore`]: ack_ram_domain::ports::CredentialStore
//! [`Clock`]: ack_ram_domain::ports::Clock

pub mod ack;
pub mod api_error;
pub mod clock;
pub mod context;
pub mod env;
#[cfg(test)]
pub(crate) mod fuzz_support;
pub mod http;
pub mod keychain;
pub mod kubeconfig;
pub mod kubeconfig_merge;
pub mod local_file;
mod nonce;
pub mod percent;
pub mod proxy;
pub mod retry;
pub mod scrub;
pub mod sources;
pub mod store;
pub mod sts;
pub mod timefmt;
pub mod token;
