//! Alibaba Cloud STS (Security Token Service), RPC style, API version 2015-04-01:
//! `AssumeRole`, `AssumeRoleWithOIDC` and `GetCallerIdentity`.
