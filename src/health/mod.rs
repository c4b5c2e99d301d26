//! Readiness of applied objects, pure: per-kind rules over `serde_json::Value` that return a
//! three-valued [`Health`], in the spirit of kapp's `resourcesmisc` and kube-runtime's
//! `wait::conditions`.

mod crd;
mod daemon_set;
mod deployment;
mod fields;
mod job;
mod ownership;
mod pod;
mod service;
mod state;
mod stateful_set;
mod storage;

use serde_json::Value;

pub use self::crd::crd_health;
pub use self::daemon_set::daemon_set_health;
pub use self::deployment::deployment_health;
pub use self::job::job_health;
pub use self::ownership::current_pods;
pub use self::pod::{pod_health, pod_problem};
pub use self::service::service_health;
pub use self::state::Health;
pub use self::stateful_set::stateful_set_health;
pub use self::storage::{pv_health, pvc_health};

/// What kind of readiness an object of this group and kind has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Ready once it exists (ConfigMaps, RBAC, …): nothing to wait for.
    Exists,
    /// Has a status to wait on.
    Status,
    /// Has a status and owns pods whose container states can fail it fast.
    Workload,
}

/// The readiness class of a kind: what the gate must watch for it.
pub fn readiness(group: &str, kind: &str) -> Readiness {
    match (group, kind) {
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet") | ("batch", "Job") => {
            Readiness::Workload
        }
        ("", "Pod" | "PersistentVolumeClaim" | "PersistentVolume" | "Service" | "Namespace")
        | ("apiextensions.k8s.io", "CustomResourceDefinition") => Readiness::Status,
        _ => Readiness::Exists,
    }
}

/// The health of one live object from its own status (for workloads, pods are judged by
/// [`workload_health`]).
pub fn assess(obj: &Value) -> Health {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    match (group, kind) {
        ("apps", "Deployment") => deployment_health(obj),
        ("apps", "StatefulSet") => stateful_set_health(obj),
        ("apps", "DaemonSet") => daemon_set_health(obj),
        ("batch", "Job") => job_health(obj),
        ("", "Pod") => pod_health(obj),
        ("", "PersistentVolumeClaim") => pvc_health(obj),
        ("", "PersistentVolume") => pv_health(obj),
        ("", "Service") => service_health(obj),
        ("", "Namespace") => namespace_health(obj),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd_health(obj),
        _ => Health::Healthy,
    }
}

/// A workload's health: its own status, made `Failed` by the first of its current pods that
/// cannot start (crash loop, image pull failure, config error, failing init container).
///
/// Until the controller has observed the workload's latest generation, the pods on the
/// cluster belong to the previous spec (a crash loop being fixed, or a rollback not yet
/// picked up), so they are not held against it: the workload is progressing.
pub fn workload_health(obj: &Value, pods: &[Value]) -> Health {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let has_observed_generation = matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet");
    if has_observed_generation && !fields::generation_observed(obj) {
        return assess(obj);
    }
    if let Some(problem) = pods.iter().find_map(pod_problem) {
        return Health::failed(problem.describe());
    }
    assess(obj)
}

/// A namespace is usable unless it is being deleted
/// (<https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/>).
fn namespace_health(obj: &Value) -> Health {
    match obj.pointer("/status/phase").and_then(Value::as_str) {
        Some("Terminating") => Health::progressing("the namespace is terminating"),
        _ => Health::Healthy,
    }
}

/// Parse one inline YAML document for a test (through the one YAML door).
#[cfg(test)]
pub(crate) fn test_yaml(text: &str) -> Value {
    gitops_manifest::yaml::from_str(text).expect("test YAML parses")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatches_by_group_and_kind() {
        let cm = test_yaml("{apiVersion: v1, kind: ConfigMap, metadata: {name: settings}}");
        assert_eq!(assess(&cm), Health::Healthy);
        assert_eq!(readiness("", "ConfigMap"), Readiness::Exists);
        let pvc =
            test_yaml("{apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: data}}");
        assert!(matches!(assess(&pvc), Health::Progressing(_)));
        assert_eq!(readiness("apps", "Deployment"), Readiness::Workload);
        // A kind called Deployment in another group is not the built-in one.
        let custom =
            test_yaml("{apiVersion: example.com/v1, kind: Deployment, metadata: {name: x}}");
        assert_eq!(assess(&custom), Health::Healthy);
    }

    #[test]
    fn a_crash_looping_pod_fails_a_progressing_deployment() {
        let d = test_yaml(
            "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 1}
spec: {replicas: 1}
status: {observedGeneration: 1, replicas: 1, updatedReplicas: 1}
",
        );
        assert!(matches!(workload_health(&d, &[]), Health::Progressing(_)));
        let pod = test_yaml(
            "
apiVersion: v1
kind: Pod
metadata: {name: web-7f9-abcde}
status:
  containerStatuses:
  - {name: web, restartCount: 4, state: {waiting: {reason: CrashLoopBackOff}}}
",
        );
        assert_eq!(
            workload_health(&d, std::slice::from_ref(&pod)),
            Health::failed("pod web-7f9-abcde: container web: CrashLoopBackOff")
        );
        // A new spec not yet observed: the crashing pods are the old spec's.
        let mut fixed = d.clone();
        fixed["metadata"]["generation"] = serde_json::json!(2);
        assert!(matches!(
            workload_health(&fixed, &[pod]),
            Health::Progressing(_)
        ));
    }
}
