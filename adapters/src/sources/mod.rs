//! Where Alibaba Cloud credentials come from. One module per source, each an
//! `AccessCredentialProvider`.

pub mod env;

pub use env::EnvCredentialProvider;
