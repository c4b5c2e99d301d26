//! Reading and writing revision Secrets in the history namespace (the namespace is created
//! when missing).

use gitops_manifest::ObjectRef;
use serde_json::json;

use super::revision::{Revision, RevisionSummary, expired};
use super::secret::{RecordError, from_secret, ring_selector, secret_name, summary_of, to_secret};
use crate::cluster::apply_calls::{namespace_kind, secret_kind};
use crate::cluster::{Cluster, ClusterError};

/// How often a revision number is retried when another run took it (cannot happen under the
/// ring lock, but the record must never overwrite one).
const NUMBER_ATTEMPTS: u64 = 5;

/// A failure of the history store.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The cluster refused or could not be reached.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// A record is damaged.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// No such revision.
    #[error(
        "ring `{ring}` has no revision {number} in namespace `{namespace}` (see `gitops history {ring}`)"
    )]
    NotFound {
        /// The ring.
        ring: String,
        /// The number asked for.
        number: u64,
        /// The history namespace.
        namespace: String,
    },
}

fn secret_ref(namespace: &str, name: &str) -> ObjectRef {
    ObjectRef::new(
        "",
        Some("v1".into()),
        "Secret",
        Some(namespace.into()),
        name,
    )
}

/// Create the history namespace if it does not exist.
pub async fn ensure_namespace(cluster: &Cluster, namespace: &str) -> Result<(), ClusterError> {
    let id = ObjectRef::new("", Some("v1".into()), "Namespace", None, namespace);
    if cluster.read(&namespace_kind(), &id).await?.is_some() {
        return Ok(());
    }
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace,
        "labels": {"app.kubernetes.io/managed-by": "gitops"}}});
    cluster.create_new(&namespace_kind(), &id, &body).await?;
    Ok(())
}

/// The summaries of a ring's revisions, oldest first. A missing namespace is an empty history.
pub async fn list(
    cluster: &Cluster,
    namespace: &str,
    ring: &str,
) -> Result<Vec<RevisionSummary>, ClusterError> {
    let secrets = cluster
        .list_all(&secret_kind(), Some(namespace), Some(&ring_selector(ring)))
        .await?;
    let mut out: Vec<RevisionSummary> = secrets.iter().filter_map(summary_of).collect();
    out.sort_by_key(|s| s.number);
    Ok(out)
}

/// One full revision record.
pub async fn get(
    cluster: &Cluster,
    namespace: &str,
    ring: &str,
    number: u64,
) -> Result<Revision, HistoryError> {
    let id = secret_ref(namespace, &secret_name(ring, number));
    match cluster.read(&secret_kind(), &id).await? {
        Some(secret) => Ok(from_secret(&secret)?),
        None => Err(HistoryError::NotFound {
            ring: ring.into(),
            number,
            namespace: namespace.into(),
        }),
    }
}

/// Store a revision under the next free number (which is written into it) and delete the
/// revisions beyond the `keep` newest. Returns the number.
pub async fn record(
    cluster: &Cluster,
    namespace: &str,
    keep: u32,
    revision: &mut Revision,
) -> Result<u64, HistoryError> {
    ensure_namespace(cluster, namespace).await?;
    let existing = list(cluster, namespace, &revision.ring).await?;
    let first = existing.iter().map(|s| s.number).max().unwrap_or(0) + 1;
    for number in first..first + NUMBER_ATTEMPTS {
        revision.number = number;
        let secret = to_secret(revision, namespace)?;
        let id = secret_ref(namespace, &secret_name(&revision.ring, number));
        if cluster
            .create_new(&secret_kind(), &id, &secret)
            .await?
            .is_some()
        {
            let mut numbers: Vec<u64> = existing.iter().map(|s| s.number).collect();
            numbers.push(number);
            for old in expired(&numbers, keep) {
                let id = secret_ref(namespace, &secret_name(&revision.ring, old));
                cluster.delete(&secret_kind(), &id).await?;
            }
            return Ok(number);
        }
    }
    Err(HistoryError::Cluster(ClusterError::Api {
        what: format!("recording a revision of ring `{}`", revision.ring),
        message: "revision numbers kept being taken by another run".into(),
    }))
}
