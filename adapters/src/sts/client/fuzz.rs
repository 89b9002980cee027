use super::*;
use crate::fuzz_support::{CANARY, check_message, config, mutations, object_of, string_bytes};
use proptest::prelude::*;
use serde_json::json;

/// Finding (reported, not fixed here): `Credentials.Expiration` and the `RequestId` are
/// quoted whole, so those messages grow with the answer.
const ECHOES: &[&str] = &["Credentials.Expiration \"", "(RequestId "];

/// Finding (reported, not fixed here): the `RequestId` suffix is quoted raw (Display, not
/// Debug), so a control character in it, such as an ESC sequence, reaches the terminal.
/// Masked here so that the rest of the message is still checked for them.
fn check_error(error: &StsError, len: usize, secrets: &[&str]) -> Result<(), TestCaseError> {
    let message = error.to_string();
    let masked = match message.find("(RequestId ") {
        Some(at) => {
            let (head, tail) = message.split_at(at);
            let tail: String = tail
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect();
            format!("{head}{tail}")
        }
        None => message,
    };
    check_message(&masked, len, ECHOES, secrets)
}

fn answer(body: Vec<u8>) -> Answer {
    Answer {
        status: 200,
        content_type: "application/json".into(),
        header_request_id: None,
        body,
    }
}

fn assume_role_body() -> BoxedStrategy<Vec<u8>> {
    let valid = json!({
        "RequestId": "R-1",
        "AssumedRoleUser": {"Arn": "acs:ram::1:role/r/s", "AssumedRoleId": "3:s"},
        "Credentials": {
            "AccessKeyId": "STS.id", "AccessKeySecret": CANARY, "SecurityToken": CANARY,
            "Expiration": "2030-01-01T00:00:00Z",
        },
    });
    let credentials = object_of(vec![
        ("AccessKeyId", json!("STS.id")),
        ("AccessKeySecret", json!(CANARY)),
        ("SecurityToken", json!(CANARY)),
        ("Expiration", json!("2030-01-01T00:00:00.123Z")),
    ]);
    let outer = (
        object_of(vec![("RequestId", json!("R-1"))]),
        prop_oneof![4 => credentials, 1 => object_of(vec![])],
    )
        .prop_map(|(mut outer, credentials)| {
            if let Some(object) = outer.as_object_mut() {
                object.insert("Credentials".into(), credentials);
            }
            outer.to_string().into_bytes()
        });
    prop_oneof![3 => outer, 1 => mutations(valid.to_string().into_bytes())].boxed()
}

fn identity_body() -> BoxedStrategy<Vec<u8>> {
    let fields = vec![
        ("AccountId", json!("1234567890")),
        ("Arn", json!("acs:ram::1234567890:user/alice")),
        ("IdentityType", json!("RAMUser")),
        ("PrincipalId", json!("2345")),
        ("UserId", json!("2345")),
        ("RoleId", json!("")),
        ("RequestId", json!("R-2")),
    ];
    let valid: serde_json::Map<String, Value> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    prop_oneof![
        3 => object_of(fields).prop_map(|v| v.to_string().into_bytes()),
        1 => mutations(Value::Object(valid).to_string().into_bytes()),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn assume_role_answers_never_panic_and_stay_bounded(body in assume_role_body()) {
        let len = body.len();
        let parsed = check(ASSUME_ROLE, answer(body), &[])
            .and_then(|json| parse_credentials(ASSUME_ROLE, &json));
        match parsed {
            Ok(credentials) => {
                let held = credentials.access_key_id.len()
                    + credentials.access_key_secret.expose().len()
                    + credentials.security_token.as_ref().map_or(0, |t| t.expose().len());
                prop_assert!(held <= len);
                prop_assert!(credentials.expiration.is_some());
            }
            Err(error) => check_error(&error, len, &[CANARY])?,
        }
    }

    #[test]
    fn caller_identity_answers_never_panic_and_stay_bounded(body in identity_body()) {
        let len = body.len();
        let parsed = check(GET_CALLER_IDENTITY, answer(body), &[]).and_then(|json| {
            let size = string_bytes(&json);
            parse_identity(&json).map(|identity| (identity, size))
        });
        match parsed {
            Ok((identity, size)) => {
                prop_assert!(size <= len);
                let held = [
                    Some(&identity.account_id),
                    Some(&identity.arn),
                    Some(&identity.identity_type),
                    identity.principal_id.as_ref(),
                    identity.user_id.as_ref(),
                    identity.role_id.as_ref(),
                    identity.request_id.as_ref(),
                ]
                .into_iter()
                .flatten()
                .map(String::len)
                .sum::<usize>();
                // Numbers are accepted and printed back: `1e5` becomes `100000.0`.
                prop_assert!(held <= 4 * len + 64);
                prop_assert!(!identity.account_id.is_empty() && !identity.arn.is_empty());
            }
            Err(error) => check_error(&error, len, &[])?,
        }
    }
}
