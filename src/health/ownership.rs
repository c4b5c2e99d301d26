//! Which pods belong to the current rollout of a workload: pods of an old ReplicaSet that are
//! still terminating must not fail (or pass) the new one.
//!
//! A Deployment owns ReplicaSets, which own Pods (`metadata.ownerReferences`,
//! <https://kubernetes.io/docs/concepts/overview/working-with-objects/owners-dependents/>); the
//! current ReplicaSet carries the same `deployment.kubernetes.io/revision` annotation as the
//! Deployment (<https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#checking-rollout-history-of-a-deployment>).
//! StatefulSets, DaemonSets and Jobs own their pods directly.

use serde_json::Value;

use super::fields::str_at;

/// The annotation both a Deployment and its ReplicaSets carry with the rollout number.
const REVISION: &str = "deployment.kubernetes.io/revision";

fn uid(obj: &Value) -> Option<&str> {
    str_at(obj, "/metadata/uid")
}

fn revision(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(REVISION))
        .and_then(Value::as_str)
}

/// Whether `child` lists an owner with `owner_uid`.
pub fn owned_by(child: &Value, owner_uid: &str) -> bool {
    child
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r.get("uid").and_then(Value::as_str) == Some(owner_uid))
        })
}

/// Whether a pod's labels satisfy a `spec.selector.matchLabels` (the fallback when the
/// workload has no uid or no owned ReplicaSet is visible).
fn selected(workload: &Value, pod: &Value) -> bool {
    let Some(match_labels) = workload
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
    else {
        return false;
    };
    let labels = pod.pointer("/metadata/labels");
    !match_labels.is_empty()
        && match_labels
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// The pods of a workload's current rollout, out of the `replica_sets` and `pods` of its
/// namespace.
pub fn current_pods<'a>(
    workload: &Value,
    replica_sets: &'a [Value],
    pods: &'a [Value],
) -> Vec<&'a Value> {
    let kind = workload.get("kind").and_then(Value::as_str).unwrap_or("");
    let Some(owner) = uid(workload) else {
        return pods.iter().filter(|p| selected(workload, p)).collect();
    };
    if kind != "Deployment" {
        return pods.iter().filter(|p| owned_by(p, owner)).collect();
    }
    let owned: Vec<&Value> = replica_sets
        .iter()
        .filter(|rs| owned_by(rs, owner))
        .collect();
    let current = match revision(workload) {
        Some(rev) => owned.iter().find(|rs| revision(rs) == Some(rev)).copied(),
        None => None,
    }
    .or_else(|| {
        // No revision to match on: the newest ReplicaSet is the one being rolled out.
        owned.iter().copied().max_by(|a, b| {
            let key = |rs: &Value| {
                (
                    revision(rs)
                        .and_then(|r| r.parse::<u64>().ok())
                        .unwrap_or(0),
                    str_at(rs, "/metadata/creationTimestamp")
                        .unwrap_or("")
                        .to_string(),
                )
            };
            key(a).cmp(&key(b))
        })
    });
    match current.and_then(uid) {
        Some(rs_uid) => pods.iter().filter(|p| owned_by(p, rs_uid)).collect(),
        None => pods.iter().filter(|p| selected(workload, p)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::test_yaml;

    fn rs(name: &str, uid: &str, rev: &str) -> Value {
        test_yaml(&format!(
            "apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: {name}
  uid: {uid}
  annotations: {{deployment.kubernetes.io/revision: \"{rev}\"}}
  ownerReferences: [{{kind: Deployment, name: web, uid: d-1}}]
"
        ))
    }

    fn pod(name: &str, owner: &str) -> Value {
        test_yaml(&format!(
            "apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: web}}
  ownerReferences: [{{kind: ReplicaSet, name: x, uid: {owner}}}]
"
        ))
    }

    #[test]
    fn picks_the_pods_of_the_current_replica_set() {
        let deployment = test_yaml(
            "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  uid: d-1
  annotations: {deployment.kubernetes.io/revision: \"2\"}
spec: {selector: {matchLabels: {app: web}}}
",
        );
        let sets = [rs("web-old", "rs-1", "1"), rs("web-new", "rs-2", "2")];
        let pods = [
            pod("web-old-a", "rs-1"),
            pod("web-new-a", "rs-2"),
            pod("other", "rs-9"),
        ];
        let names: Vec<&str> = current_pods(&deployment, &sets, &pods)
            .iter()
            .filter_map(|p| str_at(p, "/metadata/name"))
            .collect();
        assert_eq!(names, ["web-new-a"]);
    }

    #[test]
    fn without_a_revision_takes_the_newest_replica_set_and_without_a_uid_the_selector() {
        let deployment = test_yaml(
            "apiVersion: apps/v1
kind: Deployment
metadata: {name: web, uid: d-1}
spec: {selector: {matchLabels: {app: web}}}
",
        );
        let sets = [rs("web-old", "rs-1", "1"), rs("web-new", "rs-2", "2")];
        let pods = [pod("web-old-a", "rs-1"), pod("web-new-a", "rs-2")];
        assert_eq!(current_pods(&deployment, &sets, &pods).len(), 1);
        let no_uid = test_yaml(
            "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {selector: {matchLabels: {app: web}}}
",
        );
        assert_eq!(current_pods(&no_uid, &sets, &pods).len(), 2);
    }
}
