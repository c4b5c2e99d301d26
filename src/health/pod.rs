//! Pods: the container states that mean "this will not start by waiting", so a gate can fail
//! fast instead of sitting out its deadline.
//!
//! The reasons are the container `waiting` reasons that kubectl itself singles out as warnings
//! during `rollout status` (`appendWarning` in kubernetes/kubernetes
//! `staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go`), see
//! <https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-state-waiting>
//! and <https://kubernetes.io/docs/concepts/containers/images/#imagepullbackoff>. An init
//! container that exits non-zero blocks the pod for good until the spec changes
//! (<https://kubernetes.io/docs/concepts/workloads/pods/init-containers/#understanding-init-containers>).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Health;
use super::fields::{condition, str_at};

/// Container `waiting` reasons that do not resolve without a change to the spec, the image
/// registry or a referenced ConfigMap/Secret.
pub const FAIL_FAST_REASONS: &[&str] = &[
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// Why one container of a pod is failing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodProblem {
    /// The pod's name.
    pub pod: String,
    /// The failing container.
    pub container: String,
    /// True when it is an init container.
    pub init: bool,
    /// `CrashLoopBackOff`, `ImagePullBackOff`, `Error (exit code 1)`, …
    pub reason: String,
    /// The kubelet's message, when it gave one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

impl PodProblem {
    /// One line: `pod web-1: init container copy-config: CrashLoopBackOff (back-off 10s …)`.
    pub fn describe(&self) -> String {
        let which = if self.init {
            "init container"
        } else {
            "container"
        };
        let mut line = format!(
            "pod {}: {which} {}: {}",
            self.pod, self.container, self.reason
        );
        if !self.message.is_empty() {
            line.push_str(&format!(" ({})", self.message));
        }
        line
    }
}

/// The first failing container of a pod, init containers first (they run first).
pub fn pod_problem(pod: &Value) -> Option<PodProblem> {
    let name = str_at(pod, "/metadata/name").unwrap_or("?");
    for (pointer, init) in [
        ("/status/initContainerStatuses", true),
        ("/status/containerStatuses", false),
        ("/status/ephemeralContainerStatuses", false),
    ] {
        let Some(statuses) = pod.pointer(pointer).and_then(Value::as_array) else {
            continue;
        };
        for status in statuses {
            if let Some(problem) = container_problem(name, status, init) {
                return Some(problem);
            }
        }
    }
    None
}

fn container_problem(pod: &str, status: &Value, init: bool) -> Option<PodProblem> {
    let container = status.get("name").and_then(Value::as_str).unwrap_or("?");
    let problem = |reason: String, message: &str| PodProblem {
        pod: pod.to_string(),
        container: container.to_string(),
        init,
        reason,
        message: message.to_string(),
    };
    if let Some(waiting) = status.pointer("/state/waiting") {
        let reason = waiting.get("reason").and_then(Value::as_str).unwrap_or("");
        if FAIL_FAST_REASONS.contains(&reason) {
            let message = waiting.get("message").and_then(Value::as_str).unwrap_or("");
            return Some(problem(reason.to_string(), message));
        }
    }
    // An init container that ran and exited non-zero: the pod cannot start until it passes.
    if init && let Some(terminated) = status.pointer("/state/terminated") {
        let exit = terminated
            .get("exitCode")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if exit != 0 {
            let reason = terminated
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("Error");
            let message = terminated
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("");
            return Some(problem(format!("{reason} (exit code {exit})"), message));
        }
    }
    None
}

/// The health of a bare Pod applied as an object of the ring.
pub fn pod_health(pod: &Value) -> Health {
    if let Some(problem) = pod_problem(pod) {
        return Health::failed(problem.describe());
    }
    match str_at(pod, "/status/phase") {
        Some("Succeeded") => Health::Healthy,
        Some("Failed") => Health::failed(format!(
            "the pod failed ({})",
            str_at(pod, "/status/reason").unwrap_or("no reason given")
        )),
        Some("Running") if condition(pod, "Ready").is_some_and(|c| c.is_true()) => Health::Healthy,
        phase => {
            if let Some(scheduled) = condition(pod, "PodScheduled")
                && scheduled.status == "False"
            {
                return Health::progressing(format!("not scheduled ({})", scheduled.explain()));
            }
            Health::progressing(format!("phase {}, not ready", phase.unwrap_or("unknown")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::test_yaml;

    fn pod(status: &str) -> Value {
        test_yaml(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: web-1}}\nstatus:\n{status}"
        ))
    }

    #[test]
    fn crash_loop_and_pull_failures_fail_fast() {
        for reason in [
            "CrashLoopBackOff",
            "ImagePullBackOff",
            "ErrImagePull",
            "CreateContainerConfigError",
        ] {
            let p = pod(&format!(
                "  phase: Running
  containerStatuses:
  - name: web
    restartCount: 3
    state: {{waiting: {{reason: {reason}, message: back-off 40s}}}}
"
            ));
            let problem = pod_problem(&p).expect(reason);
            assert_eq!(problem.reason, reason);
            assert_eq!(problem.container, "web");
            assert!(!problem.init);
            assert!(pod_health(&p).is_failed());
        }
    }

    #[test]
    fn a_failing_init_container_is_a_problem() {
        let p = pod("  phase: Pending
  initContainerStatuses:
  - name: copy-config
    restartCount: 1
    state: {terminated: {exitCode: 1, reason: Error}}
  containerStatuses:
  - name: web
    state: {waiting: {reason: PodInitializing}}
");
        let problem = pod_problem(&p).expect("init failure");
        assert!(problem.init);
        assert_eq!(problem.container, "copy-config");
        assert_eq!(problem.reason, "Error (exit code 1)");
        assert_eq!(
            problem.describe(),
            "pod web-1: init container copy-config: Error (exit code 1)"
        );
    }

    #[test]
    fn init_container_in_crash_loop_is_a_problem() {
        let p = pod("  initContainerStatuses:
  - name: copy-config
    state: {waiting: {reason: CrashLoopBackOff}}
");
        assert!(pod_problem(&p).is_some_and(|x| x.init && x.reason == "CrashLoopBackOff"));
    }

    #[test]
    fn starting_and_completed_init_containers_are_fine() {
        let p = pod("  phase: Pending
  initContainerStatuses:
  - name: copy-config
    state: {terminated: {exitCode: 0, reason: Completed}}
  containerStatuses:
  - name: web
    state: {waiting: {reason: ContainerCreating}}
");
        assert_eq!(pod_problem(&p), None);
        assert!(matches!(pod_health(&p), Health::Progressing(_)));
    }

    #[test]
    fn a_ready_running_pod_is_healthy() {
        let p = pod("  phase: Running
  conditions: [{type: Ready, status: \"True\"}]
  containerStatuses:
  - {name: web, ready: true, state: {running: {startedAt: \"2026-01-01T00:00:00Z\"}}}
");
        assert_eq!(pod_health(&p), Health::Healthy);
    }
}
