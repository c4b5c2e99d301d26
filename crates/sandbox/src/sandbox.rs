//! The `Sandbox`: a store plus the tower `Service` that answers Kubernetes API requests from it.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt as _, Limited};

use crate::api::body::ResponseBody;
use crate::api::status::{ApiError, MAX_REQUEST_BYTES};
use crate::api::{error_response, handle};
use crate::store::Store;

/// A Kubernetes API emulator: the object store and the API on top of it. Cheap to clone; clones
/// share one cluster.
#[derive(Clone, Debug, Default)]
pub struct Sandbox {
    store: Store,
}

impl Sandbox {
    /// A fresh cluster: the system namespaces, storage classes and nodes of a new AKS cluster.
    pub fn new() -> Self {
        let sandbox = Self::empty();
        // Creating into an empty store cannot conflict.
        let _ = crate::bootstrap::install(&sandbox.store);
        sandbox
    }

    /// A sandbox with nothing in it, not even namespaces.
    pub fn empty() -> Self {
        Self {
            store: Store::new(),
        }
    }

    /// A sandbox over an existing store (e.g. one loaded from a snapshot).
    pub fn with_store(store: Store) -> Self {
        Self { store }
    }

    /// The store, for in-process controllers and persistence.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The API as a tower `Service`; `kube::Client::new(sandbox.service(), "default")` gives an
    /// ordinary client with no socket in between.
    pub fn service(&self) -> SandboxService {
        SandboxService {
            store: self.store.clone(),
        }
    }
}

/// The sandbox's API as a tower `Service` over any request body.
#[derive(Clone, Debug)]
pub struct SandboxService {
    store: Store,
}

impl<B> tower::Service<Request<B>> for SandboxService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let store = self.store.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            // The real server refuses bodies over 3 MiB before decoding them.
            // https://kubernetes.io/docs/concepts/configuration/configmap/#motivation
            let bytes = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(error) => {
                    let api_error = if error
                        .downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        ApiError::too_large()
                    } else {
                        ApiError::bad_request(format!("unable to read the request body: {error}"))
                    };
                    return Ok(error_response(&api_error));
                }
            };
            Ok(handle(&store, Request::from_parts(parts, bytes)).await)
        })
    }
}
