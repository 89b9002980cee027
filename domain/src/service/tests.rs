use super::*;
use crate::model::{AccessCredentials, ApiVersion, ClusterId, IdentityInputs, Secret};
use crate::ports::{
    MockAccessCredentialProvider, MockClock, MockClusterCredentialIssuer, MockCredentialStore,
};

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + Duration::days(20000)
}

fn clock() -> MockClock {
    let mut c = MockClock::new();
    c.expect_now().returning(now);
    c
}

fn request() -> GetCredentialRequest {
    GetCredentialRequest {
        key: CacheKey {
            cluster_id: ClusterId::parse("c1234").unwrap_or_else(|e| panic!("{e}")),
            api_version: ApiVersion::V1,
            identity: IdentityInputs::default(),
        },
        lifetime: CertificateLifetime::Minutes(180),
        force_refresh: false,
    }
}

fn forced() -> GetCredentialRequest {
    GetCredentialRequest {
        force_refresh: true,
        ..request()
    }
}

fn cert(expires_in: Duration, tag: &str) -> ClusterCredential {
    ClusterCredential {
        client_certificate_pem: format!("CERT {tag}"),
        client_key_pem: Secret::new(format!("KEY {tag}")),
        expiration: now() + expires_in,
    }
}

struct Guard;
impl crate::ports::StoreLock for Guard {}

fn store_with(content: Option<ClusterCredential>) -> MockCredentialStore {
    let mut s = MockCredentialStore::new();
    s.expect_load().returning(move |_| Ok(content.clone()));
    s.expect_lock().returning(|_| Ok(Box::new(Guard)));
    s
}

fn provider_ok() -> MockAccessCredentialProvider {
    let mut p = MockAccessCredentialProvider::new();
    p.expect_provide()
        .returning(|| Ok(AccessCredentials::access_key("id", Secret::new("s"))));
    p
}

fn issuer_returning(
    result: Result<ClusterCredential, IssueError>,
    times: usize,
) -> MockClusterCredentialIssuer {
    let mut i = MockClusterCredentialIssuer::new();
    i.expect_issue()
        .withf(|req, creds| {
            req.cluster_id.as_str() == "c1234"
                && req.private_address
                && req.lifetime == CertificateLifetime::Minutes(180)
                && creds.access_key_id == "id"
        })
        .times(times)
        .returning(move |_, _| result.clone());
    i
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
        .block_on(f)
}

fn transport_error() -> IssueError {
    IssueError::Transport {
        endpoint: "https://cs.aliyuncs.com".into(),
        message: "timed out".into(),
    }
}

#[test]
fn fresh_cache_is_served_without_credentials_or_api() {
    let store = store_with(Some(cert(Duration::hours(2), "old")));
    let clock = clock();
    let mut provider = MockAccessCredentialProvider::new();
    provider.expect_provide().never();
    let issuer = issuer_returning(Err(transport_error()), 0);
    let served =
        block_on(GetCredential::new(&store, &clock).execute(&request(), &provider, &issuer));
    assert_eq!(
        served,
        Ok(Served {
            credential: cert(Duration::hours(2), "old"),
            origin: Origin::Cache
        })
    );
}

#[test]
fn miss_issues_and_stores() {
    let mut store = store_with(None);
    let new = cert(Duration::hours(3), "new");
    let expected = new.clone();
    store
        .expect_save()
        .withf(move |_, c| *c == expected)
        .times(1)
        .returning(|_, _| Ok(()));
    let clock = clock();
    let served = block_on(GetCredential::new(&store, &clock).execute(
        &request(),
        &provider_ok(),
        &issuer_returning(Ok(new.clone()), 1),
    ));
    assert_eq!(
        served,
        Ok(Served {
            credential: new,
            origin: Origin::Issued {
                store_error: None,
                unlocked: None
            }
        })
    );
}

#[test]
fn refresh_due_is_refetched() {
    let mut store = store_with(Some(cert(Duration::minutes(30), "old")));
    store.expect_save().times(1).returning(|_, _| Ok(()));
    let clock = clock();
    let served = block_on(GetCredential::new(&store, &clock).execute(
        &request(),
        &provider_ok(),
        &issuer_returning(Ok(cert(Duration::hours(3), "new")), 1),
    ));
    assert_eq!(
        served.map(|s| s.credential),
        Ok(cert(Duration::hours(3), "new"))
    );
}

#[test]
fn failed_refresh_serves_a_still_valid_certificate() {
    let store = store_with(Some(cert(Duration::minutes(30), "old")));
    let clock = clock();
    let served = block_on(GetCredential::new(&store, &clock).execute(
        &request(),
        &provider_ok(),
        &issuer_returning(Err(transport_error()), 1),
    ));
    assert_eq!(
        served,
        Ok(Served {
            credential: cert(Duration::minutes(30), "old"),
            origin: Origin::StaleFallback {
                refresh_error: GetCredentialError::Issue(transport_error()),
                remaining: Duration::minutes(30),
            }
        })
    );
}

#[test]
fn failed_refresh_of_an_expired_certificate_is_an_error() {
    let store = store_with(Some(cert(Duration::minutes(-1), "old")));
    let clock = clock();
    let served = block_on(GetCredential::new(&store, &clock).execute(
        &request(),
        &provider_ok(),
        &issuer_returning(Err(transport_error()), 1),
    ));
    assert_eq!(served, Err(GetCredentialError::Issue(transport_error())));
}

#[test]
fn credential_errors_stop_before_the_api() {
    let store = store_with(None);
    let clock = clock();
    let mut provider = MockAccessCredentialProvider::new();
    let err = ProviderError::NotConfigured("no credentials".into());
    let returned = err.clone();
    provider
        .expect_provide()
        .returning(move || Err(returned.clone()));
    let served = block_on(GetCredential::new(&store, &clock).execute(
        &request(),
        &provider,
        &issuer_returning(Err(transport_error()), 0),
    ));
    assert_eq!(served, Err(GetCredentialError::Credentials(err)));
}

#[test]
fn unreadable_store_is_a_miss_and_a_failed_save_still_serves() {
    let mut store = MockCredentialStore::new();
    let broken = StoreError {
        operation: "read",
        location: "/x".into(),
        reason: "permission denied".into(),
    };
    let returned = broken.clone();
    store
        .expect_load()
        .returning(move |_| Err(returned.clone()));
    store.expect_lock().returning(|_| Ok(Box::new(Guard)));
    let save_error = broken.clone();
    store
        .expect_save()
        .returning(move |_, _| Err(save_error.clone()));
    let clock = clock();
    let use_case = GetCredential::new(&store, &clock);
    assert_eq!(
        use_case.lookup(&request()),
        Lookup::Refresh {
            reason: RefreshReason::StoreUnreadable(broken.clone()),
            fallback: None
        }
    );
    let served = block_on(use_case.execute(
        &request(),
        &provider_ok(),
        &issuer_returning(Ok(cert(Duration::hours(3), "new")), 1),
    ));
    assert_eq!(
        served.map(|s| s.origin),
        Ok(Origin::Issued {
            store_error: Some(broken),
            unlocked: None
        })
    );
}

#[test]
fn an_already_expired_issue_is_rejected_and_not_stored() {
    let mut store = store_with(None);
    store.expect_save().never();
    let clock = clock();
    let served = block_on(GetCredential::new(&store, &clock).execute(
        &request(),
        &provider_ok(),
        &issuer_returning(Ok(cert(Duration::seconds(-5), "past")), 1),
    ));
    assert!(matches!(
        served,
        Err(GetCredentialError::Issue(IssueError::InvalidResponse(_)))
    ));
}

#[test]
fn a_refresh_done_by_another_process_while_waiting_is_served() {
    let mut store = MockCredentialStore::new();
    let mut seq = mockall::Sequence::new();
    store
        .expect_load()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(None));
    store
        .expect_lock()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Box::new(Guard)));
    store
        .expect_load()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(cert(Duration::hours(3), "theirs"))));
    store.expect_save().never();
    let clock = clock();
    let mut provider = MockAccessCredentialProvider::new();
    provider.expect_provide().never();
    let served = block_on(GetCredential::new(&store, &clock).execute(
        &request(),
        &provider,
        &issuer_returning(Err(transport_error()), 0),
    ));
    assert_eq!(
        served,
        Ok(Served {
            credential: cert(Duration::hours(3), "theirs"),
            origin: Origin::RefreshedElsewhere
        })
    );
}

#[test]
fn a_forced_refresh_replaces_a_fresh_certificate_and_falls_back_to_it() {
    let mut store = store_with(Some(cert(Duration::hours(2), "old")));
    store.expect_save().times(1).returning(|_, _| Ok(()));
    let clock = clock();
    let use_case = GetCredential::new(&store, &clock);
    assert_eq!(
        use_case.lookup(&forced()),
        Lookup::Refresh {
            reason: RefreshReason::Forced,
            fallback: Some(cert(Duration::hours(2), "old")),
        }
    );
    let served = block_on(use_case.execute(
        &forced(),
        &provider_ok(),
        &issuer_returning(Ok(cert(Duration::hours(3), "new")), 1),
    ));
    assert_eq!(
        served.map(|s| s.credential),
        Ok(cert(Duration::hours(3), "new"))
    );
    // When the forced refresh fails, the fresh certificate is still served.
    let store = store_with(Some(cert(Duration::hours(2), "old")));
    let served = block_on(GetCredential::new(&store, &clock).execute(
        &forced(),
        &provider_ok(),
        &issuer_returning(Err(transport_error()), 1),
    ));
    assert!(matches!(
        served,
        Ok(Served {
            origin: Origin::StaleFallback { .. },
            ..
        })
    ));
}

#[test]
fn forced_callers_waiting_on_the_lock_serve_the_one_refresh() {
    let mut store = MockCredentialStore::new();
    let mut seq = mockall::Sequence::new();
    store
        .expect_load()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(cert(Duration::hours(2), "old"))));
    store
        .expect_lock()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Box::new(Guard)));
    store
        .expect_load()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(cert(Duration::hours(3), "theirs"))));
    store.expect_save().never();
    let clock = clock();
    let mut provider = MockAccessCredentialProvider::new();
    provider.expect_provide().never();
    let served = block_on(GetCredential::new(&store, &clock).execute(
        &forced(),
        &provider,
        &issuer_returning(Err(transport_error()), 0),
    ));
    assert_eq!(
        served,
        Ok(Served {
            credential: cert(Duration::hours(3), "theirs"),
            origin: Origin::RefreshedElsewhere
        })
    );
}

#[test]
fn a_lock_timeout_serves_a_valid_certificate_or_fails_clearly() {
    let timeout = LockError::Timeout {
        location: "/c/x.lock".into(),
        waited_secs: 30,
    };
    for (cached, expect_ok) in [
        (Some(cert(Duration::minutes(20), "old")), true),
        (None, false),
    ] {
        let mut store = MockCredentialStore::new();
        store.expect_load().returning(move |_| Ok(cached.clone()));
        let returned = timeout.clone();
        store
            .expect_lock()
            .returning(move |_| Err(returned.clone()));
        store.expect_save().never();
        let clock = clock();
        let served = block_on(GetCredential::new(&store, &clock).execute(
            &request(),
            &provider_ok(),
            &issuer_returning(Err(transport_error()), 0),
        ));
        match served {
            Ok(s) => {
                assert!(expect_ok);
                assert!(matches!(s.origin, Origin::StaleFallback { .. }));
            }
            Err(e) => {
                assert!(!expect_ok);
                assert_eq!(e, GetCredentialError::Lock(timeout.clone()));
            }
        }
    }
}

#[test]
fn an_unavailable_lock_still_refreshes_and_says_so() {
    let mut store = MockCredentialStore::new();
    store.expect_load().returning(|_| Ok(None));
    let broken = StoreError {
        operation: "lock",
        location: "/ro".into(),
        reason: "read-only file system".into(),
    };
    let returned = broken.clone();
    store
        .expect_lock()
        .returning(move |_| Err(LockError::Unavailable(returned.clone())));
    store.expect_save().returning(|_, _| Ok(()));
    let clock = clock();
    let served = block_on(GetCredential::new(&store, &clock).execute(
        &request(),
        &provider_ok(),
        &issuer_returning(Ok(cert(Duration::hours(3), "new")), 1),
    ));
    assert_eq!(
        served.map(|s| s.origin),
        Ok(Origin::Issued {
            store_error: None,
            unlocked: Some(broken)
        })
    );
}
