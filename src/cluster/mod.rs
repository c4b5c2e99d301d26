//! The only door to the Kubernetes API: connecting (kubeconfig or the in-process sandbox),
//! discovery, reading live objects, and server-side (dry-run) apply, concurrently and with retries.

pub mod answer;
pub mod apply_calls;
pub mod connect;
pub mod credentials;
pub mod error;
pub mod in_cluster;
pub mod kinds;
pub mod live;
pub mod objects;
pub mod observe;
pub mod proxy;
pub mod retry;
pub mod sandbox;

pub use connect::KubeconfigTarget;
pub use error::ClusterError;
pub use kinds::{Kind, Kinds};

use crate::plan::ClusterInfo;

/// How many requests run at once. The API server handles hundreds of concurrent requests per
/// client over one HTTP/2 connection; kube-rs has no client-side rate limiter (client-go's
/// default of 5 QPS is what makes `kubectl` slow on large sets), so this bound is the throttle.
pub const DEFAULT_CONCURRENCY: usize = 32;

/// A connection to one cluster.
#[derive(Clone)]
pub struct Cluster {
    client: kube::Client,
    info: ClusterInfo,
    /// How errors name the target: ``context `aks-dev` `` or `the sandbox`.
    target: String,
    concurrency: usize,
}

impl Cluster {
    /// Connect through a kubeconfig (see [`connect::connect`]).
    pub async fn from_kubeconfig(target: &KubeconfigTarget) -> Result<Self, ClusterError> {
        let connected = connect::connect(target).await?;
        Ok(Self {
            client: connected.client,
            target: format!("context `{}`", connected.context),
            info: ClusterInfo {
                server: connected.server,
                context: Some(connected.context),
            },
            concurrency: DEFAULT_CONCURRENCY,
        })
    }

    /// Wrap a client built elsewhere (the in-process sandbox).
    pub fn from_client(client: kube::Client, info: ClusterInfo, target: impl Into<String>) -> Self {
        Self {
            client,
            info,
            target: target.into(),
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    /// What this cluster is, for plans and messages.
    pub fn info(&self) -> &ClusterInfo {
        &self.info
    }

    /// The namespace of namespaced objects that name none (the context's namespace).
    pub fn default_namespace(&self) -> &str {
        self.client.default_namespace()
    }

    /// The client, for calls this module does not wrap (tests).
    #[cfg(test)]
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// How many requests run at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }
}
