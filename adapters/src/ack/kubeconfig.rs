//! Pulls the client certificate and key out of the kubeconfig YAML that the ACK API returns.

use ack_ram_domain::Secret;
use base64::Engine;
use serde::Deserialize;

/// Why the returned kubeconfig holds no usable client certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KubeconfigError {
    #[error("the kubeconfig in the answer is not valid YAML ({0})")]
    Yaml(String),
    #[error("the kubeconfig in the answer has no users")]
    NoUsers,
    #[error("the kubeconfig's first user has no {0}")]
    Missing(&'static str),
    #[error("the kubeconfig's {0} is not valid base64")]
    Base64(&'static str),
    #[error("the kubeconfig's {0} does not decode to PEM text")]
    NotPem(&'static str),
}

#[derive(Deserialize)]
struct Kubeconfig {
    #[serde(default)]
    users: Option<Vec<NamedUser>>,
}

#[derive(Deserialize)]
struct NamedUser {
    #[serde(default)]
    user: Option<User>,
}

#[derive(Deserialize)]
struct User {
    #[serde(rename = "client-certificate-data", default)]
    client_certificate_data: Option<String>,
    #[serde(rename = "client-key-data", default)]
    client_key_data: Option<String>,
}

/// Returns `(certificate PEM, key PEM)` of the first user.
pub fn extract_client_credential(yaml: &str) -> Result<(String, Secret), KubeconfigError> {
    let config: Kubeconfig = crate::kubeconfig::from_untrusted_yaml(yaml)
        .map_err(|e| KubeconfigError::Yaml(first_line(&e.to_string())))?;
    let user = config
        .users
        .unwrap_or_default()
        .into_iter()
        .next()
        .ok_or(KubeconfigError::NoUsers)?
        .user
        .ok_or(KubeconfigError::Missing("client-certificate-data"))?;
    const CERT: &str = "client-certificate-data";
    const KEY: &str = "client-key-data";
    let cert = decode_pem(user.client_certificate_data, CERT)?;
    let key = decode_pem(user.client_key_data, KEY)?;
    Ok((cert, Secret::new(key)))
}

fn decode_pem(field: Option<String>, name: &'static str) -> Result<String, KubeconfigError> {
    let encoded = field
        .filter(|v| !v.trim().is_empty())
        .ok_or(KubeconfigError::Missing(name))?;
    let compact: String = encoded
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| KubeconfigError::Base64(name))?;
    let text = String::from_utf8(bytes).map_err(|_| KubeconfigError::NotPem(name))?;
    if !text.trim_start().starts_with("-----BEGIN ") || !text.contains("-----END ") {
        return Err(KubeconfigError::NotPem(name));
    }
    Ok(text)
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const KEY: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n";

    fn kubeconfig(cert: &str, key: &str) -> String {
        format!(
            "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: https://192.168.0.10:6443\n  name: kubernetes\ncontexts:\n- context:\n    cluster: kubernetes\n    user: \"1234567890123456\"\n  name: ctx\ncurrent-context: ctx\nkind: Config\npreferences: {{}}\nusers:\n- name: \"1234567890123456\"\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n",
            ca = b64(CERT)
        )
    }

    #[test]
    fn extracts_the_first_user() {
        let (cert, key) = extract_client_credential(&kubeconfig(&b64(CERT), &b64(KEY)))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cert, CERT);
        assert_eq!(key.expose(), KEY);
    }

    #[test]
    fn explains_what_is_missing_or_broken() {
        let cases = [
            ("users: [", "not valid YAML"),
            ("kind: Config\n", "no users"),
            ("users: []\n", "no users"),
            ("users:\n- name: x\n", "no client-certificate-data"),
            (
                &kubeconfig("", &b64(KEY)) as &str,
                "no client-certificate-data",
            ),
            (&kubeconfig(&b64(CERT), "''"), "no client-key-data"),
            (
                &kubeconfig("not*base64", &b64(KEY)),
                "client-certificate-data is not valid base64",
            ),
            (
                &kubeconfig(&b64("hello"), &b64(KEY)),
                "client-certificate-data does not decode to PEM",
            ),
            ("- just\n- a list\n", "not valid YAML"),
        ];
        for (yaml, want) in cases {
            let got = extract_client_credential(yaml)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(got.contains(want), "{yaml:?}: {got}");
            assert!(!got.contains("MIIE"), "never echoes key material");
        }
    }
}
