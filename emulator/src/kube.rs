//! A minimal Kubernetes API server on its own mTLS listener.
//!
//! The end of the credential plugin's job is kubectl talking to a cluster with the issued
//! client certificate. This listener lets tests close that loop without a cluster: it serves
//! HTTPS with a server certificate from the emulator CA (SANs `127.0.0.1`, `::1`, `localhost`),
//! asks for a client certificate, authenticates it like kube-apiserver's x509 authenticator
//! (chain to the emulator CA, validity, clientAuth usage; the user is the CN, the groups the
//! O values) and records who called ([`KubeRequest`]). Without a valid certificate the answer is
//! 401 `Unauthorized` (a Status object), as a real API server does, so kubectl's "run the exec
//! plugin again after a 401" path can be exercised too.
//!
//! Served (GET only): `/version`, `/api`, `/api/v1` (an APIResourceList with `namespaces`),
//! `/apis` (no groups), `/api/v1/namespaces` (`default`, `kube-system`; as a `Table` when the
//! client asks for one, as kubectl does) and `/api/v1/namespaces/{name}`, `/healthz`, `/livez`,
//! `/readyz`. Anything else is a 404 Status; other methods a 405 Status. That is enough for
//! `kubectl get --raw /version`, `kubectl version` and `kubectl get ns`.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{DateTime, SecondsFormat, Utc};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use sha1::{Digest, Sha1};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::EmulatorError;
use crate::state::State;

/// `gitVersion` reported by `GET /version`.
pub const KUBE_GIT_VERSION: &str = "v1.31.0-ack-emulator";
/// Namespaces listed by `GET /api/v1/namespaces`.
pub const KUBE_NAMESPACES: [&str; 2] = ["default", "kube-system"];

/// One request to the Kubernetes API listener and the client certificate it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeRequest {
    /// HTTP method.
    pub method: String,
    /// Path (without the query).
    pub path: String,
    /// CN of the client certificate (the Kubernetes user); empty when there was no valid one.
    pub common_name: String,
    /// O values of the client certificate (the Kubernetes groups); empty without a valid one.
    pub organizations: Vec<String>,
    /// HTTP status answered (401 without a valid client certificate).
    pub status: u16,
}

/// Who is on the other end of a connection.
#[derive(Debug, Clone)]
enum Client {
    User {
        common_name: String,
        organizations: Vec<String>,
    },
    Anonymous(String),
}

/// The TLS-layer verifier: asks every client for a certificate and checks that the client holds
/// its key, but leaves the chain and validity checks to the HTTP layer (so a missing, expired or
/// foreign certificate gets a 401 answer rather than a failed handshake, as from kube-apiserver).
#[derive(Debug)]
struct RequestClientCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for RequestClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: clients then send whatever certificate they have.
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The TLS acceptor of the kube listener and the verifier that authenticates client
/// certificates against the emulator CA.
pub(crate) struct KubeTls {
    acceptor: TlsAcceptor,
    authenticator: Arc<dyn ClientCertVerifier>,
}

pub(crate) fn kube_tls(state: &State) -> Result<KubeTls, EmulatorError> {
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let ca = CertificateDer::from_pem_slice(state.ca.pem().as_bytes())
        .map_err(|e| EmulatorError::Certificate(format!("CA PEM: {e}")))?;
    roots.add(ca)?;
    let authenticator = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::clone(&provider),
    )
    .build()
    .map_err(|e| EmulatorError::Certificate(format!("client verifier: {e}")))?;
    let (cert, key) = state.ca.issue_server()?;
    let verifier = Arc::new(RequestClientCert {
        algorithms: provider.signature_verification_algorithms,
    });
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![cert], key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(KubeTls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        authenticator,
    })
}

/// Authenticates the peer's certificate chain (kube-apiserver's x509 authenticator, in short).
fn authenticate(
    authenticator: &dyn ClientCertVerifier,
    chain: Option<&[CertificateDer<'_>]>,
) -> Client {
    let Some((end_entity, intermediates)) = chain.and_then(|c| c.split_first()) else {
        return Client::Anonymous("no client certificate".to_owned());
    };
    if let Err(e) = authenticator.verify_client_cert(end_entity, intermediates, UnixTime::now()) {
        return Client::Anonymous(format!("client certificate rejected: {e}"));
    }
    match x509_parser::parse_x509_certificate(end_entity.as_ref()) {
        Ok((_, cert)) => {
            let subject = cert.subject();
            let common_name = subject
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .unwrap_or_default()
                .to_owned();
            let organizations = subject
                .iter_organization()
                .filter_map(|o| o.as_str().ok().map(str::to_owned))
                .collect();
            if common_name.is_empty() {
                Client::Anonymous("client certificate has no CN".to_owned())
            } else {
                Client::User {
                    common_name,
                    organizations,
                }
            }
        }
        Err(e) => Client::Anonymous(format!("client certificate does not parse: {e}")),
    }
}

/// Accepts connections until `shutdown` flips to true.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: KubeTls,
    state: Arc<State>,
    shutdown: watch::Receiver<bool>,
) {
    let tls = Arc::new(tls);
    crate::server::serve_until(listener, shutdown, move |stream| {
        let state = Arc::clone(&state);
        let tls = Arc::clone(&tls);
        async move {
            // A failed handshake (client does not trust the CA, cannot prove its key, plain
            // HTTP...) just drops the connection.
            let Ok(tls_stream) = tls.acceptor.accept(stream).await else {
                return;
            };
            let client = Arc::new(authenticate(
                tls.authenticator.as_ref(),
                tls_stream.get_ref().1.peer_certificates(),
            ));
            let service =
                service_fn(move |req| handle(Arc::clone(&state), Arc::clone(&client), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tls_stream), service)
                .await;
        }
    })
    .await;
}

async fn handle(
    state: Arc<State>,
    client: Arc<Client>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let accept = req
        .headers()
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (status, content_type, body) = match client.as_ref() {
        Client::Anonymous(_) => (
            401,
            "application/json",
            status_object(401, "Unauthorized", "Unauthorized").to_string(),
        ),
        Client::User { .. } => route(&state, &method, &path, &accept),
    };
    let (common_name, organizations, why) = match client.as_ref() {
        Client::User {
            common_name,
            organizations,
        } => (common_name.clone(), organizations.clone(), String::new()),
        Client::Anonymous(why) => (String::new(), Vec::new(), why.clone()),
    };
    if state.log_requests.load(Ordering::Relaxed) {
        let who = if common_name.is_empty() {
            format!("anonymous: {why}")
        } else {
            format!("CN={common_name}")
        };
        eprintln!("ack-ram-emulator: kube {method} {path} -> {status} ({who})");
    }
    state.record_kube(KubeRequest {
        method,
        path,
        common_name,
        organizations,
        status,
    });
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

fn route(state: &State, method: &str, path: &str, accept: &str) -> (u16, &'static str, String) {
    const JSON: &str = "application/json";
    if method != "GET" && method != "HEAD" {
        return (
            405,
            JSON,
            status_object(405, "MethodNotAllowed", &format!("the server does not allow this method on the requested resource ({method} {path})")).to_string(),
        );
    }
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    let ok = |v: serde_json::Value| (200, JSON, v.to_string());
    match path {
        "/version" => ok(version()),
        "/api" => ok(serde_json::json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{
                "clientCIDR": "0.0.0.0/0",
                "serverAddress": state
                    .kube_endpoint()
                    .and_then(|e| e.split_once("://").map(|(_, hp)| hp.to_owned()))
                    .unwrap_or_default(),
            }],
        })),
        "/apis" => ok(serde_json::json!({
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [],
        })),
        "/api/v1" => ok(serde_json::json!({
            "kind": "APIResourceList",
            "groupVersion": "v1",
            "resources": [{
                "name": "namespaces",
                "singularName": "namespace",
                "namespaced": false,
                "kind": "Namespace",
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                "shortNames": ["ns"],
                "storageVersionHash": "Q3oi5N2YM8M=",
            }],
        })),
        "/healthz" | "/livez" | "/readyz" => (200, "text/plain; charset=utf-8", "ok".to_owned()),
        "/api/v1/namespaces" => {
            let names: Vec<&str> = KUBE_NAMESPACES.to_vec();
            match table_version(accept) {
                Some(v) => ok(namespace_table(state, &names, v)),
                None => ok(serde_json::json!({
                    "kind": "NamespaceList",
                    "apiVersion": "v1",
                    "metadata": { "resourceVersion": "1" },
                    "items": names.iter().map(|n| namespace(state, n)).collect::<Vec<_>>(),
                })),
            }
        }
        _ => {
            if let Some(name) = path.strip_prefix("/api/v1/namespaces/") {
                if let Some(name) = KUBE_NAMESPACES.iter().find(|n| **n == name) {
                    return match table_version(accept) {
                        Some(v) => ok(namespace_table(state, &[name], v)),
                        None => ok(namespace(state, name)),
                    };
                }
                if !name.contains('/') {
                    let mut status =
                        status_object(404, "NotFound", &format!("namespaces \"{name}\" not found"));
                    status["details"] = serde_json::json!({ "name": name, "kind": "namespaces" });
                    return (404, JSON, status.to_string());
                }
            }
            (
                404,
                JSON,
                status_object(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                )
                .to_string(),
            )
        }
    }
}

/// A `Status` object (`kind: Status`, `status: Failure`).
fn status_object(code: u16, reason: &str, message: &str) -> serde_json::Value {
    serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": {},
        "code": code,
    })
}

fn version() -> serde_json::Value {
    serde_json::json!({
        "major": "1",
        "minor": "31",
        "gitVersion": KUBE_GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2024-08-13T00:00:00Z",
        "goVersion": "go1.22.5",
        "compiler": "gc",
        "platform": format!("linux/{}", match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        }),
    })
}

/// `meta.k8s.io` Table version the client asked for (`v1` preferred), if any.
fn table_version(accept: &str) -> Option<&'static str> {
    let mut found = None;
    for media in accept.split(',') {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        let has = |p: &str| params.iter().any(|x| x.eq_ignore_ascii_case(p));
        if has("as=Table") && has("g=meta.k8s.io") {
            if has("v=v1") {
                return Some("v1");
            }
            if has("v=v1beta1") {
                found = found.or(Some("v1beta1"));
            }
        }
    }
    found
}

fn metadata(state: &State, name: &str) -> serde_json::Value {
    let digest = Sha1::digest(format!("ack-ram-emulator namespace {name}").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    serde_json::json!({
        "name": name,
        "uid": format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]),
        "resourceVersion": "1",
        "creationTimestamp": state.started_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "labels": { "kubernetes.io/metadata.name": name },
    })
}

fn namespace(state: &State, name: &str) -> serde_json::Value {
    serde_json::json!({
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": metadata(state, name),
        "spec": { "finalizers": ["kubernetes"] },
        "status": { "phase": "Active" },
    })
}

fn namespace_table(state: &State, names: &[&str], version: &str) -> serde_json::Value {
    let age = human_duration(state.started_at, Utc::now());
    let api_version = format!("meta.k8s.io/{version}");
    serde_json::json!({
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": { "resourceVersion": "1" },
        "columnDefinitions": [
            { "name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0 },
            { "name": "Status", "type": "string", "format": "", "description": "The status of the namespace", "priority": 0 },
            { "name": "Age", "type": "string", "format": "", "description": "CreationTimestamp is a timestamp representing the server time when this object was created.", "priority": 0 },
        ],
        "rows": names.iter().map(|n| serde_json::json!({
            "cells": [n, "Active", age],
            "object": {
                "kind": "PartialObjectMetadata",
                "apiVersion": api_version,
                "metadata": metadata(state, n),
            },
        })).collect::<Vec<_>>(),
    })
}

/// kubectl-style age (`45s`, `12m`, `5h`, `3d`).
fn human_duration(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - since).num_seconds().max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_negotiation() {
        assert_eq!(
            table_version(
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
            ),
            Some("v1")
        );
        assert_eq!(
            table_version("application/json;as=Table;v=v1beta1;g=meta.k8s.io, application/json"),
            Some("v1beta1")
        );
        assert_eq!(table_version("application/json, */*"), None);
        assert_eq!(table_version(""), None);
    }

    #[test]
    fn ages() {
        let t = Utc::now();
        assert_eq!(human_duration(t, t + chrono::TimeDelta::seconds(5)), "5s");
        assert_eq!(human_duration(t, t + chrono::TimeDelta::minutes(30)), "30m");
        assert_eq!(human_duration(t, t + chrono::TimeDelta::hours(5)), "5h");
        assert_eq!(human_duration(t, t + chrono::TimeDelta::days(4)), "4d");
    }
}
