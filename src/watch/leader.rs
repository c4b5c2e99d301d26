//! Leader election for replicas of the in-cluster daemon, on a `coordination.k8s.io/v1` Lease
//! in the history namespace: the mechanism Kubernetes' own controllers use
//! (<https://kubernetes.io/docs/concepts/architecture/leases/#leader-election>). The holder
//! renews `renewTime` well inside `leaseDurationSeconds`; a replica takes the Lease over only
//! when it expired, with a compare-and-swap on its `resourceVersion`, so two replicas never
//! both believe they lead. Only the leader runs rings; the ring locks still guard every run.

use std::time::Duration;

use chrono::Utc;
use gitops_manifest::ObjectRef;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::cluster::apply_calls::lease_kind;
use crate::cluster::{Cluster, ClusterError};
use crate::lock::{LeaseState, holder_of, lease_state, micro_time};

/// The Lease's name.
pub const LEASE_NAME: &str = "gitops-watch-leader";
/// How long a leader stays leader without renewing (client-go's default is 15s too).
pub const LEASE_SECONDS: i64 = 15;
/// How often the Lease is renewed or tried.
pub const RETRY: Duration = Duration::from_secs(3);

fn lease_ref(namespace: &str) -> ObjectRef {
    ObjectRef::new(
        "coordination.k8s.io",
        Some("v1".into()),
        "Lease",
        Some(namespace.into()),
        LEASE_NAME,
    )
}

/// The Lease as `me` holds it now (transitions counted from `previous`).
pub fn held_by(me: &str, namespace: &str, previous: Option<&Value>) -> Value {
    let now = micro_time(Utc::now());
    let mut lease = previous.cloned().unwrap_or_else(|| {
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
               "metadata": {"name": LEASE_NAME, "namespace": namespace,
                            "labels": {"app.kubernetes.io/managed-by": "gitops"}}, "spec": {}})
    });
    let changed_hands = previous.is_some_and(|p| holder_of(p).identity != me);
    let transitions = previous
        .and_then(|p| p.pointer("/spec/leaseTransitions"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let spec = &mut lease["spec"];
    spec["holderIdentity"] = json!(me);
    spec["leaseDurationSeconds"] = json!(LEASE_SECONDS);
    spec["renewTime"] = json!(now);
    if previous.is_none() || changed_hands {
        spec["acquireTime"] = json!(now);
        spec["leaseTransitions"] = json!(transitions + i64::from(changed_hands));
    }
    lease
}

/// One round: take, keep or fail to get the Lease. `true` when `me` leads after it.
pub async fn try_lead(cluster: &Cluster, namespace: &str, me: &str) -> Result<bool, ClusterError> {
    let kind = lease_kind();
    let id = lease_ref(namespace);
    let Some(live) = cluster.read(&kind, &id).await? else {
        crate::history::store::ensure_namespace(cluster, namespace).await?;
        return Ok(cluster
            .create_new(&kind, &id, &held_by(me, namespace, None))
            .await?
            .is_some());
    };
    match lease_state(&live, me, Utc::now()) {
        LeaseState::Held(_) => Ok(false),
        LeaseState::Ours | LeaseState::Free | LeaseState::Expired(_) => Ok(cluster
            .replace_if(&kind, &id, &held_by(me, namespace, Some(&live)))
            .await?
            .is_some()),
    }
}

/// A running election: a background task renewing or trying the Lease.
pub struct Elector {
    leading: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
    cluster: Cluster,
    namespace: String,
    me: String,
}

impl Elector {
    /// Start campaigning as `me`.
    pub fn spawn(cluster: Cluster, namespace: String, me: String) -> Self {
        let (tx, leading) = watch::channel(false);
        let task = tokio::spawn(campaign(cluster.clone(), namespace.clone(), me.clone(), tx));
        Self {
            leading,
            task,
            cluster,
            namespace,
            me,
        }
    }

    /// Whether this replica leads now.
    pub fn is_leader(&self) -> bool {
        *self.leading.borrow()
    }

    /// Wait until the leadership changes (or forever once the campaign ended).
    pub async fn changed(&mut self) {
        if self.leading.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Stop campaigning and give the Lease up, so a standby replica takes over at once
    /// instead of after the lease expires.
    pub async fn resign(self) -> Result<(), ClusterError> {
        self.task.abort();
        let kind = lease_kind();
        let id = lease_ref(&self.namespace);
        if let Some(mut live) = self.cluster.read(&kind, &id).await?
            && holder_of(&live).identity == self.me
        {
            live["spec"]["holderIdentity"] = json!("");
            self.cluster.replace_if(&kind, &id, &live).await?;
        }
        Ok(())
    }
}

async fn campaign(cluster: Cluster, namespace: String, me: String, tx: watch::Sender<bool>) {
    let mut last_renewed: Option<tokio::time::Instant> = None;
    loop {
        match try_lead(&cluster, &namespace, &me).await {
            Ok(true) => {
                last_renewed = Some(tokio::time::Instant::now());
                if !*tx.borrow() {
                    tracing::info!(identity = %me, "became the leader");
                }
                let _ = tx.send(true);
            }
            Ok(false) => {
                if *tx.borrow() {
                    tracing::warn!(identity = %me, "lost the leader Lease");
                }
                last_renewed = None;
                let _ = tx.send(false);
            }
            Err(e) => {
                tracing::warn!(error = %e, "leader election: cannot reach the Lease");
                // Stop leading before the Lease can expire for the others (client-go's renew deadline).
                let expired = last_renewed.is_none_or(|t| t.elapsed() > Duration::from_secs(10));
                if expired && *tx.borrow() {
                    tracing::warn!(identity = %me, "stepping down: the Lease could not be renewed");
                    let _ = tx.send(false);
                }
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taking_over_counts_a_transition_and_renewing_does_not() {
        let first = held_by("a", "gitops-system", None);
        assert_eq!(first["spec"]["holderIdentity"], "a");
        assert_eq!(first["spec"]["leaseTransitions"], 0);
        let renewed = held_by("a", "gitops-system", Some(&first));
        assert_eq!(renewed["spec"]["acquireTime"], first["spec"]["acquireTime"]);
        assert_eq!(renewed["spec"]["leaseTransitions"], 0);
        let taken = held_by("b", "gitops-system", Some(&renewed));
        assert_eq!(taken["spec"]["holderIdentity"], "b");
        assert_eq!(taken["spec"]["leaseTransitions"], 1);
        assert_eq!(
            lease_state(&taken, "a", Utc::now()),
            match lease_state(&taken, "a", Utc::now()) {
                s @ LeaseState::Held(_) => s,
                other => panic!("{other:?}"),
            }
        );
    }
}
