//! Tests of the `ack-ram-emulator` binary: ready line, ready/CA files, per-request stderr log
//! without secrets, clean exit on SIGTERM.

#![cfg(unix)]

use std::error::Error;
use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use ack_ram_emulator::roa;

type TestResult = Result<(), Box<dyn Error>>;

#[tokio::test]
async fn binary_serves_logs_and_stops_on_sigterm() -> TestResult {
    let dir = std::env::temp_dir().join(format!(
        "ack-ram-emulator-bin-test-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)?
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir)?;
    let ready_file = dir.join("endpoint");
    let ca_file = dir.join("ca.pem");
    let secret = "BinaryTestSecretValue0123456789";
    let mut child = Command::new(env!("CARGO_BIN_EXE_ack-ram-emulator"))
        .args([
            "--access-key-id",
            "LTAI5tBinaryTest",
            "--access-key-secret",
            secret,
        ])
        .args(["--cluster", "cbin", "--tls"])
        .arg("--ready-file")
        .arg(&ready_file)
        .arg("--ca-out")
        .arg(&ca_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let endpoint = line
        .trim()
        .strip_prefix("ack-ram-emulator listening on ")
        .ok_or_else(|| format!("unexpected ready line {line:?}"))?
        .to_owned();
    assert!(endpoint.starts_with("https://127.0.0.1:"), "{endpoint}");
    assert_eq!(std::fs::read_to_string(&ready_file)?.trim(), endpoint);
    let ca_pem = std::fs::read_to_string(&ca_file)?;
    assert!(ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));

    // One signed request over TLS, trusting the written CA.
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca_pem.as_bytes())?)?;
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .no_proxy()
        .tls_backend_preconfigured(tls)
        .build()?;
    let path = "/k8s/cbin/user_config";
    let query = "PrivateIpAddress=true&TemporaryDurationMinutes=60";
    let headers: Vec<(String, String)> = vec![
        ("accept".into(), "application/json".into()),
        ("date".into(), httpdate::fmt_http_date(SystemTime::now())),
        (
            "x-acs-signature-nonce".into(),
            "0123456789abcdef0123456789abcdef".into(),
        ),
        ("x-acs-signature-method".into(), "HMAC-SHA1".into()),
        ("x-acs-signature-version".into(), "1.0".into()),
        ("x-acs-version".into(), "2015-12-15".into()),
        (
            "x-acs-action".into(),
            "DescribeClusterUserKubeconfig".into(),
        ),
    ];
    let sig = roa::signature(secret, &roa::string_to_sign("GET", path, query, &headers));
    let mut req = client
        .get(format!("{endpoint}{path}?{query}"))
        .header("authorization", format!("acs LTAI5tBinaryTest:{sig}"));
    for (k, v) in &headers {
        req = req.header(k, v);
    }
    let resp = req.send().await?;
    assert_eq!(resp.status().as_u16(), 200);

    // SIGTERM: clean exit, one log line per request, no secret in the log.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    assert!(status.success());
    let exit = child.wait()?;
    assert!(exit.success(), "{exit:?}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .ok_or("no stderr")?
        .read_to_string(&mut stderr)?;
    let request_lines: Vec<&str> = stderr.lines().filter(|l| l.contains(" -> ")).collect();
    assert_eq!(request_lines.len(), 1, "{stderr}");
    assert!(request_lines[0].starts_with("ack-ram-emulator: GET /k8s/cbin/user_config -> 200 OK"));
    assert!(!stderr.contains(secret));
    assert!(!stderr.contains(&sig));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[test]
fn bad_flags_fail_with_usage() -> TestResult {
    let out = Command::new(env!("CARGO_BIN_EXE_ack-ram-emulator"))
        .args(["--listen", "not-an-address"])
        .output()?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--listen"));
    Ok(())
}

#[tokio::test]
async fn binary_kube_api_lines_and_control_api() -> TestResult {
    let dir = std::env::temp_dir().join(format!(
        "ack-ram-emulator-bin-kube-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)?
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir)?;
    let kube_file = dir.join("kube");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ack-ram-emulator"))
        .args(["--kube-api", "--role", "acs:ram::1:role/only"])
        .arg("--kube-ready-file")
        .arg(&kube_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let (mut first, mut second) = (String::new(), String::new());
    stdout.read_line(&mut first)?;
    stdout.read_line(&mut second)?;
    let endpoint = first
        .trim()
        .strip_prefix("ack-ram-emulator listening on ")
        .ok_or_else(|| format!("unexpected ready line {first:?}"))?
        .to_owned();
    let kube = second
        .trim()
        .strip_prefix("ack-ram-emulator kube-api listening on ")
        .ok_or_else(|| format!("unexpected kube line {second:?}"))?
        .to_owned();
    assert!(kube.starts_with("https://127.0.0.1:"), "{kube}");
    assert_ne!(kube, endpoint);
    assert_eq!(std::fs::read_to_string(&kube_file)?.trim(), kube);

    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().no_proxy().build()?;
    let stats: serde_json::Value = serde_json::from_slice(
        &client
            .get(format!("{endpoint}/__emulator/stats"))
            .send()
            .await?
            .bytes()
            .await?,
    )?;
    assert_eq!(stats["request_count"], 0);
    assert_eq!(stats["kube_endpoint"], kube.as_str());
    let resp = client
        .post(format!("{endpoint}/__emulator/faults"))
        .body(r#"{"kind":"error","status":503,"code":"ServiceUnavailable","count":2}"#)
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 200);
    let body: serde_json::Value = serde_json::from_slice(&resp.bytes().await?)?;
    assert_eq!(body["queued"], 2);
    assert_eq!(body["pending"]["ack"]["answers"], 2);
    let resp = client
        .get(format!("{endpoint}/k8s/c1/user_config"))
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 503);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    assert!(status.success());
    assert!(child.wait()?.success());
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
