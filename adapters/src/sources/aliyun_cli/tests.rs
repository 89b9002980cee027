use super::*;

#[test]
fn long_source_profile_chains_are_refused_not_recursed() {
    let mut profiles: Vec<serde_json::Value> = (0..2000)
        .map(|i| {
            serde_json::json!({"name": format!("p{i}"), "mode": "ChainableRamRoleArn",
                "source_profile": format!("p{}", i + 1), "ram_role_arn": "acs:ram::1:role/r",
                "ram_session_name": "s"})
        })
        .collect();
    profiles.push(serde_json::json!({"name": "p2000", "mode": "AK",
        "access_key_id": "LTAI", "access_key_secret": "x"}));
    let text = serde_json::json!({"current": "p0", "profiles": profiles}).to_string();
    let err = load_text(&text, None).err().unwrap_or_default();
    assert!(err.contains("more than 16 deep"), "{err}");
}

#[test]
fn debug_masks_secrets_and_what_may_carry_them() {
    const CANARY: &str = "canary-7f3a";
    let profile = CliProfile {
        name: "p".into(),
        mode: "AK".into(),
        access_key_id: "LTAI".into(),
        access_key_secret: CANARY.into(),
        sts_token: CANARY.into(),
        external_id: CANARY.into(),
        process_command: format!("helper --token {CANARY}"),
        credentials_uri: format!("http://127.0.0.1/?t={CANARY}"),
        ..CliProfile::default()
    };
    let shown = format!("{profile:?}");
    assert!(!shown.contains(CANARY), "{shown}");
    assert!(shown.contains("LTAI"), "{shown}");
}

fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("config.json");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    (dir, path)
}

fn load_text(text: &str, name: Option<&str>) -> Result<CredentialSpec, String> {
    let (_dir, path) = write(text);
    load(
        &crate::context::OsFs,
        &path,
        name,
        None,
        "default-session-name",
    )
    .map(|l| l.spec)
    .map_err(|e| e.to_string())
}

#[test]
fn profile_selection_order() {
    let text = r#"{"current":"b","profiles":[
        {"name":"default","mode":"AK","access_key_id":"D","access_key_secret":"s"},
        {"name":"b","mode":"AK","access_key_id":"B","access_key_secret":"s"},
        {"name":"c","mode":"AK","access_key_id":"C","access_key_secret":"s"}]}"#;
    let id = |spec: Result<CredentialSpec, String>| match spec {
        Ok(CredentialSpec::AccessKey { id, .. }) => id,
        other => panic!("{other:?}"),
    };
    assert_eq!(id(load_text(text, None)), "B");
    assert_eq!(id(load_text(text, Some("c"))), "C");
    let (_d, path) = write(text);
    let env = load(&crate::context::OsFs, &path, None, Some("default"), "x").map(|l| l.spec);
    assert_eq!(id(env.map_err(|e| e.to_string())), "D");
    let no_current = r#"{"profiles":[{"name":"default","mode":"AK","access_key_id":"D","access_key_secret":"s"}]}"#;
    assert_eq!(id(load_text(no_current, None)), "D");
}

#[test]
fn chainable_profiles_resolve_and_cycles_are_named() {
    let text = r#"{"current":"dev","profiles":[
        {"name":"base","mode":"AK","access_key_id":"LTAI","access_key_secret":"s"},
        {"name":"mid","mode":"ChainableRamRoleArn","source_profile":"base","ram_role_arn":"acs:ram::1:role/mid","ram_session_name":"m"},
        {"name":"dev","mode":"ChainableRamRoleArn","source_profile":"mid","ram_role_arn":"acs:ram::1:role/dev","ram_session_name":"alice","external_id":"ext"}]}"#;
    let spec = load_text(text, None).unwrap_or_else(|e| panic!("{e}"));
    let CredentialSpec::AssumeRole {
        base,
        role_arn,
        session_name,
        external_id,
    } = spec
    else {
        panic!()
    };
    assert_eq!(
        (
            role_arn.as_str(),
            session_name.as_str(),
            external_id.as_deref()
        ),
        ("acs:ram::1:role/dev", "alice", Some("ext"))
    );
    assert!(
        matches!(*base, CredentialSpec::AssumeRole { ref role_arn, .. } if role_arn == "acs:ram::1:role/mid")
    );

    let cycle = r#"{"current":"a","profiles":[
        {"name":"a","mode":"ChainableRamRoleArn","source_profile":"b","ram_role_arn":"r","ram_session_name":"s"},
        {"name":"b","mode":"ChainableRamRoleArn","source_profile":"a","ram_role_arn":"r","ram_session_name":"s"}]}"#;
    let err = load_text(cycle, None).err().unwrap_or_default();
    assert!(err.contains("cycle (a -> b -> a)"), "{err}");
}

#[test]
fn errors_name_the_file_profile_and_field() {
    let err = load_text(
        r#"{"profiles":[{"name":"default","mode":"AK","access_key_id":"x"}]}"#,
        None,
    )
    .err()
    .unwrap_or_default();
    assert!(
        err.contains("profile \"default\"")
            && err.contains("config.json")
            && err.contains("missing access_key_secret"),
        "{err}"
    );
    let err = load_text(r#"{"profiles":[]}"#, Some("dev"))
        .err()
        .unwrap_or_default();
    assert!(err.contains("no profile \"dev\""), "{err}");
    let err = load_text(r#"{"profiles":[{"name":"default"}]}"#, None)
        .err()
        .unwrap_or_default();
    assert!(err.contains("aliyun configure --profile default"), "{err}");
    let err = load_text("{ not json", None).err().unwrap_or_default();
    assert!(
        err.contains("not a valid aliyun CLI config") && err.contains("line 1"),
        "{err}"
    );
    let err = load_text(
        r#"{"profiles":[{"name":"default","mode":"RsaKeyPair"}]}"#,
        None,
    )
    .err()
    .unwrap_or_default();
    assert!(
        err.contains("mode RsaKeyPair") && err.contains("not supported"),
        "{err}"
    );
    let err = load_text(r#"{"profiles":[{"name":"default","mode":"OAuth"}]}"#, None)
        .err()
        .unwrap_or_default();
    assert!(
        err.contains("missing oauth_site_type")
            && err.contains("aliyun configure --mode OAuth --profile default"),
        "{err}"
    );
    let err = load_text(
        r#"{"profiles":[{"name":"sso","mode":"CloudSSO"}]}"#,
        Some("sso"),
    )
    .err()
    .unwrap_or_default();
    assert!(
        err.contains(
            "missing cloud_sso_sign_in_url, cloud_sso_account_id, cloud_sso_access_config"
        ) && err.contains("aliyun configure --profile sso --mode CloudSSO"),
        "{err}"
    );
    let err = load_text(r#"{"profiles":[{"name":"default","mode":"Magic"}]}"#, None)
        .err()
        .unwrap_or_default();
    assert!(err.contains("unknown mode \"Magic\""), "{err}");
    assert!(!err.contains("EXAMPLE"));
}

#[test]
fn every_native_mode_maps_to_a_spec() {
    let text = r#"{"profiles":[
        {"name":"sts","mode":"StsToken","access_key_id":"i","access_key_secret":"s","sts_token":"t"},
        {"name":"rra","mode":"RamRoleArn","access_key_id":"i","access_key_secret":"s","sts_token":"t","ram_role_arn":"r","ram_session_name":"n"},
        {"name":"ecs","mode":"EcsRamRole","ram_role_name":"role"},
        {"name":"rrwn","mode":"RamRoleArnWithRoleName","ram_role_arn":"r"},
        {"name":"ext","mode":"External","process_command":"tool --json"},
        {"name":"uri","mode":"CredentialsURI","credentials_uri":"http://127.0.0.1/c"},
        {"name":"oidc","mode":"OIDC","oidc_provider_arn":"p","oidc_token_file":"/t","ram_role_arn":"r","ram_session_name":"n"}]}"#;
    assert!(matches!(
        load_text(text, Some("sts")),
        Ok(CredentialSpec::StsToken { .. })
    ));
    assert!(
        matches!(load_text(text, Some("rra")), Ok(CredentialSpec::AssumeRole { base, .. }) if matches!(*base, CredentialSpec::StsToken { .. }))
    );
    assert_eq!(
        load_text(text, Some("ecs")),
        Ok(CredentialSpec::EcsRamRole {
            role_name: Some("role".into())
        })
    );
    assert!(
        matches!(load_text(text, Some("rrwn")), Ok(CredentialSpec::AssumeRole { session_name, .. }) if session_name == "default-session-name")
    );
    assert_eq!(
        load_text(text, Some("ext")),
        Ok(CredentialSpec::External {
            command: "tool --json".into()
        })
    );
    assert_eq!(
        load_text(text, Some("uri")),
        Ok(CredentialSpec::CredentialsUri {
            uri: "http://127.0.0.1/c".into()
        })
    );
    assert!(matches!(
        load_text(text, Some("oidc")),
        Ok(CredentialSpec::Oidc(_))
    ));
}

#[test]
fn process_output_is_a_profile() {
    let output: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        r#"{"mode":"StsToken","access_key_id":"i","access_key_secret":"s","sts_token":"t"}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        spec_from_process_output(&output, "out"),
        Ok(CredentialSpec::StsToken { .. })
    ));
    for mode in ["CloudSSO", "OAuth"] {
        let output: serde_json::Map<String, serde_json::Value> =
            serde_json::from_value(serde_json::json!({"mode": mode, "oauth_site_type": "CN"}))
                .unwrap_or_else(|e| panic!("{e}"));
        let err = spec_from_process_output(&output, "out")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("needs a config file"), "{err}");
    }
}

#[test]
fn cloudsso_and_oauth_profiles_keep_their_file_tokens_and_cached_sts() {
    let text = r#"{"profiles":[
        {"name":"sso","mode":"CloudSSO","cloud_sso_sign_in_url":"https://s.example/start","cloud_sso_account_id":"1","cloud_sso_access_config":"ac-1","access_token":"t","cloud_sso_access_token_expire":"17","access_key_id":"STS.a","access_key_secret":"s","sts_token":"k","sts_expiration":1.5e9},
        {"name":"oauth","mode":"OAuth","oauth_site_type":"intl","oauth_access_token":"a","oauth_refresh_token":"r","oauth_access_token_expire":null}]}"#;
    let (_dir, path) = write(text);
    let loaded = load(&crate::context::OsFs, &path, Some("sso"), None, "x")
        .unwrap_or_else(|e| panic!("{e}"));
    let CredentialSpec::CloudSso(sso) = loaded.spec else {
        panic!("{:?}", loaded.spec)
    };
    assert_eq!(sso.origin, loaded.origin);
    assert_eq!(
        (sso.access_token_expire, sso.access_token.expose()),
        (17, "t")
    );
    assert_eq!(
        sso.cached.as_ref().map(|c| c.expiration),
        Some(1_500_000_000)
    );
    let loaded = load(&crate::context::OsFs, &path, Some("oauth"), None, "x")
        .unwrap_or_else(|e| panic!("{e}"));
    let CredentialSpec::OAuth(oauth) = loaded.spec else {
        panic!("{:?}", loaded.spec)
    };
    assert_eq!(oauth.site, super::super::oauth::OAuthSite::Intl);
    assert_eq!(
        (oauth.access_token_expire, oauth.cached.is_none()),
        (0, true)
    );
}
