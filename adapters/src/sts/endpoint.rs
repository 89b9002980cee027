//! Where STS requests go: the endpoint rules of `apis.md` §1.2.

use crate::http::{Endpoint, EndpointError};
use ack_ram_domain::RegionId;

/// STS endpoint resolution (`apis.md` §1.2).
///
/// `explicit` is the caller's choice among `--sts-endpoint`, `ACK_RAM_TOOL_STS_ENDPOINT` and
/// `ALIBABA_CLOUD_STS_ENDPOINT`; when it is absent or blank the region table applies: no region
/// -> `sts.aliyuncs.com`; `cn-hangzhou-finance` -> `sts.cn-hangzhou.aliyuncs.com`; any other
/// `<r>` -> `sts.<r>.aliyuncs.com`, or `sts-vpc.<r>.aliyuncs.com` when `vpc` is set.
///
/// A value with `http://` or `https://` keeps its scheme. A bare host uses HTTPS unless
/// `http_scheme_env` (the value of `ALIBABA_CLOUD_STS_HTTP_SCHEME`, any case) says `HTTP`; any
/// other non-blank scheme there is refused.
pub fn resolve_endpoint(
    explicit: Option<&str>,
    region: Option<&RegionId>,
    vpc: bool,
    http_scheme_env: Option<&str>,
) -> Result<Endpoint, EndpointError> {
    let host = match non_blank(explicit) {
        Some(value) => value.to_owned(),
        None => region_host(region, vpc),
    };
    if host.contains("://") {
        return Endpoint::parse(&host);
    }
    let scheme = non_blank(http_scheme_env)
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| "https".to_owned());
    Endpoint::parse(&format!("{scheme}://{host}"))
}

fn non_blank(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

fn region_host(region: Option<&RegionId>, vpc: bool) -> String {
    let Some(region) = region.map(RegionId::as_str) else {
        return "sts.aliyuncs.com".to_owned();
    };
    let region = if region == "cn-hangzhou-finance" {
        "cn-hangzhou"
    } else {
        region
    };
    if vpc {
        format!("sts-vpc.{region}.aliyuncs.com")
    } else {
        format!("sts.{region}.aliyuncs.com")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(
        explicit: Option<&str>,
        region: Option<&str>,
        vpc: bool,
        scheme: Option<&str>,
    ) -> String {
        let region = region
            .filter(|r| !r.is_empty())
            .map(|r| RegionId::parse(r).unwrap_or_else(|e| panic!("{e}")));
        resolve_endpoint(explicit, region.as_ref(), vpc, scheme)
            .map(|e| e.to_string())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn region_table() {
        for (region, vpc, want) in [
            (None, false, "https://sts.aliyuncs.com"),
            (None, true, "https://sts.aliyuncs.com"),
            (Some(""), false, "https://sts.aliyuncs.com"),
            (
                Some("cn-beijing"),
                false,
                "https://sts.cn-beijing.aliyuncs.com",
            ),
            (
                Some("cn-beijing"),
                true,
                "https://sts-vpc.cn-beijing.aliyuncs.com",
            ),
            (
                Some("cn-hangzhou-finance"),
                false,
                "https://sts.cn-hangzhou.aliyuncs.com",
            ),
            (
                Some("cn-hangzhou-finance"),
                true,
                "https://sts-vpc.cn-hangzhou.aliyuncs.com",
            ),
        ] {
            assert_eq!(resolved(None, region, vpc, None), want, "{region:?} {vpc}");
        }
    }

    #[test]
    fn explicit_wins_and_schemes() {
        assert_eq!(
            resolved(Some("sts.example.com"), Some("cn-beijing"), false, None),
            "https://sts.example.com"
        );
        assert_eq!(
            resolved(Some("  "), Some("cn-beijing"), false, None),
            "https://sts.cn-beijing.aliyuncs.com"
        );
        assert_eq!(
            resolved(Some("127.0.0.1:8080"), None, false, Some("http")),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            resolved(None, None, false, Some("HTTP")),
            "http://sts.aliyuncs.com"
        );
        assert_eq!(
            resolved(Some("https://sts.example.com/"), None, false, Some("HTTP")),
            "https://sts.example.com"
        );
        assert_eq!(
            resolved(Some("http://127.0.0.1:9/"), None, false, None),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            resolved(Some("sts.example.com"), None, false, Some("HTTPS")),
            "https://sts.example.com"
        );
        assert!(resolved(None, None, false, Some("ftp")).starts_with("error: "));
        assert!(resolved(Some("ftp://x"), None, false, None).starts_with("error: "));
    }
}
