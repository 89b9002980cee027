//! `credential-plugin get-token`: an ExecCredential carrying a pre-signed STS
//! `GetCallerIdentity` request, for clusters that authenticate with ack-ram-authenticator.
//! Nothing is sent to STS by the plugin (unless a credential source needs it); the cluster's
//! webhook replays the signed request to learn who is calling.

use crate::cli::GetTokenArgs;
use crate::config::Settings;
use crate::error::AppError;
use crate::wiring;
use ack_ram_adapters::env::Environment;
use ack_ram_adapters::token::{TokenRequest, extra_query_from_env, presign};
use ack_ram_domain::ExecCredential;

/// Runs the command: prints the token ExecCredential on stdout.
pub fn run(args: &GetTokenArgs, settings: &Settings, env: &Environment) -> Result<(), AppError> {
    let cluster_id = &args.cluster_id;
    let api_version = wiring::api_version(args.api_version, env);
    let session = wiring::session(settings, args.role_arn.as_deref(), env)?;
    let credentials = session.credentials()?;
    let extra_query = env
        .get("ACK_RAM_TOOL_TOKEN_EXTRA_KEY_PREFIX")
        .map(|prefix| extra_query_from_env(env, prefix))
        .unwrap_or_default();
    let user_agent = wiring::user_agent();
    let token = presign(&TokenRequest {
        cluster_id: cluster_id.as_str(),
        credentials: &credentials,
        now: session.ctx.clock().now(),
        nonce: None,
        extra_query: &extra_query,
        user_agent: &user_agent,
    });
    let mut json = ExecCredential::token_json(api_version, &token.value, token.expiration);
    json.push('\n');
    crate::output::print(&json)
}
