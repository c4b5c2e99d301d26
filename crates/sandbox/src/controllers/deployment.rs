//! The Deployment controller: one ReplicaSet per pod template (named with the
//! `pod-template-hash`, revision in an annotation), rolling updates within maxSurge and
//! maxUnavailable or Recreate, history cleanup, and the status and conditions `kubectl rollout
//! status` reads.
//! https://kubernetes.io/docs/concepts/workloads/controllers/deployment/

use std::time::Duration;

use serde_json::{Value, json};

use super::events::{self, Occurrence, Severity, Source};
use super::meta::{self, keys};
use super::replicaset;
use super::{Context, next_of};
use crate::clock::{SimTime, parse_timestamp, timestamp};

/// The annotation holding a ReplicaSet's revision.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
const HASH_LABEL: &str = "pod-template-hash";

/// What the controller remembers about a Deployment: when it last made progress.
#[derive(Debug, Default)]
pub struct DeploymentMemory {
    last_progress: SimTime,
}

/// One pass over every Deployment; returns when a progress deadline falls due.
pub fn reconcile(ctx: &mut Context<'_>) -> Option<SimTime> {
    let (deployments, _) = ctx.store.list(&keys::deployments(), None);
    let mut next = None;
    let mut alive = std::collections::HashSet::new();
    if deployments.is_empty() {
        ctx.memory.deployments.clear();
        return None;
    }
    let (sets, _) = ctx.store.list(&keys::replica_sets(), None);
    // The ReplicaSets of each controller, found once per pass rather than once per Deployment.
    let mut by_controller: std::collections::HashMap<&str, Vec<&Value>> =
        std::collections::HashMap::new();
    for rs in &sets {
        if let Some(owner) = meta::controller_uid(rs) {
            by_controller.entry(owner).or_default().push(rs);
        }
    }
    for deployment in deployments {
        alive.insert(meta::uid(&deployment).to_owned());
        if meta::is_terminating(&deployment) {
            continue;
        }
        let owned: Vec<Value> = by_controller
            .get(meta::uid(&deployment))
            .into_iter()
            .flatten()
            .map(|rs| (*rs).clone())
            .collect();
        next = next_of(next, sync(ctx, &deployment, owned));
    }
    ctx.memory.deployments.retain(|uid, _| alive.contains(uid));
    next
}

fn revision(rs: &Value) -> i64 {
    rs.pointer(&format!(
        "/metadata/annotations/{}",
        REVISION.replace('/', "~1")
    ))
    .and_then(Value::as_str)
    .and_then(|r| r.parse().ok())
    .unwrap_or(0)
}

/// A RS's template without the hash label, to compare with the Deployment's.
fn template_without_hash(rs: &Value) -> Value {
    let mut template = rs.pointer("/spec/template").cloned().unwrap_or(Value::Null);
    if let Some(labels) = template
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(HASH_LABEL);
    }
    template
}

/// `25%` or `1` of `replicas`, rounded up or down.
/// https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#max-surge
fn resolve(value: Option<&Value>, default: &str, replicas: i64, round_up: bool) -> i64 {
    let text = match value {
        Some(Value::Number(n)) => return n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.as_str(),
        _ => default,
    };
    match text.strip_suffix('%').and_then(|p| p.parse::<f64>().ok()) {
        Some(percent) => {
            let exact = percent * replicas as f64 / 100.0;
            (if round_up {
                exact.ceil()
            } else {
                exact.floor()
            }) as i64
        }
        None => text.parse().unwrap_or(0),
    }
}

fn replicas_of(rs: &Value) -> i64 {
    meta::int_at(rs, "/spec/replicas", 0)
}

fn available_of(rs: &Value) -> i64 {
    meta::int_at(rs, "/status/availableReplicas", 0)
}

struct Scaler<'c, 'a> {
    ctx: &'c mut Context<'a>,
    deployment: &'c Value,
    desired: i64,
    max_surge: i64,
}

impl Scaler<'_, '_> {
    /// Set a ReplicaSet's replicas and record `ScalingReplicaSet` on the Deployment.
    fn scale(&mut self, rs: &mut Value, to: i64) {
        let from = replicas_of(rs);
        if from == to {
            return;
        }
        let mut updated = rs.clone();
        meta::set(
            updated.get_mut("spec").unwrap_or(&mut Value::Null),
            "replicas",
            json!(to),
        );
        if let Some(annotations) = updated
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        {
            annotations.insert(
                "deployment.kubernetes.io/desired-replicas".to_owned(),
                json!(self.desired.to_string()),
            );
            annotations.insert(
                "deployment.kubernetes.io/max-replicas".to_owned(),
                json!((self.desired + self.max_surge).to_string()),
            );
        }
        match self.ctx.store.update(&keys::replica_sets(), updated) {
            Ok(stored) => {
                *rs = stored;
                let direction = if to > from { "up" } else { "down" };
                let now = self.ctx.clock.now();
                events::record(
                    self.ctx.store,
                    self.ctx.clock,
                    self.deployment,
                    &Source::controller("deployment-controller"),
                    &Occurrence::once(
                        Severity::Normal,
                        "ScalingReplicaSet",
                        format!(
                            "Scaled {direction} replica set {} from {from} to {to}",
                            meta::name(rs)
                        ),
                        now,
                    ),
                );
            }
            Err(err) => tracing::debug!(error = %err, "scaling a replica set"),
        }
    }
}

fn sync(ctx: &mut Context<'_>, deployment: &Value, mut owned: Vec<Value>) -> Option<SimTime> {
    let now = ctx.clock.now();
    let uid = meta::uid(deployment).to_owned();
    let name = meta::name(deployment).to_owned();
    let ns = meta::namespace(deployment).to_owned();
    let desired = meta::int_at(deployment, "/spec/replicas", 1).max(0);
    let template = deployment
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(Value::Null);
    let collisions = meta::int_at(deployment, "/status/collisionCount", 0);
    let paused = deployment.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
    let recreate = meta::str_at(deployment, "/spec/strategy/type") == Some("Recreate");
    let rolling = deployment.pointer("/spec/strategy/rollingUpdate");
    let (max_surge, mut max_unavailable) = if recreate {
        (0, desired)
    } else {
        (
            resolve(
                rolling.and_then(|r| r.get("maxSurge")),
                "25%",
                desired,
                true,
            ),
            resolve(
                rolling.and_then(|r| r.get("maxUnavailable")),
                "25%",
                desired,
                false,
            ),
        )
    };
    if max_surge == 0 && max_unavailable == 0 {
        max_unavailable = 1;
    }
    if !ctx.memory.deployments.contains_key(&uid) {
        let last = progressing(deployment)
            .and_then(|c| meta::str_at(c, "/lastUpdateTime").and_then(parse_timestamp))
            .map_or(now, |t| ctx.clock.sim_of_wall(t));
        ctx.memory.deployments.insert(
            uid.clone(),
            DeploymentMemory {
                last_progress: last,
            },
        );
    }

    // Oldest first (by revision), the new one (same template) found among them.
    owned.sort_by_key(revision);
    let max_revision = owned.iter().map(revision).max().unwrap_or(0);
    let mut new_index = owned
        .iter()
        .position(|rs| template_without_hash(rs) == template);
    let mut created_new = None;
    if new_index.is_none() && !paused {
        let hash = meta::template_hash(&template, collisions);
        let rs_name = format!("{name}-{hash}");
        let mut rs_template = template.clone();
        if let Some(meta_obj) = rs_template
            .as_object_mut()
            .map(|t| t.entry("metadata").or_insert_with(|| json!({})))
        {
            let labels = meta_obj
                .as_object_mut()
                .map(|m| m.entry("labels").or_insert_with(|| json!({})));
            if let Some(labels) = labels {
                meta::set(labels, HASH_LABEL, json!(hash));
            }
        }
        let mut selector = deployment
            .pointer("/spec/selector")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let match_labels = selector
            .as_object_mut()
            .map(|s| s.entry("matchLabels").or_insert_with(|| json!({})));
        if let Some(match_labels) = match_labels {
            meta::set(match_labels, HASH_LABEL, json!(hash));
        }
        let mut labels = template
            .pointer("/metadata/labels")
            .cloned()
            .unwrap_or_else(|| json!({}));
        meta::set(&mut labels, HASH_LABEL, json!(hash));
        // The Deployment's own annotations are copied, except kubectl's bookkeeping.
        let mut annotations = deployment
            .pointer("/metadata/annotations")
            .cloned()
            .unwrap_or_else(|| json!({}));
        if let Some(map) = annotations.as_object_mut() {
            map.remove("kubectl.kubernetes.io/last-applied-configuration");
            map.remove(REVISION);
            map.insert(REVISION.to_owned(), json!((max_revision + 1).to_string()));
            map.insert(
                "deployment.kubernetes.io/desired-replicas".to_owned(),
                json!(desired.to_string()),
            );
            map.insert(
                "deployment.kubernetes.io/max-replicas".to_owned(),
                json!((desired + max_surge).to_string()),
            );
        }
        let mut spec = json!({"replicas": 0, "selector": selector, "template": rs_template});
        if let Some(min_ready) = deployment.pointer("/spec/minReadySeconds") {
            meta::set(&mut spec, "minReadySeconds", min_ready.clone());
        }
        let rs = json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": rs_name,
                "namespace": ns,
                "labels": labels,
                "annotations": annotations,
                "ownerReferences": [meta::controller_ref(deployment)],
            },
            "spec": spec,
        });
        match ctx.store.create(&keys::replica_sets(), rs) {
            Ok(stored) => {
                owned.push(stored);
                new_index = Some(owned.len() - 1);
                created_new = Some(rs_name);
            }
            Err(err) => tracing::debug!(error = %err, "creating a replica set"),
        }
    } else if let Some(i) = new_index
        && revision(&owned[i]) < max_revision
        && !paused
    {
        // Rolling back to an older template makes its ReplicaSet the newest revision.
        let mut updated = owned[i].clone();
        if let Some(annotations) = updated
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        {
            annotations.insert(REVISION.to_owned(), json!((max_revision + 1).to_string()));
        }
        if let Ok(stored) = ctx.store.update(&keys::replica_sets(), updated) {
            owned[i] = stored;
        }
    }

    if !paused && let Some(new_i) = new_index {
        let mut new_rs = owned.remove(new_i);
        let mut olds = owned;
        {
            let mut scaler = Scaler {
                ctx: &mut *ctx,
                deployment,
                desired,
                max_surge,
            };
            if recreate {
                // https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#recreate-deployment
                for old in olds.iter_mut() {
                    scaler.scale(old, 0);
                }
                let (pods, _) = scaler.ctx.store.list(&keys::pods(), Some(&ns));
                let old_pods_left = pods.iter().any(|p| {
                    olds.iter().any(|rs| meta::is_controlled_by(p, rs))
                        && !replicaset::is_finished(p)
                });
                if !old_pods_left {
                    scaler.scale(&mut new_rs, desired);
                }
            } else if olds.iter().all(|rs| replicas_of(rs) == 0) {
                scaler.scale(&mut new_rs, desired);
            } else {
                // https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#rolling-update-deployment
                let all = |rs_new: &Value, olds: &[Value]| {
                    replicas_of(rs_new) + olds.iter().map(replicas_of).sum::<i64>()
                };
                let scale_up = desired + max_surge - all(&new_rs, &olds);
                if scale_up > 0 && replicas_of(&new_rs) < desired {
                    let to = (replicas_of(&new_rs) + scale_up).min(desired);
                    scaler.scale(&mut new_rs, to);
                }
                let min_available = desired - max_unavailable;
                let new_unavailable = replicas_of(&new_rs) - available_of(&new_rs);
                // First old replicas that are not available anyway, then available ones down to
                // the minimum availability.
                let mut cleanup = all(&new_rs, &olds) - min_available - new_unavailable;
                for old in olds.iter_mut() {
                    if cleanup <= 0 {
                        break;
                    }
                    let unhealthy = (replicas_of(old) - available_of(old)).max(0).min(cleanup);
                    if unhealthy > 0 {
                        let to = replicas_of(old) - unhealthy;
                        scaler.scale(old, to);
                        cleanup -= unhealthy;
                    }
                }
                let available_total = available_of(&new_rs)
                    + olds
                        .iter()
                        .map(|rs| available_of(rs).min(replicas_of(rs)))
                        .sum::<i64>();
                let mut scale_down = available_total - min_available;
                for old in olds.iter_mut() {
                    if scale_down <= 0 {
                        break;
                    }
                    let by = replicas_of(old).min(scale_down);
                    if by > 0 {
                        let to = replicas_of(old) - by;
                        scaler.scale(old, to);
                        scale_down -= by;
                    }
                }
            }
        }
        cleanup_history(ctx, deployment, &olds);
        olds.push(new_rs);
        let new_i = olds.len() - 1;
        owned = olds;
        new_index = Some(new_i);
    }
    write_status(
        ctx,
        deployment,
        &owned,
        new_index,
        created_new,
        desired,
        max_unavailable,
    )
}

/// Old ReplicaSets scaled to zero beyond `revisionHistoryLimit` (default 10) are deleted.
/// https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#clean-up-policy
fn cleanup_history(ctx: &mut Context<'_>, deployment: &Value, olds: &[Value]) {
    let limit = meta::int_at(deployment, "/spec/revisionHistoryLimit", 10).max(0) as usize;
    let idle: Vec<&Value> = olds
        .iter()
        .filter(|rs| replicas_of(rs) == 0 && meta::int_at(rs, "/status/replicas", 0) == 0)
        .collect();
    if idle.len() > limit {
        for rs in idle.iter().take(idle.len() - limit) {
            let _ = ctx.store.delete(
                &keys::replica_sets(),
                Some(meta::namespace(rs)),
                meta::name(rs),
            );
        }
    }
}

fn progressing(deployment: &Value) -> Option<&Value> {
    deployment
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Progressing")
}

fn condition(deployment: &Value, type_: &str) -> Option<Value> {
    deployment
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .cloned()
}

/// A condition, keeping the old timestamps when nothing about it changed.
fn make_condition(
    old: Option<Value>,
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: &str,
    touched: bool,
) -> Value {
    let same_status = old.as_ref().is_some_and(|o| o["status"] == status);
    let same = old.as_ref().is_some_and(|o| {
        o["status"] == status && o["reason"] == reason && o["message"] == message.as_str()
    });
    let transition = match (&old, same_status) {
        (Some(o), true) => o["lastTransitionTime"].clone(),
        _ => json!(now),
    };
    let update = match (&old, same && !touched) {
        (Some(o), true) => o["lastUpdateTime"].clone(),
        _ => json!(now),
    };
    json!({"type": type_, "status": status, "lastUpdateTime": update, "lastTransitionTime": transition, "reason": reason, "message": message})
}

fn write_status(
    ctx: &mut Context<'_>,
    deployment: &Value,
    owned: &[Value],
    new_index: Option<usize>,
    created_new: Option<String>,
    desired: i64,
    max_unavailable: i64,
) -> Option<SimTime> {
    let now = ctx.clock.now();
    let now_text = timestamp(ctx.clock.wall(now));
    let uid = meta::uid(deployment).to_owned();
    let sum = |f: &dyn Fn(&Value) -> i64| owned.iter().map(f).sum::<i64>();
    let replicas = sum(&|rs| meta::int_at(rs, "/status/replicas", 0));
    let spec_total = sum(&replicas_of);
    let ready = sum(&|rs| meta::int_at(rs, "/status/readyReplicas", 0));
    let available = sum(&available_of);
    let new_rs = new_index.and_then(|i| owned.get(i));
    let updated = new_rs.map_or(0, |rs| meta::int_at(rs, "/status/replicas", 0));
    let unavailable = (spec_total - available).max(0);
    let old_status = deployment
        .get("status")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let progressed = updated > meta::int_at(&old_status, "/updatedReplicas", 0)
        || ready > meta::int_at(&old_status, "/readyReplicas", 0)
        || available > meta::int_at(&old_status, "/availableReplicas", 0)
        || replicas < meta::int_at(&old_status, "/replicas", 0)
        || created_new.is_some();
    if progressed && let Some(memory) = ctx.memory.deployments.get_mut(&uid) {
        memory.last_progress = now;
    }
    let last_progress = ctx
        .memory
        .deployments
        .get(&uid)
        .map_or(now, |m| m.last_progress);
    let rs_name = new_rs
        .map(|rs| meta::name(rs).to_owned())
        .unwrap_or_default();
    let complete = updated == desired && replicas == desired && available == desired;
    let deadline = Duration::from_secs(
        u64::try_from(meta::int_at(
            deployment,
            "/spec/progressDeadlineSeconds",
            600,
        ))
        .unwrap_or(600),
    );
    let old_progressing = condition(deployment, "Progressing");
    let paused = deployment.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
    let mut next = None;
    // https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#deployment-status
    let progressing_condition = if paused {
        make_condition(
            old_progressing,
            "Progressing",
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused".to_owned(),
            &now_text,
            false,
        )
    } else if let Some(created) = &created_new {
        make_condition(
            old_progressing,
            "Progressing",
            "True",
            "NewReplicaSetCreated",
            format!("Created new replica set \"{created}\""),
            &now_text,
            true,
        )
    } else if complete {
        make_condition(
            old_progressing,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
            &now_text,
            false,
        )
    } else if now >= last_progress + deadline {
        // https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#failed-deployment
        make_condition(
            old_progressing,
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            format!("ReplicaSet \"{rs_name}\" has timed out progressing."),
            &now_text,
            false,
        )
    } else {
        next = Some(last_progress + deadline);
        make_condition(
            old_progressing,
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            format!("ReplicaSet \"{rs_name}\" is progressing."),
            &now_text,
            progressed,
        )
    };
    let available_condition = if available >= desired - max_unavailable {
        make_condition(
            condition(deployment, "Available"),
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.".to_owned(),
            &now_text,
            false,
        )
    } else {
        make_condition(
            condition(deployment, "Available"),
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.".to_owned(),
            &now_text,
            false,
        )
    };
    let mut status = json!({
        "observedGeneration": meta::generation(deployment),
        "conditions": [available_condition, progressing_condition],
    });
    // Zero counts are omitted (`omitempty`), as the real status shows.
    for (field, value) in [
        ("replicas", replicas),
        ("updatedReplicas", updated),
        ("readyReplicas", ready),
        ("availableReplicas", available),
        ("unavailableReplicas", unavailable),
        (
            "collisionCount",
            meta::int_at(deployment, "/status/collisionCount", 0),
        ),
    ] {
        if value > 0 {
            meta::set(&mut status, field, json!(value));
        }
    }
    // The Deployment carries its newest ReplicaSet's revision, as the real controller writes
    // it (`kubectl describe deployment` shows it; `kubectl rollout undo` replaces the
    // Deployment's annotations with a JSON patch that needs them to exist):
    // https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#checking-rollout-history-of-a-deployment
    let revision_of = |object: &Value| {
        object
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(REVISION))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let mut deployment = std::borrow::Cow::Borrowed(deployment);
    if let Some(newest) = new_index.and_then(|i| owned.get(i)).and_then(revision_of)
        && revision_of(&deployment).as_deref() != Some(newest.as_str())
    {
        let mut annotated = deployment.clone().into_owned();
        if let Some(metadata) = annotated.get_mut("metadata").and_then(Value::as_object_mut) {
            let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
            meta::set(annotations, REVISION, json!(newest));
        }
        if let Ok(stored) = ctx.store.update(&keys::deployments(), annotated) {
            deployment = std::borrow::Cow::Owned(stored);
        }
    }
    if deployment.get("status") != Some(&status) {
        let mut updated_deployment = deployment.into_owned();
        meta::set(&mut updated_deployment, "status", status);
        let _ = ctx
            .store
            .update_status(&keys::deployments(), updated_deployment);
    }
    next
}
