//! Which proxy, if any, each outgoing request goes through.
//!
//! Every request this tool makes carries a secret (a signed AccessKey request, an STS token, an
//! OIDC token, a bearer token for the ECS metadata service). A proxy sees all of it, so the choice
//! of proxy is made here, by our own rules, from the environment snapshot, and never by a library
//! default:
//!
//! - **Fail closed.** A proxy variable that does not parse, has no host, or names a scheme other
//!   than `http` / `https` (`socks5`, `ftp`, ...) is an error naming the variable, never a silent
//!   direct connection (Go's `httpproxy` silently ignores such a value). Every set proxy variable
//!   is checked, even one that would not be used (a lower-case name shadowed by the upper-case one,
//!   or `ALL_PROXY` when both specific variables are set): a broken setting is reported, not
//!   guessed around.
//! - **Local traffic never leaves.** `localhost`, `*.localhost`, every loopback address
//!   (`127.0.0.0/8`, `::1`, also as IPv4-mapped IPv6), the unspecified address and the ECS
//!   metadata service `100.100.100.200` are always reached directly, whatever the variables say
//!   (Go never proxies loopback either).
//! - **Passwords stay hidden.** A proxy URL may carry `user:password@`; `Debug`, `Display`,
//!   [`ProxyPolicy::describe`] and every [`ProxyError`] print the password as `***`.
//!
//! # Variables
//!
//! Upper-case names win over lower-case ones (Go's `getEnvAny` order); an empty value is unset.
//!
//! | request    | proxy from                                          |
//! |------------|-----------------------------------------------------|
//! | `https://` | `HTTPS_PROXY`, `https_proxy`, else `ALL_PROXY`, `all_proxy` |
//! | `http://`  | `HTTP_PROXY`, `http_proxy`, else `ALL_PROXY`, `all_proxy`   |
//!
//! A value without a scheme means `http://` (`proxy:3128` is `http://proxy:3128`). `ALL_PROXY`
//! is honoured as curl does; Go's `httpproxy` ignores it.
//!
//! # `NO_PROXY` (`no_proxy`)
//!
//! Go's grammar: comma-separated entries, surrounding whitespace trimmed, case-insensitive.
//!
//! - `*` alone: no request is proxied.
//! - an IP address, `10.1.2.3`, `fd00::1` or `[fd00::1]`: that address.
//! - a CIDR block, `10.0.0.0/8`, `fd00::/8`: every address in it.
//! - a domain, `foo.com`: `foo.com` and all its subdomains.
//! - a leading dot, `.foo.com`: the subdomains of `foo.com` only, **not** `foo.com` itself. This
//!   is Go's choice (curl matches both); we follow Go because the Go tool is what we replace.
//! - `*.foo.com`: the same as `.foo.com`.
//! - any of the above but a CIDR with a port, `foo.com:8443`, `1.2.3.4:80`, `[fd00::1]:443`: only
//!   requests to that port (the URL's port, or 443 / 80 by scheme).
//!
//! A request to an IP address is matched against the IP and CIDR entries only (a domain entry
//! matches it only when it is the very same text), so `0.1` never exempts `10.0.0.1`. Trailing dots
//! on hosts and entries are ignored, and internationalised names are compared in their ASCII
//! (punycode) form. Entries that cannot match anything (`:80`, `[]`) are ignored, as in Go.

use std::fmt;
use std::net::IpAddr;

use url::{Host, Url};

use crate::env::Environment;

/// The variables that can name a proxy, in the order they are checked.
const PROXY_VARS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The ECS instance metadata service: its tokens must never pass through a proxy.
const ECS_METADATA: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(100, 100, 100, 200));

/// What to say after a bad value.
const HINT: &str = "use http://host:port or https://host:port";

/// A proxy variable that cannot be used. The value in the message has its password masked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// The value is not a URL with a host we can connect to.
    #[error("{var}={value:?}: not a valid proxy URL ({reason}); {HINT}")]
    Invalid {
        /// The variable that holds the value.
        var: &'static str,
        /// The value, password masked.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The value names a scheme other than `http` or `https`.
    #[error("{var}={value:?}: proxy scheme {scheme:?} is not supported; {HINT}")]
    UnsupportedScheme {
        /// The variable that holds the value.
        var: &'static str,
        /// The value, password masked.
        value: String,
        /// The scheme it names, lower case.
        scheme: String,
    },
}

/// The proxy rules in effect: which proxy serves `http://` and `https://` requests, and which
/// destinations go direct. `Debug` and `Display` mask proxy passwords.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyPolicy {
    http: Option<ProxySetting>,
    https: Option<ProxySetting>,
    no_proxy: NoProxy,
}

/// One proxy and the variable that named it.
#[derive(Clone, PartialEq, Eq)]
struct ProxySetting {
    var: &'static str,
    url: Url,
}

impl ProxyPolicy {
    /// The rules given by the proxy variables of `env`; an error if any set proxy variable is
    /// unusable.
    pub fn from_env(env: &Environment) -> Result<Self, ProxyError> {
        let mut parsed: Vec<ProxySetting> = Vec::new();
        for var in PROXY_VARS {
            if let Some(value) = env.get(var) {
                parsed.push(ProxySetting {
                    var,
                    url: parse_proxy(var, value)?,
                });
            }
        }
        let first = |names: [&str; 2]| {
            parsed
                .iter()
                .find(|s| s.var == names[0])
                .or_else(|| parsed.iter().find(|s| s.var == names[1]))
                .cloned()
        };
        let all = first(["ALL_PROXY", "all_proxy"]);
        Ok(Self {
            https: first(["HTTPS_PROXY", "https_proxy"]).or_else(|| all.clone()),
            http: first(["HTTP_PROXY", "http_proxy"]).or(all),
            no_proxy: env
                .first_of(&["NO_PROXY", "no_proxy"])
                .map(|(var, value)| NoProxy::parse(var, value))
                .unwrap_or_default(),
        })
    }

    /// Never proxy anything.
    pub fn none() -> Self {
        Self {
            http: None,
            https: None,
            no_proxy: NoProxy::default(),
        }
    }

    /// The proxy `url` must go through, or `None` to connect directly. Only `http` and `https`
    /// URLs are ever proxied.
    pub fn proxy_for(&self, url: &Url) -> Option<&Url> {
        let setting = match url.scheme() {
            "https" => self.https.as_ref(),
            "http" => self.http.as_ref(),
            _ => None,
        }?;
        let host = url.host()?;
        let port = url.port_or_known_default()?;
        if always_direct(&host) || self.no_proxy.matches(&host, port) {
            return None;
        }
        Some(&setting.url)
    }

    /// This policy as one `reqwest` proxy, or `None` when no proxy variable is set. Add it to a
    /// builder after `.no_proxy()` so reqwest's own environment handling stays off:
    /// `Client::builder().no_proxy().proxy(p)`. Credentials in the proxy URL become a
    /// `Proxy-Authorization: Basic` header (on the request for `http://` targets, on the
    /// `CONNECT` for `https://` ones).
    pub fn to_reqwest(&self) -> Option<reqwest::Proxy> {
        if self.http.is_none() && self.https.is_none() {
            return None;
        }
        let policy = self.clone();
        Some(reqwest::Proxy::custom(move |url| {
            policy.proxy_for(url).cloned()
        }))
    }

    /// The settings in effect, one line each, passwords masked (for `doctor` and `--verbose`).
    pub fn describe(&self) -> Vec<String> {
        let line = |scheme: &str, setting: &Option<ProxySetting>| match setting {
            Some(s) => format!("{scheme}:// requests: through {}", s.masked()),
            None => format!("{scheme}:// requests: direct (no proxy variable set)"),
        };
        vec![
            line("https", &self.https),
            line("http", &self.http),
            match &self.no_proxy.source {
                Some((var, value)) => format!("{var}={value}"),
                None => "NO_PROXY: not set".to_owned(),
            },
            "always direct: localhost, *.localhost, loopback addresses, 100.100.100.200 (ECS metadata)"
                .to_owned(),
        ]
    }
}

impl fmt::Debug for ProxyPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = |s: &Option<ProxySetting>| s.as_ref().map(ProxySetting::masked);
        f.debug_struct("ProxyPolicy")
            .field("https", &masked(&self.https))
            .field("http", &masked(&self.http))
            .field("no_proxy", &self.no_proxy.source.as_ref().map(|(_, v)| v))
            .finish()
    }
}

impl fmt::Display for ProxyPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe().join("; "))
    }
}

impl ProxySetting {
    /// `http://user:***@proxy:3128/ (from HTTPS_PROXY)`.
    fn masked(&self) -> String {
        let mut url = self.url.clone();
        if url.password().is_some() {
            // Cannot fail: a proxy URL always has a host.
            let _ = url.set_password(Some("***"));
        }
        format!("{url} (from {})", self.var)
    }
}

/// Parses one proxy variable: scheme-less means `http://`; only `http` and `https` with a host
/// that HTTP clients accept; path, query and fragment are dropped.
fn parse_proxy(var: &'static str, value: &str) -> Result<Url, ProxyError> {
    let invalid = |reason: String| ProxyError::Invalid {
        var,
        value: mask_password(value),
        reason,
    };
    let value = value.trim();
    let lower = value.to_ascii_lowercase();
    if scheme_prefix_len(value).is_none()
        && (lower.starts_with("http:") || lower.starts_with("https:"))
    {
        // `http:proxy` would otherwise read as user `http` at host `proxy`.
        return Err(invalid("\"//\" missing after the scheme".to_owned()));
    }
    let parsed = if scheme_prefix_len(value).is_some() {
        Url::parse(value)
    } else {
        Url::parse(&format!("http://{value}"))
    };
    let mut url = parsed.map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ProxyError::UnsupportedScheme {
            var,
            value: mask_password(value),
            scheme: url.scheme().to_owned(),
        });
    }
    match url.host() {
        None => return Err(invalid("no host".to_owned())),
        Some(Host::Domain(d))
            if !d
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_') =>
        {
            // The URL crate accepts hosts the HTTP stack rejects; reqwest would then silently
            // connect directly. Refuse them here.
            return Err(invalid(
                "the host name has characters not allowed in a host name".to_owned(),
            ));
        }
        Some(_) => {}
    }
    url.set_path("/");
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// The length of a leading `scheme://`, if the value starts with one.
fn scheme_prefix_len(value: &str) -> Option<usize> {
    let end = value.find("://")?;
    let scheme = &value[..end];
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(end + 3)
}

/// The raw value with everything between the first `:` after the scheme and the last `@` replaced
/// by `***`. Works on text that is not a URL, and over-masks rather than under-masks.
fn mask_password(value: &str) -> String {
    let start = scheme_prefix_len(value).unwrap_or(0);
    let rest = &value[start..];
    let Some(at) = rest.rfind('@') else {
        return value.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!("{}{}:***{}", &value[..start], &rest[..colon], &rest[at..]),
        None => value.to_owned(),
    }
}

/// Destinations that are never proxied, whatever the variables say.
fn always_direct(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => {
            let d = d.strip_suffix('.').unwrap_or(d).as_bytes();
            let suffix = b".localhost";
            d.eq_ignore_ascii_case(&suffix[1..])
                || (d.len() > suffix.len()
                    && d[d.len() - suffix.len()..].eq_ignore_ascii_case(suffix))
        }
        Host::Ipv4(ip) => ip_always_direct(IpAddr::V4(*ip)),
        Host::Ipv6(ip) => ip_always_direct(IpAddr::V6(*ip)),
    }
}

fn ip_always_direct(ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    ip.is_loopback() || ip.is_unspecified() || ip == ECS_METADATA
}

/// A parsed `NO_PROXY` value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct NoProxy {
    /// The variable and its raw value, for [`ProxyPolicy::describe`].
    source: Option<(&'static str, String)>,
    /// `*` was listed.
    all: bool,
    ips: Vec<IpEntry>,
    domains: Vec<DomainEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum IpEntry {
    Addr { ip: IpAddr, port: Option<u16> },
    Cidr { net: IpAddr, bits: u8 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct DomainEntry {
    /// Lower case, ASCII, no leading or trailing dot.
    domain: String,
    /// `foo.com` (true) or `.foo.com` / `*.foo.com` (false).
    include_self: bool,
    port: Option<u16>,
}

impl NoProxy {
    fn parse(var: &'static str, value: &str) -> Self {
        let mut out = Self {
            source: Some((var, value.to_owned())),
            ..Self::default()
        };
        for entry in value.split(',') {
            let entry = entry.trim().to_lowercase();
            if entry.is_empty() {
                continue;
            }
            if entry == "*" {
                out.all = true;
                continue;
            }
            if let Some(cidr) = parse_cidr(&entry) {
                out.ips.push(cidr);
                continue;
            }
            let (host, port) = split_host_port(&entry);
            let port = match port {
                None | Some("") => None,
                Some(p) => match p.parse::<u16>() {
                    Ok(p) => Some(p),
                    Err(_) => continue, // a port no URL can have: matches nothing
                },
            };
            let host = host.strip_suffix('.').unwrap_or(host);
            if let Ok(ip) = host.parse::<IpAddr>() {
                out.ips.push(IpEntry::Addr {
                    ip: ip.to_canonical(),
                    port,
                });
                continue;
            }
            let host = host
                .strip_prefix('*')
                .filter(|h| h.starts_with('.'))
                .unwrap_or(host);
            let (include_self, domain) = match host.strip_prefix('.') {
                Some(d) => (false, d),
                None => (true, host),
            };
            if domain.is_empty() {
                continue;
            }
            out.domains.push(DomainEntry {
                domain: to_ascii(domain),
                include_self,
                port,
            });
        }
        out
    }

    fn matches(&self, host: &Host<&str>, port: u16) -> bool {
        if self.all {
            return true;
        }
        let ip = match host {
            Host::Domain(d) => {
                let d = d.strip_suffix('.').unwrap_or(d).to_ascii_lowercase();
                return self.domains.iter().any(|e| e.matches(&d, port));
            }
            Host::Ipv4(ip) => IpAddr::V4(*ip),
            Host::Ipv6(ip) => IpAddr::V6(*ip),
        };
        let text = ip.to_string();
        self.ips.iter().any(|e| e.matches(ip, port))
            || self
                .domains
                .iter()
                .any(|e| e.include_self && e.domain == text && e.port.is_none_or(|p| p == port))
    }
}

impl IpEntry {
    fn matches(&self, ip: IpAddr, port: u16) -> bool {
        match *self {
            Self::Addr { ip: want, port: p } => {
                ip.to_canonical() == want && p.is_none_or(|p| p == port)
            }
            Self::Cidr { net, bits } => {
                cidr_contains(net, bits, ip) || cidr_contains(net, bits, ip.to_canonical())
            }
        }
    }
}

impl DomainEntry {
    fn matches(&self, host: &str, port: u16) -> bool {
        let name = if host == self.domain {
            self.include_self
        } else {
            host.len() > self.domain.len()
                && host.ends_with(&self.domain)
                && host.as_bytes()[host.len() - self.domain.len() - 1] == b'.'
        };
        name && self.port.is_none_or(|p| p == port)
    }
}

/// `10.0.0.0/8`, `fd00::/8` (brackets allowed around the address).
fn parse_cidr(entry: &str) -> Option<IpEntry> {
    let (addr, bits) = entry.split_once('/')?;
    let addr = addr
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(addr);
    let net: IpAddr = addr.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if net.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some(IpEntry::Cidr { net, bits })
}

fn cidr_contains(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// Go's `net.SplitHostPort`, forgiving: `[v6]:port`, `[v6]`, `host:port`; a value with no colon or
/// with several (a bare IPv6 address) is all host.
fn split_host_port(entry: &str) -> (&str, Option<&str>) {
    if let Some(inner) = entry.strip_prefix('[') {
        if let Some((host, after)) = inner.split_once(']') {
            if after.is_empty() {
                return (host, None);
            }
            if let Some(port) = after.strip_prefix(':') {
                return (host, Some(port));
            }
        }
        return (entry, None);
    }
    match entry.split_once(':') {
        Some((host, port)) if !port.contains(':') => (host, Some(port)),
        _ => (entry, None),
    }
}

/// A domain in the ASCII form the URL parser gives request hosts (`bücher.de` is
/// `xn--bcher-kva.de`); unchanged when it is already ASCII or is no valid domain.
fn to_ascii(domain: &str) -> String {
    if domain.is_ascii() {
        return domain.to_owned();
    }
    match Host::parse(domain) {
        Ok(Host::Domain(d)) => d,
        _ => domain.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        pairs.iter().copied().collect()
    }

    fn policy(pairs: &[(&str, &str)]) -> ProxyPolicy {
        ProxyPolicy::from_env(&env(pairs)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn error(pairs: &[(&str, &str)]) -> ProxyError {
        match ProxyPolicy::from_env(&env(pairs)) {
            Ok(p) => panic!("expected an error, got {p:?}"),
            Err(e) => e,
        }
    }

    /// The proxy for `url` as text, or `None` for direct.
    fn via(p: &ProxyPolicy, url: &str) -> Option<String> {
        let url = Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        p.proxy_for(&url).map(Url::to_string)
    }

    const P: &str = "http://proxy:3128/";

    /// A policy proxying everything through [`P`], with `NO_PROXY` set to `no_proxy`.
    fn with_no_proxy(no_proxy: &str) -> ProxyPolicy {
        policy(&[("ALL_PROXY", "http://proxy:3128"), ("NO_PROXY", no_proxy)])
    }

    fn assert_direct(p: &ProxyPolicy, urls: &[&str]) {
        for url in urls {
            assert_eq!(via(p, url), None, "{url} should go direct under {p:?}");
        }
    }

    fn assert_proxied(p: &ProxyPolicy, urls: &[&str]) {
        for url in urls {
            assert_eq!(
                via(p, url).as_deref(),
                Some(P),
                "{url} should be proxied under {p:?}"
            );
        }
    }

    #[test]
    fn no_variables_means_direct_and_no_reqwest_proxy() {
        for p in [policy(&[]), ProxyPolicy::none()] {
            assert_direct(&p, &["https://cs.aliyuncs.com/", "http://example.com/"]);
            assert!(p.to_reqwest().is_none());
        }
        assert!(policy(&[("NO_PROXY", "foo.com")]).to_reqwest().is_none());
    }

    #[test]
    fn each_request_scheme_uses_its_own_variable() {
        let p = policy(&[
            ("HTTPS_PROXY", "http://secure:1"),
            ("HTTP_PROXY", "http://plain:2"),
        ]);
        assert_eq!(
            via(&p, "https://a.com/x").as_deref(),
            Some("http://secure:1/")
        );
        assert_eq!(
            via(&p, "http://a.com/x").as_deref(),
            Some("http://plain:2/")
        );
        assert_eq!(via(&p, "ftp://a.com/x"), None);
        assert_eq!(via(&p, "wss://a.com/x"), None);
        let only_https = policy(&[("HTTPS_PROXY", "http://secure:1")]);
        assert_eq!(via(&only_https, "http://a.com/"), None);
        let only_http = policy(&[("HTTP_PROXY", "http://plain:2")]);
        assert_eq!(via(&only_http, "https://a.com/"), None);
    }

    #[test]
    fn all_proxy_is_the_fallback_for_both_schemes() {
        let p = policy(&[
            ("ALL_PROXY", "http://all:9"),
            ("HTTPS_PROXY", "http://secure:1"),
        ]);
        assert_eq!(
            via(&p, "https://a.com/").as_deref(),
            Some("http://secure:1/")
        );
        assert_eq!(via(&p, "http://a.com/").as_deref(), Some("http://all:9/"));
        let p = policy(&[
            ("all_proxy", "http://all:9"),
            ("http_proxy", "http://plain:2"),
        ]);
        assert_eq!(via(&p, "https://a.com/").as_deref(), Some("http://all:9/"));
        assert_eq!(via(&p, "http://a.com/").as_deref(), Some("http://plain:2/"));
    }

    #[test]
    fn upper_case_names_win_and_lower_case_names_work_alone() {
        let p = policy(&[
            ("HTTPS_PROXY", "http://upper:1"),
            ("https_proxy", "http://lower:1"),
            ("http_proxy", "http://lower:2"),
            ("ALL_PROXY", "http://upper:3"),
            ("all_proxy", "http://lower:3"),
            ("NO_PROXY", "upper.com"),
            ("no_proxy", "lower.com"),
        ]);
        assert_eq!(
            via(&p, "https://a.com/").as_deref(),
            Some("http://upper:1/")
        );
        assert_eq!(via(&p, "http://a.com/").as_deref(), Some("http://lower:2/"));
        assert_eq!(via(&p, "https://upper.com/"), None);
        assert_eq!(
            via(&p, "https://lower.com/").as_deref(),
            Some("http://upper:1/")
        );
        // An empty upper-case value is unset, so the lower-case one applies.
        let p = policy(&[("HTTPS_PROXY", ""), ("https_proxy", "http://lower:1")]);
        assert_eq!(
            via(&p, "https://a.com/").as_deref(),
            Some("http://lower:1/")
        );
        let p = policy(&[("NO_PROXY", ""), ("no_proxy", "a.com"), ("ALL_PROXY", P)]);
        assert_direct(&p, &["https://a.com/"]);
    }

    #[test]
    fn proxy_values_are_normalised() {
        for (value, want) in [
            ("proxy:3128", "http://proxy:3128/"),
            ("10.0.0.1:3128", "http://10.0.0.1:3128/"),
            ("[fd00::1]:3128", "http://[fd00::1]:3128/"),
            ("user:pw@proxy:3128", "http://user:pw@proxy:3128/"),
            (
                "  HTTP://Proxy.Corp:3128/some/path?q#f ",
                "http://proxy.corp:3128/",
            ),
            ("https://proxy", "https://proxy/"),
            ("http://proxy:80", "http://proxy/"),
        ] {
            let p = policy(&[("HTTPS_PROXY", value)]);
            assert_eq!(via(&p, "https://a.com/").as_deref(), Some(want), "{value}");
        }
    }

    #[test]
    fn local_and_metadata_destinations_are_never_proxied() {
        let p = policy(&[("ALL_PROXY", P)]);
        assert_direct(
            &p,
            &[
                "http://localhost/",
                "https://LOCALHOST.:8443/",
                "http://api.localhost/",
                "http://127.0.0.1:8080/",
                "http://127.200.3.4/",
                "http://127.1/",
                "http://2130706433/",
                "http://[::1]:8080/",
                "http://[::ffff:127.0.0.1]/",
                "http://0.0.0.0/",
                "http://100.100.100.200/latest/meta-data/",
                "http://[::ffff:100.100.100.200]/",
            ],
        );
        assert_proxied(
            &p,
            &[
                "http://notlocalhost/",
                "http://localhost.com/",
                "http://100.100.100.201/",
            ],
        );
    }

    #[test]
    fn no_proxy_star_disables_proxying() {
        let p = with_no_proxy("foo.com, * ");
        assert_direct(
            &p,
            &[
                "https://a.com/",
                "http://10.1.2.3/",
                "https://[2001:db8::1]/",
            ],
        );
        // `*` is only special alone.
        assert_proxied(
            &with_no_proxy("*foo.com"),
            &["https://a.com/", "https://xfoo.com/"],
        );
    }

    #[test]
    fn no_proxy_domain_matches_itself_and_subdomains() {
        let p = with_no_proxy("foo.com");
        assert_direct(
            &p,
            &[
                "https://foo.com/",
                "https://a.foo.com/",
                "http://a.b.foo.com:81/",
            ],
        );
        assert_proxied(
            &p,
            &[
                "https://xfoo.com/",
                "https://foo.com.evil/",
                "https://oo.com/",
            ],
        );
    }

    #[test]
    fn no_proxy_leading_dot_or_star_dot_matches_subdomains_only() {
        for entry in [".foo.com", "*.foo.com"] {
            let p = with_no_proxy(entry);
            assert_direct(&p, &["https://a.foo.com/", "https://a.b.foo.com/"]);
            assert_proxied(&p, &["https://foo.com/", "https://xfoo.com/"]);
        }
    }

    #[test]
    fn no_proxy_is_trimmed_and_case_insensitive() {
        let p = with_no_proxy(" Foo.COM ,\tBAR.org ,, ");
        assert_direct(&p, &["https://FOO.com/", "https://x.bar.ORG/"]);
        assert_proxied(&p, &["https://baz.org/"]);
    }

    #[test]
    fn no_proxy_ip_entries_match_that_address() {
        let p = with_no_proxy("10.1.2.3, fd00::1, [2001:db8::2]");
        assert_direct(
            &p,
            &[
                "http://10.1.2.3/",
                "https://10.1.2.3:8443/",
                "http://[fd00::1]/",
                "http://[2001:db8::2]/",
                "http://[::ffff:10.1.2.3]/",
            ],
        );
        assert_proxied(&p, &["http://10.1.2.4/", "http://[fd00::2]/"]);
    }

    #[test]
    fn no_proxy_cidr_entries_match_addresses_in_the_block() {
        let p = with_no_proxy("10.0.0.0/8, 192.168.1.0/24, fd00::/8, 172.16.5.4/32");
        assert_direct(
            &p,
            &[
                "http://10.255.0.1/",
                "http://192.168.1.200/",
                "http://[fd12::1]/",
                "http://172.16.5.4/",
                "http://[::ffff:10.0.0.1]/",
            ],
        );
        assert_proxied(
            &p,
            &[
                "http://11.0.0.1/",
                "http://192.168.2.1/",
                "http://[fe80::1]/",
                "http://172.16.5.5/",
            ],
        );
        assert_direct(&with_no_proxy("0.0.0.0/0"), &["http://8.8.8.8/"]);
        assert_proxied(&with_no_proxy("0.0.0.0/0"), &["http://[2001:db8::1]/"]);
        // A CIDR does not match host names.
        assert_proxied(&p, &["http://10.example/"]);
    }

    #[test]
    fn no_proxy_entries_with_a_port_match_only_that_port() {
        let p = with_no_proxy("foo.com:8443, 1.2.3.4:80, [2001:db8::1]:443, .bar.com:443");
        assert_direct(
            &p,
            &[
                "https://foo.com:8443/",
                "https://a.foo.com:8443/",
                "http://1.2.3.4/",
                "http://1.2.3.4:80/",
                "https://[2001:db8::1]/",
                "https://x.bar.com/",
            ],
        );
        assert_proxied(
            &p,
            &[
                "https://foo.com/",
                "https://1.2.3.4/",
                "http://1.2.3.4:8080/",
                "http://[2001:db8::1]/",
                "http://x.bar.com/",
            ],
        );
        // The port is the request's effective one, whatever the scheme.
        assert_direct(&p, &["http://foo.com:8443/x", "https://1.2.3.4:80/"]);
    }

    #[test]
    fn ip_hosts_are_not_matched_by_domain_suffixes() {
        // Go would bypass 10.0.0.1 for "0.0.1" (a string suffix); we do not.
        let p = with_no_proxy("0.0.1, .0.1, 1");
        assert_proxied(&p, &["http://10.0.0.1/", "http://[2001:db8::1]/"]);
    }

    #[test]
    fn trailing_dots_are_ignored() {
        let p = with_no_proxy("foo.com., 10.0.0.1.");
        assert_direct(
            &p,
            &[
                "https://foo.com./",
                "https://a.foo.com/",
                "http://10.0.0.1/",
            ],
        );
        let p = with_no_proxy("foo.com");
        assert_direct(&p, &["https://foo.com./", "https://a.foo.com./"]);
    }

    #[test]
    fn internationalised_entries_match_punycode_hosts() {
        let p = with_no_proxy("Bücher.de");
        assert_direct(&p, &["https://bücher.de/", "https://www.xn--bcher-kva.de/"]);
    }

    #[test]
    fn malformed_no_proxy_entries_are_ignored() {
        let p =
            with_no_proxy(":80, [], [::1, 10.0.0.0/99, foo.com:http, ., *., a.com:99999, x.com");
        assert_proxied(
            &p,
            &["https://foo.com/", "http://10.0.0.1/", "https://a.com/"],
        );
        assert_direct(&p, &["https://x.com/"]);
    }

    fn assert_names(e: &ProxyError, var: &str, secret: Option<&str>) {
        let msg = e.to_string();
        assert!(msg.starts_with(&format!("{var}=")), "{msg}");
        assert!(msg.contains(HINT), "{msg}");
        if let Some(secret) = secret {
            assert!(!msg.contains(secret), "{msg}");
            assert!(!format!("{e:?}").contains(secret), "{e:?}");
            assert!(msg.contains("***"), "{msg}");
        }
    }

    #[test]
    fn unusable_proxy_values_are_errors_naming_the_variable() {
        for value in [
            "http://user:s3cr3t@[bad",
            "http://user:s3cr3t@",
            "http://user:s3cr3t@proxy:99999",
            "http://user:s3cr3t@pro{xy:80",
            "http://user:s3cr3t@pro\"xy",
            "user:s3cr3t@proxy:port",
            "http:user:s3cr3t@proxy",
            "http://",
            ":3128",
        ] {
            let e = error(&[("https_proxy", value)]);
            assert!(matches!(e, ProxyError::Invalid { .. }), "{value}: {e:?}");
            let secret = value.contains("s3cr3t").then_some("s3cr3t");
            assert_names(&e, "https_proxy", secret);
        }
        let e = error(&[("HTTPS_PROXY", "http://user:s3cr3t@[bad")]);
        assert_eq!(
            e.to_string(),
            "HTTPS_PROXY=\"http://user:***@[bad\": not a valid proxy URL (invalid IPv6 address); \
             use http://host:port or https://host:port"
        );
    }

    #[test]
    fn unsupported_schemes_are_errors() {
        for (value, scheme) in [
            ("socks5://u:s3cr3t@proxy:1080", "socks5"),
            ("SOCKS5H://proxy:1080", "socks5h"),
            ("socks4://proxy", "socks4"),
            ("ftp://proxy", "ftp"),
            ("file:///tmp/proxy", "file"),
        ] {
            let e = error(&[("ALL_PROXY", value)]);
            assert_eq!(
                e,
                ProxyError::UnsupportedScheme {
                    var: "ALL_PROXY",
                    value: mask_password(value),
                    scheme: scheme.to_owned()
                }
            );
            assert_names(
                &e,
                "ALL_PROXY",
                value.contains("s3cr3t").then_some("s3cr3t"),
            );
        }
    }

    #[test]
    fn every_set_proxy_variable_is_checked_even_if_unused() {
        let good = "http://proxy:3128";
        for bad_var in PROXY_VARS {
            let mut pairs: Vec<(&str, &str)> = PROXY_VARS.iter().map(|v| (*v, good)).collect();
            pairs.retain(|(v, _)| *v != bad_var);
            pairs.push((bad_var, "socks5://proxy:1080"));
            assert_names(&error(&pairs), bad_var, None);
        }
    }

    #[test]
    fn passwords_are_masked_in_errors_whatever_they_contain() {
        for password in ["p@ss", "p:ss", "p/ss#x", "p%40ss", "://"] {
            let value = format!("socks5://user:{password}word@proxy");
            let e = error(&[("HTTP_PROXY", &value)]);
            assert!(!e.to_string().contains(&format!("{password}word")), "{e}");
            assert_eq!(e.to_string().matches("user:***@proxy").count(), 1, "{e}");
        }
        assert_eq!(mask_password("http://user@proxy"), "http://user@proxy");
        assert_eq!(mask_password("proxy:3128"), "proxy:3128");
        assert_eq!(mask_password(":pw@proxy"), ":***@proxy");
    }

    #[test]
    fn debug_display_and_describe_mask_passwords() {
        let p = policy(&[
            ("HTTPS_PROXY", "http://alice:pa%3Ass@proxy:3128"),
            ("http_proxy", "https://bob:hunter2@secure-proxy"),
            ("NO_PROXY", "foo.com,.bar.com"),
        ]);
        let text = format!("{p:?}\n{p}\n{}", p.describe().join("\n"));
        for secret in ["pa%3Ass", "pa:ss", "hunter2"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(
            p.describe(),
            [
                "https:// requests: through http://alice:***@proxy:3128/ (from HTTPS_PROXY)",
                "http:// requests: through https://bob:***@secure-proxy/ (from http_proxy)",
                "NO_PROXY=foo.com,.bar.com",
                "always direct: localhost, *.localhost, loopback addresses, 100.100.100.200 (ECS metadata)",
            ]
        );
        assert_eq!(
            format!("{p:?}"),
            "ProxyPolicy { https: Some(\"http://alice:***@proxy:3128/ (from HTTPS_PROXY)\"), \
             http: Some(\"https://bob:***@secure-proxy/ (from http_proxy)\"), \
             no_proxy: Some(\"foo.com,.bar.com\") }"
        );
        // The credentials are still there for the connection itself.
        assert_eq!(
            via(&p, "https://a.com/").as_deref(),
            Some("http://alice:pa%3Ass@proxy:3128/")
        );
        assert_eq!(
            ProxyPolicy::none().describe()[..2],
            [
                "https:// requests: direct (no proxy variable set)",
                "http:// requests: direct (no proxy variable set)"
            ]
        );
    }

    #[test]
    fn policies_compare_by_value() {
        let a = policy(&[("HTTPS_PROXY", "proxy:1"), ("NO_PROXY", "a.com")]);
        assert_eq!(a.clone(), a);
        assert_ne!(a, policy(&[("HTTPS_PROXY", "proxy:1")]));
        assert_ne!(a, ProxyPolicy::none());
        assert_eq!(policy(&[]), ProxyPolicy::none());
    }

    /// Bytes the `http` crate accepts in a URI, plus `%`. An accepted proxy URL outside this set
    /// would make reqwest's custom proxy silently fall back to a direct connection.
    fn http_uri_safe(url: &Url) -> bool {
        url.as_str()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b))
    }

    fn var_name() -> impl Strategy<Value = &'static str> {
        prop::sample::select(PROXY_VARS.to_vec())
    }

    proptest! {
        #[test]
        fn from_env_never_panics(
            var in var_name(),
            value in any::<String>(),
            url_like in "[a-zA-Z0-9]{0,6}(://)?([a-z:%@]{0,8}@)?[a-z0-9.\\[\\]:{}\"_-]{0,12}(:[0-9]{0,6})?/?",
            no_proxy in any::<String>(),
            no_proxy_like in "([ *.a-z0-9:/\\[\\]]{0,12},?){0,4}",
            host in "[a-z0-9.-]{1,12}",
            port in any::<u16>(),
        ) {
            for (value, no_proxy) in [(&value, &no_proxy), (&url_like, &no_proxy_like)] {
                let env = env(&[(var, value.as_str()), ("NO_PROXY", no_proxy.as_str())]);
                if let Ok(p) = ProxyPolicy::from_env(&env) {
                    for s in [&p.http, &p.https].into_iter().flatten() {
                        prop_assert!(http_uri_safe(&s.url), "{}", s.url);
                    }
                    let _ = (p.describe(), format!("{p:?}"), p.to_reqwest());
                    for scheme in ["http", "https"] {
                        if let Ok(url) = Url::parse(&format!("{scheme}://{host}:{port}/")) {
                            let _ = p.proxy_for(&url);
                        }
                    }
                }
            }
        }

        #[test]
        fn errors_never_show_the_password(
            var in var_name(),
            scheme in prop::sample::select(vec!["", "http://", "https://", "socks5://", "ftp://", "HTTP://"]),
            user in any::<String>(),
            password in "[A-Za-z0-9]{12,20}",
            rest in any::<String>(),
        ) {
            prop_assume!(!user.contains(&password) && !rest.contains(&password));
            let value = format!("{scheme}{user}:{password}@{rest}");
            match ProxyPolicy::from_env(&env(&[(var, value.as_str())])) {
                Err(e) => {
                    prop_assert!(!e.to_string().contains(&password), "{}", e);
                    prop_assert!(!format!("{e:?}").contains(&password), "{:?}", e);
                }
                Ok(p) => {
                    let text = format!("{p:?} {p} {:?}", p.describe());
                    prop_assert!(!text.contains(&password), "{}", text);
                }
            }
        }
    }

    /// Serves one connection on `listener`: returns the request head, after answering `reply`.
    fn serve_once(
        listener: std::net::TcpListener,
        reply: &'static str,
    ) -> std::thread::JoinHandle<String> {
        use std::io::{Read, Write};
        std::thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap_or_else(|e| panic!("{e}"));
            sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .unwrap_or_else(|e| panic!("{e}"));
            let mut head = Vec::new();
            let mut chunk = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = sock.read(&mut chunk).unwrap_or_else(|e| panic!("{e}"));
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&chunk[..n]);
            }
            sock.write_all(reply.as_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
            String::from_utf8_lossy(&head).into_owned()
        })
    }

    fn listen() -> (std::net::TcpListener, u16) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let port = l.local_addr().unwrap_or_else(|e| panic!("{e}")).port();
        (l, port)
    }

    fn client(p: &ProxyPolicy) -> reqwest::Client {
        let proxy = p
            .to_reqwest()
            .unwrap_or_else(|| panic!("no proxy in {p:?}"));
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|e| panic!("{e}"))
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .no_proxy()
            .proxy(proxy)
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";

    /// `Basic base64("alice:p@ss:w")`.
    const AUTH: &str = "proxy-authorization: Basic YWxpY2U6cEBzczp3";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reqwest_sends_absolute_form_and_basic_auth_to_the_proxy() {
        let (listener, port) = listen();
        let seen = serve_once(listener, OK);
        let p = policy(&[("HTTP_PROXY", &format!("alice:p%40ss%3Aw@127.0.0.1:{port}"))]);
        let response = client(&p)
            .get("http://example.invalid/path?q=1")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), 200);
        let head = seen
            .join()
            .unwrap_or_else(|_| panic!("proxy thread panicked"));
        assert!(
            head.starts_with("GET http://example.invalid/path?q=1 HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.to_ascii_lowercase()
                .contains(&AUTH.to_ascii_lowercase()),
            "{head}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reqwest_tunnels_https_with_basic_auth_on_connect() {
        let (listener, port) = listen();
        let seen = serve_once(
            listener,
            "HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n",
        );
        let p = policy(&[(
            "HTTPS_PROXY",
            &format!("http://alice:p%40ss%3Aw@127.0.0.1:{port}"),
        )]);
        let result = client(&p)
            .get("https://example.invalid/secret")
            .send()
            .await;
        assert!(result.is_err(), "the proxy refused the tunnel");
        let head = seen
            .join()
            .unwrap_or_else(|_| panic!("proxy thread panicked"));
        assert!(
            head.starts_with("CONNECT example.invalid:443 HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.to_ascii_lowercase()
                .contains(&AUTH.to_ascii_lowercase()),
            "{head}"
        );
        assert!(!head.contains("/secret"), "{head}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reqwest_goes_direct_to_loopback_despite_the_proxy() {
        let (target, port) = listen();
        let seen = serve_once(target, OK);
        // The proxy address is never contacted: nothing listens there.
        let p = policy(&[("ALL_PROXY", "http://192.0.2.1:9")]);
        let response = client(&p)
            .get(format!("http://127.0.0.1:{port}/direct"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), 200);
        let head = seen
            .join()
            .unwrap_or_else(|_| panic!("target thread panicked"));
        assert!(head.starts_with("GET /direct HTTP/1.1\r\n"), "{head}");
        assert!(
            !head.to_ascii_lowercase().contains("proxy-authorization"),
            "{head}"
        );
    }
}
