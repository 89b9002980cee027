//! The ACK cluster id.
//!
//! It ends up in a URL path and in a cache file name, so it is validated before anything else
//! happens: only ASCII letters, digits, `-` and `_`, 1 to 64 characters. `../x`, `a/b`, `%2e%2e`,
//! spaces and NUL bytes are refused here rather than escaped later.

use std::fmt;
use std::str::FromStr;

/// Longest cluster id accepted. Real ACK ids are 33 characters (`c` + 32 hex digits).
pub const MAX_CLUSTER_ID_LEN: usize = 64;

/// A validated ACK cluster id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClusterId(String);

/// Why a string is not a cluster id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterIdError {
    #[error(
        "the cluster id is empty; pass the id shown in the ACK console, e.g. c0123456789abcdef0123456789abcdef"
    )]
    Empty,
    #[error("the cluster id is {len} characters long; at most {MAX_CLUSTER_ID_LEN} are allowed")]
    TooLong { len: usize },
    #[error(
        "the cluster id {shown} contains {ch:?} at position {position}; only ASCII letters, digits, '-' and '_' are allowed"
    )]
    InvalidCharacter {
        shown: String,
        ch: char,
        position: usize,
    },
}

impl ClusterId {
    /// Validates `raw` as a cluster id.
    pub fn parse(raw: &str) -> Result<Self, ClusterIdError> {
        if raw.is_empty() {
            return Err(ClusterIdError::Empty);
        }
        let len = raw.chars().count();
        if len > MAX_CLUSTER_ID_LEN {
            return Err(ClusterIdError::TooLong { len });
        }
        if let Some((position, ch)) = raw
            .chars()
            .enumerate()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(ClusterIdError::InvalidCharacter {
                shown: format!("{:?}", raw),
                ch,
                position: position + 1,
            });
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ClusterId {
    type Err = ClusterIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_real_ids() {
        for ok in [
            "c0123456789abcdef0123456789abcdef",
            "c1234",
            "my_cluster-1",
            "A",
        ] {
            assert_eq!(
                ClusterId::parse(ok).map(|c| c.to_string()),
                Ok(ok.to_owned())
            );
        }
        assert!(ClusterId::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn rejects_what_could_escape_a_path_or_url() {
        for bad in [
            "../x", "a/b", "%2e%2e", "a b", "a\0b", "a\\b", "é", "a.b", "a\n",
        ] {
            assert!(
                matches!(
                    ClusterId::parse(bad),
                    Err(ClusterIdError::InvalidCharacter { .. })
                ),
                "{bad:?} accepted"
            );
        }
        assert_eq!(ClusterId::parse(""), Err(ClusterIdError::Empty));
        assert_eq!(
            ClusterId::parse(&"a".repeat(65)),
            Err(ClusterIdError::TooLong { len: 65 })
        );
    }

    #[test]
    fn error_names_the_character_and_escapes_control_bytes() {
        let err = ClusterId::parse("ab/\0").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "the cluster id \"ab/\\0\" contains '/' at position 3; only ASCII letters, digits, '-' and '_' are allowed"
            )
        );
    }

    proptest! {
        #[test]
        fn valid_ids_are_exactly_the_safe_alphabet(s in "\\PC{0,70}") {
            let ok = !s.is_empty()
                && s.chars().count() <= 64
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            prop_assert_eq!(ClusterId::parse(&s).is_ok(), ok);
        }
    }
}
