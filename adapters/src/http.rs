//! The one place that builds HTTP clients and parses endpoints.
//!
//! Every outgoing call shares these rules: rustls with the system's root certificates (which
//! honours `SSL_CERT_FILE` / `SSL_CERT_DIR`, for corporate and test CAs), the standard proxy
//! variables (`HTTPS_PROXY`, `NO_PROXY`, ...), a connect timeout and an overall timeout so a
//! stalled server can never hang kubectl, and a bounded response size. Roots are loaded once per
//! client, and a client is built only when a request is actually needed (never on a cache hit).
//!
//! Every request carries a signature, a token or a secret, so no client follows a redirect: a
//! 3xx is an error naming the status and the host it pointed at, nothing is resent, and no
//! `Referer` (which would carry a signed query) is ever sent.

use crate::env::Environment;
use crate::proxy::{ProxyError, ProxyPolicy};
use ack_ram_domain::RegionId;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// The HTTP client type every adapter shares.
pub type Client = reqwest::Client;

/// Settings for building a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpSettings {
    /// Time allowed to establish a TCP+TLS connection.
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, response body included.
    pub timeout: Duration,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Which proxy each request goes through ([`ProxyPolicy::from_env`]), or why the proxy
    /// variables are unusable: then no client is built at all (fail closed, never a silent
    /// direct connection). [`ProxyPolicy::none`] for the ECS metadata service, which is
    /// link-local and must never be sent through a proxy.
    pub proxy: Result<ProxyPolicy, ProxyError>,
}

impl HttpSettings {
    /// Defaults sized for an interactive kubectl user: fail within seconds, not minutes. No
    /// proxy until [`HttpSettings::with_proxy_from`] says otherwise.
    pub fn new(user_agent: impl Into<String>) -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            user_agent: user_agent.into(),
            proxy: Ok(ProxyPolicy::none()),
        }
    }
}

impl HttpSettings {
    /// Takes the proxy rules from the environment snapshot (checked now, reported when a
    /// client is built).
    pub fn with_proxy_from(mut self, env: &Environment) -> Self {
        self.proxy = ProxyPolicy::from_env(env);
        self
    }
}

/// Why a client could not be built.
#[derive(Clone, Debug, thiserror::Error)]
pub enum HttpError {
    #[error("no usable root certificates: {0}; set SSL_CERT_FILE to a PEM bundle of trusted CAs")]
    NoRoots(String),
    #[error("could not set up TLS: {0}")]
    Tls(String),
    #[error("could not build the HTTP client: {0}")]
    Client(String),
    #[error("{0}; nothing was sent")]
    Proxy(#[from] ProxyError),
}

/// Builds an HTTP client with the project's TLS, proxy and timeout rules.
pub fn build_client(settings: &HttpSettings) -> Result<reqwest::Client, HttpError> {
    let loaded = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
    if added == 0 {
        let why = loaded
            .errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        return Err(HttpError::NoRoots(if why.is_empty() {
            "the system trust store is empty".to_owned()
        } else {
            why
        }));
    }
    for error in &loaded.errors {
        tracing::debug!(%error, "skipped part of the system trust store");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];

    let proxy = settings.proxy.clone()?;
    // reqwest's own reading of the proxy variables is off: ours decides, for every request.
    let mut builder = reqwest::Client::builder().no_proxy();
    if let Some(proxy) = proxy.to_reqwest() {
        builder = builder.proxy(proxy);
    }
    builder
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            let refused = RedirectRefused {
                status: attempt.status().as_u16(),
                host: attempt
                    .url()
                    .host_str()
                    .unwrap_or("an unnamed host")
                    .to_owned(),
            };
            attempt.error(refused)
        }))
        .referer(false)
        .tls_backend_preconfigured(tls)
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        .user_agent(settings.user_agent.clone())
        .http1_only()
        .build()
        .map_err(|e| HttpError::Client(error_chain(&e)))
}

/// A redirect the client refused to follow.
#[derive(Debug, thiserror::Error)]
#[error(
    "the server answered HTTP {status} redirecting to {host}; redirects are never followed, so credentials go only to the endpoint they were made for (check the endpoint setting)"
)]
pub struct RedirectRefused {
    /// The 3xx status.
    pub status: u16,
    /// The host of `Location`.
    pub host: String,
}

/// The refused redirect behind a request error, if that is what it was.
pub fn redirect_refused(error: &reqwest::Error) -> Option<&RedirectRefused> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(refused) = e.downcast_ref::<RedirectRefused>() {
            return Some(refused);
        }
        next = e.source();
    }
    None
}

/// What an API answered: the status, what diagnostics need from the headers, and the body.
/// `Debug` shows the body's size only: a successful ACK answer embeds a private key.
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type`, or `no content type`.
    pub content_type: String,
    /// The `x-acs-request-id` header, for errors whose body carries no RequestId.
    pub header_request_id: Option<String>,
    /// The body, at most the limit given to [`read_answer`].
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("header_request_id", &self.header_request_id)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// Reads a whole answer, refusing a body of more than `limit` bytes.
pub async fn read_answer(response: reqwest::Response, limit: usize) -> Result<Answer, BodyError> {
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let header_request_id = header("x-acs-request-id");
    let content_type = header(reqwest::header::CONTENT_TYPE.as_str())
        .unwrap_or_else(|| "no content type".to_owned());
    let body = read_body_capped(response, limit).await?;
    Ok(Answer {
        status,
        content_type,
        header_request_id,
        body,
    })
}

/// Reads a response body, refusing more than `limit` bytes.
pub async fn read_body_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Why a response body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the response body could not be read: {}", error_chain(.0))]
    Read(reqwest::Error),
    #[error("the response body is larger than {limit} bytes")]
    TooLarge { limit: usize },
}

/// Renders an error and its causes on one line, without the request URL.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = match e.downcast_ref::<reqwest::Error>() {
            Some(re) if re.url().is_some() => {
                // reqwest's Display repeats the URL; describe the kind instead.
                if re.is_redirect() {
                    // The cause (RedirectRefused) says it all.
                    String::new()
                } else if re.is_timeout() {
                    "timed out".to_owned()
                } else if re.is_connect() {
                    "connection failed".to_owned()
                } else if re.is_body() || re.is_decode() {
                    "error reading the response".to_owned()
                } else {
                    "request failed".to_owned()
                }
            }
            _ => e.to_string(),
        };
        if parts.last() != Some(&text) && !text.is_empty() {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// A service endpoint: scheme, host, port and an optional path prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint(Url);

/// Why an endpoint string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid endpoint {input:?}: {reason}; use a host such as cs.cn-hangzhou.aliyuncs.com, host:port, or a full https:// or http:// URL"
)]
pub struct EndpointError {
    input: String,
    reason: String,
}

impl Endpoint {
    /// Parses `host[:port]` (HTTPS implied, as in the Go tool) or an `https://` / `http://` URL.
    pub fn parse(input: &str) -> Result<Self, EndpointError> {
        let fail = |reason: &str| EndpointError {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(fail("it is empty"));
        }
        let with_scheme = if trimmed.contains("://") {
            trimmed.to_owned()
        } else {
            format!("https://{trimmed}")
        };
        let url = Url::parse(&with_scheme).map_err(|e| fail(&e.to_string()))?;
        if url.scheme() != "https" && url.scheme() != "http" {
            return Err(fail("only https and http are supported"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(fail("it has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(fail("it must not contain credentials"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(fail("it must not contain a query or fragment"));
        }
        Ok(Self(url))
    }

    /// The ACK endpoint for a region: `cs.<region>.aliyuncs.com`, or `cs.aliyuncs.com`. The
    /// region is a validated [`RegionId`], so it can only ever add one host label.
    pub fn cs_for_region(region: Option<&RegionId>) -> Result<Self, EndpointError> {
        match region {
            Some(r) => Self::parse(&format!("cs.{r}.aliyuncs.com")),
            None => Self::parse("cs.aliyuncs.com"),
        }
    }

    /// Whether requests to this endpoint travel unencrypted over the network: `http://` to a
    /// host that is not loopback. Signed requests and security tokens would be readable on
    /// the way, so callers warn about it.
    pub fn is_cleartext_remote(&self) -> bool {
        self.0.scheme() == "http"
            && match self.0.host() {
                Some(url::Host::Ipv4(ip)) => !ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => !ip.is_loopback(),
                Some(url::Host::Domain(d)) => {
                    let d = d.trim_end_matches('.').to_ascii_lowercase();
                    d != "localhost" && !d.ends_with(".localhost")
                }
                None => true,
            }
    }

    /// The URL for `path` (which starts with `/`) under this endpoint.
    pub fn url_for(&self, path: &str) -> String {
        let base = self.0.as_str().trim_end_matches('/');
        format!("{base}{path}")
    }

    /// The path prefix (empty or `/prefix`), which is part of what gets signed.
    pub fn path_prefix(&self) -> &str {
        self.0.path().trim_end_matches('/')
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str().trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_alone_means_https() {
        let e =
            Endpoint::parse("cs.cn-beijing.aliyuncs.com").map(|e| e.url_for("/k8s/c/user_config"));
        assert_eq!(
            e.as_deref(),
            Ok("https://cs.cn-beijing.aliyuncs.com/k8s/c/user_config")
        );
        let e = Endpoint::parse("127.0.0.1:8443").map(|e| e.to_string());
        assert_eq!(e.as_deref(), Ok("https://127.0.0.1:8443"));
    }

    #[test]
    fn full_urls_keep_their_scheme_and_prefix() {
        let e = Endpoint::parse("http://127.0.0.1:1234/");
        assert_eq!(
            e.as_ref().map(|e| e.to_string()).as_deref(),
            Ok("http://127.0.0.1:1234")
        );
        let e = Endpoint::parse("https://proxy.example/cs/");
        assert_eq!(e.as_ref().map(|e| e.path_prefix()), Ok("/cs"));
        assert_eq!(
            e.map(|e| e.url_for("/k8s/x")).as_deref(),
            Ok("https://proxy.example/cs/k8s/x")
        );
    }

    #[test]
    fn refuses_what_is_not_an_endpoint() {
        for bad in [
            "",
            "  ",
            "ftp://x",
            "https://",
            "https://u:p@host",
            "host?x=1",
            "http://a b",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn answer_debug_hides_the_body() {
        let answer = Answer {
            status: 200,
            content_type: "application/json".into(),
            header_request_id: None,
            body: b"-----BEGIN EC PRIVATE KEY----- canary-7f3a".to_vec(),
        };
        let shown = format!("{answer:?}");
        assert!(
            !shown.contains("canary") && !shown.contains("99, 97"),
            "{shown}"
        );
        assert!(shown.contains("body_bytes"), "{shown}");
    }

    #[test]
    fn cleartext_is_flagged_only_off_loopback() {
        for (endpoint, cleartext) in [
            ("http://cs.example.com", true),
            ("http://10.0.0.1:80", true),
            ("http://127.0.0.1:8080", false),
            ("http://[::1]:8080", false),
            ("http://localhost:1", false),
            ("https://cs.example.com", false),
            ("cs.example.com", false),
        ] {
            let e = Endpoint::parse(endpoint).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(e.is_cleartext_remote(), cleartext, "{endpoint}");
        }
    }

    #[test]
    fn region_defaults() {
        assert_eq!(
            Endpoint::cs_for_region(RegionId::parse("cn-hangzhou").ok().as_ref())
                .map(|e| e.to_string())
                .as_deref(),
            Ok("https://cs.cn-hangzhou.aliyuncs.com")
        );
        assert_eq!(
            Endpoint::cs_for_region(None)
                .map(|e| e.to_string())
                .as_deref(),
            Ok("https://cs.aliyuncs.com")
        );
    }
}
