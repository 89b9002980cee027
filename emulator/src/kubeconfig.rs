//! Renders the kubeconfig YAML that `DescribeClusterUserKubeconfig` returns in `config`.
//!
//! The document has a fixed shape (one cluster `kubernetes`, one context `<uid>-<cluster>`, one
//! user `"<uid>"`), copied from what ACK returns (`shared/reference/apis.md` §2.2), so a plain
//! template is enough. Every interpolated value is either base64, a 16-digit uid (always quoted,
//! as ACK does) or passed through [`scalar`], which quotes anything that is not obviously a safe
//! plain YAML string.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Everything the template needs.
#[derive(Debug, Clone)]
pub struct KubeconfigParts<'a> {
    /// API server URL (`https://host:port`).
    pub server: &'a str,
    /// PEM of the cluster CA (base64-encoded into `certificate-authority-data`).
    pub ca_pem: &'a str,
    /// Account uid (user name, first half of the context name).
    pub uid: &'a str,
    /// Cluster id (second half of the context name).
    pub cluster_id: &'a str,
    /// Client certificate PEM.
    pub cert_pem: &'a str,
    /// Client key PEM.
    pub key_pem: &'a str,
}

/// Renders the kubeconfig.
pub fn render(p: &KubeconfigParts<'_>) -> String {
    let context = scalar(&format!("{}-{}", p.uid, p.cluster_id));
    format!(
        "apiVersion: v1\n\
         clusters:\n\
         - cluster:\n    \
             certificate-authority-data: {ca}\n    \
             server: {server}\n  \
           name: kubernetes\n\
         contexts:\n\
         - context:\n    \
             cluster: kubernetes\n    \
             user: {uid}\n  \
           name: {context}\n\
         current-context: {context}\n\
         kind: Config\n\
         preferences: {{}}\n\
         users:\n\
         - name: {uid}\n  \
           user:\n    \
             client-certificate-data: {cert}\n    \
             client-key-data: {key}\n",
        ca = STANDARD.encode(p.ca_pem),
        server = scalar(p.server),
        uid = quoted(p.uid),
        context = context,
        cert = STANDARD.encode(p.cert_pem),
        key = STANDARD.encode(p.key_pem),
    )
}

/// A plain scalar when that is unambiguous, otherwise a double-quoted one.
fn scalar(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._/:".contains(c))
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && !s.contains(": ")
        && !s.ends_with(':')
        // Keep anything YAML 1.1 could read as a non-string (numbers, booleans, null) quoted.
        && s.chars().any(|c| c.is_ascii_alphabetic())
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
        );
    if safe { s.to_owned() } else { quoted(s) }
}

/// A double-quoted scalar (JSON string syntax is valid YAML).
fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars() {
        assert_eq!(scalar("https://127.0.0.1:6443"), "https://127.0.0.1:6443");
        assert_eq!(scalar("1234-c0ab"), "1234-c0ab");
        assert_eq!(scalar("1234"), "\"1234\"");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("a b"), "\"a b\"");
        assert_eq!(scalar("-x"), "\"-x\"");
        assert_eq!(quoted("12\"3"), "\"12\\\"3\"");
    }

    #[test]
    fn shape() {
        let y = render(&KubeconfigParts {
            server: "https://127.0.0.1:6443",
            ca_pem: "CA",
            uid: "1234567890123456",
            cluster_id: "c1234",
            cert_pem: "CERT",
            key_pem: "KEY",
        });
        assert_eq!(
            y,
            "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: Q0E=\n    \
             server: https://127.0.0.1:6443\n  name: kubernetes\ncontexts:\n- context:\n    \
             cluster: kubernetes\n    user: \"1234567890123456\"\n  \
             name: 1234567890123456-c1234\ncurrent-context: 1234567890123456-c1234\n\
             kind: Config\npreferences: {}\nusers:\n- name: \"1234567890123456\"\n  user:\n    \
             client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\n"
        );
    }
}
