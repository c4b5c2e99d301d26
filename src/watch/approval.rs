//! Approvals for the daemon: `gitops approve RING COMMIT` writes a ConfigMap next to the
//! ring's history (the history namespace), and the daemon applies an `approval: required`
//! ring only when the approved commit is the one it waits on. Kept in the cluster, like the
//! revisions, so whoever approves needs no access to the daemon's machine, and RBAC on the
//! history namespace says who may approve.

use gitops_manifest::ObjectRef;
use serde_json::{Value, json};

use crate::cluster::apply_calls::builtin_kind;
use crate::cluster::{Cluster, ClusterError, Kind};

/// The shortest commit prefix accepted (as `git` abbreviates).
pub const MIN_PREFIX: usize = 7;

fn config_map_kind() -> Kind {
    builtin_kind("", "v1", "ConfigMap", "configmaps", true)
}

/// The ConfigMap holding a ring's approval.
pub fn approval_ref(namespace: &str, ring: &str) -> ObjectRef {
    ObjectRef::new(
        "",
        Some("v1".into()),
        "ConfigMap",
        Some(namespace.into()),
        format!("gitops-approval-{ring}"),
    )
}

/// Whether an approval of `approved` (a full id or a prefix of at least [`MIN_PREFIX`]
/// characters) covers `commit`.
pub fn covers(approved: &str, commit: &str) -> bool {
    let approved = approved.trim().to_ascii_lowercase();
    approved.len() >= MIN_PREFIX && commit.to_ascii_lowercase().starts_with(&approved)
}

/// Whether `commit` is a plausible commit id or prefix (hex, 7 to 40 characters).
pub fn is_commit_id(commit: &str) -> bool {
    (MIN_PREFIX..=40).contains(&commit.len()) && commit.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The approval object.
pub fn approval_object(namespace: &str, ring: &str, commit: &str, who: &str, at: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": approval_ref(namespace, ring).name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "gitops", "gitops.dev/ring": ring},
        },
        "data": {"ring": ring, "commit": commit.to_ascii_lowercase(), "approvedBy": who, "approvedAt": at},
    })
}

/// Store an approval of `commit` for `ring` (replacing an earlier one).
pub async fn approve(
    cluster: &Cluster,
    namespace: &str,
    ring: &str,
    commit: &str,
    who: &str,
) -> Result<(), ClusterError> {
    crate::history::store::ensure_namespace(cluster, namespace).await?;
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let object = approval_object(namespace, ring, commit, who, &at);
    cluster
        .create(&config_map_kind(), &approval_ref(namespace, ring), &object)
        .await?;
    Ok(())
}

/// Who approved `commit` for `ring`, if someone did.
pub async fn approved_by(
    cluster: &Cluster,
    namespace: &str,
    ring: &str,
    commit: &str,
) -> Result<Option<String>, ClusterError> {
    let Some(live) = cluster
        .read(&config_map_kind(), &approval_ref(namespace, ring))
        .await?
    else {
        return Ok(None);
    };
    let stored = live
        .pointer("/data/commit")
        .and_then(Value::as_str)
        .unwrap_or("");
    Ok(covers(stored, commit).then(|| {
        live.pointer("/data/approvedBy")
            .and_then(Value::as_str)
            .unwrap_or("someone")
            .to_string()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_of_seven_or_more_cover_the_commit() {
        let c = "0123456789abcdef0123456789abcdef01234567";
        assert!(covers(c, c));
        assert!(covers("0123456", c));
        assert!(covers("0123456789ABC", c));
        assert!(!covers("012345", c));
        assert!(!covers("1234567", c));
        assert!(!covers("", c));
        assert!(is_commit_id("0123abc"));
        assert!(!is_commit_id("main"));
        assert!(!is_commit_id("012"));
    }

    #[test]
    fn the_object_names_ring_commit_and_approver() {
        let o = approval_object(
            "gitops-system",
            "prod-ring1",
            "ABCDEF1",
            "ana@laptop",
            "2026-01-01T00:00:00Z",
        );
        assert_eq!(o["metadata"]["name"], "gitops-approval-prod-ring1");
        assert_eq!(o["data"]["commit"], "abcdef1");
        assert_eq!(o["data"]["approvedBy"], "ana@laptop");
    }
}
