//! Where a cluster credential is cached: the Go tool's file name, bit for bit.
//!
//! `<cluster>-exec-auth-credential-<apiVersion>[-<sha1>].json`, where the SHA-1 suffix covers the
//! identity inputs (role ARN, profile name, INI path, aliyun CLI config path), concatenated
//! without separators, and is present only when one of them is non-empty. Matching this exactly
//! is what makes the Go tool's cache files and ours interchangeable.

use super::{ApiVersion, ClusterId};
use sha1::{Digest, Sha1};

/// The inputs that select which identity a cached certificate belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct IdentityInputs {
    /// `--role-arn`.
    pub role_arn: String,
    /// The final profile name (`--profile-name` or its environment fallbacks).
    pub profile_name: String,
    /// `--profile-file` as typed, when it names an INI credentials file.
    pub ini_path: String,
    /// `--profile-file` as typed, when it names an aliyun CLI `config.json`.
    pub cli_config_path: String,
}

impl IdentityInputs {
    /// The lower-case hex SHA-1 suffix, or `None` when every input is empty.
    pub fn digest(&self) -> Option<String> {
        let parts = [
            &self.role_arn,
            &self.profile_name,
            &self.ini_path,
            &self.cli_config_path,
        ];
        if parts.iter().all(|p| p.is_empty()) {
            return None;
        }
        let mut hasher = Sha1::new();
        for part in parts {
            hasher.update(part.as_bytes());
        }
        Some(hex::encode(hasher.finalize()))
    }
}

/// Identifies one cached cluster credential.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The cluster.
    pub cluster_id: ClusterId,
    /// The ExecCredential version (part of the file name, as in the Go tool).
    pub api_version: ApiVersion,
    /// Which identity the credential belongs to.
    pub identity: IdentityInputs,
}

impl CacheKey {
    /// The cache file name inside the cache directory. Safe as a single path component: the
    /// cluster id is validated, the rest is fixed text and hex.
    pub fn file_name(&self) -> String {
        let mut name = format!(
            "{}-exec-auth-credential-{}",
            self.cluster_id,
            self.api_version.short()
        );
        if let Some(digest) = self.identity.digest() {
            name.push('-');
            name.push_str(&digest);
        }
        name.push_str(".json");
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLUSTER: &str = "c0123456789abcdef0123456789abcdef";

    fn key(api: ApiVersion, identity: IdentityInputs) -> String {
        CacheKey {
            cluster_id: ClusterId::parse(CLUSTER).unwrap_or_else(|e| panic!("{e}")),
            api_version: api,
            identity,
        }
        .file_name()
    }

    /// Every example of `exec-credential.md` §4.2.
    #[test]
    fn matches_the_go_tool_file_names() {
        let ids = |role: &str, profile: &str, ini: &str, cli: &str| IdentityInputs {
            role_arn: role.into(),
            profile_name: profile.into(),
            ini_path: ini.into(),
            cli_config_path: cli.into(),
        };
        let role = "acs:ram::1234567890123456:role/ack-dev";
        for (api, identity, suffix) in [
            (ApiVersion::V1Beta1, IdentityInputs::default(), "v1beta1"),
            (ApiVersion::V1, IdentityInputs::default(), "v1"),
            (
                ApiVersion::V1Beta1,
                ids(role, "", "", ""),
                "v1beta1-a78ab02498e4cf3ff9015da8194457cd3dba562a",
            ),
            (
                ApiVersion::V1Beta1,
                ids("", "dev", "", ""),
                "v1beta1-34c6fceca75e456f25e7e99531e2425c6c1de443",
            ),
            (
                ApiVersion::V1Beta1,
                ids(role, "dev", "", ""),
                "v1beta1-24defc6877631c0ccf2d4791dd822d5b2f15b1fc",
            ),
            (
                ApiVersion::V1Beta1,
                ids("", "", "", "~/.aliyun/config.json"),
                "v1beta1-d700475c551ec4ec74150a09ee812c9e52b32b4a",
            ),
            (
                ApiVersion::V1Beta1,
                ids("", "", "/etc/ack/credentials", ""),
                "v1beta1-7c4dc60c901db09f49385d4e548f619a9e546076",
            ),
        ] {
            assert_eq!(
                key(api, identity),
                format!("{CLUSTER}-exec-auth-credential-{suffix}.json")
            );
        }
    }
}
