//! In-cluster mode: when the daemon runs in a Pod with no kubeconfig, it talks to the API
//! server with the Pod's ServiceAccount token and CA (`KUBERNETES_SERVICE_HOST`,
//! `/var/run/secrets/kubernetes.io/serviceaccount/`), as client-go's `InClusterConfig` does
//! (<https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/>).

use super::connect::{bound, probe};
use super::error::one_line;
use super::proxy::proxy_for;
use super::{Cluster, ClusterError};
use crate::plan::ClusterInfo;

/// Whether this process runs in a Pod (the API server's Service is in its environment).
pub fn in_pod() -> bool {
    std::env::var_os("KUBERNETES_SERVICE_HOST").is_some_and(|v| !v.is_empty())
}

impl Cluster {
    /// Connect with the Pod's ServiceAccount, with the same timeouts, retries and probe as a
    /// kubeconfig connection.
    pub async fn in_cluster() -> Result<Self, ClusterError> {
        let target = "the in-cluster ServiceAccount";
        let bad = |message: String| ClusterError::BadContext {
            context: "in-cluster".into(),
            message,
        };
        let mut config = kube::Config::incluster().map_err(|e| bad(e.to_string()))?;
        // A Pod's proxy variables apply to the API server as they do for client-go (kube's
        // in-cluster config ignores them), with kubectl's exceptions (`proxy`).
        config.proxy_url =
            match proxy_for(&config.cluster_url, None, |name| std::env::var(name).ok()) {
                Some(proxy) => Some(proxy.parse().map_err(|_| {
                    bad("the proxy URL in the environment is not a valid URL".into())
                })?),
                None => None,
            };
        let server = bound(&mut config);
        let client = kube::Client::try_from(config).map_err(|e| bad(one_line(&e)))?;
        probe(&client, &server, target).await?;
        Ok(Self::from_client(
            client,
            ClusterInfo {
                server,
                context: None,
            },
            target,
        ))
    }
}
