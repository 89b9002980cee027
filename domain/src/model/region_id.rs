//! The Alibaba Cloud region id.
//!
//! It becomes part of a host name (`cs.<region>.aliyuncs.com`, `sts.<region>.aliyuncs.com`), so
//! it is validated before any I/O: a value such as `attacker.example:8443/` must never be
//! spliced into a URL and send a signed request elsewhere. Region ids are lower-case ASCII
//! letters and digits in `-`-separated words (`cn-hangzhou`, `ap-southeast-1`,
//! `cn-hangzhou-finance`), at most 64 characters.

use std::fmt;
use std::str::FromStr;

/// Longest region id accepted; real ones are under 30 characters.
pub const MAX_REGION_ID_LEN: usize = 64;

/// A validated region id. In configuration it is a plain string, validated when read.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionId(String);

impl TryFrom<String> for RegionId {
    type Error = RegionIdError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<RegionId> for String {
    fn from(id: RegionId) -> Self {
        id.0
    }
}

/// Why a string is not a region id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionIdError {
    #[error("the region id is empty; use one such as cn-hangzhou")]
    Empty,
    #[error("the region id is {len} characters long; at most {MAX_REGION_ID_LEN} are allowed")]
    TooLong { len: usize },
    #[error(
        "the region id {shown} is not a region id: only lower-case letters, digits and single '-' between them are allowed, e.g. cn-hangzhou or ap-southeast-1"
    )]
    Invalid { shown: String },
}

impl RegionId {
    /// Validates `raw` as a region id.
    pub fn parse(raw: &str) -> Result<Self, RegionIdError> {
        if raw.is_empty() {
            return Err(RegionIdError::Empty);
        }
        let len = raw.chars().count();
        if len > MAX_REGION_ID_LEN {
            return Err(RegionIdError::TooLong { len });
        }
        let word_ok = |w: &str| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        if !raw.split('-').all(word_ok) {
            return Err(RegionIdError::Invalid {
                shown: format!("{raw:?}"),
            });
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RegionId {
    type Err = RegionIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for RegionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn real_regions_are_accepted() {
        for r in [
            "cn-hangzhou",
            "cn-hangzhou-finance",
            "ap-southeast-1",
            "us-west-1",
            "eu-central-1",
            "cn-shanghai-finance-1",
        ] {
            assert_eq!(RegionId::parse(r).map(|r| r.to_string()).as_deref(), Ok(r));
        }
    }

    #[test]
    fn anything_that_could_change_a_host_name_is_refused() {
        for bad in [
            "",
            "attacker.example:8443/",
            "cn-hangzhou.evil",
            "cn-hangzhou/",
            "CN-HANGZHOU",
            "cn hangzhou",
            "cn--hangzhou",
            "-cn",
            "cn-",
            "cn_hangzhou",
            "cn-hangzhou@x",
            "cn-hangzhou\0",
            "cn-hangzhou?",
            "cn-hangzhou#",
            "中国",
        ] {
            assert!(RegionId::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            RegionId::parse(&"a".repeat(65)),
            Err(RegionIdError::TooLong { len: 65 })
        );
    }

    proptest! {
        #[test]
        fn accepted_ids_are_host_labels(raw in any::<String>()) {
            if let Ok(id) = RegionId::parse(&raw) {
                prop_assert!(id.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
                prop_assert!(!id.as_str().starts_with('-') && !id.as_str().ends_with('-'));
            }
        }
    }
}
