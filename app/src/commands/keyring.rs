//! `keyring set-access-key | list | delete`: AccessKeys kept in the OS keychain instead of a
//! plaintext file, for use with `--credential-type keyring --profile-name NAME`.

use crate::cli::KeyringCommand;
use crate::error::AppError;
use ack_ram_adapters::keychain::Backend;
use ack_ram_adapters::sources::keyring::{self, KeyringAccessKeys};
use ack_ram_domain::Secret;
use std::io::{BufRead, IsTerminal};

/// Runs a keyring command.
pub fn run(command: &KeyringCommand) -> Result<(), AppError> {
    let text = match command {
        KeyringCommand::SetAccessKey {
            profile,
            access_key_id,
        } => {
            let (id, secret) = read_access_key(access_key_id.as_deref())?;
            keyring::set_access_key(profile, &id, &secret)?;
            format!(
                "stored AccessKey {id} for profile {profile:?} in the {}; use it with --credential-type keyring --profile-name {profile}\n",
                Backend::Native.name()
            )
        }
        KeyringCommand::List => {
            let profiles = KeyringAccessKeys::new(Backend::Native).list()?;
            if profiles.is_empty() {
                format!("no profiles in the {}\n", Backend::Native.name())
            } else {
                let mut text = format!("{:<24} {:<32} {}\n", "PROFILE", "ACCESS KEY ID", "KIND");
                for p in profiles {
                    text.push_str(&format!(
                        "{:<24} {:<32} {:?}\n",
                        p.profile, p.access_key_id, p.kind
                    ));
                }
                text
            }
        }
        KeyringCommand::Delete { profile } => {
            if !keyring::delete_profile(profile)? {
                return Err(AppError::NoKeyringProfile {
                    profile: profile.clone(),
                    backend: Backend::Native.name(),
                });
            }
            format!(
                "deleted profile {profile:?} from the {}\n",
                Backend::Native.name()
            )
        }
    };
    crate::output::print(&text)
}

/// The AccessKey id and secret: prompted on a terminal (the secret without echo), else read
/// from stdin, one per line (the id line is skipped when `--access-key-id` is given).
fn read_access_key(id_flag: Option<&str>) -> Result<(String, Secret), AppError> {
    let input_error = |what: &str| AppError::InvalidInput {
        flag: "AccessKey",
        message: format!(
            "{what}; give the id with --access-key-id or on the first line of stdin, and the secret on the next line (or at the prompt)"
        ),
    };
    let stdin = std::io::stdin();
    let (id, secret) = if stdin.is_terminal() {
        let id = match id_flag {
            Some(id) => id.to_owned(),
            None => {
                eprint!("AccessKey ID: ");
                let mut line = String::new();
                stdin.lock().read_line(&mut line).map_err(AppError::Stdin)?;
                line.trim().to_owned()
            }
        };
        let secret = rpassword::prompt_password("AccessKey secret (not shown): ")
            .map_err(AppError::Stdin)?;
        (id, Secret::new(secret.trim()))
    } else {
        let mut lines = stdin.lock().lines();
        let mut next = || -> Result<String, AppError> {
            Ok(lines
                .next()
                .transpose()
                .map_err(AppError::Stdin)?
                .unwrap_or_default()
                .trim()
                .to_owned())
        };
        let id = match id_flag {
            Some(id) => id.to_owned(),
            None => next()?,
        };
        let secret = Secret::new(next()?);
        (id, secret)
    };
    if id.is_empty() {
        return Err(input_error("no AccessKey id was given"));
    }
    if secret.is_empty() {
        return Err(input_error("no AccessKey secret was given"));
    }
    Ok((id, secret))
}
