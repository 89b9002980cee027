//! Where Alibaba Cloud credentials come from: one module per source, composed by [`chain`] in
//! the Go tool's order. Sources are first *described* ([`profile::CredentialSpec`]) from
//! variables and files, then built into `AccessCredentialProvider`s by
//! [`profile::SourceContext`], so selection is testable without a network.

pub mod aliyun_cli;
pub mod chain;
pub mod cli_config_writer;
pub mod cloudsso;
pub mod credentials_uri;
pub mod env;
pub mod imds;
pub mod ini;
pub mod oauth;
pub mod oidc;
pub mod process;
pub mod profile;
pub mod role_arn;
pub mod static_credentials;

pub use chain::{ChainInputs, ChainProvider, CredentialType, ProfileFile};
pub use profile::{CredentialSpec, SourceContext};
pub mod keyring;
