//! One module per command.

pub mod get_credential;
pub mod whoami;
