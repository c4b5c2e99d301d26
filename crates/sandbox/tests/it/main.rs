//! The sandbox's API through an ordinary `kube::Client` on the in-process service: what the engine
//! and kubectl rely on, checked against the behaviour the Kubernetes documentation describes.

// Helpers here build fixtures for tests; a panic in them is a test failure with a message
// (clippy.toml allows unwrap in #[test] functions only).
#![allow(clippy::unwrap_used)]

mod crd;
mod crud;
mod discovery;
mod errors;
mod gc;
mod lists;
mod logs;
mod patch;
mod secrets;
mod validation;
mod watch;
mod writes;

use std::future::Future;
use std::time::Duration;

use gitops_sandbox::Sandbox;
use serde_json::Value;

/// Every test finishes within this, or fails.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Runs a test body under [`TIMEOUT`].
pub async fn timed<F: Future>(body: F) -> F::Output {
    tokio::time::timeout(TIMEOUT, body)
        .await
        .expect("the test timed out")
}

/// A fresh sandbox and a client on its in-process service.
pub fn sandbox() -> (Sandbox, kube::Client) {
    let sandbox = Sandbox::new();
    let client = kube::Client::new(sandbox.service(), "default");
    (sandbox, client)
}

/// Sends a raw request and returns the status code and the JSON body (Null if not JSON).
pub async fn raw(
    client: &kube::Client,
    method: &str,
    uri: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let request = http::Request::builder()
        .method(method)
        .uri(uri)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(body)
        .unwrap();
    let response = client.send(request.map(Into::into)).await.unwrap();
    let status = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The `kube::Error::Api` status of a failed call.
pub fn api_error<T: std::fmt::Debug>(result: kube::Result<T>) -> Box<kube::core::Status> {
    match result {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}
