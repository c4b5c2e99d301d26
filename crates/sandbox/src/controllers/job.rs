//! The Job controller, in simple form: up to `parallelism` pods at a time until `completions`
//! succeeded (then `Complete`), or more than `backoffLimit` failed (then `Failed`,
//! `BackoffLimitExceeded`).
//! https://kubernetes.io/docs/concepts/workloads/controllers/job/

use serde_json::{Value, json};

use super::Context;
use super::events::{self, Occurrence, Severity, Source};
use super::meta::{self, keys};
use super::replicaset::{is_ready, pod_from_template};
use crate::clock::timestamp;

/// One pass over every Job.
pub fn reconcile(ctx: &mut Context<'_>) {
    let (jobs, _) = ctx.store.list(&keys::jobs(), None);
    for job in jobs {
        if !meta::is_terminating(&job) {
            sync(ctx, &job);
        }
    }
}

fn has_condition(job: &Value, type_: &str) -> bool {
    job.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == type_ && c["status"] == "True")
        })
}

fn sync(ctx: &mut Context<'_>, job: &Value) {
    if has_condition(job, "Complete") || has_condition(job, "Failed") {
        return;
    }
    let now = ctx.clock.now();
    let now_text = timestamp(ctx.clock.wall(now));
    let source = Source::controller("job-controller");
    let ns = meta::namespace(job).to_owned();
    let name = meta::name(job).to_owned();
    let completions = meta::int_at(job, "/spec/completions", 1).max(0);
    let parallelism = meta::int_at(job, "/spec/parallelism", 1).max(0);
    let backoff_limit = meta::int_at(job, "/spec/backoffLimit", 6);
    let suspended = job.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true);
    let (pods, _) = ctx.store.list(&keys::pods(), Some(&ns));
    let owned: Vec<&Value> = pods
        .iter()
        .filter(|p| meta::is_controlled_by(p, job))
        .collect();
    let phase = |p: &Value| {
        meta::str_at(p, "/status/phase")
            .unwrap_or("Pending")
            .to_owned()
    };
    let succeeded = owned.iter().filter(|p| phase(p) == "Succeeded").count() as i64;
    let failed = owned.iter().filter(|p| phase(p) == "Failed").count() as i64;
    let active: Vec<&Value> = owned
        .iter()
        .copied()
        .filter(|p| {
            !matches!(phase(p).as_str(), "Succeeded" | "Failed") && !meta::is_terminating(p)
        })
        .collect();
    let mut conditions = job
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let condition = |type_: &str, reason: &str, message: &str| json!({"type": type_, "status": "True", "reason": reason, "message": message, "lastProbeTime": now_text, "lastTransitionTime": now_text});
    let mut status = json!({
        "startTime": job.pointer("/status/startTime").cloned().unwrap_or_else(|| json!(now_text)),
        "uncountedTerminatedPods": {},
        "ready": active.iter().filter(|p| is_ready(p)).count(),
        "terminating": 0,
    });
    let mut active_count = active.len() as i64;
    if succeeded >= completions {
        // https://kubernetes.io/docs/concepts/workloads/controllers/job/#job-termination-and-cleanup
        conditions.push(condition(
            "SuccessCriteriaMet",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
        ));
        conditions.push(condition(
            "Complete",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
        ));
        meta::set(&mut status, "completionTime", json!(now_text));
        events::record(
            ctx.store,
            ctx.clock,
            job,
            &source,
            &Occurrence::once(Severity::Normal, "Completed", "Job completed", now),
        );
    } else if failed > backoff_limit {
        // https://kubernetes.io/docs/concepts/workloads/controllers/job/#pod-backoff-failure-policy
        for pod in &active {
            let _ = ctx.store.delete(&keys::pods(), Some(&ns), meta::name(pod));
        }
        active_count = 0;
        conditions.push(condition(
            "FailureTarget",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        ));
        conditions.push(condition(
            "Failed",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        ));
        events::record(
            ctx.store,
            ctx.clock,
            job,
            &source,
            &Occurrence::once(
                Severity::Warning,
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                now,
            ),
        );
    } else if !suspended {
        let want = parallelism.min(completions - succeeded) - active_count;
        let template = job
            .pointer("/spec/template")
            .cloned()
            .unwrap_or(Value::Null);
        let uid = meta::uid(job).to_owned();
        for _ in 0..want.max(0) {
            let pod = pod_from_template(
                job,
                &template,
                &format!("{name}-"),
                &[
                    ("batch.kubernetes.io/controller-uid", uid.clone()),
                    ("batch.kubernetes.io/job-name", name.clone()),
                    ("controller-uid", uid.clone()),
                    ("job-name", name.clone()),
                ],
            );
            if let Ok(created) = ctx.store.create(&keys::pods(), pod) {
                active_count += 1;
                events::record(
                    ctx.store,
                    ctx.clock,
                    job,
                    &source,
                    &Occurrence::once(
                        Severity::Normal,
                        "SuccessfulCreate",
                        format!("Created pod: {}", meta::name(&created)),
                        now,
                    ),
                );
            }
        }
    }
    for (field, value) in [
        ("active", active_count),
        ("succeeded", succeeded),
        ("failed", failed),
    ] {
        if value > 0 {
            meta::set(&mut status, field, json!(value));
        }
    }
    if !conditions.is_empty() {
        meta::set(&mut status, "conditions", json!(conditions));
    }
    // Keep the start time and compare the rest, so an idle pass writes nothing.
    let mut comparable = status.clone();
    if let (Some(old), Some(map)) = (job.get("status"), comparable.as_object_mut())
        && old.get("startTime").is_some()
    {
        map.insert("startTime".to_owned(), old["startTime"].clone());
    }
    if job.get("status") != Some(&comparable) {
        let mut updated = job.clone();
        meta::set(&mut updated, "status", comparable);
        let _ = ctx.store.update_status(&keys::jobs(), updated);
    }
}
