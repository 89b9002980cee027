//! `auth whoami`: which Alibaba Cloud identity the credential chain resolves to, so users can
//! see who they are before blaming the cluster. Calls STS `GetCallerIdentity`.

use crate::cli::WhoamiArgs;
use crate::config::Settings;
use crate::error::AppError;
use crate::wiring;
use ack_ram_adapters::clock::SystemClock;
use ack_ram_adapters::env::Environment;
use ack_ram_adapters::sts::{CallerIdentity, StsClient};
use std::io::Write;
use std::sync::Arc;

/// Runs the command: prints the identity on stdout.
pub fn run(args: &WhoamiArgs, settings: &Settings, env: &Environment) -> Result<(), AppError> {
    let session = wiring::session(settings, args.role_arn.as_deref(), env)?;
    let credentials = session.credentials()?;
    let sts = StsClient::new(
        session.client.clone(),
        session.sts_endpoint.clone(),
        Arc::new(SystemClock),
    );
    let caller = session
        .runtime
        .block_on(sts.get_caller_identity(&credentials))
        .map_err(AppError::Sts)?;
    let text = match args.output.as_str() {
        "json" => json(&caller),
        _ => text(&caller),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(AppError::Output)
}

fn text(c: &CallerIdentity) -> String {
    let mut out = format!(
        "Account:       {}\nIdentity type: {}\nARN:           {}\n",
        c.account_id, c.identity_type, c.arn
    );
    for (label, value) in [
        ("Principal id:  ", &c.principal_id),
        ("User id:       ", &c.user_id),
        ("Role id:       ", &c.role_id),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            out.push_str(label);
            out.push_str(v);
            out.push('\n');
        }
    }
    out
}

fn json(c: &CallerIdentity) -> String {
    let mut value = serde_json::json!({
        "accountId": c.account_id,
        "identityType": c.identity_type,
        "arn": c.arn,
    });
    if let Some(map) = value.as_object_mut() {
        for (key, v) in [
            ("principalId", &c.principal_id),
            ("userId", &c.user_id),
            ("roleId", &c.role_id),
            ("requestId", &c.request_id),
        ] {
            if let Some(v) = v {
                map.insert(key.into(), serde_json::Value::String(v.clone()));
            }
        }
    }
    format!("{value:#}\n")
}
