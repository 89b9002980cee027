//! Where Alibaba Cloud credentials come from. One module per source, each an
//! `AccessCredentialProvider`.

pub mod credentials_uri;
pub mod env;
pub mod imds;
pub mod process;

pub use env::EnvCredentialProvider;
