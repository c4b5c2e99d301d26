//! A Kubernetes API emulator, served in-process as a tower `Service` and over HTTPS.

// The runtime around the API core (S2): TLS, kubeconfig, fault injection.
pub mod faults;
pub mod kubeconfig;
pub mod server;
pub mod tls;

// The write semantics (W): PATCH forms, server-side apply, defaulting.
pub mod patch;
