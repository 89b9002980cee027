//! Where issued certificates are kept between runs. One module per store, each a
//! `CredentialStore`.

pub mod file;

pub use file::FileStore;
