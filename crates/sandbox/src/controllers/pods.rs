//! The scheduler and the kubelet's side effects: pods get a node, wait for their volumes, then
//! their status, events and logs follow the simulated kubelet ([`super::kubelet`]).
//!
//! Scheduling as described in https://kubernetes.io/docs/concepts/scheduling-eviction/kube-scheduler/
//! (filter nodes by nodeSelector and node affinity, then spread: the node with the fewest pods),
//! with the volume rules of https://kubernetes.io/docs/concepts/storage/persistent-volumes/#binding
//! (a pod waits for a claim that binds immediately; a `WaitForFirstConsumer` claim is bound to
//! the chosen node: the scheduler records it in the `volume.kubernetes.io/selected-node` annotation).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value, json};

use super::events::{self, Occurrence, Severity, Source};
use super::kubelet::{self, Placement};
use super::meta::{self, keys};
use super::{Context, next_of};
use crate::clock::{SimTime, parse_timestamp, timestamp};

/// What the controllers remember about a pod between passes.
#[derive(Debug, Default)]
pub struct PodMemory {
    scheduled_at: SimTime,
    started_at: Option<SimTime>,
    /// Per container: restarts and lines already written to the store's log.
    logged: HashMap<String, (u32, usize)>,
    /// Per event identity: the count already recorded.
    recorded: HashMap<String, u32>,
}

/// The `volume.kubernetes.io/selected-node` annotation.
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";

/// One pass over every pod; returns when a pod's status changes next.
pub fn reconcile(ctx: &mut Context<'_>) -> Option<SimTime> {
    let (pods, _) = ctx.store.list(&keys::pods(), None);
    let (nodes, _) = ctx.store.list(&keys::nodes(), None);
    let mut pods_per_node: BTreeMap<String, usize> = BTreeMap::new();
    for pod in &pods {
        if let Some(node) = meta::str_at(pod, "/spec/nodeName") {
            *pods_per_node.entry(node.to_owned()).or_default() += 1;
        }
    }
    let mut next = None;
    let mut alive = HashSet::new();
    for pod in pods {
        alive.insert(meta::uid(&pod).to_owned());
        if meta::is_terminating(&pod)
            || matches!(
                meta::str_at(&pod, "/status/phase"),
                Some("Succeeded" | "Failed")
            ) && !ctx.memory.pods.contains_key(meta::uid(&pod))
        {
            continue;
        }
        match meta::str_at(&pod, "/spec/nodeName") {
            None | Some("") => schedule(ctx, &pod, &nodes, &mut pods_per_node),
            Some(node) => {
                let node = node.to_owned();
                next = next_of(next, run(ctx, &pod, &node, &nodes));
            }
        }
    }
    ctx.memory.pods.retain(|uid, _| alive.contains(uid));
    next
}

fn node_is_ready(node: &Value) -> bool {
    node.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
        && node.pointer("/spec/unschedulable").and_then(Value::as_bool) != Some(true)
}

/// Does the pod's nodeSelector and required node affinity allow this node?
/// https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/
fn fits(pod: &Value, node: &Value) -> bool {
    let labels = meta::labels(node);
    if let Some(selector) = pod.pointer("/spec/nodeSelector").and_then(Value::as_object)
        && !meta::map_selector_matches(selector, &labels)
    {
        return false;
    }
    let Some(terms) = pod
        .pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
        .and_then(Value::as_array)
    else {
        return true;
    };
    // Terms are ORed; within a term, expressions and fields are ANDed.
    terms.iter().any(|term| {
        let expressions_ok = term
            .get("matchExpressions")
            .is_none_or(|e| meta::selector_matches(&json!({"matchExpressions": e}), &labels));
        let fields_ok = term
            .get("matchFields")
            .and_then(Value::as_array)
            .is_none_or(|fields| {
                fields.iter().all(|f| {
                    let values: Vec<&str> = f
                        .get("values")
                        .and_then(Value::as_array)
                        .map(|v| v.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    f["key"] == "metadata.name"
                        && f["operator"] == "In"
                        && values.contains(&meta::name(node))
                })
            });
        expressions_ok && fields_ok
    })
}

fn claim_names(pod: &Value) -> Vec<String> {
    pod.pointer("/spec/volumes")
        .and_then(Value::as_array)
        .map(|volumes| {
            volumes
                .iter()
                .filter_map(|v| {
                    v.pointer("/persistentVolumeClaim/claimName")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn schedule(
    ctx: &mut Context<'_>,
    pod: &Value,
    nodes: &[Value],
    pods_per_node: &mut BTreeMap<String, usize>,
) {
    let now = ctx.clock.now();
    let ns = meta::namespace(pod);
    let mut waiting_claims = Vec::new();
    let mut problem = None;
    for claim in claim_names(pod) {
        match ctx
            .store
            .get(&keys::persistent_volume_claims(), Some(ns), &claim)
        {
            None => problem = Some(format!("persistentvolumeclaim \"{claim}\" not found")),
            Some(pvc) if meta::str_at(&pvc, "/status/phase") == Some("Bound") => {}
            Some(pvc) => {
                let class = meta::str_at(&pvc, "/spec/storageClassName").unwrap_or_default();
                let wait_for_consumer = ctx
                    .store
                    .get(&keys::storage_classes(), None, class)
                    .is_some_and(|sc| {
                        meta::str_at(&sc, "/volumeBindingMode") == Some("WaitForFirstConsumer")
                    });
                if wait_for_consumer
                    && meta::str_at(&pvc, "/spec/volumeName")
                        .unwrap_or_default()
                        .is_empty()
                {
                    waiting_claims.push(pvc);
                } else {
                    problem = Some("pod has unbound immediate PersistentVolumeClaims".to_owned());
                }
            }
        }
    }
    let candidates: Vec<&Value> = nodes
        .iter()
        .filter(|n| node_is_ready(n) && fits(pod, n))
        .collect();
    let total = nodes.len();
    if problem.is_none() && candidates.is_empty() {
        problem = Some(format!(
            "{total} node(s) didn't match Pod's node affinity/selector"
        ));
    }
    if let Some(problem) = problem {
        // https://kubernetes.io/docs/concepts/scheduling-eviction/kube-scheduler/ — an
        // unschedulable pod stays Pending with PodScheduled=False, reason Unschedulable.
        let message = format!(
            "0/{total} nodes are available: {problem}. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
        );
        let mut updated = pod.clone();
        meta::set(
            &mut updated,
            "status",
            json!({"phase": "Pending", "conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
                "lastProbeTime": null, "lastTransitionTime": timestamp(ctx.clock.wall(now)),
            }], "qosClass": kubelet::qos_class(pod)}),
        );
        let unchanged = pod
            .pointer("/status/conditions/0/message")
            .and_then(Value::as_str)
            == Some(message.as_str());
        if !unchanged && ctx.store.update_status(&keys::pods(), updated).is_ok() {
            events::record(
                ctx.store,
                ctx.clock,
                pod,
                &Source::controller("default-scheduler"),
                &Occurrence::once(Severity::Warning, "FailedScheduling", message, now),
            );
        }
        return;
    }
    // Spread: the candidate with the fewest pods, then by name.
    let Some(node) = candidates.iter().min_by_key(|n| {
        (
            pods_per_node.get(meta::name(n)).copied().unwrap_or(0),
            meta::name(n).to_owned(),
        )
    }) else {
        return;
    };
    let node_name = meta::name(node).to_owned();
    let mut bound = pod.clone();
    if let Some(spec) = bound.get_mut("spec") {
        meta::set(spec, "nodeName", json!(node_name));
    }
    meta::set(
        &mut bound,
        "status",
        json!({"phase": "Pending", "conditions": [{
            "type": "PodScheduled", "status": "True", "lastProbeTime": null,
            "lastTransitionTime": timestamp(ctx.clock.wall(now)),
        }], "qosClass": kubelet::qos_class(pod)}),
    );
    if ctx.store.replace(&keys::pods(), bound).is_err() {
        return;
    }
    *pods_per_node.entry(node_name.clone()).or_default() += 1;
    for mut pvc in waiting_claims {
        let annotations = pvc
            .pointer_mut("/metadata")
            .and_then(Value::as_object_mut)
            .map(|m| m.entry("annotations").or_insert_with(|| json!({})));
        if let Some(annotations) = annotations {
            meta::set(annotations, SELECTED_NODE, json!(node_name));
        }
        let _ = ctx.store.update(&keys::persistent_volume_claims(), pvc);
    }
    ctx.memory.pods.insert(
        meta::uid(pod).to_owned(),
        PodMemory {
            scheduled_at: now,
            ..PodMemory::default()
        },
    );
    events::record(
        ctx.store,
        ctx.clock,
        pod,
        &Source::controller("default-scheduler"),
        &Occurrence::once(
            Severity::Normal,
            "Scheduled",
            format!(
                "Successfully assigned {}/{} to {node_name}",
                meta::namespace(pod),
                meta::name(pod)
            ),
            now,
        ),
    );
}

/// Volumes the kubelet cannot mount yet: missing ConfigMaps and Secrets (unless optional),
/// unbound claims. https://kubernetes.io/docs/concepts/storage/volumes/#configmap
fn missing_volumes(ctx: &Context<'_>, pod: &Value) -> Vec<(String, Option<String>)> {
    let ns = meta::namespace(pod);
    let mut missing = Vec::new();
    let volumes = pod
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for volume in volumes {
        let vname = volume
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let optional =
            |source: &Value| source.get("optional").and_then(Value::as_bool) == Some(true);
        if let Some(source) = volume.get("configMap") {
            let name = source
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !optional(source)
                && ctx
                    .store
                    .get(&keys::config_maps(), Some(ns), name)
                    .is_none()
            {
                missing.push((vname.clone(), Some(format!("MountVolume.SetUp failed for volume \"{vname}\" : configmap \"{name}\" not found"))));
            }
        }
        if let Some(source) = volume.get("secret") {
            let name = source
                .get("secretName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !optional(source) && ctx.store.get(&keys::secrets(), Some(ns), name).is_none() {
                missing.push((vname.clone(), Some(format!("MountVolume.SetUp failed for volume \"{vname}\" : secret \"{name}\" not found"))));
            }
        }
        if let Some(claim) = volume
            .pointer("/persistentVolumeClaim/claimName")
            .and_then(Value::as_str)
        {
            let bound = ctx
                .store
                .get(&keys::persistent_volume_claims(), Some(ns), claim)
                .is_some_and(|pvc| meta::str_at(&pvc, "/status/phase") == Some("Bound"));
            if !bound {
                missing.push((vname.clone(), None));
            }
        }
    }
    missing
}

/// The pod IP: inside the node's pod CIDR, derived from the pod's uid.
fn pod_ip(pod: &Value, node: Option<&Value>) -> String {
    let cidr = node
        .and_then(|n| meta::str_at(n, "/spec/podCIDR"))
        .unwrap_or("10.244.0.0/24");
    let prefix: Vec<&str> = cidr
        .split('/')
        .next()
        .unwrap_or("10.244.0.0")
        .split('.')
        .take(3)
        .collect();
    let host = meta::fnv32a(meta::uid(pod).as_bytes()) % 250 + 4;
    format!("{}.{host}", prefix.join("."))
}

fn host_ip(node: Option<&Value>) -> String {
    node.and_then(|n| n.pointer("/status/addresses"))
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|a| a["type"] == "InternalIP"))
        .and_then(|a| a.get("address").and_then(Value::as_str))
        .unwrap_or("10.224.0.4")
        .to_owned()
}

fn run(ctx: &mut Context<'_>, pod: &Value, node_name: &str, nodes: &[Value]) -> Option<SimTime> {
    let now = ctx.clock.now();
    let uid = meta::uid(pod).to_owned();
    if !ctx.memory.pods.contains_key(&uid) {
        // First sight (a loaded state, or a pod created with nodeName): recover the times from
        // the pod's own timestamps.
        let when = |pointer: &str| {
            meta::str_at(pod, pointer)
                .and_then(parse_timestamp)
                .map(|t| ctx.clock.sim_of_wall(t))
        };
        let scheduled_at = when("/metadata/creationTimestamp").unwrap_or(now);
        let started_at = when("/status/startTime");
        let mut memory = PodMemory {
            scheduled_at,
            started_at,
            ..PodMemory::default()
        };
        for status in ["/status/initContainerStatuses", "/status/containerStatuses"]
            .iter()
            .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
            .flatten()
        {
            let name = status
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let restarts = u32::try_from(
                status
                    .get("restartCount")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
            )
            .unwrap_or(0);
            let lines = ctx
                .store
                .container_log(meta::namespace(pod), meta::name(pod), name)
                .map_or(0, |l| l.current.len());
            memory.logged.insert(name.to_owned(), (restarts, lines));
        }
        ctx.memory.pods.insert(uid.clone(), memory);
    }
    let node = nodes.iter().find(|n| meta::name(n) == node_name);
    let kubelet = Source {
        component: "kubelet",
        host: Some(node_name.to_owned()),
    };
    let started_at = match ctx.memory.pods.get(&uid).and_then(|m| m.started_at) {
        Some(at) => at,
        None => {
            let missing = missing_volumes(ctx, pod);
            if !missing.is_empty() {
                for (_, message) in &missing {
                    if let Some(message) = message {
                        record_once(
                            ctx,
                            pod,
                            &kubelet,
                            Occurrence::once(
                                Severity::Warning,
                                "FailedMount",
                                message.clone(),
                                now,
                            ),
                        );
                    }
                }
                return None;
            }
            if let Some(memory) = ctx.memory.pods.get_mut(&uid) {
                memory.started_at = Some(now);
            }
            now
        }
    };
    let scheduled_at = ctx.memory.pods.get(&uid).map_or(now, |m| m.scheduled_at);
    let placement = Placement {
        scheduled_at,
        started_at,
        host_ip: host_ip(node),
        pod_ip: pod_ip(pod, node),
    };
    let run = kubelet::run_pod(pod, &placement, now, ctx.clock, ctx.timing);
    if pod.get("status") != Some(&run.status) {
        let mut updated = pod.clone();
        meta::set(&mut updated, "status", run.status.clone());
        if ctx.store.update_status(&keys::pods(), updated).is_err() {
            // Changed meanwhile (or deleted): the next pass sees the new version.
            return Some(now);
        }
    }
    for occurrence in run.events {
        record_once(ctx, pod, &kubelet, occurrence);
    }
    sync_logs(ctx, pod, &uid, &run.logs);
    run.next
}

/// Record an occurrence unless this count was recorded already.
fn record_once(ctx: &mut Context<'_>, pod: &Value, source: &Source, occurrence: Occurrence) {
    let identity = format!(
        "{}|{}|{}",
        occurrence.reason,
        occurrence.message,
        occurrence.field_path.as_deref().unwrap_or_default()
    );
    let uid = meta::uid(pod).to_owned();
    let seen = ctx
        .memory
        .pods
        .get(&uid)
        .and_then(|m| m.recorded.get(&identity).copied())
        .unwrap_or(0);
    if seen >= occurrence.count {
        return;
    }
    events::record(ctx.store, ctx.clock, pod, source, &occurrence);
    if let Some(memory) = ctx.memory.pods.get_mut(&uid) {
        memory.recorded.insert(identity, occurrence.count);
    }
}

/// Bring the store's container logs up to the simulated ones.
fn sync_logs(ctx: &mut Context<'_>, pod: &Value, uid: &str, logs: &[(String, kubelet::LogState)]) {
    let (ns, name) = (meta::namespace(pod), meta::name(pod));
    for (container, log) in logs {
        let (mut restarts, mut lines) = ctx
            .memory
            .pods
            .get(uid)
            .and_then(|m| m.logged.get(container).copied())
            .unwrap_or((0, 0));
        if log.restarts > restarts {
            // Finish the instance the store holds, then roll it over to "previous".
            if log.restarts == restarts + 1
                && let Some(previous) = &log.previous
            {
                for line in previous.iter().skip(lines) {
                    ctx.store.append_log(ns, name, container, line.clone());
                }
            } else if let Some(previous) = &log.previous {
                ctx.store.restart_log(ns, name, container);
                for line in previous {
                    ctx.store.append_log(ns, name, container, line.clone());
                }
            }
            ctx.store.restart_log(ns, name, container);
            restarts = log.restarts;
            lines = 0;
        }
        for line in log.current.iter().skip(lines) {
            ctx.store.append_log(ns, name, container, line.clone());
        }
        lines = lines.max(log.current.len());
        if let Some(memory) = ctx.memory.pods.get_mut(uid) {
            memory.logged.insert(container.clone(), (restarts, lines));
        }
    }
}
