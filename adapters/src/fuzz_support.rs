//! Strategies and checks shared by the `fuzz` property tests of every parser of untrusted
//! input (cache files, keyring metadata, config.json, INI, API answers, kubeconfigs, process
//! output): near-valid inputs that reach deep code paths, mutations of valid documents, and the
//! one check every failure message must pass (no secret, no raw control character, bounded).

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// The longest message a failure may produce when it quotes nothing from the input.
pub(crate) const MAX_MESSAGE: usize = 4 * 1024;
/// Stands for a secret in generated inputs; no message may contain it.
pub(crate) const CANARY: &str = "CANARY-7f3a-secret";

/// 256 cases (or `PROPTEST_CASES`), and no `proptest-regressions` files written into the
/// shared tree.
pub(crate) fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Checks a failure's message: no `secrets`, and at most [`MAX_MESSAGE`] bytes unless it
/// contains one of `echoes`, the known spots that quote a value of the input whole. Those
/// grow with the input, Debug-escaped (up to 6 bytes per input byte: DEL becomes
/// `\u{7f}`); for them the bound asserted is that echo. A person never sees them whole: the
/// app renders every message through `terminal_safe`, which escapes and cuts it.
pub(crate) fn check_message(
    message: &str,
    input_len: usize,
    echoes: &[&str],
    secrets: &[&str],
) -> Result<(), TestCaseError> {
    for secret in secrets {
        prop_assert!(!message.contains(secret), "{message}");
    }
    prop_assert!(
        !message.chars().any(char::is_control),
        "a raw control character: {message:?}"
    );
    let limit = if echoes.iter().any(|echo| message.contains(echo)) {
        MAX_MESSAGE + 6 * input_len
    } else {
        MAX_MESSAGE
    };
    prop_assert!(
        message.len() <= limit,
        "{} bytes of message for {} bytes of input: {}",
        message.len(),
        input_len,
        message.chars().take(300).collect::<String>()
    );
    Ok(())
}

/// Any JSON value, a few levels deep (never containing [`CANARY`]).
pub(crate) fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[0-9TZ:. +-]{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map("[a-zA-Z_]{0,16}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Up to 64 KiB of one character: for messages that might quote a value whole.
pub(crate) fn long_string() -> impl Strategy<Value = String> {
    (0..65_536usize, any::<char>()).prop_map(|(n, c)| c.to_string().repeat(n))
}

/// A broken field: absent, empty, long or any JSON at all.
fn broken() -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(Value::String(String::new()))),
        1 => long_string().prop_map(|s| Some(Value::String(s))),
        2 => any_json().prop_map(Some),
    ]
    .boxed()
}

/// A broken field of a typed struct of strings, where any other type fails the whole
/// document: absent, empty, long or any string.
fn broken_string() -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(Value::String(String::new()))),
        1 => long_string().prop_map(|s| Some(Value::String(s))),
        2 => any::<String>().prop_map(|s| Some(Value::String(s))),
    ]
    .boxed()
}

/// A field's value: mostly `good`, else broken.
pub(crate) fn field(good: Value) -> BoxedStrategy<Option<Value>> {
    prop_oneof![6 => Just(Some(good)), 5 => broken()].boxed()
}

/// Objects with the given fields: all good, one broken, or each broken or not (with a few
/// unknown fields). Most cases are thus near-valid and reach deep checks.
pub(crate) fn object_of(fields: Vec<(&'static str, Value)>) -> BoxedStrategy<Value> {
    object_with(fields, broken)
}

/// [`object_of`] whose fields stay strings (or go missing).
pub(crate) fn strings_of(fields: Vec<(&'static str, Value)>) -> BoxedStrategy<Value> {
    object_with(fields, broken_string)
}

fn object_with(
    fields: Vec<(&'static str, Value)>,
    broken: fn() -> BoxedStrategy<Option<Value>>,
) -> BoxedStrategy<Value> {
    let names: Vec<&'static str> = fields.iter().map(|(name, _)| *name).collect();
    let good: Map<String, Value> = fields
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect();
    let one_broken = {
        let (names, good) = (names.clone(), good.clone());
        (0..names.len().max(1), broken()).prop_map(move |(i, value)| {
            let mut object = good.clone();
            if let Some(name) = names.get(i) {
                match value {
                    Some(value) => object.insert((*name).to_owned(), value),
                    None => object.remove(*name),
                };
            }
            Value::Object(object)
        })
    };
    let values: Vec<_> = fields
        .into_iter()
        .map(|(_, good)| prop_oneof![6 => Just(Some(good)), 5 => broken()])
        .collect();
    let extra = btree_map("[a-z_]{1,12}", any_json(), 0..3);
    let each = (values, extra).prop_map(move |(values, extra)| {
        let mut object: Map<String, Value> = extra.into_iter().collect();
        for (name, value) in names.iter().zip(values) {
            if let Some(value) = value {
                object.insert((*name).to_owned(), value);
            }
        }
        Value::Object(object)
    });
    prop_oneof![2 => Just(Value::Object(good)), 3 => one_broken, 2 => each].boxed()
}

/// Arbitrary bytes, `valid` cut anywhere (a torn write, a truncated answer) or `valid`
/// with one byte changed.
pub(crate) fn mutations(valid: Vec<u8>) -> BoxedStrategy<Vec<u8>> {
    let len = valid.len();
    let cut = valid.clone();
    prop_oneof![
        vec(any::<u8>(), 0..4096),
        (0..=len).prop_map(move |n| cut[..n].to_vec()),
        (0..len.max(1), any::<u8>()).prop_map(move |(i, b)| {
            let mut bytes = valid.clone();
            if let Some(byte) = bytes.get_mut(i) {
                *byte = b;
            }
            bytes
        }),
    ]
    .boxed()
}

/// The bytes of every string (keys included) in `value`: what a parse may hold at most.
pub(crate) fn string_bytes(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::Array(items) => items.iter().map(string_bytes).sum(),
        Value::Object(map) => map.iter().map(|(k, v)| k.len() + string_bytes(v)).sum(),
        _ => 0,
    }
}

/// The bytes of every string a credential spec holds.
pub(crate) fn spec_bytes(spec: &crate::sources::CredentialSpec) -> usize {
    use crate::sources::CredentialSpec as S;
    match spec {
        S::AccessKey { id, secret } => id.len() + secret.expose().len(),
        S::StsToken { id, secret, token } => {
            id.len() + secret.expose().len() + token.expose().len()
        }
        S::AssumeRole {
            base,
            role_arn,
            session_name,
            external_id,
        } => {
            spec_bytes(base)
                + role_arn.len()
                + session_name.len()
                + external_id.as_ref().map_or(0, String::len)
        }
        S::EcsRamRole { role_name } => role_name.as_ref().map_or(0, String::len),
        S::Oidc(oidc) => {
            oidc.role_arn.len()
                + oidc.oidc_provider_arn.len()
                + oidc.token_file.as_os_str().len()
                + oidc.session_name.len()
        }
        S::External { command } => command.len(),
        S::CredentialsUri { uri } => uri.len(),
        S::CloudSso(p) => {
            p.origin.name.len()
                + p.sign_in_url.len()
                + p.account_id.len()
                + p.access_config.len()
                + p.access_token.expose().len()
                + p.cached.as_ref().map_or(0, cached_bytes)
        }
        S::OAuth(p) => {
            p.origin.name.len()
                + p.access_token.expose().len()
                + p.refresh_token.expose().len()
                + p.cached.as_ref().map_or(0, cached_bytes)
        }
    }
}

fn cached_bytes(c: &crate::sources::cli_config_writer::CachedSts) -> usize {
    c.access_key_id.len() + c.access_key_secret.expose().len() + c.security_token.expose().len()
}
