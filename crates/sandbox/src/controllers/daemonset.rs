//! The DaemonSet controller, in simple form: one pod per Ready node that fits the template's
//! node selector, pinned by node affinity on `metadata.name`; pods of an old template are
//! replaced one at a time (RollingUpdate, maxUnavailable 1).
//! https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/

use serde_json::{Value, json};

use super::Context;
use super::events::{self, Occurrence, Severity, Source};
use super::meta::{self, keys};
use super::replicaset::{is_ready, pod_from_template};

/// One pass over every DaemonSet.
pub fn reconcile(ctx: &mut Context<'_>) {
    let (sets, _) = ctx.store.list(&keys::daemon_sets(), None);
    if sets.is_empty() {
        return;
    }
    let (nodes, _) = ctx.store.list(&keys::nodes(), None);
    for ds in sets {
        if !meta::is_terminating(&ds) {
            sync(ctx, &ds, &nodes);
        }
    }
}

fn node_name_of(pod: &Value) -> Option<String> {
    meta::str_at(pod, "/spec/nodeName").map(str::to_owned).or_else(|| {
        pod.pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchFields/0/values/0")
            .and_then(Value::as_str)
            .map(str::to_owned)
    })
}

fn sync(ctx: &mut Context<'_>, ds: &Value, nodes: &[Value]) {
    let now = ctx.clock.now();
    let source = Source::controller("daemonset-controller");
    let ns = meta::namespace(ds).to_owned();
    let template = ds.pointer("/spec/template").cloned().unwrap_or(Value::Null);
    let hash = meta::template_hash(&template, 0);
    let selector = template
        .pointer("/spec/nodeSelector")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let eligible: Vec<&Value> = nodes
        .iter()
        .filter(|n| meta::map_selector_matches(&selector, &meta::labels(n)))
        .filter(|n| {
            n.pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
        })
        .collect();
    let (pods, _) = ctx.store.list(&keys::pods(), Some(&ns));
    let owned: Vec<&Value> = pods
        .iter()
        .filter(|p| meta::is_controlled_by(p, ds) && !meta::is_terminating(p))
        .collect();
    for node in &eligible {
        let node_name = meta::name(node);
        if owned
            .iter()
            .any(|p| node_name_of(p).as_deref() == Some(node_name))
        {
            continue;
        }
        let mut pod = pod_from_template(
            ds,
            &template,
            &format!("{}-", meta::name(ds)),
            &[
                ("controller-revision-hash", hash.clone()),
                ("pod-template-generation", meta::generation(ds).to_string()),
            ],
        );
        if let Some(spec) = pod.get_mut("spec") {
            meta::set(
                spec,
                "affinity",
                json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
                ]}}}),
            );
        }
        if let Ok(created) = ctx.store.create(&keys::pods(), pod) {
            events::record(
                ctx.store,
                ctx.clock,
                ds,
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
    let hash_of = |p: &Value| {
        meta::labels(p)
            .get("controller-revision-hash")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    // Pods on nodes that no longer qualify go; then one stale pod, if all are Ready.
    let misplaced: Vec<&&Value> = owned
        .iter()
        .filter(|p| {
            !eligible
                .iter()
                .any(|n| node_name_of(p).as_deref() == Some(meta::name(n)))
        })
        .collect();
    let stale = owned
        .iter()
        .find(|p| hash_of(p).as_deref() != Some(hash.as_str()));
    let doomed: Vec<&Value> = if !misplaced.is_empty() {
        misplaced.into_iter().copied().collect()
    } else if owned.iter().all(|p| is_ready(p)) {
        stale.copied().into_iter().collect()
    } else {
        Vec::new()
    };
    for pod in doomed {
        if ctx
            .store
            .delete(&keys::pods(), Some(&ns), meta::name(pod))
            .is_ok()
        {
            events::record(
                ctx.store,
                ctx.clock,
                ds,
                &source,
                &Occurrence::once(
                    Severity::Normal,
                    "SuccessfulDelete",
                    format!("Deleted pod: {}", meta::name(pod)),
                    now,
                ),
            );
        }
    }
    let (pods, _) = ctx.store.list(&keys::pods(), Some(&ns));
    let current: Vec<&Value> = pods
        .iter()
        .filter(|p| meta::is_controlled_by(p, ds) && !meta::is_terminating(p))
        .collect();
    let scheduled = current
        .iter()
        .filter(|p| meta::str_at(p, "/spec/nodeName").is_some())
        .count();
    let ready = current.iter().filter(|p| is_ready(p)).count();
    let updated = current
        .iter()
        .filter(|p| hash_of(p).as_deref() == Some(hash.as_str()))
        .count();
    let mut status = json!({
        "currentNumberScheduled": scheduled,
        "desiredNumberScheduled": eligible.len(),
        "numberMisscheduled": 0,
        "numberReady": ready,
        "observedGeneration": meta::generation(ds),
    });
    for (field, value) in [
        ("numberAvailable", ready),
        ("updatedNumberScheduled", updated),
        ("numberUnavailable", eligible.len().saturating_sub(ready)),
    ] {
        if value > 0 {
            meta::set(&mut status, field, json!(value));
        }
    }
    if ds.get("status") != Some(&status) {
        let mut updated_ds = ds.clone();
        meta::set(&mut updated_ds, "status", status);
        let _ = ctx.store.update_status(&keys::daemon_sets(), updated_ds);
    }
}
