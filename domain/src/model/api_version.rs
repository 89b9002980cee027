//! The `client.authentication.k8s.io` version the plugin speaks to kubectl.
//!
//! The Go tool accepts any string and silently maps it to v1beta1, using the raw string in the
//! cache file name. We accept the two versions kubectl knows and say so otherwise.

use std::fmt;
use std::str::FromStr;

/// ExecCredential API version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ApiVersion {
    /// `client.authentication.k8s.io/v1` (kubectl 1.22+).
    V1,
    /// `client.authentication.k8s.io/v1beta1` (every kubectl since 1.11; the default).
    #[default]
    V1Beta1,
}

/// An `--api-version` value that is neither `v1` nor `v1beta1`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported API version {0:?}; use v1 (kubectl 1.22 and later) or v1beta1")]
pub struct ApiVersionError(pub String);

impl ApiVersion {
    /// The short form used on the command line and in cache file names.
    pub fn short(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V1Beta1 => "v1beta1",
        }
    }

    /// The full `apiVersion` written into an ExecCredential.
    pub fn group_version(self) -> &'static str {
        match self {
            Self::V1 => "client.authentication.k8s.io/v1",
            Self::V1Beta1 => "client.authentication.k8s.io/v1beta1",
        }
    }
}

impl FromStr for ApiVersion {
    type Err = ApiVersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "v1" | "client.authentication.k8s.io/v1" => Ok(Self::V1),
            "v1beta1" | "client.authentication.k8s.io/v1beta1" => Ok(Self::V1Beta1),
            other => Err(ApiVersionError(other.to_owned())),
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms() {
        assert_eq!("v1".parse(), Ok(ApiVersion::V1));
        assert_eq!("v1beta1".parse(), Ok(ApiVersion::V1Beta1));
        assert_eq!(
            "client.authentication.k8s.io/v1".parse(),
            Ok(ApiVersion::V1)
        );
        assert_eq!(
            ApiVersion::V1.group_version(),
            "client.authentication.k8s.io/v1"
        );
        assert_eq!(ApiVersion::default().short(), "v1beta1");
    }

    #[test]
    fn rejects_others_with_the_allowed_values() {
        for bad in ["V1", "v1alpha1", "", "v2"] {
            let err = bad.parse::<ApiVersion>().err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|m| m.contains("v1beta1")),
                "{bad}"
            );
        }
    }
}
