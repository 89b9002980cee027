//! One module per command.

pub mod cache;
pub mod doctor;
pub mod export_credentials;
pub mod get_credential;
pub mod get_kubeconfig;
pub mod get_token;
pub mod keyring;
pub mod whoami;
