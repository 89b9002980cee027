//! The one place where failures become text for a person.
//!
//! Every error ends the run with exit code 1 and one short paragraph on stderr: what failed,
//! why (with the API's code and RequestId when there is one), and what to do next. No stack
//! traces, no raw response bodies, no secrets: the types rendered here never hold any.

use crate::config::ConfigError;
use ack_ram_adapters::http::{EndpointError, HttpError};
use ack_ram_adapters::sts::StsError;
use ack_ram_domain::ClusterId;
use ack_ram_domain::ports::ApiErrorDetails;
use ack_ram_domain::ports::{IssueError, ProviderError};
use ack_ram_domain::service::GetCredentialError;

/// Everything that can stop a command.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A flag or setting has a value we refuse.
    #[error("invalid {flag}: {message}")]
    InvalidInput { flag: &'static str, message: String },
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("invalid ACK endpoint: {0}")]
    Endpoint(#[from] EndpointError),
    #[error("{0}")]
    Http(#[from] HttpError),
    /// The use case failed.
    #[error("could not get a client certificate for cluster {cluster}: {error}")]
    GetCredential {
        cluster: ClusterId,
        error: Box<GetCredentialError>,
    },
    /// No usable credentials (commands other than get-credential).
    #[error("could not resolve Alibaba Cloud credentials: {0}")]
    Credentials(ProviderError),
    /// An STS call failed.
    #[error("{0}")]
    Sts(StsError),
    /// A keyring AccessKey operation failed (the keychain's answer kept as the source).
    #[error("{0}")]
    Keyring(#[from] ack_ram_adapters::sources::keyring::KeyringError),
    /// `keyring delete` of a profile that is not there.
    #[error("there is no profile {profile:?} in the {backend}")]
    NoKeyringProfile {
        profile: String,
        backend: &'static str,
    },
    /// stdin could not be read (`keyring set-access-key`).
    #[error("could not read the AccessKey from stdin: {0}")]
    Stdin(std::io::Error),
    /// stdout could not be written.
    #[error("could not write to stdout: {0}")]
    Output(std::io::Error),
    #[error("could not start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// A path starts with `~` but there is no home directory to expand it to.
    #[error("cannot expand ~ in {path:?}: HOME is not set")]
    NoHome { path: String },
    /// A file the command was asked to write could not be written.
    #[error("could not write the {what} to {}: {source}", .path.display())]
    Write {
        what: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A store failed (cache listing and clearing).
    #[error("{0}")]
    Store(#[from] ack_ram_domain::ports::StoreError),
    /// The command of `export-credentials -- CMD` could not be started.
    #[error("could not run {program:?}: {source}")]
    RunCommand {
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// `DescribeClustersV1` failed (`get-kubeconfig --merge`).
    #[error("could not list the clusters of this identity: {0}")]
    ListClusters(IssueError),
    /// The kubeconfig to merge into could not be read, parsed or written.
    #[error("{0}")]
    Kubeconfig(#[from] ack_ram_adapters::kubeconfig_merge::MergeError),
    /// Some clusters of `get-kubeconfig --merge` failed (each reported on stderr).
    #[error("{failed} of {total} clusters could not be merged into {}; the others were", .path.display())]
    MergeIncomplete {
        failed: usize,
        total: usize,
        path: std::path::PathBuf,
    },
    /// `doctor` found problems (each is on stdout with its fix).
    #[error("{failed} of {total} doctor checks failed")]
    DoctorFailed { failed: usize, total: usize },
}

/// The longest text any one value inside a message may take on a terminal; the rest is cut.
/// A hostile answer can make a parser error quote megabytes of its input.
const MAX_RENDERED_CHARS: usize = 2000;

/// Makes text safe to print on a terminal: control characters (an escape sequence from a
/// hostile answer could rewrite the screen) are shown escaped, except newlines and tabs, and
/// the text is cut to [`MAX_RENDERED_CHARS`] characters, saying how much was left out.
pub fn terminal_safe(text: &str) -> String {
    let total = text.chars().count();
    let mut out = String::with_capacity(text.len().min(MAX_RENDERED_CHARS * 2));
    for c in text.chars().take(MAX_RENDERED_CHARS) {
        if c.is_control() && c != '\n' && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if total > MAX_RENDERED_CHARS {
        out.push_str(&format!(
            "... ({} more characters left out)",
            total - MAX_RENDERED_CHARS
        ));
    }
    out
}

/// A usage error from the command-line parser as one paragraph: its first block (the error
/// itself; clap adds a usage block and a help hint after blank lines), the lines joined.
pub fn usage_paragraph(rendered: &str) -> String {
    let first = rendered.split("\n\n").next().unwrap_or_default();
    let joined = first
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "{} (see --help)",
        terminal_safe(joined.trim_end_matches('.'))
    )
}

/// An error and its causes on one line, each cause once (a cause already quoted by the
/// message above it is not repeated).
fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let part = cause.to_string();
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        next = cause.source();
    }
    text
}

impl AppError {
    /// The paragraph printed on stderr, safe for a terminal: the error, its causes once, and
    /// what to do next.
    pub fn render(&self) -> String {
        let mut text = format!("error: {}", terminal_safe(&with_causes(self)));
        if let Some(hint) = self.hint() {
            if !text.ends_with('.') {
                text.push('.');
            }
            text.push(' ');
            text.push_str(&hint);
        }
        text
    }

    /// The error (with its causes, terminal-safe) and what to do next, apart: `doctor` prints
    /// them as a finding and its fix.
    pub fn explain(&self) -> (String, Option<String>) {
        (terminal_safe(&with_causes(self)), self.hint())
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::ListClusters(e) => Some(list_hint(e)),
            Self::Kubeconfig(e) => merge_hint(e),
            Self::MergeIncomplete { .. } => {
                Some("Each failed cluster is reported above with what to do.".into())
            }
            Self::DoctorFailed { .. } => {
                Some("Each failed check on stdout is followed by its fix.".into())
            }
            Self::GetCredential { error, .. } => match error.as_ref() {
                GetCredentialError::Credentials(ProviderError::NotConfigured(_)) => {
                    Some(NO_CREDENTIALS_HINT.into())
                }
                GetCredentialError::Credentials(ProviderError::Failed { .. }) => None,
                GetCredentialError::Credentials(ProviderError::Api { details, .. }) => {
                    sts_hint(details)
                }
                GetCredentialError::Issue(IssueError::Api(api)) => Some(api_hint(api.status, api.code.as_deref())),
                GetCredentialError::Issue(IssueError::Transport { .. }) => Some(
                    "Check the network path to the ACK API (HTTPS_PROXY / NO_PROXY, firewall), the region (--region-id) or --cs-endpoint, then retry.".into(),
                ),
                GetCredentialError::Lock(_) => None,
                GetCredentialError::Issue(IssueError::Redirected { .. }) => Some(
                    "Point --cs-endpoint (or --region-id) at the ACK OpenAPI itself; a proxy or gateway that redirects is not trusted with signed requests.".into(),
                ),
                GetCredentialError::Issue(IssueError::InvalidResponse(_)) => Some(
                    "This is not an answer the ACK API gives; check that --cs-endpoint points at the ACK OpenAPI and not at a proxy or another service.".into(),
                ),
            },
            Self::Credentials(ProviderError::NotConfigured(_)) => Some(NO_CREDENTIALS_HINT.into()),
            Self::Credentials(ProviderError::Api { details, .. }) => sts_hint(details),
            Self::Sts(StsError::Api(details)) => sts_hint(details),
            Self::Config(_) => Some(
                "Fix the value named above in the config file, the ACK_RAM_TOOL_* environment variable or the flag.".into(),
            ),
            Self::Http(HttpError::NoRoots(_)) => None,
            Self::NoHome { .. } => Some("Set HOME or use an absolute path.".into()),
            Self::Keyring(e) if e.is_unavailable() => Some(format!(
                "Without a usable keychain, {}.",
                ack_ram_adapters::sources::keyring::ADVICE
            )),
            Self::NoKeyringProfile { .. } => {
                Some("`ack-ram-tool keyring list` shows the profiles.".into())
            }
            _ => None,
        }
    }
}

const NO_CREDENTIALS_HINT: &str = "Set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET in the environment kubectl runs in, configure a profile with `aliyun configure`, or write ~/.alibabacloud/credentials; `ack-ram-tool auth whoami --log-level debug` shows what was tried.";

/// What to do next for the STS error codes people actually meet.
fn sts_hint(details: &ApiErrorDetails) -> Option<String> {
    let code = details.code.as_deref()?;
    let assuming = details.action != "GetCallerIdentity";
    Some(
        match code {
            "NoPermission" | "Forbidden" | "Forbidden.RAM" | "NotAuthorized" if assuming => {
                "Check that the role's trust policy allows this caller and that the caller may call sts:AssumeRole."
            }
            "EntityNotExist.Role" | "InvalidParameter.RoleArn" => {
                "Check the role ARN (acs:ram::<account id>:role/<role name>)."
            }
            "InvalidAccessKeyId.NotFound" | "InvalidAccessKeyId.Inactive" | "SignatureDoesNotMatch" => {
                "Check the AccessKey id and secret of the base credentials."
            }
            "InvalidSecurityToken.Expired" | "InvalidSecurityToken.Malformed" => {
                "The base STS token is expired or malformed; refresh the base credentials."
            }
            "InvalidTimeStamp.Expired" => "Check that the system clock is correct.",
            "AuthenticationFail.OIDCToken.Expired" | "AuthenticationFail.OIDCToken.Invalid" => {
                "Check the OIDC token file (ALIBABA_CLOUD_OIDC_TOKEN_FILE) and that it is refreshed."
            }
            _ => return None,
        }
        .to_owned(),
    )
}

/// What to do when `DescribeClustersV1` fails.
fn list_hint(error: &IssueError) -> String {
    match error {
        IssueError::Api(api) if api.status == 403 => "Grant this identity the RAM permission cs:DescribeClustersV1, or merge one cluster without listing: --cluster-id ID --context-name NAME.".into(),
        IssueError::Api(api) => api_hint(api.status, api.code.as_deref()),
        IssueError::Transport { .. } => "Check the network path to the ACK API (HTTPS_PROXY / NO_PROXY, firewall), the region (--region-id) or --cs-endpoint, then retry.".into(),
        IssueError::Redirected { .. } | IssueError::InvalidResponse(_) => "Check that --cs-endpoint points at the ACK OpenAPI and not at a proxy or another service.".into(),
    }
}

/// What to do when the kubeconfig cannot be merged into (nothing was changed).
fn merge_hint(error: &ack_ram_adapters::kubeconfig_merge::MergeError) -> Option<String> {
    use ack_ram_adapters::kubeconfig_merge::MergeError as E;
    match error {
        E::Read(_) => Some("Point --kubeconfig (or the first path of KUBECONFIG) at a regular kubeconfig file; nothing was changed.".into()),
        E::Yaml { .. } | E::NotKubeconfig { .. } => Some("Fix that file (kubectl cannot read it either) or merge into another one with --kubeconfig PATH; nothing was changed.".into()),
        _ => None,
    }
}

fn api_hint(status: u16, code: Option<&str>) -> String {
    let code = code.unwrap_or_default();
    if code.starts_with("InvalidAccessKeyId")
        || code.starts_with("SignatureDoesNotMatch")
        || code.starts_with("InvalidSecurityToken")
        || status == 401
    {
        "Check the AccessKey id and secret (and the security token for STS credentials): they were not accepted.".into()
    } else if code.contains("RequestTimeTooSkewed") {
        "The local clock is off; synchronise it (e.g. with NTP) and retry.".into()
    } else if status == 403 {
        "Grant this identity the RAM permission cs:DescribeClusterUserKubeconfig on the cluster (and check the cluster's RBAC), or use another identity.".into()
    } else if status == 404 {
        "Check the cluster id and that --region-id or --cs-endpoint selects the cluster's region."
            .into()
    } else if status == 429 || code.starts_with("Throttling") {
        "The ACK API is throttling requests; wait a moment and retry.".into()
    } else if status >= 500 {
        "The ACK API had a problem on its side; retry later, and quote the RequestId if you contact Alibaba Cloud support.".into()
    } else {
        "Check the request parameters; quote the RequestId if you contact Alibaba Cloud support."
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_render_as_one_paragraph_with_code_request_id_and_advice() {
        let err = AppError::GetCredential {
            cluster: ClusterId::parse("c1").unwrap_or_else(|e| panic!("{e}")),
            error: Box::new(GetCredentialError::Issue(IssueError::Api(
                ApiErrorDetails {
                    action: "DescribeClusterUserKubeconfig".into(),
                    status: 403,
                    code: Some("Forbidden.RAM".into()),
                    message: Some("You are not authorized.".into()),
                    request_id: Some("R-1".into()),
                },
            ))),
        };
        assert_eq!(
            err.render(),
            "error: could not get a client certificate for cluster c1: DescribeClusterUserKubeconfig answered HTTP 403 Forbidden.RAM: You are not authorized (RequestId R-1). Grant this identity the RAM permission cs:DescribeClusterUserKubeconfig on the cluster (and check the cluster's RBAC), or use another identity."
        );
        assert!(!err.render().contains('\n'));
    }

    #[test]
    fn sts_refusals_get_advice_from_the_renderer_only() {
        let refused = |action: &str, code: &str| {
            AppError::Credentials(ProviderError::Api {
                source_name: format!("STS {action}"),
                details: Box::new(ApiErrorDetails {
                    action: action.into(),
                    status: 403,
                    code: Some(code.into()),
                    message: None,
                    request_id: Some("R-9".into()),
                }),
            })
            .render()
        };
        let text = refused("AssumeRole", "NoPermission");
        assert_eq!(
            text,
            "error: could not resolve Alibaba Cloud credentials: STS AssumeRole: AssumeRole answered HTTP 403 NoPermission (RequestId R-9). Check that the role's trust policy allows this caller and that the caller may call sts:AssumeRole."
        );
        assert!(!refused("GetCallerIdentity", "NoPermission").contains("trust policy"));
        assert!(
            refused("AssumeRoleWithOIDC", "AuthenticationFail.OIDCToken.Expired")
                .contains("ALIBABA_CLOUD_OIDC_TOKEN_FILE")
        );
    }

    #[test]
    fn rendered_errors_are_terminal_safe_and_bounded() {
        let err = AppError::InvalidInput {
            flag: "--x",
            message: format!("\u{1b}[2J{}\u{7f}", "a".repeat(10_000)),
        };
        let text = err.render();
        assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
        assert!(text.contains("\\u{1b}[2J"), "{text:?}");
        assert!(text.chars().count() < 2300, "{}", text.len());
        assert!(text.contains("more characters left out"), "{text:?}");
        assert_eq!(terminal_safe("line\n\tnext"), "line\n\tnext");
    }
}
