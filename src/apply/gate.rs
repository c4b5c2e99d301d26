//! The health gate: the ring's objects are read with one LIST (or, in [`wait_healthy`], one
//! LIST+WATCH, see `gate_watch`) per kind and namespace, plus the pods and ReplicaSets of
//! namespaces with workloads, so a ring of hundreds of Deployments costs a handful of requests,
//! not one per object; [`judge`] turns them into each object's health. The gate waits until
//! all are healthy, one fails, the ring's deadline passes or the run is interrupted; the soak
//! polls.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use futures::StreamExt as _;
use gitops_manifest::ObjectRef;
use serde_json::Value;
use tokio::time::Instant;

use crate::apply::cancel::Cancel;
use crate::apply::event::{Event, Sink};
use crate::cluster::apply_calls::{pod_kind, replica_set_kind};
use crate::cluster::{Cluster, ClusterError, Kind};
use crate::health::{Health, Readiness, assess, current_pods, readiness, workload_health};

pub use crate::apply::gate_watch::wait_healthy;

/// Pause between polls. Short enough that a sandbox rollout is seen promptly, long enough
/// to cost a real API server nothing.
pub const POLL: Duration = Duration::from_millis(500);

/// (API group, namespace, kind) of one LIST the gate makes.
pub(crate) type ListKey = (String, Option<String>, String);

/// One object the gate watches.
#[derive(Debug, Clone)]
pub struct Watched {
    /// The object.
    pub id: ObjectRef,
    /// How to address it.
    pub kind: Kind,
}

impl Watched {
    /// Whether this object has a readiness worth polling.
    pub fn needs_polling(&self) -> bool {
        readiness(&self.id.group, &self.id.kind) != Readiness::Exists
    }
}

/// The health of every watched object at one moment, plus the live objects (for diagnosis).
#[derive(Debug, Default)]
pub struct Observation {
    /// Health per object.
    pub health: BTreeMap<ObjectRef, Health>,
    /// The live workload objects and their current pods, for the diagnosis.
    pub pods: BTreeMap<ObjectRef, Vec<Value>>,
}

impl Observation {
    /// The objects not healthy, in id order.
    pub fn unhealthy(&self) -> Vec<(ObjectRef, Health)> {
        self.health
            .iter()
            .filter(|(_, h)| !h.is_healthy())
            .map(|(id, h)| (id.clone(), h.clone()))
            .collect()
    }

    /// The failed objects, in id order.
    pub fn failed(&self) -> Vec<(ObjectRef, Health)> {
        self.health
            .iter()
            .filter(|(_, h)| h.is_failed())
            .map(|(id, h)| (id.clone(), h.clone()))
            .collect()
    }
}

/// How a gate ended.
#[derive(Debug)]
pub enum GateEnd {
    /// Every object healthy (for a soak: stayed without failure and ended healthy).
    Passed,
    /// An object failed (fail fast); the observation shows which.
    Failed(Observation),
    /// The deadline passed with objects not healthy.
    TimedOut(Observation),
    /// Ctrl-C / SIGTERM.
    Interrupted,
}

impl GateEnd {
    /// `passed`, `failed`, `timed-out`, `interrupted`.
    pub fn word(&self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed(_) => "failed",
            Self::TimedOut(_) => "timed-out",
            Self::Interrupted => "interrupted",
        }
    }
}

async fn list_group(
    cluster: &Cluster,
    kind: &Kind,
    namespace: Option<&str>,
) -> Result<Vec<Value>, ClusterError> {
    cluster.list_all(kind, namespace, None).await
}

/// One LIST (or watch) the gate makes: what it is called in the results, its kind, its namespace.
pub(crate) type ListRequest = (String, Kind, Option<String>);

/// The LISTs that show the health of `watched`: one per kind and namespace, plus the pods and
/// ReplicaSets of every namespace with workloads.
pub(crate) fn list_requests(watched: &[Watched]) -> Vec<ListRequest> {
    let mut groups: BTreeMap<(String, String, String, Option<String>), Kind> = BTreeMap::new();
    let mut workload_namespaces: BTreeSet<Option<String>> = BTreeSet::new();
    for w in watched.iter().filter(|w| w.needs_polling()) {
        let r = &w.kind.resource;
        let ns = if w.kind.namespaced {
            w.id.namespace.clone()
        } else {
            None
        };
        groups.insert(
            (
                r.group.clone(),
                r.version.clone(),
                r.kind.clone(),
                ns.clone(),
            ),
            w.kind.clone(),
        );
        if readiness(&w.id.group, &w.id.kind) == Readiness::Workload {
            workload_namespaces.insert(ns);
        }
    }
    let mut requests: Vec<ListRequest> = groups
        .into_iter()
        .map(|((_, _, k, ns), kind)| (k, kind, ns))
        .collect();
    for ns in &workload_namespaces {
        requests.push(("Pod".into(), pod_kind(), ns.clone()));
        requests.push(("ReplicaSet".into(), replica_set_kind(), ns.clone()));
    }
    requests
}

/// Where the objects of one request are kept in [`judge`]'s input.
pub(crate) fn list_key(request: &ListRequest) -> ListKey {
    let (label, kind, ns) = request;
    (kind.resource.group.clone(), ns.clone(), label.clone())
}

/// Read the health of every watched object once.
pub async fn observe(cluster: &Cluster, watched: &[Watched]) -> Result<Observation, ClusterError> {
    let results: Vec<Result<(ListKey, Vec<Value>), ClusterError>> =
        futures::stream::iter(list_requests(watched))
            .map(|request| async move {
                let items = list_group(cluster, &request.1, request.2.as_deref()).await?;
                Ok((list_key(&request), items))
            })
            .buffer_unordered(cluster.concurrency())
            .collect()
            .await;
    let mut lists: BTreeMap<ListKey, Vec<Value>> = BTreeMap::new();
    for r in results {
        let (key, items) = r?;
        lists.insert(key, items);
    }
    Ok(judge(watched, &lists))
}

/// The health of every watched object, from the live objects of [`list_requests`] (keyed by
/// [`list_key`]), however they were read.
pub(crate) fn judge(watched: &[Watched], lists: &BTreeMap<ListKey, Vec<Value>>) -> Observation {
    let empty = Vec::new();
    let mut out = Observation::default();
    // Indexes, so a ring of hundreds of workloads is judged in one pass over its objects
    // rather than one per workload: each list by name, pods and ReplicaSets by owner uid.
    let by_name: BTreeMap<&ListKey, HashMap<&str, &Value>> = lists
        .iter()
        .map(|(key, items)| {
            let names = items
                .iter()
                .filter_map(|o| Some((o.pointer("/metadata/name")?.as_str()?, o)))
                .collect();
            (key, names)
        })
        .collect();
    let mut by_owner: HashMap<(&Option<String>, &str), Vec<&Value>> = HashMap::new();
    for ((group, ns, label), items) in lists {
        if (group.as_str(), label.as_str()) != ("", "Pod")
            && (group.as_str(), label.as_str()) != ("apps", "ReplicaSet")
        {
            continue;
        }
        for item in items {
            for owner in owner_uids(item) {
                by_owner.entry((ns, owner)).or_default().push(item);
            }
        }
    }
    for w in watched {
        if !w.needs_polling() {
            out.health.insert(w.id.clone(), Health::Healthy);
            continue;
        }
        let ns = if w.kind.namespaced {
            w.id.namespace.clone()
        } else {
            None
        };
        let live = by_name
            .get(&(
                w.kind.resource.group.clone(),
                ns.clone(),
                w.kind.resource.kind.clone(),
            ))
            .and_then(|names| names.get(w.id.name.as_str()).copied());
        let Some(live) = live else {
            out.health
                .insert(w.id.clone(), Health::progressing("does not exist (yet)"));
            continue;
        };
        let health = if readiness(&w.id.group, &w.id.kind) == Readiness::Workload {
            let pods = lists
                .get(&(String::new(), ns.clone(), "Pod".into()))
                .unwrap_or(&empty);
            let sets = lists
                .get(&("apps".into(), ns.clone(), "ReplicaSet".into()))
                .unwrap_or(&empty);
            let (sets, pods) = candidates(live, &ns, sets, pods, &by_owner);
            let mine: Vec<Value> = current_pods(live, &sets, &pods)
                .into_iter()
                .cloned()
                .collect();
            let h = workload_health(live, &mine);
            out.pods.insert(w.id.clone(), mine);
            h
        } else {
            assess(live)
        };
        out.health.insert(w.id.clone(), health);
    }
    out
}

/// The uids of an object's owners.
fn owner_uids(object: &Value) -> impl Iterator<Item = &str> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("uid").and_then(Value::as_str))
}

/// The ReplicaSets and pods `current_pods` can pick for `workload`: those it owns (through its
/// ReplicaSets for a Deployment). Whenever `current_pods` would fall back to matching labels
/// over the whole namespace (no uid, no owned ReplicaSet, a ReplicaSet without uid), the
/// whole namespace is passed, so the answer is the same as without the index.
fn candidates(
    workload: &Value,
    ns: &Option<String>,
    sets: &[Value],
    pods: &[Value],
    by_owner: &HashMap<(&Option<String>, &str), Vec<&Value>>,
) -> (Vec<Value>, Vec<Value>) {
    let all = || (sets.to_vec(), pods.to_vec());
    let Some(uid) = workload.pointer("/metadata/uid").and_then(Value::as_str) else {
        return all();
    };
    let owned = |uid: &str, kind: &str| -> Vec<&Value> {
        by_owner
            .get(&(ns, uid))
            .into_iter()
            .flatten()
            .copied()
            .filter(|o| o.get("kind").and_then(Value::as_str) == Some(kind))
            .collect()
    };
    if workload.get("kind").and_then(Value::as_str) != Some("Deployment") {
        return (Vec::new(), owned(uid, "Pod").into_iter().cloned().collect());
    }
    let my_sets = owned(uid, "ReplicaSet");
    let set_uids: Option<Vec<&str>> = my_sets
        .iter()
        .map(|rs| rs.pointer("/metadata/uid").and_then(Value::as_str))
        .collect();
    match set_uids {
        Some(uids) if !uids.is_empty() => (
            my_sets.into_iter().cloned().collect(),
            uids.into_iter()
                .flat_map(|u| owned(u, "Pod"))
                .cloned()
                .collect(),
        ),
        _ => all(),
    }
}

/// Stay healthy for `soak`: any failure ends it at once; at the end every object must be
/// healthy (a pod restarting right at the end makes the soak fail, not pass by luck).
pub async fn soak(
    cluster: &Cluster,
    watched: &[Watched],
    soak: Duration,
    cancel: &Cancel,
    sink: &dyn Sink,
) -> Result<GateEnd, ClusterError> {
    let end = Instant::now() + soak;
    let mut last_note = Instant::now();
    loop {
        let obs = observe(cluster, watched).await?;
        if !obs.failed().is_empty() {
            return Ok(GateEnd::Failed(obs));
        }
        if Instant::now() >= end {
            return Ok(if obs.unhealthy().is_empty() {
                GateEnd::Passed
            } else {
                GateEnd::TimedOut(obs)
            });
        }
        if last_note.elapsed() >= Duration::from_secs(30) {
            last_note = Instant::now();
            sink.event(Event::Note(format!(
                "soaking: {}s left",
                end.saturating_duration_since(Instant::now()).as_secs()
            )));
        }
        let pause = POLL.max(Duration::from_millis(10)).min(
            end.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(10)),
        );
        if cancel.sleep(pause).await {
            return Ok(GateEnd::Interrupted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::apply_calls::builtin_kind;
    use serde_json::json;

    fn deployment_watched() -> Vec<Watched> {
        vec![Watched {
            id: ObjectRef {
                group: "apps".into(),
                version: Some("v1".into()),
                kind: "Deployment".into(),
                namespace: Some("shop".into()),
                name: "web".into(),
            },
            kind: builtin_kind("apps", "v1", "Deployment", "deployments", true),
        }]
    }

    fn rs(uid: &str, revision: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
            "name": format!("web-{uid}"), "namespace": "shop", "uid": uid,
            "annotations": {"deployment.kubernetes.io/revision": revision},
            "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": "d-1", "controller": true}]}})
    }

    fn pod(name: &str, owner: &str, waiting: Option<&str>) -> Value {
        let state = match waiting {
            Some(reason) => json!({"waiting": {"reason": reason}}),
            None => json!({"running": {}}),
        };
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": name, "namespace": "shop", "labels": {"app": "web"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "x", "uid": owner, "controller": true}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "web", "restartCount": 3, "ready": waiting.is_none(), "state": state}]}})
    }

    fn lists(pods: Vec<Value>) -> BTreeMap<ListKey, Vec<Value>> {
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
            "name": "web", "namespace": "shop", "uid": "d-1", "generation": 2,
            "annotations": {"deployment.kubernetes.io/revision": "2"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}},
            "status": {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1,
                       "availableReplicas": 1, "readyReplicas": 1}});
        let watched = deployment_watched();
        list_requests(&watched)
            .iter()
            .map(|r| {
                let items = match r.0.as_str() {
                    "Deployment" => vec![deployment.clone()],
                    "ReplicaSet" => vec![rs("rs-1", "1"), rs("rs-2", "2")],
                    "Pod" => pods.clone(),
                    _ => Vec::new(),
                };
                (list_key(r), items)
            })
            .collect()
    }

    #[test]
    fn judges_a_deployment_by_the_pods_of_its_current_replica_set_only() {
        let watched = deployment_watched();
        // The old ReplicaSet's pod crash-loops (a rollout fixing it): not held against the new one.
        let obs = judge(
            &watched,
            &lists(vec![
                pod("web-old", "rs-1", Some("CrashLoopBackOff")),
                pod("web-new", "rs-2", None),
            ]),
        );
        assert!(obs.unhealthy().is_empty(), "{:?}", obs.health);
        assert_eq!(obs.pods[&watched[0].id].len(), 1);
        // The current ReplicaSet's pod crash-loops: failed at once.
        let obs = judge(
            &watched,
            &lists(vec![
                pod("web-old", "rs-1", None),
                pod("web-new", "rs-2", Some("CrashLoopBackOff")),
            ]),
        );
        assert_eq!(obs.failed().len(), 1, "{:?}", obs.health);
        // Not listed (yet): progressing, never healthy.
        let obs = judge(&watched, &BTreeMap::new());
        assert!(matches!(obs.health[&watched[0].id], Health::Progressing(_)));
    }
}
