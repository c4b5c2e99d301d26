//! The daemon's HTTP endpoints on `--listen`: `/healthz` (the process answers), `/readyz`
//! (the repository was read and the cluster reached), `/metrics` (Prometheus text) and
//! `/status` (JSON). Plain HTTP/1.1: these are for probes and scrapers inside the network.

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::status::Shared;

/// The `--listen` address could not be used.
#[derive(Debug, thiserror::Error)]
#[error("`--listen {addr}`: {reason}")]
pub struct ListenError {
    addr: SocketAddr,
    reason: String,
}

/// Bind the address now, so a port in use is a clear error at start, not a silent failure later.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ListenError> {
    TcpListener::bind(addr).await.map_err(|e| ListenError {
        addr,
        reason: match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                "the address is already in use (another daemon or program listens there)".into()
            }
            std::io::ErrorKind::PermissionDenied => {
                "permission denied (ports below 1024 need privileges)".into()
            }
            _ => e.to_string(),
        },
    })
}

/// Serve the endpoints until the task is aborted.
pub async fn serve(listener: TcpListener, state: Shared) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "accepting an HTTP connection");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let state = state.clone();
                async move {
                    Ok::<_, Infallible>(respond(&state, request.method(), request.uri().path()))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// The answer to one request (pure over the state, so it is tested without a socket).
pub fn respond(state: &Shared, method: &Method, path: &str) -> Response<Full<Bytes>> {
    if method != Method::GET && method != Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "only GET\n".into(),
        );
    }
    match path {
        "/healthz" => reply(StatusCode::OK, "text/plain", "ok\n".into()),
        "/readyz" => {
            let state = state.lock();
            if state.ready {
                reply(StatusCode::OK, "text/plain", "ready\n".into())
            } else {
                let why = state
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "starting".into());
                reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    format!("not ready: {why}\n"),
                )
            }
        }
        "/metrics" => {
            let text = state.lock().metrics.render();
            reply(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                text,
            )
        }
        "/status" => {
            let state = state.lock().clone();
            match serde_json::to_string_pretty(&state) {
                Ok(mut text) => {
                    text.push('\n');
                    reply(StatusCode::OK, "application/json", text)
                }
                Err(e) => reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain",
                    format!("{e}\n"),
                ),
            }
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: try /healthz, /readyz, /metrics, /status\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;

    use super::*;

    async fn body(r: Response<Full<Bytes>>) -> String {
        String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn endpoints() {
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            let state = Shared::default();
            let get = Method::GET;
            assert_eq!(respond(&state, &get, "/healthz").status(), StatusCode::OK);
            assert_eq!(
                respond(&state, &get, "/readyz").status(),
                StatusCode::SERVICE_UNAVAILABLE
            );
            state.lock().ready = true;
            state.lock().ring("dev").commit = Some("abc".into());
            assert_eq!(respond(&state, &get, "/readyz").status(), StatusCode::OK);
            let status: serde_json::Value =
                serde_json::from_str(&body(respond(&state, &get, "/status")).await).unwrap();
            assert_eq!(status["rings"][0]["ring"], "dev");
            assert_eq!(status["rings"][0]["commit"], "abc");
            assert!(
                body(respond(&state, &get, "/metrics"))
                    .await
                    .contains("gitops_watch_git_fetch_failures_total 0")
            );
            assert_eq!(
                respond(&state, &get, "/nope").status(),
                StatusCode::NOT_FOUND
            );
            assert_eq!(
                respond(&state, &Method::POST, "/status").status(),
                StatusCode::METHOD_NOT_ALLOWED
            );
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn a_port_in_use_is_a_clear_error() {
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = taken.local_addr().unwrap();
            let err = bind(addr).await.unwrap_err().to_string();
            assert!(err.contains("already in use"), "{err}");
            assert!(err.contains(&addr.to_string()), "{err}");
        })
        .await
        .unwrap();
    }
}
