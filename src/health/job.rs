//! Job readiness: `Complete` is healthy, `Failed` is failed
//! (<https://kubernetes.io/docs/concepts/workloads/controllers/job/#terminal-job-conditions>;
//! kube-runtime's `conditions::is_job_completed` in kube-rs `kube-runtime/src/wait.rs`).

use serde_json::Value;

use super::Health;
use super::fields::{condition, count, int};

/// The health of a Job from its conditions and counters.
pub fn job_health(obj: &Value) -> Health {
    if let Some(failed) = condition(obj, "Failed")
        && failed.is_true()
    {
        return Health::failed(format!("the job failed ({})", failed.explain()));
    }
    if condition(obj, "Complete").is_some_and(|c| c.is_true()) {
        return Health::Healthy;
    }
    let completions = int(obj, "/spec/completions").unwrap_or(1);
    let succeeded = count(obj, "/status/succeeded");
    let active = count(obj, "/status/active");
    Health::progressing(format!(
        "{succeeded} of {completions} completions, {active} pods active"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::test_yaml;

    #[test]
    fn complete_failed_and_running() {
        let j = test_yaml(
            "
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
status:
  succeeded: 1
  conditions: [{type: Complete, status: \"True\"}]
",
        );
        assert_eq!(job_health(&j), Health::Healthy);
        let j = test_yaml(
            "
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
status:
  failed: 7
  conditions: [{type: Failed, status: \"True\", reason: BackoffLimitExceeded, message: Job has reached the specified backoff limit}]
",
        );
        assert!(matches!(job_health(&j), Health::Failed(r) if r.contains("BackoffLimitExceeded")));
        let j = test_yaml(
            "
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec: {completions: 2}
status: {active: 1, succeeded: 1}
",
        );
        assert_eq!(
            job_health(&j),
            Health::progressing("1 of 2 completions, 1 pods active")
        );
    }
}
