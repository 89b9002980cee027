//! Secrets never reach a log line: the main paths at debug level, every stream searched.
//!
//! AccessKey secrets and security tokens must appear on neither stream; the private key is the
//! product and appears on stdout only, never on stderr.

mod support;

use std::process::Output;
use support::*;
use wiremock::MockServer;

fn assert_clean(label: &str, out: &Output) {
    let (so, se) = (stdout(out), stderr(out));
    for secret in [AK_SECRET, STS_TOKEN] {
        assert!(!so.contains(secret), "{label}: secret on stdout");
        assert!(!se.contains(secret), "{label}: secret on stderr:\n{se}");
    }
    assert!(
        !se.contains(&key_body()),
        "{label}: private key on stderr:\n{se}"
    );
    for line in CLIENT_KEY.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!se.contains(line), "{label}: private key line on stderr");
    }
}

fn debug(mut cmd: assert_cmd::Command, sts: bool) -> assert_cmd::Command {
    cmd.args(["--log-level", "debug"])
        .env("DEBUG", "sdk,tea,dara,ack-ram-tool");
    if sts {
        cmd.env("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN);
    }
    cmd
}

#[tokio::test]
async fn no_secret_on_any_stream_at_debug_level() {
    for sts in [false, true] {
        let label = if sts { "sts" } else { "access key" };
        let server = MockServer::start().await;
        mount(&server, success(&in_hours(3)), 1).await;
        let sandbox = Sandbox::new();

        let miss = run(debug(sandbox.get_credential(&server.uri()), sts)).await;
        assert!(miss.status.success(), "{}", stderr(&miss));
        assert!(stderr(&miss).contains("DEBUG"), "debug logging is on");
        assert_clean(&format!("{label} miss"), &miss);

        let hit = run(debug(sandbox.get_credential(&server.uri()), sts)).await;
        assert!(hit.status.success());
        assert_clean(&format!("{label} hit"), &hit);

        // Refresh due and the API failing: the stale-fallback warning path.
        write_cache(
            &sandbox.cache_file("v1beta1"),
            "v1beta1",
            &in_minutes(15),
            CLIENT_CERT,
            CLIENT_KEY,
        );
        server.reset().await;
        mount(&server, api_error(500, "InternalError", "boom", "REQ-1"), 3).await;
        let stale = run(debug(sandbox.get_credential(&server.uri()), sts)).await;
        assert!(stale.status.success());
        assert_clean(&format!("{label} stale"), &stale);

        // API errors.
        for status in [400, 403] {
            let fresh_home = Sandbox::new();
            server.reset().await;
            mount(
                &server,
                api_error(status, "SignatureDoesNotMatch", "bad", "REQ-2"),
                1,
            )
            .await;
            let failed = run(debug(fresh_home.get_credential(&server.uri()), sts)).await;
            assert_eq!(failed.status.code(), Some(1));
            assert_clean(&format!("{label} {status}"), &failed);
        }

        // Unreachable API.
        let failed = run(debug(
            Sandbox::new().get_credential("http://127.0.0.1:9"),
            sts,
        ))
        .await;
        assert_eq!(failed.status.code(), Some(1));
        assert_clean(&format!("{label} unreachable"), &failed);
    }
}

#[tokio::test]
async fn no_secret_on_any_stream_through_sts_and_whoami() {
    use wiremock::matchers::{method, query_param};
    use wiremock::{Mock, ResponseTemplate};
    const ASSUMED_SECRET: &str = "AssumedSecretValue-0a1b2c3d";
    const ASSUMED_TOKEN: &str = "CAISAssumedToken/xyz==";
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(query_param("Action", "AssumeRole"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "RequestId": "R", "Credentials": {"AccessKeyId": "STS.assumed", "AccessKeySecret": ASSUMED_SECRET,
            "SecurityToken": ASSUMED_TOKEN, "Expiration": "2099-01-01T00:00:00Z"}
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(query_param("Action", "GetCallerIdentity"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "RequestId": "R", "AccountId": "1", "IdentityType": "AssumedRoleUser", "Arn": "acs:ram::1:assumed-role/x/y"
        })))
        .mount(&server)
        .await;
    mount(&server, success(&in_hours(3)), 1).await;
    let sandbox = Sandbox::new();
    let check = |label: &str, out: &Output| {
        assert_clean(label, out);
        for secret in [ASSUMED_SECRET, ASSUMED_TOKEN] {
            assert!(
                !stderr(out).contains(secret),
                "{label}: assumed secret on stderr"
            );
            assert!(
                !stdout(out).contains(secret),
                "{label}: assumed secret on stdout"
            );
        }
    };
    let mut cmd = debug(sandbox.get_credential(&server.uri()), true);
    cmd.args([
        "--role-arn",
        "acs:ram::1:role/x",
        "--sts-endpoint",
        &server.uri(),
    ]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    check("assume role", &out);

    let mut cmd = sandbox.bare();
    cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", AK_SECRET)
        .env("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN)
        .args([
            "auth",
            "whoami",
            "--log-level",
            "debug",
            "--role-arn",
            "acs:ram::1:role/x",
        ])
        .args(["--sts-endpoint", &server.uri()]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    check("whoami", &out);
}

#[tokio::test]
async fn get_kubeconfig_output_holds_no_key_material() {
    let server = MockServer::start().await;
    mount(&server, success(&in_hours(3)), 1).await;
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.bare();
    cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", AK_SECRET)
        .env("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN)
        .args([
            "get-kubeconfig",
            "-c",
            CLUSTER,
            "--cs-endpoint",
            &server.uri(),
        ])
        .args(["--log-level", "debug"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_clean("get-kubeconfig", &out);
    let kubeconfig = stdout(&out);
    assert!(kubeconfig.contains("exec:"), "{kubeconfig}");
    assert!(
        !kubeconfig.contains(&b64(CLIENT_KEY)) && !kubeconfig.contains(&key_body()),
        "no embedded key"
    );
    assert!(!kubeconfig.contains("client-key-data"));
}
