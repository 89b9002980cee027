//! Alibaba Cloud STS (Security Token Service), RPC style, API version 2015-04-01:
//! `AssumeRole`, `AssumeRoleWithOIDC` and `GetCallerIdentity`.
//!
//! The assume-role credential sources (`--role-arn`, aliyun CLI and INI RAM-role profiles, RRSA)
//! call [`StsClient`]; [`rpc`] is the HMAC-SHA1 signer those calls need, and
//! [`resolve_endpoint`] picks the host as the Go tool does.

mod client;
mod endpoint;
pub mod rpc;

pub use client::{
    API_VERSION, AssumeRoleRequest, CallerIdentity, MAX_RESPONSE_BYTES, OidcRequest, StsClient,
    StsError,
};
pub use endpoint::resolve_endpoint;
