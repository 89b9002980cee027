//! End-to-end tests of the STS endpoint (AssumeRole → DescribeClusterUserKubeconfig with the
//! temporary key, GetCallerIdentity, signature and token checks), of the Kubernetes API mTLS
//! listener (a certificate issued by DescribeClusterUserKubeconfig is accepted and its CN
//! recorded; no certificate → 401) and of every fault kind through the HTTP control API.

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ack_ram_emulator::{
    CLIENT_CERT_ORGANIZATION, DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, Emulator, EmulatorConfig,
    KUBE_GIT_VERSION, account_uid, roa, role_id, sts_rpc,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, NaiveDateTime, Utc};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

type TestResult = Result<(), Box<dyn Error>>;
type AnyResult<T> = Result<T, Box<dyn Error>>;

const CLUSTER: &str = "c0123456789abcdef0123456789abcdef";
const ROLE: &str = "acs:ram::1234567890123456:role/ack-dev";

fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn client() -> AnyResult<reqwest::Client> {
    install_provider();
    Ok(reqwest::Client::builder().no_proxy().build()?)
}

fn nonce() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).ok();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// An AccessKey (with its token for STS keys).
#[derive(Clone, Debug)]
struct Key {
    id: String,
    secret: String,
    token: Option<String>,
}

impl Key {
    fn demo() -> Key {
        Key {
            id: DEMO_ACCESS_KEY_ID.to_owned(),
            secret: DEMO_ACCESS_KEY_SECRET.to_owned(),
            token: None,
        }
    }
}

/// The parameters of an STS call as ack-ram-tool sends them (before `Signature`).
fn sts_params(key: &Key, action: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = vec![
        ("Action".into(), action.into()),
        ("Version".into(), "2015-04-01".into()),
        ("Format".into(), "JSON".into()),
        ("AccessKeyId".into(), key.id.clone()),
        ("SignatureMethod".into(), "HMAC-SHA1".into()),
        ("SignatureVersion".into(), "1.0".into()),
        ("SignatureNonce".into(), nonce()),
        (
            "Timestamp".into(),
            Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
    ];
    if let Some(token) = &key.token {
        params.push(("SecurityToken".into(), token.clone()));
    }
    for (k, v) in extra {
        params.retain(|(name, _)| name != k);
        params.push(((*k).to_owned(), (*v).to_owned()));
    }
    params
}

/// POSTs signed parameters in the query (empty form body), as the Go tool does.
async fn sts_send(
    endpoint: &str,
    secret: &str,
    params: &[(String, String)],
) -> AnyResult<(u16, serde_json::Value)> {
    let query = sts_rpc::signed_query("POST", secret, params);
    let resp = client()?
        .post(format!("{endpoint}/?{query}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await?;
    let status = resp.status().as_u16();
    Ok((status, serde_json::from_slice(&resp.bytes().await?)?))
}

async fn sts_call(
    endpoint: &str,
    key: &Key,
    action: &str,
    extra: &[(&str, &str)],
) -> AnyResult<(u16, serde_json::Value)> {
    sts_send(endpoint, &key.secret, &sts_params(key, action, extra)).await
}

async fn assume_role(endpoint: &str, key: &Key, extra: &[(&str, &str)]) -> AnyResult<Key> {
    let mut params = vec![("RoleArn", ROLE), ("RoleSessionName", "ack-ram-tool")];
    params.extend_from_slice(extra);
    let (status, body) = sts_call(endpoint, key, "AssumeRole", &params).await?;
    assert_eq!(status, 200, "{body}");
    let creds = &body["Credentials"];
    Ok(Key {
        id: creds["AccessKeyId"].as_str().ok_or("no id")?.to_owned(),
        secret: creds["AccessKeySecret"]
            .as_str()
            .ok_or("no secret")?
            .to_owned(),
        token: Some(
            creds["SecurityToken"]
                .as_str()
                .ok_or("no token")?
                .to_owned(),
        ),
    })
}

/// A signed `DescribeClusterUserKubeconfig`: (status, content type, raw body).
async fn ack_raw(
    http: &reqwest::Client,
    endpoint: &str,
    key: &Key,
    query: &str,
) -> AnyResult<(u16, String, Vec<u8>)> {
    let path = format!("/k8s/{CLUSTER}/user_config");
    let mut headers: Vec<(String, String)> = vec![
        ("accept".into(), "application/json".into()),
        ("date".into(), httpdate::fmt_http_date(SystemTime::now())),
        ("x-acs-signature-nonce".into(), nonce()),
        ("x-acs-signature-method".into(), "HMAC-SHA1".into()),
        ("x-acs-signature-version".into(), "1.0".into()),
        ("x-acs-version".into(), "2015-12-15".into()),
        (
            "x-acs-action".into(),
            "DescribeClusterUserKubeconfig".into(),
        ),
    ];
    if let Some(token) = &key.token {
        headers.push(("x-acs-accesskey-id".into(), key.id.clone()));
        headers.push(("x-acs-security-token".into(), token.clone()));
    }
    let sig = roa::signature(
        &key.secret,
        &roa::string_to_sign("GET", &path, query, &headers),
    );
    headers.push(("authorization".into(), format!("acs {}:{sig}", key.id)));
    let url = if query.is_empty() {
        format!("{endpoint}{path}")
    } else {
        format!("{endpoint}{path}?{query}")
    };
    let mut req = http.get(url);
    for (k, v) in &headers {
        req = req.header(k, v);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok((status, content_type, resp.bytes().await?.to_vec()))
}

async fn ack_call(endpoint: &str, key: &Key, query: &str) -> AnyResult<(u16, serde_json::Value)> {
    let (status, _, body) = ack_raw(&client()?, endpoint, key, query).await?;
    Ok((status, serde_json::from_slice(&body)?))
}

/// The kubeconfig of a success body, as JSON.
fn kubeconfig(body: &serde_json::Value) -> AnyResult<serde_json::Value> {
    Ok(serde_saphyr::from_str(
        body["config"].as_str().ok_or("no config")?,
    )?)
}

fn b64_text(s: &serde_json::Value) -> AnyResult<String> {
    Ok(String::from_utf8(
        STANDARD.decode(s.as_str().ok_or("not a string")?)?,
    )?)
}

/// (client cert PEM, client key PEM) of a kubeconfig.
fn client_identity(kc: &serde_json::Value) -> AnyResult<(String, String)> {
    let user = &kc["users"][0]["user"];
    Ok((
        b64_text(&user["client-certificate-data"])?,
        b64_text(&user["client-key-data"])?,
    ))
}

/// (CN, notAfter) of a PEM certificate.
fn cert_facts(pem: &str) -> AnyResult<(String, i64)> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes())?;
    let cert = block.parse_x509()?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .ok_or("no CN")?
        .as_str()?
        .to_owned();
    Ok((cn, cert.validity().not_after.timestamp()))
}

/// A reqwest client for the kube listener: trusts the emulator CA, optionally presents a
/// client certificate.
fn mtls_client(ca_pem: &str, identity: Option<(&str, &str)>) -> AnyResult<reqwest::Client> {
    install_provider();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca_pem.as_bytes())?)?;
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots);
    let tls = match identity {
        Some((cert_pem, key_pem)) => builder.with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(cert_pem.as_bytes())?],
            PrivateKeyDer::from_pem_slice(key_pem.as_bytes())?,
        )?,
        None => builder.with_no_client_auth(),
    };
    Ok(reqwest::Client::builder()
        .no_proxy()
        .tls_backend_preconfigured(tls)
        .build()?)
}

fn parse_sts_time(s: &str) -> AnyResult<DateTime<Utc>> {
    Ok(NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ")?.and_utc())
}

// ---------------------------------------------------------------------------------------------
// STS

#[tokio::test]
async fn assume_role_then_describe_kubeconfig_with_the_temporary_key() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let endpoint = emulator.endpoint();
    let before = Utc::now();
    let (status, body) = sts_call(
        &endpoint,
        &Key::demo(),
        "AssumeRole",
        &[("RoleArn", ROLE), ("RoleSessionName", "ack-ram-tool")],
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["RequestId"].as_str().map(str::len), Some(36));
    let rid = role_id(ROLE);
    assert_eq!(
        body["AssumedRoleUser"]["Arn"],
        "acs:ram::1234567890123456:role/ack-dev/ack-ram-tool"
    );
    assert_eq!(
        body["AssumedRoleUser"]["AssumedRoleId"],
        format!("{rid}:ack-ram-tool")
    );
    let creds = &body["Credentials"];
    let id = creds["AccessKeyId"].as_str().ok_or("no id")?;
    assert!(id.starts_with("STS.") && id.len() > 20, "{id}");
    assert!(
        creds["AccessKeySecret"]
            .as_str()
            .is_some_and(|s| s.len() >= 30)
    );
    let token = creds["SecurityToken"].as_str().ok_or("no token")?;
    assert!(token.starts_with("CAIS") && token.ends_with('='), "{token}");
    let expiration_text = creds["Expiration"].as_str().ok_or("no expiration")?;
    assert_eq!(expiration_text.len(), 20, "{expiration_text}");
    let lifetime = (parse_sts_time(expiration_text)? - before).num_seconds();
    assert!((3598..=3601).contains(&lifetime), "{lifetime}");
    assert_eq!(
        (emulator.sts_request_count(), emulator.sts_issued_count()),
        (1, 1)
    );
    assert_eq!(emulator.request_count(), 0);

    // The temporary key is registered: the ACK call signed with it succeeds, and the
    // certificate names the role.
    let temp = Key {
        id: id.to_owned(),
        secret: creds["AccessKeySecret"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        token: Some(token.to_owned()),
    };
    let (status, body) = ack_call(&endpoint, &temp, "TemporaryDurationMinutes=60").await?;
    assert_eq!(status, 200, "{body}");
    let kc = kubeconfig(&body)?;
    assert_eq!(kc["users"][0]["name"], rid.as_str());
    let (cert_pem, _) = client_identity(&kc)?;
    assert_eq!(cert_facts(&cert_pem)?.0, rid);
    let identity = emulator
        .caller_identity(&temp.id)
        .ok_or("unknown temp key")?;
    assert_eq!(identity.certificate_cn, rid);
    assert_eq!(emulator.issued_count(), 1);

    // Without its token, or with another one, the temporary key is refused.
    let no_token = Key {
        token: None,
        ..temp.clone()
    };
    let (status, body) = ack_call(&endpoint, &no_token, "").await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("MissingSecurityToken"))
    );

    // DurationSeconds is honoured; role chaining works too.
    let before = Utc::now();
    let (status, body) = sts_call(
        &endpoint,
        &temp,
        "AssumeRole",
        &[
            ("RoleArn", "acs:ram::1234567890123456:role/other"),
            ("RoleSessionName", "chained"),
            ("DurationSeconds", "900"),
        ],
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    let lifetime = (parse_sts_time(
        body["Credentials"]["Expiration"]
            .as_str()
            .unwrap_or_default(),
    )? - before)
        .num_seconds();
    assert!((898..=901).contains(&lifetime), "{lifetime}");
    Ok(())
}

#[tokio::test]
async fn get_caller_identity_for_plain_and_assumed_keys() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let endpoint = emulator.endpoint();
    let (status, body) = sts_call(&endpoint, &Key::demo(), "GetCallerIdentity", &[]).await?;
    assert_eq!(status, 200, "{body}");
    let uid = account_uid(DEMO_ACCESS_KEY_ID);
    assert_eq!(body["IdentityType"], "RAMUser");
    assert_eq!(body["AccountId"], uid.as_str());
    assert_eq!(body["UserId"], uid.as_str());
    assert_eq!(body["PrincipalId"], uid.as_str());
    assert_eq!(body["Arn"], format!("acs:ram::{uid}:user/ack-ram-emulator"));
    assert!(body["RequestId"].is_string());

    let temp = assume_role(&endpoint, &Key::demo(), &[("RoleSessionName", "alice")]).await?;
    let (status, body) = sts_call(&endpoint, &temp, "GetCallerIdentity", &[]).await?;
    assert_eq!(status, 200, "{body}");
    let rid = role_id(ROLE);
    assert_eq!(body["IdentityType"], "AssumedRoleUser");
    assert_eq!(body["AccountId"], "1234567890123456");
    assert_eq!(
        body["Arn"],
        "acs:ram::1234567890123456:assumed-role/ack-dev/alice"
    );
    assert_eq!(body["UserId"], format!("{rid}:alice"));
    assert_eq!(body["PrincipalId"], format!("{rid}:alice"));
    assert_eq!(body["RoleId"], rid.as_str());
    let identity = emulator.caller_identity(&temp.id).ok_or("unknown")?;
    assert_eq!(identity.arn, body["Arn"].as_str().unwrap_or_default());
    assert_eq!(emulator.sts_request_count(), 3);
    assert_eq!(emulator.sts_issued_count(), 1);
    Ok(())
}

fn assert_sts_error(status: u16, body: &serde_json::Value, want_status: u16, code: &str) {
    assert_eq!(
        (status, body["Code"].as_str()),
        (want_status, Some(code)),
        "{body}"
    );
    assert_eq!(body["HostId"], "sts.aliyuncs.com");
    assert!(body["RequestId"].as_str().is_some_and(|r| r.len() == 36));
    assert!(body["Message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(body["Recommend"].as_str().is_some_and(|r| r.contains(code)));
}

#[tokio::test]
async fn sts_rejects_bad_signatures_keys_nonces_times_and_parameters() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let endpoint = emulator.endpoint();
    let role = [("RoleArn", ROLE), ("RoleSessionName", "ack-ram-tool")];

    // Wrong secret: SignatureDoesNotMatch with the server's string to sign.
    let wrong = Key {
        secret: "not-the-secret".into(),
        ..Key::demo()
    };
    let (status, body) = sts_call(&endpoint, &wrong, "AssumeRole", &role).await?;
    assert_sts_error(status, &body, 400, "SignatureDoesNotMatch");
    let message = body["Message"].as_str().unwrap_or_default();
    assert!(
        message.contains("server string to sign is:POST&%2F&AccessKeyId%3D"),
        "{message}"
    );
    assert!(!message.contains(DEMO_ACCESS_KEY_SECRET));

    // Signing the encoded value instead of the raw one is a typical bug: it fails.
    let mut params = sts_params(&Key::demo(), "AssumeRole", &role);
    let sig = sts_rpc::signature(
        DEMO_ACCESS_KEY_SECRET,
        &sts_rpc::string_to_sign(
            "POST",
            &params
                .iter()
                .map(|(k, v)| (k.clone(), sts_rpc::percent_encode(v)))
                .collect::<Vec<_>>(),
        ),
    );
    params.push(("Signature".into(), sig));
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", sts_rpc::percent_encode(v)))
        .collect();
    let resp = client()?
        .post(format!("{endpoint}/?{}", query.join("&")))
        .send()
        .await?;
    let status = resp.status().as_u16();
    let body: serde_json::Value = serde_json::from_slice(&resp.bytes().await?)?;
    assert_sts_error(status, &body, 400, "SignatureDoesNotMatch");

    // Unknown key.
    let unknown = Key {
        id: "LTAI5tSomebodyElse".into(),
        ..Key::demo()
    };
    let (status, body) = sts_call(&endpoint, &unknown, "AssumeRole", &role).await?;
    assert_sts_error(status, &body, 404, "InvalidAccessKeyId.NotFound");

    // Replayed nonce (the first use succeeds).
    let params = sts_params(&Key::demo(), "GetCallerIdentity", &[]);
    let (status, _) = sts_send(&endpoint, DEMO_ACCESS_KEY_SECRET, &params).await?;
    assert_eq!(status, 200);
    let (status, body) = sts_send(&endpoint, DEMO_ACCESS_KEY_SECRET, &params).await?;
    assert_sts_error(status, &body, 400, "SignatureNonceUsed");

    // Skewed and malformed timestamps.
    let old = (Utc::now() - chrono::TimeDelta::minutes(16))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let (status, body) = sts_call(
        &endpoint,
        &Key::demo(),
        "GetCallerIdentity",
        &[("Timestamp", &old)],
    )
    .await?;
    assert_sts_error(status, &body, 400, "InvalidTimeStamp.Expired");
    let (status, body) = sts_call(
        &endpoint,
        &Key::demo(),
        "GetCallerIdentity",
        &[("Timestamp", "2024-03-10 09:56:17")],
    )
    .await?;
    assert_sts_error(status, &body, 400, "InvalidTimeStamp.Format");

    // Parameters.
    for (extra, code) in [
        (
            vec![("RoleArn", "acs:ram::123:user/x")],
            "InvalidParameter.RoleArn",
        ),
        (
            vec![("RoleSessionName", "a b")],
            "InvalidParameter.RoleSessionName",
        ),
        (
            vec![("DurationSeconds", "899")],
            "InvalidParameter.DurationSeconds",
        ),
        (
            vec![("DurationSeconds", "43201")],
            "InvalidParameter.DurationSeconds",
        ),
        (vec![("Version", "2018-01-01")], "InvalidVersion"),
        (vec![("SignatureMethod", "HMAC-SHA256")], "InvalidParameter"),
    ] {
        let mut all = role.to_vec();
        all.extend(extra);
        let (status, body) = sts_call(&endpoint, &Key::demo(), "AssumeRole", &all).await?;
        assert_sts_error(status, &body, 400, code);
    }
    let (status, body) = sts_call(&endpoint, &Key::demo(), "AssumeRole", &role[1..]).await?;
    assert_sts_error(status, &body, 400, "MissingParameter");
    let (status, body) = sts_call(&endpoint, &Key::demo(), "AssumeRoleWithSAML", &[]).await?;
    assert_sts_error(status, &body, 404, "InvalidAction.NotFound");

    // Security tokens of temporary keys.
    let temp = assume_role(&endpoint, &Key::demo(), &[]).await?;
    let no_token = Key {
        token: None,
        ..temp.clone()
    };
    let (status, body) = sts_call(&endpoint, &no_token, "GetCallerIdentity", &[]).await?;
    assert_sts_error(status, &body, 400, "MissingSecurityToken");
    let bad_token = Key {
        token: Some("CAISother".into()),
        ..temp.clone()
    };
    let (status, body) = sts_call(&endpoint, &bad_token, "GetCallerIdentity", &[]).await?;
    assert_sts_error(
        status,
        &body,
        403,
        "InvalidSecurityToken.MismatchWithAccessKey",
    );

    // Parameters in a form body are signed and read too.
    let params = sts_params(&Key::demo(), "GetCallerIdentity", &[]);
    let body_text = sts_rpc::signed_query("POST", DEMO_ACCESS_KEY_SECRET, &params);
    let resp = client()?
        .post(format!("{endpoint}/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body_text)
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 200);

    // Every STS request was counted; none was an ACK request.
    assert_eq!(emulator.request_count(), 0);
    assert!(emulator.sts_request_count() >= 18);
    assert_eq!(emulator.sts_issued_count(), 1);
    Ok(())
}

#[tokio::test]
async fn role_allow_list_answers_no_permission() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig {
        roles: Some(vec![ROLE.to_owned()]),
        ..Default::default()
    })
    .await?;
    let endpoint = emulator.endpoint();
    assume_role(&endpoint, &Key::demo(), &[]).await?;
    let (status, body) = sts_call(
        &endpoint,
        &Key::demo(),
        "AssumeRole",
        &[
            ("RoleArn", "acs:ram::1234567890123456:role/admin"),
            ("RoleSessionName", "ack-ram-tool"),
        ],
    )
    .await?;
    assert_sts_error(status, &body, 403, "NoPermission");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Kubernetes API listener

#[tokio::test]
async fn kube_api_accepts_the_issued_certificate_and_records_its_cn() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig {
        kube_api: true,
        ..Default::default()
    })
    .await?;
    let kube = emulator.kube_endpoint();
    assert!(kube.starts_with("https://127.0.0.1:"), "{kube}");
    assert_ne!(kube, emulator.endpoint().replace("http://", "https://"));

    let (status, body) = ack_call(&emulator.endpoint(), &Key::demo(), "").await?;
    assert_eq!(status, 200, "{body}");
    let kc = kubeconfig(&body)?;
    assert_eq!(kc["clusters"][0]["cluster"]["server"], kube.as_str());
    assert_eq!(
        b64_text(&kc["clusters"][0]["cluster"]["certificate-authority-data"])?,
        emulator.ca_pem()
    );
    let (cert_pem, key_pem) = client_identity(&kc)?;
    let http = mtls_client(&emulator.ca_pem(), Some((&cert_pem, &key_pem)))?;

    let resp = http.get(format!("{kube}/version")).send().await?;
    assert_eq!(resp.status().as_u16(), 200);
    let version: serde_json::Value = serde_json::from_slice(&resp.bytes().await?)?;
    assert_eq!(version["gitVersion"], KUBE_GIT_VERSION);
    assert_eq!(
        (version["major"].as_str(), version["minor"].as_str()),
        (Some("1"), Some("31"))
    );

    let resp = http
        .get(format!("{kube}/api/v1/namespaces?limit=500"))
        .send()
        .await?;
    let list: serde_json::Value = serde_json::from_slice(&resp.bytes().await?)?;
    assert_eq!(list["kind"], "NamespaceList");
    let names: Vec<&str> = list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["metadata"]["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(names, ["default", "kube-system"]);
    // kubectl asks for a Table.
    let resp = http
        .get(format!("{kube}/api/v1/namespaces"))
        .header(
            "accept",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
        )
        .send()
        .await?;
    let table: serde_json::Value = serde_json::from_slice(&resp.bytes().await?)?;
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["rows"][1]["cells"][0], "kube-system");
    for (path, kind) in [
        ("/api", "APIVersions"),
        ("/apis", "APIGroupList"),
        ("/api/v1", "APIResourceList"),
    ] {
        let resp = http.get(format!("{kube}{path}")).send().await?;
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        let v: serde_json::Value = serde_json::from_slice(&resp.bytes().await?)?;
        assert_eq!(v["kind"], kind, "{path}");
    }
    let resp = http.get(format!("{kube}/apis/apps/v1")).send().await?;
    assert_eq!(resp.status().as_u16(), 404);
    let status: serde_json::Value = serde_json::from_slice(&resp.bytes().await?)?;
    assert_eq!(
        (status["kind"].as_str(), status["code"].as_u64()),
        (Some("Status"), Some(404))
    );

    let recorded = emulator.kube_requests();
    assert_eq!(recorded.len(), 7);
    let uid = account_uid(DEMO_ACCESS_KEY_ID);
    for r in &recorded {
        assert_eq!(r.common_name, uid);
        assert_eq!(r.organizations, [CLIENT_CERT_ORGANIZATION]);
    }
    assert_eq!(recorded[0].path, "/version");
    assert_eq!(recorded[0].status, 200);

    // The private address (localhost SAN) works too.
    let (_, body) = ack_call(&emulator.endpoint(), &Key::demo(), "PrivateIpAddress=true").await?;
    let private = kubeconfig(&body)?["clusters"][0]["cluster"]["server"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(private, kube.replace("127.0.0.1", "localhost"));
    let resp = http.get(format!("{private}/version")).send().await?;
    assert_eq!(resp.status().as_u16(), 200);
    Ok(())
}

#[tokio::test]
async fn kube_api_refuses_requests_without_a_valid_client_certificate() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig {
        kube_api: true,
        ..Default::default()
    })
    .await?;
    let kube = emulator.kube_endpoint();
    // No certificate: 401 Unauthorized (a Status), recorded without a CN.
    let anonymous = mtls_client(&emulator.ca_pem(), None)?;
    let resp = anonymous.get(format!("{kube}/version")).send().await?;
    assert_eq!(resp.status().as_u16(), 401);
    let status: serde_json::Value = serde_json::from_slice(&resp.bytes().await?)?;
    assert_eq!(status["reason"], "Unauthorized");

    // A certificate from another CA: also 401.
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "intruder");
    let foreign = params.self_signed(&key)?;
    let http = mtls_client(
        &emulator.ca_pem(),
        Some((&foreign.pem(), &key.serialize_pem())),
    )?;
    let resp = http.get(format!("{kube}/version")).send().await?;
    assert_eq!(resp.status().as_u16(), 401);

    // An expired certificate from the emulator CA (the `expired` fault): 401.
    emulator.malform_next(1, ack_ram_emulator::Malformed::ExpiredExpiration);
    let (status, body) = ack_call(&emulator.endpoint(), &Key::demo(), "").await?;
    assert_eq!(status, 200, "{body}");
    let (cert_pem, key_pem) = client_identity(&kubeconfig(&body)?)?;
    let http = mtls_client(&emulator.ca_pem(), Some((&cert_pem, &key_pem)))?;
    let resp = http.get(format!("{kube}/version")).send().await?;
    assert_eq!(resp.status().as_u16(), 401);

    let recorded = emulator.kube_requests();
    assert_eq!(recorded.len(), 3);
    assert!(
        recorded
            .iter()
            .all(|r| r.status == 401 && r.common_name.is_empty())
    );
    // A client that does not trust the CA fails the handshake.
    assert!(
        client()?
            .get(format!("{kube}/version"))
            .send()
            .await
            .is_err()
    );
    Ok(())
}

#[tokio::test]
async fn kube_api_is_off_by_default() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    assert_eq!(emulator.kube_endpoint(), "");
    assert!(emulator.kube_requests().is_empty());
    let (_, body) = ack_call(&emulator.endpoint(), &Key::demo(), "").await?;
    assert_eq!(
        kubeconfig(&body)?["clusters"][0]["cluster"]["server"],
        ack_ram_emulator::DEFAULT_PUBLIC_SERVER
    );
    Ok(())
}

/// kubectl against the kubeconfig exactly as DescribeClusterUserKubeconfig returned it.
/// `KUBECTL` selects the binary (and makes the check mandatory); skipped when neither it nor a
/// `kubectl` on PATH exists.
#[tokio::test]
async fn kubectl_works_with_the_issued_kubeconfig() -> TestResult {
    // scripts/test.sh sets KUBECTL, and then the check must run; a bare `cargo test` without
    // any kubectl skips it.
    let pinned = std::env::var("KUBECTL").ok();
    let kubectl = pinned.clone().unwrap_or_else(|| "kubectl".to_owned());
    let works = std::process::Command::new(&kubectl)
        .args(["version", "--client"])
        .output()
        .is_ok_and(|probe| probe.status.success());
    if !works {
        assert!(pinned.is_none(), "KUBECTL={kubectl} does not run");
        eprintln!("kubectl not found: skipped");
        return Ok(());
    }
    let emulator = Emulator::start(EmulatorConfig {
        kube_api: true,
        ..Default::default()
    })
    .await?;
    let (status, body) = ack_call(&emulator.endpoint(), &Key::demo(), "").await?;
    assert_eq!(status, 200);
    let dir = std::env::temp_dir().join(format!("ack-ram-emulator-kubectl-{}", nonce()));
    std::fs::create_dir_all(&dir)?;
    let kubeconfig_path = dir.join("config");
    std::fs::write(
        &kubeconfig_path,
        body["config"].as_str().unwrap_or_default(),
    )?;
    let run = |args: &[&str]| {
        std::process::Command::new(&kubectl)
            .args(args)
            .env("KUBECONFIG", &kubeconfig_path)
            .env("HOME", &dir)
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .output()
    };
    let raw = run(&["get", "--raw", "/version"])?;
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    assert!(String::from_utf8_lossy(&raw.stdout).contains(KUBE_GIT_VERSION));
    let version = run(&["version"])?;
    assert!(
        version.status.success(),
        "{}",
        String::from_utf8_lossy(&version.stderr)
    );
    assert!(String::from_utf8_lossy(&version.stdout).contains(KUBE_GIT_VERSION));
    let ns = run(&["get", "ns"])?;
    let out = String::from_utf8_lossy(&ns.stdout);
    assert!(
        ns.status.success(),
        "{}",
        String::from_utf8_lossy(&ns.stderr)
    );
    assert!(
        out.contains("default") && out.contains("kube-system"),
        "{out}"
    );
    let uid = account_uid(DEMO_ACCESS_KEY_ID);
    assert!(
        emulator
            .kube_requests()
            .iter()
            .all(|r| r.common_name == uid)
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Faults through the control API

async fn control(
    endpoint: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> AnyResult<(u16, serde_json::Value)> {
    let mut req = client()?.request(method, format!("{endpoint}{path}"));
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    Ok((status, serde_json::from_slice(&resp.bytes().await?)?))
}

async fn inject(endpoint: &str, fault: serde_json::Value) -> TestResult {
    let (status, body) = control(
        endpoint,
        reqwest::Method::POST,
        "/__emulator/faults",
        Some(fault),
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    Ok(())
}

#[tokio::test]
async fn control_api_error_and_delay_faults_and_stats() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let endpoint = emulator.endpoint();
    inject(
        &endpoint,
        serde_json::json!([
            {"kind": "error", "count": 2, "status": 503, "code": "ServiceUnavailable"},
            {"kind": "delay", "delay_ms": 400},
        ]),
    )
    .await?;
    let (_, pending) = control(&endpoint, reqwest::Method::GET, "/__emulator/faults", None).await?;
    assert_eq!(
        pending["pending"]["ack"],
        serde_json::json!({"answers": 2, "delays": 1})
    );

    let started = Instant::now();
    let (status, body) = ack_call(&endpoint, &Key::demo(), "").await?;
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("ServiceUnavailable"))
    );
    assert!(body["requestId"].is_string());
    let started = Instant::now();
    let (status, _) = ack_call(&endpoint, &Key::demo(), "").await?;
    assert!(started.elapsed() < Duration::from_millis(400));
    assert_eq!(status, 503);
    let (status, _) = ack_call(&endpoint, &Key::demo(), "").await?;
    assert_eq!(status, 200);

    // STS faults are separate.
    inject(
        &endpoint,
        serde_json::json!({"api": "sts", "kind": "error", "status": 400, "code": "Throttling.User", "message": "slow down"}),
    )
    .await?;
    let (status, body) = sts_call(&endpoint, &Key::demo(), "GetCallerIdentity", &[]).await?;
    assert_sts_error(status, &body, 400, "Throttling.User");
    assert_eq!(body["Message"], "slow down");

    let (status, stats) =
        control(&endpoint, reqwest::Method::GET, "/__emulator/stats", None).await?;
    assert_eq!(status, 200);
    assert_eq!(stats["request_count"], 3);
    assert_eq!(stats["issued_count"], 1);
    assert_eq!(stats["sts_request_count"], 1);
    assert_eq!(stats["sts_issued_count"], 0);
    assert_eq!(stats["kube_request_count"], 0);
    assert_eq!(
        stats["pending_faults"]["ack"],
        serde_json::json!({"answers": 0, "delays": 0})
    );
    // Control requests are neither counted nor recorded.
    assert_eq!(emulator.request_count(), 3);
    assert_eq!(emulator.requests().len(), 4);

    // Invalid faults are refused whole; DELETE clears.
    for bad in [
        serde_json::json!({"kind": "nope"}),
        serde_json::json!([{"kind": "html"}, {"kind": "bad_base64", "api": "sts"}]),
        serde_json::json!({"kind": "huge", "bytes": 1u64 << 40}),
    ] {
        let (status, body) = control(
            &endpoint,
            reqwest::Method::POST,
            "/__emulator/faults",
            Some(bad),
        )
        .await?;
        assert_eq!(status, 400, "{body}");
        assert!(body["error"].is_string());
    }
    inject(&endpoint, serde_json::json!({"kind": "html", "count": 5})).await?;
    let (_, cleared) = control(
        &endpoint,
        reqwest::Method::DELETE,
        "/__emulator/faults",
        None,
    )
    .await?;
    assert_eq!(cleared["pending"]["ack"]["answers"], 0);
    let (status, _) = ack_call(&endpoint, &Key::demo(), "").await?;
    assert_eq!(status, 200);
    Ok(())
}

#[tokio::test]
async fn control_api_malformed_body_faults() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let endpoint = emulator.endpoint();
    let http = client()?;

    // Truncated JSON.
    inject(&endpoint, serde_json::json!({"kind": "truncated_json"})).await?;
    let (status, content_type, body) = ack_raw(&http, &endpoint, &Key::demo(), "").await?;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("application/json"));
    assert!(body.starts_with(b"{\"config\":"));
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());

    // HTML, with the status asked for.
    inject(
        &endpoint,
        serde_json::json!({"kind": "html", "status": 502}),
    )
    .await?;
    let (status, content_type, body) = ack_raw(&http, &endpoint, &Key::demo(), "").await?;
    assert_eq!(status, 502);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(String::from_utf8_lossy(&body).contains("<html>"));

    // A huge body of exactly M bytes.
    inject(
        &endpoint,
        serde_json::json!({"kind": "huge", "bytes": 3_000_000}),
    )
    .await?;
    let (status, _, body) = ack_raw(&http, &endpoint, &Key::demo(), "").await?;
    assert_eq!((status, body.len()), (200, 3_000_000));

    // A kubeconfig without users.
    inject(
        &endpoint,
        serde_json::json!({"kind": "kubeconfig_without_users"}),
    )
    .await?;
    let (status, body) = ack_call(&endpoint, &Key::demo(), "").await?;
    assert_eq!(status, 200);
    let kc = kubeconfig(&body)?;
    assert_eq!(kc["users"], serde_json::json!([]));
    assert_eq!(kc["clusters"].as_array().map(Vec::len), Some(1));

    // Base64 that is not base64.
    inject(&endpoint, serde_json::json!({"kind": "bad_base64"})).await?;
    let (status, body) = ack_call(&endpoint, &Key::demo(), "").await?;
    assert_eq!(status, 200);
    let kc = kubeconfig(&body)?;
    let user = &kc["users"][0]["user"];
    assert_eq!(
        user["client-certificate-data"],
        ack_ram_emulator::NOT_BASE64
    );
    assert!(
        STANDARD
            .decode(user["client-key-data"].as_str().unwrap_or_default())
            .is_err()
    );

    // An expiration in the past, matching the (expired) certificate.
    inject(&endpoint, serde_json::json!({"kind": "expired"})).await?;
    let (status, body) = ack_call(&endpoint, &Key::demo(), "TemporaryDurationMinutes=60").await?;
    assert_eq!(status, 200);
    let expiration: DateTime<Utc> =
        DateTime::parse_from_rfc3339(body["expiration"].as_str().unwrap_or_default())?.into();
    assert!(expiration < Utc::now() - chrono::TimeDelta::minutes(59));
    let (cert_pem, _) = client_identity(&kubeconfig(&body)?)?;
    assert_eq!(cert_facts(&cert_pem)?.1, expiration.timestamp());

    // An expiration one hour after the certificate's notAfter.
    inject(
        &endpoint,
        serde_json::json!({"kind": "expiration_mismatch"}),
    )
    .await?;
    let (status, body) = ack_call(&endpoint, &Key::demo(), "TemporaryDurationMinutes=60").await?;
    assert_eq!(status, 200);
    let expiration: DateTime<Utc> =
        DateTime::parse_from_rfc3339(body["expiration"].as_str().unwrap_or_default())?.into();
    let (cert_pem, _) = client_identity(&kubeconfig(&body)?)?;
    assert_eq!(expiration.timestamp() - cert_facts(&cert_pem)?.1, 3600);

    // Success-altering faults leave error answers alone (and are used up).
    inject(&endpoint, serde_json::json!({"kind": "bad_base64"})).await?;
    let wrong = Key {
        secret: "wrong".into(),
        ..Key::demo()
    };
    let (status, body) = ack_call(&endpoint, &wrong, "").await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("SignatureDoesNotMatch"))
    );
    let (status, body) = ack_call(&endpoint, &Key::demo(), "").await?;
    assert_eq!(status, 200);
    assert!(client_identity(&kubeconfig(&body)?).is_ok());

    // Faulted answers are not counted as issued.
    assert_eq!(emulator.request_count(), 9);
    assert_eq!(emulator.issued_count(), 1);
    Ok(())
}

#[tokio::test]
async fn sts_malformed_and_expired_faults() -> TestResult {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let endpoint = emulator.endpoint();
    inject(
        &endpoint,
        serde_json::json!({"api": "sts", "kind": "truncated_json"}),
    )
    .await?;
    let query = sts_rpc::signed_query(
        "POST",
        DEMO_ACCESS_KEY_SECRET,
        &sts_params(&Key::demo(), "GetCallerIdentity", &[]),
    );
    let resp = client()?
        .post(format!("{endpoint}/?{query}"))
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&resp.bytes().await?).is_err());

    // An already expired temporary key: the ACK call with it is refused.
    inject(
        &endpoint,
        serde_json::json!({"api": "sts", "kind": "expired"}),
    )
    .await?;
    let temp = assume_role(&endpoint, &Key::demo(), &[]).await?;
    let expiration = emulator
        .caller_identity(&temp.id)
        .map(|i| i.identity_type)
        .unwrap_or_default();
    assert_eq!(expiration, "AssumedRoleUser");
    let (status, body) = ack_call(&endpoint, &temp, "").await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("InvalidSecurityToken.Expired"))
    );
    let (status, body) = sts_call(&endpoint, &temp, "GetCallerIdentity", &[]).await?;
    assert_sts_error(status, &body, 400, "InvalidSecurityToken.Expired");

    // Library equivalents.
    emulator.fail_next_sts(1, 403, "NoPermission", "denied");
    let (status, body) = sts_call(&endpoint, &Key::demo(), "GetCallerIdentity", &[]).await?;
    assert_sts_error(status, &body, 403, "NoPermission");
    assert!(
        emulator
            .inject_faults(
                ack_ram_emulator::FaultTarget::Sts,
                1,
                ack_ram_emulator::Fault::Malformed {
                    kind: ack_ram_emulator::Malformed::KubeconfigWithoutUsers,
                    status: None,
                },
            )
            .is_err()
    );
    emulator.delay_next(1, Duration::from_millis(300));
    let started = Instant::now();
    let (status, _) = ack_call(&endpoint, &Key::demo(), "").await?;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    Ok(())
}
