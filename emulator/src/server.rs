//! HTTP/1.1 plumbing: accept loop, optional TLS, request → [`crate::api`] → JSON response.
//!
//! Separate from the API logic so the wire concerns (hyper, rustls, response headers, request
//! log, counters, artificial delay) stay out of the checks that define the service behaviour.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use chrono::{SecondsFormat, Utc};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::EmulatorError;
use crate::api::{self, ApiError, IncomingRequest, Route};
use crate::state::{RecordedRequest, State};

/// Builds the rustls server configuration (ring provider, HTTP/1.1 ALPN) for the emulator's
/// own certificate.
pub(crate) fn tls_acceptor(state: &State) -> Result<TlsAcceptor, EmulatorError> {
    let (cert, key) = state.ca.issue_server()?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts connections until `shutdown` flips to true.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(_) => {
                // Out of file descriptors or a connection reset before accept: back off briefly.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(Arc::clone(&state), req));
            match tls {
                Some(acceptor) => {
                    // A failed handshake (client does not trust the CA, plain HTTP on the TLS
                    // port...) just drops the connection, as a real server would.
                    if let Ok(tls_stream) = acceptor.accept(stream).await {
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(tls_stream), service)
                            .await;
                    }
                }
                None => {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                }
            }
        });
    }
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();

    let outcome = match api::route(&method, &path) {
        Route::UserConfig(segment) => {
            state.requests.fetch_add(1, Ordering::SeqCst);
            if !state.response_delay.is_zero() {
                tokio::time::sleep(state.response_delay).await;
            }
            match state.take_fault() {
                Some(fault) => Err(fault),
                None => {
                    let incoming = IncomingRequest {
                        method: &method,
                        path: &path,
                        raw_query: &query,
                        headers: &headers,
                    };
                    api::describe_cluster_user_kubeconfig(&state, &incoming, segment, Utc::now())
                }
            }
        }
        Route::NotFound => Err(ApiError::api_not_found()),
    };

    let request_id = crate::request_id();
    let (status, code, body) = match outcome {
        Ok(issued) => {
            state.issued.fetch_add(1, Ordering::SeqCst);
            let body = serde_json::json!({
                "config": issued.config,
                "expiration": issued.expiration.to_rfc3339_opts(SecondsFormat::Secs, true),
            });
            (200, "OK".to_owned(), body)
        }
        Err(e) => {
            let body = serde_json::json!({
                "code": e.code,
                "message": e.message,
                "requestId": request_id,
                "status": e.status,
            });
            (e.status, e.code, body)
        }
    };

    if state.log_requests.load(Ordering::Relaxed) {
        // Method, path and outcome only: never the query, headers or body.
        eprintln!(
            "ack-ram-emulator: {method} {path} -> {status} {code} ({} ms, requestId {request_id})",
            started.elapsed().as_millis()
        );
    }
    state.record(RecordedRequest {
        method,
        path,
        query,
        headers,
        status,
        code,
    });

    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-acs-request-id", value);
    }
    Ok(response)
}
