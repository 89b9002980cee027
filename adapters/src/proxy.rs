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
mod tests;
