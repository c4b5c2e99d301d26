//! Deployment readiness, as `kubectl rollout status deployment/…` decides it.
//!
//! Source of the rules: kubectl's `DeploymentStatusViewer`
//! (kubernetes/kubernetes `staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go`)
//! and <https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#deployment-status>:
//! a rollout is complete when the controller has observed the latest generation, every
//! desired replica is updated, no old replica is left and every updated replica is available;
//! it has failed when the `Progressing` condition carries reason `ProgressDeadlineExceeded`.

use serde_json::Value;

use super::Health;
use super::fields::{condition, count, generation_observed, int};

/// The reason the deployment controller sets on `Progressing` when the rollout stalls for
/// longer than `spec.progressDeadlineSeconds`.
/// <https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#failed-deployment>
const PROGRESS_DEADLINE_EXCEEDED: &str = "ProgressDeadlineExceeded";

/// The health of a Deployment from its own spec and status (pods are judged separately).
pub fn deployment_health(obj: &Value) -> Health {
    if !generation_observed(obj) {
        return Health::progressing(
            "waiting for the deployment controller to observe the new spec",
        );
    }
    if let Some(progressing) = condition(obj, "Progressing")
        && progressing.reason == PROGRESS_DEADLINE_EXCEEDED
    {
        return Health::failed(format!(
            "the rollout exceeded its progress deadline ({})",
            progressing.explain()
        ));
    }
    // `spec.replicas` defaults to 1 when absent.
    let desired = int(obj, "/spec/replicas").unwrap_or(1);
    let updated = count(obj, "/status/updatedReplicas");
    let current = count(obj, "/status/replicas");
    let available = count(obj, "/status/availableReplicas");
    if updated < desired {
        return Health::progressing(format!("{updated} of {desired} replicas updated"));
    }
    if current > updated {
        return Health::progressing(format!(
            "{} old replicas pending termination",
            current - updated
        ));
    }
    if available < updated {
        return Health::progressing(format!(
            "{available} of {updated} updated replicas available"
        ));
    }
    Health::Healthy
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::test_yaml;

    const BASE: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: qa, generation: 2}
spec: {replicas: 2}
";

    fn with_status(status: &str) -> Value {
        test_yaml(&format!("{BASE}status:\n{status}"))
    }

    #[test]
    fn unobserved_generation_is_progressing() {
        let d = with_status(
            "  observedGeneration: 1\n  replicas: 2\n  updatedReplicas: 2\n  availableReplicas: 2\n",
        );
        assert!(matches!(deployment_health(&d), Health::Progressing(r) if r.contains("observe")));
    }

    #[test]
    fn counts_updated_old_and_available_replicas() {
        let d = with_status("  observedGeneration: 2\n  replicas: 3\n  updatedReplicas: 1\n");
        assert_eq!(
            deployment_health(&d),
            Health::progressing("1 of 2 replicas updated")
        );
        let d = with_status("  observedGeneration: 2\n  replicas: 3\n  updatedReplicas: 2\n");
        assert_eq!(
            deployment_health(&d),
            Health::progressing("1 old replicas pending termination")
        );
        let d = with_status(
            "  observedGeneration: 2\n  replicas: 2\n  updatedReplicas: 2\n  availableReplicas: 1\n",
        );
        assert_eq!(
            deployment_health(&d),
            Health::progressing("1 of 2 updated replicas available")
        );
    }

    #[test]
    fn complete_rollout_is_healthy() {
        let d = with_status(
            "  observedGeneration: 2\n  replicas: 2\n  updatedReplicas: 2\n  availableReplicas: 2\n",
        );
        assert_eq!(deployment_health(&d), Health::Healthy);
    }

    #[test]
    fn scaled_to_zero_is_healthy_without_counters() {
        let d = test_yaml(
            "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 3}
spec: {replicas: 0}
status: {observedGeneration: 3}
",
        );
        assert_eq!(deployment_health(&d), Health::Healthy);
    }

    #[test]
    fn progress_deadline_exceeded_is_failed() {
        let d = with_status(
            "  observedGeneration: 2
  replicas: 2
  updatedReplicas: 1
  conditions:
  - type: Progressing
    status: \"False\"
    reason: ProgressDeadlineExceeded
    message: ReplicaSet \"web-5d9\" has timed out progressing.
",
        );
        let h = deployment_health(&d);
        assert!(h.is_failed(), "{h}");
        assert!(h.to_string().contains("web-5d9"), "{h}");
    }
}
