//! StatefulSet readiness, after kubectl's `StatefulSetStatusViewer`
//! (kubernetes/kubernetes `staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go`;
//! <https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#rolling-updates>).

use serde_json::Value;

use super::Health;
use super::fields::{count, int, str_at};

/// The health of a StatefulSet from its own spec and status.
pub fn stateful_set_health(obj: &Value) -> Health {
    // kubectl also treats a missing observedGeneration as "not observed yet".
    let observed = int(obj, "/status/observedGeneration").unwrap_or(0);
    let generation = int(obj, "/metadata/generation").unwrap_or(0);
    if observed == 0 && generation > 0 || generation > observed {
        return Health::progressing(
            "waiting for the statefulset controller to observe the new spec",
        );
    }
    let desired = int(obj, "/spec/replicas").unwrap_or(1);
    let ready = count(obj, "/status/readyReplicas");
    if ready < desired {
        return Health::progressing(format!("{ready} of {desired} pods ready"));
    }
    let strategy = str_at(obj, "/spec/updateStrategy/type").unwrap_or("RollingUpdate");
    if strategy != "RollingUpdate" {
        // OnDelete: pods are replaced only when someone deletes them, so readiness of the
        // desired count is all a rollout can promise.
        return Health::Healthy;
    }
    let updated = count(obj, "/status/updatedReplicas");
    if let Some(partition) = int(obj, "/spec/updateStrategy/rollingUpdate/partition") {
        let wanted = desired - partition;
        if updated < wanted {
            return Health::progressing(format!(
                "partitioned rollout: {updated} of {wanted} pods updated"
            ));
        }
        return Health::Healthy;
    }
    let update_revision = str_at(obj, "/status/updateRevision");
    let current_revision = str_at(obj, "/status/currentRevision");
    if update_revision != current_revision {
        return Health::progressing(format!(
            "rolling update: {updated} pods at revision {}",
            update_revision.unwrap_or("?")
        ));
    }
    Health::Healthy
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::test_yaml;

    #[test]
    fn waits_for_ready_pods_then_the_revision() {
        let s = test_yaml(
            "
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: 1}
spec: {replicas: 3}
status: {observedGeneration: 1, readyReplicas: 2}
",
        );
        assert_eq!(
            stateful_set_health(&s),
            Health::progressing("2 of 3 pods ready")
        );
        let s = test_yaml(
            "
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: 2}
spec: {replicas: 1}
status: {observedGeneration: 2, readyReplicas: 1, updatedReplicas: 0,
         currentRevision: db-1, updateRevision: db-2}
",
        );
        assert!(matches!(stateful_set_health(&s), Health::Progressing(r) if r.contains("db-2")));
        let s = test_yaml(
            "
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: 2}
spec: {replicas: 1}
status: {observedGeneration: 2, readyReplicas: 1, updatedReplicas: 1,
         currentRevision: db-2, updateRevision: db-2}
",
        );
        assert_eq!(stateful_set_health(&s), Health::Healthy);
    }

    #[test]
    fn unobserved_is_progressing() {
        let s = test_yaml(
            "
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: 1}
spec: {replicas: 1}
",
        );
        assert!(matches!(stateful_set_health(&s), Health::Progressing(_)));
    }
}
