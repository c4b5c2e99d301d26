//! The HTTPS front of the sandbox: TLS, authentication (bearer token or X509 client
//! certificate), HTTP/1.1 and HTTP/2.
//!
//! The same tower `Service` the engine calls in-process is served here; only this front asks for
//! credentials, as a real API server's authenticators do for every request: a request is
//! authenticated when its client certificate verifies against the CA
//! (https://kubernetes.io/docs/reference/access-authn-authz/authentication/#x509-client-certificates)
//! or its bearer token is the sandbox's
//! (https://kubernetes.io/docs/reference/access-authn-authz/authentication/#putting-a-bearer-token-in-a-request);
//! with neither it is answered `401 Unauthorized`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::faults::BoxError;
use crate::tls::Credentials;

/// The HTTPS server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("listening on `{addr}`: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The listen address is not a loopback address: the sandbox holds no real security.
    #[error("`{0}` is not a loopback address; the sandbox listens on 127.0.0.1 or ::1 only")]
    NotLoopback(SocketAddr),
}

/// The API service with its types erased, so the per-connection future is not generic.
type ApiService = tower::util::BoxCloneService<Request<Incoming>, Response<ServerBody>, BoxError>;

/// A body either written here (401) or by the inner service.
/// Its error is a concrete type, not `Box<dyn Error>`: hyper's `Into<Box<dyn Error>>` bounds on a
/// boxed error trip a higher-ranked lifetime limit of the compiler when the connection is spawned.
type ServerBody = UnsyncBoxBody<Bytes, BodyError>;

/// A response body failed mid-stream.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BodyError(BoxError);

/// Erase the inner body's type, so the connection future's type does not depend on it.
fn boxed<B>(body: B) -> ServerBody
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(|err| BodyError(err.into())).boxed_unsync()
}

/// Bind `addr` (port 0 picks a free port; read it back with `local_addr`).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    if !addr.ip().is_loopback() {
        return Err(ServerError::NotLoopback(addr));
    }
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

/// Serve `service` over HTTPS on `listener` until `shutdown` completes. Each connection gets
/// its own task; a TLS handshake or connection failure only ends that connection.
pub async fn serve<S, B>(
    listener: TcpListener,
    credentials: &Credentials,
    service: S,
    shutdown: impl Future<Output = ()>,
) where
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let acceptor = TlsAcceptor::from(credentials.server_config.clone());
    let credentials = Arc::new(credentials.clone());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %err, "accepting a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let service = service.clone();
        let credentials = credentials.clone();
        let erased = ApiService::new(
            service
                .clone()
                .map_response(|response: Response<B>| response.map(boxed))
                .map_err(|err: S::Error| -> BoxError { err.into() }),
        );
        tokio::spawn(connection(acceptor, stream, peer, erased, credentials));
    }
}

/// One client connection: the TLS handshake, then HTTP/1.1 or HTTP/2 as the client chose.
async fn connection(
    acceptor: TlsAcceptor,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    service: ApiService,
    credentials: Arc<Credentials>,
) {
    let _ = stream.set_nodelay(true);
    let tls = match acceptor.accept(stream).await {
        Ok(tls) => tls,
        Err(err) => {
            tracing::debug!(%peer, error = %err, "TLS handshake failed");
            return;
        }
    };
    // A client certificate is presented once per connection; it authenticates every request on it.
    let by_certificate = tls
        .get_ref()
        .1
        .peer_certificates()
        .is_some_and(|chain| credentials.authenticates(chain));
    let token: Arc<str> = credentials.token.as_str().into();
    let handler = hyper::service::service_fn(move |request: Request<Incoming>| {
        handle(service.clone(), by_certificate, token.clone(), request)
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    if let Err(err) = builder.serve_connection(TokioIo::new(tls), handler).await {
        tracing::debug!(%peer, error = %err, "connection ended");
    }
}

/// One request: authenticate (by the connection's client certificate or the request's bearer
/// token), then hand it to the API service. An error from the service (an injected dropped
/// connection) makes hyper close the connection.
fn handle(
    service: ApiService,
    by_certificate: bool,
    token: Arc<str>,
    request: Request<Incoming>,
) -> Pin<Box<dyn Future<Output = Result<Response<ServerBody>, ServiceFailure>> + Send>> {
    if !by_certificate && !authorized(&request, &token) {
        return Box::pin(std::future::ready(Ok(unauthorized())));
    }
    let call = service.oneshot(request);
    Box::pin(async move {
        match call.await {
            Ok(response) => Ok(response),
            Err(err) => Err(ServiceFailure(err)),
        }
    })
}

/// The API service failed a request outright (no response to send).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ServiceFailure(BoxError);

/// Does the request carry `Authorization: Bearer <token>`?
fn authorized<B>(request: &Request<B>, token: &str) -> bool {
    let Some(value) = request.headers().get(http::header::AUTHORIZATION) else {
        return false;
    };
    let Some(given) = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) else {
        return false;
    };
    constant_time_eq(given.trim().as_bytes(), token.as_bytes())
}

/// Compare without an early exit, so the time taken does not tell how much of the token matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The API server's answer to a request without valid credentials.
fn unauthorized() -> Response<ServerBody> {
    let body = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    });
    let mut response = Response::new(boxed(Full::new(Bytes::from(body.to_string()))));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use std::time::Duration;

    fn echo() -> impl tower::Service<
        Request<Incoming>,
        Response = Response<Full<Bytes>>,
        Error = Infallible,
        Future = impl Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send,
    > + Clone
    + Send
    + 'static {
        tower::service_fn(|request: Request<Incoming>| async move {
            let text = format!(
                "{:?} {} {}",
                request.version(),
                request.method(),
                request.uri().path()
            );
            Ok(Response::new(Full::new(Bytes::from(text))))
        })
    }

    async fn client(kubeconfig: &std::path::Path) -> kube::Client {
        client_of(kubeconfig, None).await
    }

    async fn client_of(kubeconfig: &std::path::Path, context: Option<&str>) -> kube::Client {
        let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
        let options = kube::config::KubeConfigOptions {
            context: context.map(str::to_owned),
            ..Default::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .unwrap();
        kube::Client::try_from(config).unwrap()
    }

    async fn get_pods(client: &kube::Client) -> Result<String, kube::Error> {
        client
            .request_text(http::Request::get("/api/v1/pods").body(Vec::new()).unwrap())
            .await
    }

    fn assert_401(result: Result<String, kube::Error>) {
        match result {
            Err(kube::Error::Api(status)) => {
                assert_eq!(status.code, 401);
                assert_eq!(status.reason, "Unauthorized");
            }
            other => panic!("expected a 401 Status, got {other:?}"),
        }
    }

    /// The kubeconfig's `sandbox-cert` context authenticates by its client certificate alone; a
    /// certificate from another CA is not a TLS failure but a 401, as from a real API server
    /// (https://kubernetes.io/docs/reference/access-authn-authz/authentication/#x509-client-certificates).
    #[tokio::test]
    async fn a_client_certificate_signed_by_the_ca_authenticates_and_another_gets_401() {
        tokio::time::timeout(Duration::from_secs(20), async {
            let credentials = Credentials::generate().unwrap();
            let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
            let addr = listener.local_addr().unwrap();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("kubeconfig");
            crate::kubeconfig::write(&path, addr, &credentials).unwrap();
            // Another sandbox's certificate and key: well formed, signed by a CA we do not trust.
            let stranger = Credentials::generate().unwrap();
            let served = credentials.clone();
            tokio::spawn(
                async move { serve(listener, &served, echo(), std::future::pending()).await },
            );

            let by_cert = client_of(&path, Some(crate::kubeconfig::CERT_CONTEXT)).await;
            let text = get_pods(&by_cert).await.unwrap();
            assert!(text.ends_with("GET /api/v1/pods"), "{text}");

            let b64 =
                |pem: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pem);
            let text = std::fs::read_to_string(&path).unwrap();
            let foreign = text
                .replace(
                    &b64(&credentials.client_cert_pem),
                    &b64(&stranger.client_cert_pem),
                )
                .replace(
                    &b64(&credentials.client_key_pem),
                    &b64(&stranger.client_key_pem),
                );
            assert_ne!(foreign, text);
            let foreign_path = dir.path().join("foreign");
            std::fs::write(&foreign_path, foreign).unwrap();
            let foreign = client_of(&foreign_path, Some(crate::kubeconfig::CERT_CONTEXT)).await;
            assert_401(get_pods(&foreign).await);

            // The token still works on its own.
            let by_token = client(&path).await;
            assert!(get_pods(&by_token).await.is_ok());

            // Neither a certificate nor a token: 401.
            let mut anonymous = kube::config::Kubeconfig::read_from(&path).unwrap();
            for user in &mut anonymous.auth_infos {
                user.auth_info = Some(Default::default());
            }
            let config = kube::Config::from_custom_kubeconfig(anonymous, &Default::default())
                .await
                .unwrap();
            assert_401(get_pods(&kube::Client::try_from(config).unwrap()).await);
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn https_requires_the_token_and_kube_trusts_the_ca() {
        tokio::time::timeout(Duration::from_secs(20), async {
            let credentials = Credentials::generate().unwrap();
            let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
            let addr = listener.local_addr().unwrap();
            assert_ne!(addr.port(), 0);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("kubeconfig");
            crate::kubeconfig::write(&path, addr, &credentials).unwrap();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(async move {
                serve(listener, &credentials, echo(), async {
                    let _ = stopped.await;
                })
                .await;
            });

            let good = client(&path).await;
            let text = good
                .request_text(http::Request::get("/api/v1/pods").body(Vec::new()).unwrap())
                .await
                .unwrap();
            assert!(text.ends_with("GET /api/v1/pods"), "{text}");

            // The same kubeconfig with another token: the server answers 401 with a Status.
            let text = std::fs::read_to_string(&path).unwrap();
            let wrong = dir.path().join("wrong");
            let token_line = text
                .lines()
                .find(|l| l.contains("token:"))
                .unwrap()
                .to_owned();
            std::fs::write(&wrong, text.replace(&token_line, "      token: nope")).unwrap();
            let bad = client(&wrong).await;
            let err = bad
                .request_text(http::Request::get("/api/v1/pods").body(Vec::new()).unwrap())
                .await
                .unwrap_err();
            match err {
                kube::Error::Api(status) => {
                    assert_eq!(status.code, 401);
                    assert_eq!(status.reason, "Unauthorized");
                }
                other => panic!("expected a 401 Status, got {other:?}"),
            }

            stop.send(()).unwrap();
            server.await.unwrap();
            assert!(
                tokio::net::TcpStream::connect(addr).await.is_err(),
                "the listener is closed"
            );
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn an_injected_dropped_connection_closes_the_connection() {
        use tower::Layer as _;
        tokio::time::timeout(Duration::from_secs(20), async {
            let credentials = Credentials::generate().unwrap();
            let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
            let addr = listener.local_addr().unwrap();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("kubeconfig");
            crate::kubeconfig::write(&path, addr, &credentials).unwrap();
            let faults = crate::faults::FaultHandle::new(
                crate::faults::FaultConfig::parse("verb=list,drop=1").unwrap(),
            );
            let service = crate::faults::FaultLayer::new(faults).layer(echo());
            tokio::spawn(async move {
                serve(listener, &credentials, service, std::future::pending()).await
            });
            let client = client(&path).await;
            let dropped = client
                .request_text(http::Request::get("/api/v1/pods").body(Vec::new()).unwrap())
                .await
                .unwrap_err();
            assert!(
                !matches!(dropped, kube::Error::Api(_)),
                "no answer, not a Status: {dropped:?}"
            );
            // Other verbs still pass.
            let text = client
                .request_text(
                    http::Request::get("/api/v1/namespaces/default/pods/a")
                        .body(Vec::new())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert!(
                text.ends_with("GET /api/v1/namespaces/default/pods/a"),
                "{text}"
            );
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn only_loopback_addresses_are_served() {
        let err = bind("0.0.0.0:0".parse().unwrap()).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "`0.0.0.0:0` is not a loopback address; the sandbox listens on 127.0.0.1 or ::1 only"
        );
    }
}
