use super::*;
use ack_ram_domain::Secret;
use ack_ram_emulator::{DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, Emulator, EmulatorConfig};

const CLUSTER: &str = "c0123456789abcdef0123456789abcdef";

async fn setup() -> (Emulator, AckClient) {
    let emulator = Emulator::start(EmulatorConfig {
        clusters: Some(vec![CLUSTER.to_owned()]),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let http = crate::http::build_client(&crate::http::HttpSettings::new("test"))
        .unwrap_or_else(|e| panic!("{e}"));
    let endpoint = Endpoint::parse(&emulator.endpoint()).unwrap_or_else(|e| panic!("{e}"));
    let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
    (emulator, AckClient::new(http, endpoint, clock))
}

fn credentials() -> AccessCredentials {
    AccessCredentials {
        access_key_id: DEMO_ACCESS_KEY_ID.to_owned(),
        access_key_secret: Secret::new(DEMO_ACCESS_KEY_SECRET),
        security_token: None,
        expiration: None,
    }
}

fn cluster(id: &str) -> ClusterId {
    ClusterId::parse(id).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn describe_cluster_detail_is_signed_read_only_and_keeps_refusals_whole() {
    let (emulator, client) = setup().await;
    let detail = client
        .describe_cluster_detail(&cluster(CLUSTER), &credentials())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(detail.cluster_id.as_deref(), Some(CLUSTER));
    assert_eq!(detail.state.as_deref(), Some("running"));
    assert_eq!(emulator.issued_count(), 0, "read-only");

    let unknown = client
        .describe_cluster_detail(&cluster("cnothere"), &credentials())
        .await;
    assert!(
        matches!(&unknown, Err(IssueError::Api(api)) if api.status == 404
            && api.action == DETAIL_ACTION
            && api.code.as_deref() == Some("ErrorClusterNotFound")),
        "{unknown:?}"
    );

    emulator.fail_next(1, 403, "Forbidden.RAM", "not authorized");
    let forbidden = client
        .describe_cluster_detail(&cluster(CLUSTER), &credentials())
        .await;
    assert!(
        matches!(&forbidden, Err(IssueError::Api(api)) if api.status == 403
            && api.request_id.is_some()),
        "{forbidden:?}"
    );
}

#[tokio::test]
async fn the_probe_sends_nothing_about_the_caller_and_reads_the_date() {
    let (emulator, client) = setup().await;
    let reached = client.reach().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reached.status, 404);
    let date = reached.server_date.unwrap_or_else(|| panic!("no Date"));
    assert!((Utc::now() - date).num_seconds().abs() <= 2, "{date}");
    let requests = emulator.requests();
    let probe = requests
        .iter()
        .find(|r| r.path == "/")
        .unwrap_or_else(|| panic!("{requests:?}"));
    assert!(
        probe
            .headers
            .iter()
            .all(|(name, _)| !name.starts_with("x-acs-") && name != "authorization"),
        "{:?}",
        probe.headers
    );
}
