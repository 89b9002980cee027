//! The two kinds of credential the plugin handles: the caller's Alibaba Cloud access credentials
//! (input) and the cluster client certificate the ACK API issues for them (output).

use super::Secret;
use chrono::{DateTime, Utc};

/// An Alibaba Cloud AccessKey pair, optionally with an STS security token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessCredentials {
    /// The AccessKey id (not secret; shown in diagnostics).
    pub access_key_id: String,
    /// The AccessKey secret.
    pub access_key_secret: Secret,
    /// The STS security token, for temporary credentials.
    pub security_token: Option<Secret>,
    /// When temporary credentials stop working, if known.
    pub expiration: Option<DateTime<Utc>>,
}

impl AccessCredentials {
    /// A long-lived AccessKey.
    pub fn access_key(id: impl Into<String>, secret: Secret) -> Self {
        Self {
            access_key_id: id.into(),
            access_key_secret: secret,
            security_token: None,
            expiration: None,
        }
    }

    /// Temporary STS credentials.
    pub fn sts(id: impl Into<String>, secret: Secret, token: Secret) -> Self {
        Self {
            security_token: Some(token),
            ..Self::access_key(id, secret)
        }
    }
}

/// A client certificate for one cluster, as the ACK API issued it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterCredential {
    /// PEM text of the client certificate (public).
    pub client_certificate_pem: String,
    /// PEM text of the client private key.
    pub client_key_pem: Secret,
    /// When the certificate stops being valid.
    pub expiration: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let c = AccessCredentials::sts("LTAIid", Secret::new("S3KR1T"), Secret::new("T0K3N"));
        let shown = format!("{c:?}");
        assert!(shown.contains("LTAIid"));
        assert!(!shown.contains("S3KR1T") && !shown.contains("T0K3N"));
        let cc = ClusterCredential {
            client_certificate_pem: "CERT".into(),
            client_key_pem: Secret::new("PRIVATE"),
            expiration: DateTime::<Utc>::UNIX_EPOCH,
        };
        assert!(!format!("{cc:?}").contains("PRIVATE"));
    }
}
