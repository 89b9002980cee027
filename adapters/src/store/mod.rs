//! Where issued certificates are kept between runs. One module per store, each a
//! `CredentialStore`: `file` (the Go tool's files), `keyring` (the OS keychain), `none`.

pub mod file;
pub mod keyring;
pub mod lock;
pub mod none;

pub use file::FileStore;
pub use keyring::KeyringStore;
pub use none::NoStore;
