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
    let p = with_no_proxy(":80, [], [::1, 10.0.0.0/99, foo.com:http, ., *., a.com:99999, x.com");
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
