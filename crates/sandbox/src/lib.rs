//! A Kubernetes API emulator, served in-process as a tower `Service` and over HTTPS.
//!
//! [`Sandbox`] holds the [`store::Store`] and answers Kubernetes API requests ([`api`]) through
//! [`Sandbox::service`], a tower `Service` that `kube::Client::new(service, "default")` accepts:
//!
//! ```no_run
//! # async fn demo() {
//! let sandbox = gitops_sandbox::Sandbox::new();
//! // let client = kube::Client::new(sandbox.service(), "default");
//! # let _ = sandbox;
//! # }
//! ```

// The API core (S1): the object store and the HTTP API on top of it.
pub mod api;
mod sandbox;
pub mod store;

pub use sandbox::{Sandbox, SandboxService};

// The runtime around the API core (S2): TLS, kubeconfig, fault injection.
pub mod faults;
pub mod kubeconfig;
pub mod server;
pub mod tls;

// The write semantics (W): PATCH forms, server-side apply, defaulting.
pub mod defaults;
pub mod patch;
pub mod ssa;

// The simulated cluster (S2): simulated time and controllers.
pub mod bootstrap;
pub mod clock;
pub mod controllers;
pub mod persist;
pub mod session;
