//! DaemonSet readiness, after kubectl's `DaemonSetStatusViewer`
//! (kubernetes/kubernetes `staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go`;
//! <https://kubernetes.io/docs/tasks/manage-daemon/update-daemon-set/#watching-the-rolling-update-status>).

use serde_json::Value;

use super::Health;
use super::fields::{count, generation_observed};

/// The health of a DaemonSet from its own status.
pub fn daemon_set_health(obj: &Value) -> Health {
    if !generation_observed(obj) {
        return Health::progressing("waiting for the daemonset controller to observe the new spec");
    }
    let desired = count(obj, "/status/desiredNumberScheduled");
    let updated = count(obj, "/status/updatedNumberScheduled");
    let available = count(obj, "/status/numberAvailable");
    if updated < desired {
        return Health::progressing(format!("{updated} of {desired} pods updated"));
    }
    if available < desired {
        return Health::progressing(format!("{available} of {desired} updated pods available"));
    }
    Health::Healthy
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::test_yaml;

    #[test]
    fn waits_for_updated_then_available_pods() {
        let d = test_yaml(
            "
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, generation: 4}
status: {observedGeneration: 4, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 2}
",
        );
        assert_eq!(
            daemon_set_health(&d),
            Health::progressing("2 of 3 updated pods available")
        );
        let d = test_yaml(
            "
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, generation: 4}
status: {observedGeneration: 4, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3}
",
        );
        assert_eq!(daemon_set_health(&d), Health::Healthy);
    }
}
