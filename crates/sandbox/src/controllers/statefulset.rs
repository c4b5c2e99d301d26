//! The StatefulSet controller, in simple form: pods `<name>-<ordinal>` created in order (each
//! after the previous is Ready, unless `podManagementPolicy: Parallel`), a claim per
//! `volumeClaimTemplate` and ordinal, scale-down from the highest ordinal, rolling updates that
//! replace pods of an old revision from the highest ordinal down, one at a time.
//! https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/

use serde_json::{Value, json};

use super::Context;
use super::events::{self, Occurrence, Severity, Source};
use super::meta::{self, keys};
use super::replicaset::{is_ready, pod_from_template};

/// One pass over every StatefulSet.
pub fn reconcile(ctx: &mut Context<'_>) {
    let (sets, _) = ctx.store.list(&keys::stateful_sets(), None);
    for sts in sets {
        if !meta::is_terminating(&sts) {
            sync(ctx, &sts);
        }
    }
}

fn sync(ctx: &mut Context<'_>, sts: &Value) {
    let now = ctx.clock.now();
    let source = Source::controller("statefulset-controller");
    let ns = meta::namespace(sts).to_owned();
    let name = meta::name(sts).to_owned();
    let replicas = meta::int_at(sts, "/spec/replicas", 1).max(0);
    let parallel = meta::str_at(sts, "/spec/podManagementPolicy") == Some("Parallel");
    let template = sts
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(Value::Null);
    let revision = format!("{name}-{}", meta::template_hash(&template, 0));
    let (pods, _) = ctx.store.list(&keys::pods(), Some(&ns));
    let owned: Vec<&Value> = pods
        .iter()
        .filter(|p| meta::is_controlled_by(p, sts))
        .collect();
    let ordinal_of = |pod: &Value| {
        meta::name(pod)
            .rsplit('-')
            .next()
            .and_then(|o| o.parse::<i64>().ok())
    };
    let pod_at = |i: i64| owned.iter().copied().find(|p| ordinal_of(p) == Some(i));
    let revision_of = |pod: &Value| {
        meta::labels(pod)
            .get("controller-revision-hash")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };

    // Create missing pods in order.
    for i in 0..replicas {
        if pod_at(i).is_some() {
            if !parallel && pod_at(i).is_some_and(|p| !is_ready(p)) {
                break;
            }
            continue;
        }
        let pod_name = format!("{name}-{i}");
        for claim in sts
            .pointer("/spec/volumeClaimTemplates")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            let claim_name = format!("{}-{pod_name}", meta::name(&claim));
            if ctx
                .store
                .get(&keys::persistent_volume_claims(), Some(&ns), &claim_name)
                .is_none()
            {
                let mut pvc = json!({
                    "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": claim_name, "namespace": ns, "labels": template.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({}))},
                    "spec": claim.get("spec").cloned().unwrap_or_else(|| json!({})),
                });
                if let Some(spec) = pvc.get_mut("spec")
                    && spec.get("volumeMode").is_none()
                {
                    meta::set(spec, "volumeMode", json!("Filesystem"));
                }
                if ctx
                    .store
                    .create(&keys::persistent_volume_claims(), pvc)
                    .is_ok()
                {
                    events::record(
                        ctx.store,
                        ctx.clock,
                        sts,
                        &source,
                        &Occurrence::once(
                            Severity::Normal,
                            "SuccessfulCreate",
                            format!(
                                "create Claim {claim_name} Pod {pod_name} in StatefulSet {name} success"
                            ),
                            now,
                        ),
                    );
                }
            }
        }
        let mut pod = pod_from_template(
            sts,
            &template,
            "",
            &[
                ("controller-revision-hash", revision.clone()),
                ("statefulset.kubernetes.io/pod-name", pod_name.clone()),
                ("apps.kubernetes.io/pod-index", i.to_string()),
            ],
        );
        if let Some(metadata) = pod.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.remove("generateName");
            metadata.insert("name".to_owned(), json!(pod_name));
        }
        if let Some(spec) = pod.get_mut("spec") {
            meta::set(spec, "hostname", json!(pod_name));
            if let Some(service) = meta::str_at(sts, "/spec/serviceName") {
                meta::set(spec, "subdomain", json!(service));
            }
            let mut volumes = spec
                .get("volumes")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for claim in sts
                .pointer("/spec/volumeClaimTemplates")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
            {
                volumes.push(json!({"name": meta::name(&claim), "persistentVolumeClaim": {"claimName": format!("{}-{pod_name}", meta::name(&claim))}}));
            }
            if !volumes.is_empty() {
                meta::set(spec, "volumes", json!(volumes));
            }
        }
        if ctx.store.create(&keys::pods(), pod).is_ok() {
            events::record(
                ctx.store,
                ctx.clock,
                sts,
                &source,
                &Occurrence::once(
                    Severity::Normal,
                    "SuccessfulCreate",
                    format!("create Pod {pod_name} in StatefulSet {name} successful"),
                    now,
                ),
            );
        }
        if !parallel {
            break;
        }
    }
    // Scale down from the highest ordinal; then roll pods of an old revision, highest first,
    // one at a time while the others are Ready.
    let mut surplus: Vec<&Value> = owned
        .iter()
        .copied()
        .filter(|p| ordinal_of(p).is_none_or(|o| o >= replicas))
        .collect();
    surplus.sort_by_key(|p| std::cmp::Reverse(ordinal_of(p)));
    let delete = |ctx: &mut Context<'_>, pod: &Value| {
        if ctx
            .store
            .delete(&keys::pods(), Some(&ns), meta::name(pod))
            .is_ok()
        {
            events::record(
                ctx.store,
                ctx.clock,
                sts,
                &source,
                &Occurrence::once(
                    Severity::Normal,
                    "SuccessfulDelete",
                    format!(
                        "delete Pod {} in StatefulSet {name} successful",
                        meta::name(pod)
                    ),
                    now,
                ),
            );
        }
    };
    if let Some(pod) = surplus.first() {
        delete(ctx, pod);
    } else if meta::str_at(sts, "/spec/updateStrategy/type") != Some("OnDelete") {
        let all_ready = owned.iter().all(|p| is_ready(p)) && owned.len() as i64 == replicas;
        let mut stale: Vec<&Value> = owned
            .iter()
            .copied()
            .filter(|p| revision_of(p).as_deref() != Some(revision.as_str()))
            .collect();
        stale.sort_by_key(|p| std::cmp::Reverse(ordinal_of(p)));
        if all_ready && let Some(pod) = stale.first() {
            delete(ctx, pod);
        }
    }

    let (pods, _) = ctx.store.list(&keys::pods(), Some(&ns));
    let current: Vec<&Value> = pods
        .iter()
        .filter(|p| meta::is_controlled_by(p, sts) && !meta::is_terminating(p))
        .collect();
    let ready = current.iter().filter(|p| is_ready(p)).count();
    let updated = current
        .iter()
        .filter(|p| revision_of(p).as_deref() == Some(revision.as_str()))
        .count();
    let mut status = json!({
        "observedGeneration": meta::generation(sts),
        "replicas": current.len(),
        "currentRevision": revision,
        "updateRevision": revision,
        "collisionCount": 0,
    });
    for (field, value) in [
        ("readyReplicas", ready),
        ("availableReplicas", ready),
        ("currentReplicas", updated),
        ("updatedReplicas", updated),
    ] {
        if value > 0 {
            meta::set(&mut status, field, json!(value));
        }
    }
    if updated < current.len()
        && let Some(old) = current
            .iter()
            .filter_map(|p| revision_of(p))
            .find(|r| *r != revision)
    {
        meta::set(&mut status, "currentRevision", json!(old));
        meta::set(
            &mut status,
            "currentReplicas",
            json!(current.len() - updated),
        );
    }
    if sts.get("status") != Some(&status) {
        let mut updated_sts = sts.clone();
        meta::set(&mut updated_sts, "status", status);
        let _ = ctx.store.update_status(&keys::stateful_sets(), updated_sts);
    }
}
