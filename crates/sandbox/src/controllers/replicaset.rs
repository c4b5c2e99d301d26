//! The ReplicaSet controller: keeps `spec.replicas` pods matching the template, adopting none
//! and deleting the surplus (not-ready ones first), and reports counts in status.
//! https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#how-a-replicaset-works

use std::collections::HashMap;

use serde_json::{Value, json};

use super::Context;
use super::events::{self, Occurrence, Severity, Source};
use super::meta::{self, keys};

/// One pass over every ReplicaSet.
pub fn reconcile(ctx: &mut Context<'_>) {
    let (sets, _) = ctx.store.list(&keys::replica_sets(), None);
    if sets.is_empty() {
        return;
    }
    let (pods, _) = ctx.store.list(&keys::pods(), None);
    // The pods of each controller, found once per pass rather than once per ReplicaSet.
    let mut by_controller: HashMap<&str, Vec<&Value>> = HashMap::new();
    for pod in pods.iter().filter(|p| !meta::is_terminating(p)) {
        if let Some(owner) = meta::controller_uid(pod) {
            by_controller.entry(owner).or_default().push(pod);
        }
    }
    for rs in sets {
        if meta::is_terminating(&rs) {
            continue;
        }
        let owned = by_controller
            .get(meta::uid(&rs))
            .map_or(&[][..], Vec::as_slice);
        sync(ctx, &rs, owned);
    }
}

/// Is the pod Ready (its Ready condition True)?
pub fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// Is the pod finished (Succeeded or Failed)? Finished pods do not count as replicas.
pub fn is_finished(pod: &Value) -> bool {
    matches!(
        meta::str_at(pod, "/status/phase"),
        Some("Succeeded" | "Failed")
    )
}

/// A pod made from a controller's template: labels and annotations of the template, the owner
/// reference, a generated name.
pub fn pod_from_template(
    owner: &Value,
    template: &Value,
    generate_name: &str,
    extra_labels: &[(&str, String)],
) -> Value {
    let mut labels = template
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or_else(|| json!({}));
    for (k, v) in extra_labels {
        meta::set(&mut labels, k, json!(v));
    }
    let mut metadata = json!({
        "generateName": generate_name,
        "namespace": meta::namespace(owner),
        "labels": labels,
        "ownerReferences": [meta::controller_ref(owner)],
    });
    if let Some(annotations) = template.pointer("/metadata/annotations") {
        meta::set(&mut metadata, "annotations", annotations.clone());
    }
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
    });
    admit_pod(&mut pod);
    pod
}

/// What the API server adds to every new pod: API defaults, then the admission plugins'
/// fields. https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/
/// (ServiceAccount: `serviceAccountName: default`; DefaultTolerationSeconds: tolerate
/// not-ready and unreachable nodes for 300 s; Priority: priority 0).
pub fn admit_pod(pod: &mut Value) {
    crate::defaults::apply_defaults(pod, &gitops_manifest::merge_keys::Gvk::new("", "v1", "Pod"));
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let account = spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_owned();
    spec.insert("serviceAccountName".to_owned(), json!(account));
    spec.insert("serviceAccount".to_owned(), json!(account));
    spec.entry("priority").or_insert(json!(0));
    spec.entry("preemptionPolicy")
        .or_insert(json!("PreemptLowerPriority"));
    let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
    if let Some(list) = tolerations.as_array_mut() {
        for key in [
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable",
        ] {
            if !list.iter().any(|t| t["key"] == key) {
                list.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
            }
        }
    }
}

fn sync(ctx: &mut Context<'_>, rs: &Value, owned: &[&Value]) {
    let now = ctx.clock.now();
    let source = Source::controller("replicaset-controller");
    let want = meta::int_at(rs, "/spec/replicas", 1).max(0) as usize;
    let active: Vec<&Value> = owned.iter().copied().filter(|p| !is_finished(p)).collect();
    // What this sync changed, so the status below is counted without listing the namespace's
    // pods again (once per ReplicaSet that was quadratic: 500 ReplicaSets of 3 pods copied
    // 750,000 pods per pass).
    let mut created_pods: Vec<Value> = Vec::new();
    let mut deleted: Vec<&str> = Vec::new();
    if active.len() < want {
        let template = rs
            .pointer("/spec/template")
            .cloned()
            .unwrap_or_else(|| json!({}));
        for _ in active.len()..want {
            let pod = pod_from_template(rs, &template, &format!("{}-", meta::name(rs)), &[]);
            match ctx.store.create(&keys::pods(), pod) {
                Ok(created) => {
                    events::record(
                        ctx.store,
                        ctx.clock,
                        rs,
                        &source,
                        &Occurrence::once(
                            Severity::Normal,
                            "SuccessfulCreate",
                            format!("Created pod: {}", meta::name(&created)),
                            now,
                        ),
                    );
                    created_pods.push(created);
                }
                Err(err) => {
                    events::record(
                        ctx.store,
                        ctx.clock,
                        rs,
                        &source,
                        &Occurrence::once(
                            Severity::Warning,
                            "FailedCreate",
                            format!("Error creating: {err}"),
                            now,
                        ),
                    );
                    break;
                }
            }
        }
    } else if active.len() > want {
        // Delete the least useful first: unscheduled, then not ready, then the newest.
        // https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#scaling-a-replicaset
        let mut doomed = active.clone();
        doomed.sort_by_key(|p| {
            let scheduled = meta::str_at(p, "/spec/nodeName").is_some();
            let created = meta::str_at(p, "/metadata/creationTimestamp")
                .unwrap_or_default()
                .to_owned();
            (scheduled, is_ready(p), std::cmp::Reverse(created))
        });
        for pod in doomed.iter().take(active.len() - want) {
            if ctx
                .store
                .delete(&keys::pods(), Some(meta::namespace(pod)), meta::name(pod))
                .is_ok()
            {
                deleted.push(meta::uid(pod));
                events::record(
                    ctx.store,
                    ctx.clock,
                    rs,
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
    }
    // Status from the pods as they are now: the ones listed at the start of the pass, less
    // the ones deleted, plus the ones created (the next pass sees any other change).
    let current: Vec<&Value> = active
        .iter()
        .copied()
        .filter(|p| !deleted.contains(&meta::uid(p)))
        .chain(created_pods.iter().filter(|p| !is_finished(p)))
        .collect();
    let selector = rs.pointer("/spec/selector").cloned().unwrap_or(Value::Null);
    let labelled = current
        .iter()
        .filter(|p| meta::selector_matches(&selector, &meta::labels(p)))
        .count();
    let ready = current.iter().filter(|p| is_ready(p)).count();
    // minReadySeconds is not simulated: a ready pod is available at once (the default of 0).
    let mut status = json!({
        "replicas": current.len(),
        "observedGeneration": meta::generation(rs),
    });
    // Zero counts are omitted, as the Go types' `omitempty` does.
    for (field, value) in [
        ("fullyLabeledReplicas", labelled),
        ("readyReplicas", ready),
        ("availableReplicas", ready),
    ] {
        if value > 0 {
            meta::set(&mut status, field, json!(value));
        }
    }
    if rs.get("status") != Some(&status) {
        let mut updated = rs.clone();
        meta::set(&mut updated, "status", status);
        let _ = ctx.store.update_status(&keys::replica_sets(), updated);
    }
}
