//! The Alibaba Cloud credentials file (`~/.alibabacloud/credentials`, INI).
//!
//! Parsed with a real INI parser. Comments are whole lines starting with `#` or `;`, and inline
//! ones: `#` or `;` after a space or tab starts a comment in a section header
//! (`[default]   # Default credential`) or a value (`type = access_key   # ...`), as Go and
//! credentials-go strip them (the credentials-go README's sample parses). Unlike the Go tool's
//! own parser, a value may contain `#`, `;` and `[` where no whitespace precedes them
//! (`s#e;c[r]et`), anything inside quotes (`"a #b"`), and only one matching pair of quotes is
//! removed. `security_token` (the SDKs' spelling) is accepted as well as `sts_token` (the Go
//! tool's), and `oidc_role_arn` sections work.

use super::oidc::OidcConfig;
use super::profile::{CredentialSpec, ProfileOrigin};
use crate::context::Fs;
use crate::local_file::{Symlinks, caps};
use ack_ram_domain::Secret;
use ack_ram_domain::ports::ProviderError;
use ini::{Ini, ParseOption, Properties};
use std::path::{Path, PathBuf};

const SOURCE: &str = "credentials file";

fn failed(message: String) -> ProviderError {
    ProviderError::Failed {
        source_name: SOURCE.into(),
        message,
    }
}

/// Loads `section` of the INI file at `path`.
pub fn load(
    fs: &dyn Fs,
    path: &Path,
    section: &str,
) -> Result<(CredentialSpec, ProfileOrigin), ProviderError> {
    let text = fs
        .read_to_string(path, caps::INI, Symlinks::Follow)
        .map_err(|e| failed(e.to_string()))?;
    let ini = Ini::load_from_str_opt(
        &text,
        ParseOption {
            enabled_quote: true,
            enabled_escape: false,
            ..ParseOption::default()
        },
    )
    .map_err(|e| {
        failed(format!(
            "{} is not a valid INI file: line {}, column {}: {}",
            path.display(),
            e.line,
            e.col,
            e.msg
        ))
    })?;
    let origin = ProfileOrigin {
        path: path.to_path_buf(),
        name: section.to_owned(),
    };
    let props = ini.section(Some(section)).ok_or_else(|| {
        // Only names that look like names: a header missing its `]` runs on over the next
        // lines, which may hold a secret.
        let all: Vec<&str> = ini.sections().flatten().collect();
        let mut known: Vec<String> = all
            .iter()
            .filter(|n| is_plain_word(n, 64, " "))
            .map(|n| (*n).to_owned())
            .collect();
        let unreadable = all.len() - known.len();
        if unreadable > 0 {
            known.push(format!("{unreadable} malformed (check the brackets)"));
        }
        failed(format!(
            "{} has no section [{section}] (sections: {}); select one with ALIBABA_CLOUD_PROFILE or --profile-name",
            path.display(),
            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
        ))
    })?;
    Ok((to_spec(props, &origin)?, origin))
}

/// Whether `text` is short and made only of ASCII letters, digits, `_`, `-`, `.` and `extra`:
/// safe to quote in a message (a quote or bracket left open swallows the following lines, and
/// with them perhaps a secret).
fn is_plain_word(text: &str, max: usize, extra: &str) -> bool {
    !text.is_empty()
        && text.len() <= max
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.@:/".contains(c) || extra.contains(c))
}

fn get<'a>(props: &'a Properties, key: &str) -> Option<&'a str> {
    props.get(key).map(str::trim).filter(|v| !v.is_empty())
}

fn required<'a>(
    props: &'a Properties,
    origin: &ProfileOrigin,
    kind: &str,
    key: &'static str,
) -> Result<&'a str, ProviderError> {
    get(props, key).ok_or_else(|| {
        failed(format!(
            "section [{}] in {} (type {kind}) is missing {key}",
            origin.name,
            origin.path.display()
        ))
    })
}

fn to_spec(props: &Properties, origin: &ProfileOrigin) -> Result<CredentialSpec, ProviderError> {
    let kind = get(props, "type").ok_or_else(|| {
        failed(format!(
            "section [{}] in {} has no type; set type = access_key, sts, ram_role_arn, ecs_ram_role, oidc_role_arn, credentials_uri or external",
            origin.name,
            origin.path.display()
        ))
    })?;
    let req = |key| required(props, origin, kind, key);
    let token = || get(props, "sts_token").or_else(|| get(props, "security_token"));
    let key_pair = |token: Option<&str>| -> Result<CredentialSpec, ProviderError> {
        let id = req("access_key_id")?.to_owned();
        let secret = Secret::new(req("access_key_secret")?);
        Ok(match token {
            Some(token) => CredentialSpec::StsToken {
                id,
                secret,
                token: Secret::new(token),
            },
            None => CredentialSpec::AccessKey { id, secret },
        })
    };
    match kind {
        "access_key" => key_pair(None),
        "sts" => {
            let token = token().ok_or_else(|| {
                failed(format!(
                    "section [{}] in {} (type sts) is missing sts_token (or security_token)",
                    origin.name,
                    origin.path.display()
                ))
            })?;
            key_pair(Some(token))
        }
        "ram_role_arn" => Ok(CredentialSpec::AssumeRole {
            base: Box::new(key_pair(token())?),
            role_arn: req("role_arn")?.to_owned(),
            session_name: req("role_session_name")?.to_owned(),
            external_id: get(props, "external_id").map(str::to_owned),
        }),
        "ecs_ram_role" => Ok(CredentialSpec::EcsRamRole {
            role_name: get(props, "role_name").map(str::to_owned),
        }),
        "oidc_role_arn" => Ok(CredentialSpec::Oidc(OidcConfig {
            role_arn: req("role_arn")?.to_owned(),
            oidc_provider_arn: req("oidc_provider_arn")?.to_owned(),
            token_file: PathBuf::from(req("oidc_token_file_path")?),
            session_name: req("role_session_name")?.to_owned(),
        })),
        "credentials_uri" => Ok(CredentialSpec::CredentialsUri {
            uri: req("credentials_uri")?.to_owned(),
        }),
        "external" => Ok(CredentialSpec::External {
            command: req("process_command")?.to_owned(),
        }),
        other => Err(failed(format!(
            "section [{}] in {} has an unsupported type {}; use access_key, sts, ram_role_arn, ecs_ram_role, oidc_role_arn, credentials_uri or external",
            origin.name,
            origin.path.display(),
            if is_plain_word(other, 32, "") {
                format!("{other:?}")
            } else {
                "(not a plain word: check its quotes)".to_owned()
            }
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str, section: &str) -> Result<CredentialSpec, String> {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("credentials");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        load(&crate::context::OsFs, &path, section)
            .map(|(s, _)| s)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn types_map_to_specs() {
        let text = "# comment\n[default]\ntype = access_key\naccess_key_id = LTAI\naccess_key_secret = \"s#e;c[r]et\"\n\n[sdk]\ntype = sts\naccess_key_id = STS.x\naccess_key_secret = s\nsecurity_token = tok\n\n[dev]\ntype = ram_role_arn\naccess_key_id = LTAI\naccess_key_secret = s\nrole_arn = acs:ram::1:role/dev\nrole_session_name = alice\n\n[ecs]\ntype = ecs_ram_role\nrole_name = r\n";
        match load_text(text, "default") {
            Ok(CredentialSpec::AccessKey { id, secret }) => {
                assert_eq!((id.as_str(), secret.expose()), ("LTAI", "s#e;c[r]et"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            load_text(text, "sdk"),
            Ok(CredentialSpec::StsToken { .. })
        ));
        assert!(
            matches!(load_text(text, "dev"), Ok(CredentialSpec::AssumeRole { session_name, .. }) if session_name == "alice")
        );
        assert_eq!(
            load_text(text, "ecs"),
            Ok(CredentialSpec::EcsRamRole {
                role_name: Some("r".into())
            })
        );
    }

    /// The sample of the credentials-go README, as printed there.
    #[test]
    fn inline_comments_are_stripped_like_go_does() {
        let readme = "[default]                          # Default credential\ntype = access_key                  # Certification type: access_key\naccess_key_id = foo                # access key id\naccess_key_secret = bar            # access key secret\n";
        match load_text(readme, "default") {
            Ok(CredentialSpec::AccessKey { id, secret }) => {
                assert_eq!((id.as_str(), secret.expose()), ("foo", "bar"));
            }
            other => panic!("{other:?}"),
        }
        let text = "; top\n  # indented\n[dev] ; the dev profile\ntype = sts\t# tab\naccess_key_id = STS.a#b\naccess_key_secret = \"s #e;c\"   ; quoted\nsts_token = t;o#k ;comment\n";
        match load_text(text, "dev") {
            Ok(CredentialSpec::StsToken { id, secret, token }) => {
                assert_eq!(
                    (id.as_str(), secret.expose(), token.expose()),
                    ("STS.a#b", "s #e;c", "t;o#k")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_file_section_and_key() {
        let err = load_text(
            "[default]\ntype = access_key\naccess_key_id = x\n",
            "default",
        )
        .err()
        .unwrap_or_default();
        assert!(
            err.contains("[default]")
                && err.contains("credentials")
                && err.contains("missing access_key_secret"),
            "{err}"
        );
        let err = load_text("[a]\ntype = access_key\n", "dev")
            .err()
            .unwrap_or_default();
        assert!(
            err.contains("no section [dev]") && err.contains("sections: a"),
            "{err}"
        );
        let err = load_text("[a]\naccess_key_id = x\n", "a")
            .err()
            .unwrap_or_default();
        assert!(err.contains("has no type"), "{err}");
        let err = load_text("[a]\ntype = bearer\n", "a")
            .err()
            .unwrap_or_default();
        assert!(err.contains("unsupported type \"bearer\""), "{err}");
        let err = load_text("[a\ntype = x\n", "a").err().unwrap_or_default();
        assert!(err.contains("not a valid INI file"), "{err}");
    }
}

/// The credentials file is the user's, but anything may be in it: no panic, a spec no larger
/// than the file, short messages that never quote a secret. Sections are built from the real
/// keys and types so that every `type` is reached, not only the first syntax error.
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::fuzz_support::{CANARY, check_message, config, long_string, mutations, spec_bytes};
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::select;

    const NAMES: &[&str] = &["default", "dev", "a"];
    /// Each type with the keys it needs.
    const TYPES: &[(&str, &[&str])] = &[
        ("access_key", &["access_key_id", "access_key_secret"]),
        ("sts", &["access_key_id", "access_key_secret", "sts_token"]),
        (
            "sts",
            &["access_key_id", "access_key_secret", "security_token"],
        ),
        (
            "ram_role_arn",
            &[
                "access_key_id",
                "access_key_secret",
                "role_arn",
                "role_session_name",
            ],
        ),
        ("ecs_ram_role", &["role_name"]),
        (
            "oidc_role_arn",
            &[
                "role_arn",
                "oidc_provider_arn",
                "oidc_token_file_path",
                "role_session_name",
            ],
        ),
        ("credentials_uri", &["credentials_uri"]),
        ("external", &["process_command"]),
        ("bearer", &[]),
    ];
    /// Each key with a value that fits it.
    const KEYS: &[(&str, &str)] = &[
        ("access_key_id", "LTAI"),
        ("access_key_secret", CANARY),
        ("sts_token", CANARY),
        ("security_token", CANARY),
        ("role_arn", "acs:ram::1:role/r"),
        ("role_session_name", "s"),
        ("external_id", "e"),
        ("role_name", "r"),
        ("oidc_provider_arn", "acs:ram::1:oidc-provider/p"),
        ("oidc_token_file_path", "/var/run/token"),
        ("credentials_uri", "http://127.0.0.1/c"),
        ("process_command", "helper --json"),
    ];
    /// Messages that may quote a value of the file (short plain words only).
    const ECHOES: &[&str] = &["(sections: ", "unsupported type \""];

    fn value(good: &'static str) -> BoxedStrategy<String> {
        prop_oneof![
            6 => Just(good.to_owned()),
            1 => Just(format!("\"{good}\"")),
            1 => Just(String::new()),
            1 => "[^\n]{0,40}",
            1 => long_string().prop_map(|s| s.replace(['\n', '\r'], "")),
        ]
        .boxed()
    }

    fn line(key: &'static str) -> BoxedStrategy<String> {
        let good = KEYS.iter().find(|(k, _)| *k == key).map_or("", |(_, v)| *v);
        value(good)
            .prop_map(move |v| format!("{key} = {v}\n"))
            .boxed()
    }

    /// A section of a type with its keys (each value mostly good), and a few other lines.
    fn section() -> BoxedStrategy<String> {
        let name = prop_oneof![6 => select(NAMES).prop_map(str::to_owned), 1 => "[^\n]{0,20}"];
        let kind = select(TYPES).prop_flat_map(|(kind, keys)| {
            let lines: Vec<_> = keys.iter().map(|key| line(key)).collect();
            let kind = prop_oneof![6 => Just(kind.to_owned()), 1 => "[^\n]{0,20}"];
            (kind, lines)
        });
        let noise = prop_oneof![
            3 => select(KEYS).prop_flat_map(|(key, _)| line(key)),
            1 => Just("\n".to_owned()),
            1 => Just("# comment\n".to_owned()),
            1 => Just("; comment\n".to_owned()),
            1 => "[^\n]{0,40}\n",
        ];
        (name, kind, vec(noise, 0..4))
            .prop_map(|(name, (kind, lines), noise)| {
                format!(
                    "[{name}]\ntype = {kind}\n{}{}",
                    lines.concat(),
                    noise.concat()
                )
            })
            .boxed()
    }

    fn file() -> BoxedStrategy<Vec<u8>> {
        let valid = format!(
            "[default]\ntype = ram_role_arn\naccess_key_id = LTAI\naccess_key_secret = {CANARY}\nrole_arn = acs:ram::1:role/r\nrole_session_name = s\n"
        );
        prop_oneof![
            4 => vec(section(), 1..4).prop_map(|sections| sections.concat().into_bytes()),
            1 => mutations(valid.into_bytes()),
        ]
        .boxed()
    }

    /// A header missing its `]`, or a quote left open in `type`, runs on over the following
    /// lines; the messages that name sections or the type quote plain words only, so neither a
    /// secret nor a control character gets through.
    fn check_error(error: &ProviderError, len: usize) -> Result<(), TestCaseError> {
        check_message(&error.to_string(), len, ECHOES, &[CANARY])
    }

    fn message_for(text: &str, section: &str) -> String {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("credentials");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        load(&crate::context::OsFs, &path, section)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn an_unclosed_section_header_does_not_leak_the_next_lines() {
        let text = format!("[dev\naccess_key_secret = {CANARY}\n\n[default]\ntype = sts\n");
        let message = message_for(&text, "default");
        assert!(!message.contains(CANARY), "{message}");
    }

    #[test]
    fn an_unclosed_quote_in_the_type_does_not_leak_the_next_lines() {
        let text = format!("[a]\ntype = 'access_key\naccess_key_secret = {CANARY}'\n");
        let message = message_for(&text, "a");
        assert!(!message.contains(CANARY), "{message}");
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn credentials_files_never_panic_and_stay_bounded(
            bytes in file(),
            section in select(NAMES),
        ) {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let path = dir.path().join("credentials");
            std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
            match load(&crate::context::OsFs, &path, section) {
                Ok((spec, _)) => prop_assert!(spec_bytes(&spec) <= bytes.len()),
                Err(error) => check_error(&error, bytes.len())?,
            }
        }
    }
}
