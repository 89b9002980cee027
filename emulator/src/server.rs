//! HTTP/1.1 plumbing of the main listener: accept loop, optional TLS, routing, JSON responses.
//!
//! Separate from the API logic so the wire concerns (hyper, rustls, response headers, request
//! log, counters, artificial delay, fault application) stay out of the checks that define the
//! service behaviour. Routes: `GET /k8s/{ClusterId}/user_config` and `GET /clusters/{ClusterId}`
//! → [`crate::api`];
//! `POST /` → STS ([`crate::sts`]); `POST /cloud-credentials` → the CloudSSO portal
//! ([`crate::sso`]); `POST /v1/token`, `POST /v1/exchange` → the OAuth server ([`crate::oauth`]);
//! `/__emulator/*` → the control API ([`crate::control`]);
//! anything else → 404 `InvalidAction.NotFound`.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use chrono::{SecondsFormat, Utc};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::future::Future;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::EmulatorError;
use crate::api::{self, ApiError, IncomingRequest, IssueMode, Route};
use crate::control::{self, CONTROL_PREFIX};
use crate::faults::{self, Answer, AnswerFault, FaultTarget, Malformed};
use crate::roa;
use crate::state::{RecordedRequest, State};
use crate::sts::{self, StsMode};
use crate::{oauth, sso};

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

/// Accepts connections until `shutdown` flips to true, serving each on its own task.
pub(crate) async fn serve_until<F, Fut>(
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    serve: F,
) where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
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
        tokio::spawn(serve(stream));
    }
}

/// Serves the ACK/STS API on `listener` until `shutdown` flips to true.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<State>,
    shutdown: watch::Receiver<bool>,
) {
    serve_until(listener, shutdown, move |stream| {
        let state = Arc::clone(&state);
        let tls = tls.clone();
        async move {
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
        }
    })
    .await;
}

/// Largest request body read (STS form bodies, control API JSON).
const MAX_REQUEST_BODY: usize = 1 << 20;

async fn read_body(body: Incoming) -> Result<Bytes, String> {
    Limited::new(body, MAX_REQUEST_BODY)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| format!("reading the request body failed: {e}"))
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();

    if path.starts_with(CONTROL_PREFIX) {
        // Test-harness traffic: not counted, recorded, delayed or faulted.
        let answer = match read_body(body).await {
            Ok(bytes) => control::handle(&state, &method, &path, &bytes),
            Err(e) => Answer::json(400, &serde_json::json!({ "error": e })),
        };
        return Ok(to_response(answer, None));
    }

    let request_id = crate::request_id();
    let (answer, code, label) = if method == "POST"
        && [sso::SSO_PATH, "/v1/token", "/v1/exchange"].contains(&path.as_str())
    {
        // The CloudSSO portal and the OAuth server (their own hosts in real life).
        let now = Utc::now();
        let (answer, code) = match read_body(body).await {
            Err(message) => (
                Answer::json(400, &serde_json::json!({ "error": message })),
                "InvalidParameter".to_owned(),
            ),
            Ok(bytes) => match path.as_str() {
                sso::SSO_PATH => sso::cloud_credentials(&state, &headers, &bytes, now, &request_id),
                "/v1/token" => oauth::token(&state, &bytes, now, &request_id),
                _ => oauth::exchange(&state, &headers, now, &request_id),
            },
        };
        (answer, code, path.clone())
    } else if method == "POST" && path == "/" {
        let (answer, code, action) =
            sts_answer(&state, &method, &query, &headers, body, &request_id).await;
        // The action is client input: log it only when it looks like an action name.
        let action = if !action.is_empty() && action.bytes().all(|b| b.is_ascii_alphanumeric()) {
            action
        } else {
            "(no valid Action)".to_owned()
        };
        (answer, code, format!("{path} {action}"))
    } else {
        let (answer, code) =
            ack_answer(&state, &method, &path, &query, &headers, &request_id).await;
        (answer, code, path.clone())
    };
    let status = answer.status;

    if state.log_requests.load(Ordering::Relaxed) {
        // Method, path (and STS action) and outcome only: never the query, headers or body.
        eprintln!(
            "ack-ram-emulator: {method} {label} -> {status} {code} ({} ms, requestId {request_id})",
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
    Ok(to_response(answer, Some(&request_id)))
}

/// `DescribeClusterUserKubeconfig` (and the 404 for unknown routes): (answer, code).
async fn ack_answer(
    state: &State,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    request_id: &str,
) -> (Answer, String) {
    let segment = match api::route(method, path) {
        Route::UserConfig(segment) => segment,
        Route::ClusterDetail(segment) => {
            return detail_answer(state, method, path, query, headers, segment, request_id).await;
        }
        Route::Clusters => {
            return crate::clusters::answer(state, method, path, query, headers, request_id).await;
        }
        Route::NotFound => {
            let e = ApiError::api_not_found();
            return (cs_error(&e, request_id), e.code);
        }
    };
    state.requests.fetch_add(1, Ordering::SeqCst);
    let (extra_delay, fault) = state.take_faults(FaultTarget::Ack);
    let delay = state.response_delay + extra_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let malformed = match fault {
        Some(AnswerFault::Error(e)) => return (cs_error(&e, request_id), e.code),
        Some(AnswerFault::Malformed { kind, status }) => Some((kind, status)),
        None => None,
    };
    let mode = match malformed {
        Some((Malformed::ExpiredExpiration, _)) => IssueMode::Expired,
        _ => IssueMode::Normal,
    };
    let incoming = IncomingRequest {
        method,
        path,
        raw_query: query,
        headers,
    };
    let (answer, code, success) =
        match api::describe_cluster_user_kubeconfig(state, &incoming, segment, Utc::now(), mode) {
            Ok(issued) => {
                let body = serde_json::json!({
                    "config": issued.config,
                    "expiration": issued.expiration.to_rfc3339_opts(SecondsFormat::Secs, true),
                });
                (Answer::json(200, &body), "OK".to_owned(), Some(body))
            }
            Err(e) => (cs_error(&e, request_id), e.code, None),
        };
    match malformed {
        None => {
            if success.is_some() {
                state.issued.fetch_add(1, Ordering::SeqCst);
            }
            (answer, code)
        }
        Some((kind, status)) => (
            faults::corrupt(kind, status, answer, success.as_ref()),
            format!("{code} (fault {})", kind.name()),
        ),
    }
}

/// STS on `POST /`: (answer, code, action).
async fn sts_answer(
    state: &State,
    method: &str,
    query: &str,
    headers: &[(String, String)],
    body: Incoming,
    request_id: &str,
) -> (Answer, String, String) {
    state.sts_requests.fetch_add(1, Ordering::SeqCst);
    let mut params = roa::decode_query(query);
    let form = roa::header_value(headers, "content-type").is_some_and(|ct| {
        ct.to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    match read_body(body).await {
        Ok(bytes) if form && !bytes.is_empty() => {
            params.extend(roa::decode_query(&String::from_utf8_lossy(&bytes)));
        }
        Ok(_) => {}
        Err(message) => {
            let e = ApiError::new(400, "InvalidParameter", message);
            return (sts_error(&e, request_id), e.code, String::new());
        }
    }
    let action = params
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let (delay, fault) = state.take_faults(FaultTarget::Sts);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let malformed = match fault {
        Some(AnswerFault::Error(e)) => return (sts_error(&e, request_id), e.code, action),
        Some(AnswerFault::Malformed { kind, status }) => Some((kind, status)),
        None => None,
    };
    let mode = match malformed {
        Some((Malformed::ExpiredExpiration, _)) => StsMode::Expired,
        _ => StsMode::Normal,
    };
    let (answer, code, success) =
        match sts::handle(state, method, &params, Utc::now(), mode, request_id) {
            Ok(ok) => {
                if malformed.is_none() && ok.action == "AssumeRole" {
                    state.sts_issued.fetch_add(1, Ordering::SeqCst);
                }
                (Answer::json(200, &ok.body), "OK".to_owned(), Some(ok.body))
            }
            Err(e) => (sts_error(&e, request_id), e.code, None),
        };
    match malformed {
        None => (answer, code, action),
        Some((kind, status)) => (
            faults::corrupt(kind, status, answer, success.as_ref()),
            format!("{code} (fault {})", kind.name()),
            action,
        ),
    }
}

/// `DescribeClusterDetail`: counted and faulted like the certificate call (an injected 403
/// stands for an identity without the permission); it issues nothing.
async fn detail_answer(
    state: &State,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    segment: &str,
    request_id: &str,
) -> (Answer, String) {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let (delay, fault) = state.take_faults(FaultTarget::Ack);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let malformed = match fault {
        Some(AnswerFault::Error(e)) => return (cs_error(&e, request_id), e.code),
        Some(AnswerFault::Malformed { kind, status }) => Some((kind, status)),
        None => None,
    };
    let incoming = IncomingRequest {
        method,
        path,
        raw_query: query,
        headers,
    };
    match api::describe_cluster_detail(state, &incoming, segment, Utc::now()) {
        Ok(body) => match malformed {
            None => (Answer::json(200, &body), "OK".to_owned()),
            Some((kind, status)) => (
                faults::corrupt(kind, status, Answer::json(200, &body), Some(&body)),
                format!("OK (fault {})", kind.name()),
            ),
        },
        Err(e) => (cs_error(&e, request_id), e.code),
    }
}

/// The CS error shape.
pub(crate) fn cs_error(e: &ApiError, request_id: &str) -> Answer {
    Answer::json(
        e.status,
        &serde_json::json!({
            "code": e.code,
            "message": e.message,
            "requestId": request_id,
            "status": e.status,
        }),
    )
}

fn sts_error(e: &ApiError, request_id: &str) -> Answer {
    Answer::json(e.status, &sts::error_body(e, request_id))
}

fn to_response(answer: Answer, request_id: Option<&str>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_REQUEST);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(answer.content_type));
    if let Some(value) = request_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        response.headers_mut().insert("x-acs-request-id", value);
    }
    response
}
