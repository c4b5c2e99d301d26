//! The health gate: poll the ring's objects until all are healthy, one of them fails, the
//! ring's deadline passes, or the run is interrupted. One LIST per kind and namespace per
//! poll (plus pods and ReplicaSets of namespaces with workloads), so a ring of hundreds of
//! Deployments costs a handful of requests per poll, not one per object.

use std::collections::{BTreeMap, BTreeSet};
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

/// Pause between polls. Short enough that a sandbox rollout is seen promptly, long enough
/// to cost a real API server nothing.
pub const POLL: Duration = Duration::from_millis(500);

/// (API group, namespace, kind) of one LIST the gate makes.
type ListKey = (String, Option<String>, String);

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

/// Read the health of every watched object once.
pub async fn observe(cluster: &Cluster, watched: &[Watched]) -> Result<Observation, ClusterError> {
    // (resource kind, namespace) → objects; plus pods and ReplicaSets per namespace with workloads.
    let mut groups: BTreeMap<(String, String, String, Option<String>), Kind> = BTreeMap::new();
    let mut workload_namespaces: BTreeSet<Option<String>> = BTreeSet::new();
    let polled: Vec<&Watched> = watched.iter().filter(|w| w.needs_polling()).collect();
    for w in &polled {
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
    let mut requests: Vec<(String, Kind, Option<String>)> = groups
        .into_iter()
        .map(|((_, _, k, ns), kind)| (k, kind, ns))
        .collect();
    for ns in &workload_namespaces {
        requests.push(("Pod".into(), pod_kind(), ns.clone()));
        requests.push(("ReplicaSet".into(), replica_set_kind(), ns.clone()));
    }
    let results: Vec<Result<(ListKey, Vec<Value>), ClusterError>> = futures::stream::iter(requests)
        .map(|(label, kind, ns)| async move {
            let items = list_group(cluster, &kind, ns.as_deref()).await?;
            Ok(((kind.resource.group.clone(), ns, label), items))
        })
        .buffer_unordered(cluster.concurrency())
        .collect()
        .await;
    let mut lists: BTreeMap<(String, Option<String>, String), Vec<Value>> = BTreeMap::new();
    for r in results {
        let (key, items) = r?;
        lists.insert(key, items);
    }
    let empty = Vec::new();
    let mut out = Observation::default();
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
        let items = lists
            .get(&(
                w.kind.resource.group.clone(),
                ns.clone(),
                w.kind.resource.kind.clone(),
            ))
            .unwrap_or(&empty);
        let live = items.iter().find(|o| {
            o.pointer("/metadata/name").and_then(Value::as_str) == Some(w.id.name.as_str())
        });
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
            let mine: Vec<Value> = current_pods(live, sets, pods)
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
    Ok(out)
}

/// Wait until every watched object is healthy, one fails, `deadline` passes or `cancel` fires.
/// Transient API errors during a poll are reported and retried on the next poll: the gate
/// judges the ring, not one request.
pub async fn wait_healthy(
    cluster: &Cluster,
    watched: &[Watched],
    deadline: Instant,
    cancel: &Cancel,
    sink: &dyn Sink,
) -> Result<GateEnd, ClusterError> {
    let mut last_waiting: Option<Vec<(ObjectRef, Health)>> = None;
    let mut consecutive_errors = 0;
    loop {
        if cancel.is_cancelled() {
            return Ok(GateEnd::Interrupted);
        }
        match observe(cluster, watched).await {
            Ok(obs) => {
                consecutive_errors = 0;
                if !obs.failed().is_empty() {
                    return Ok(GateEnd::Failed(obs));
                }
                let unhealthy = obs.unhealthy();
                if unhealthy.is_empty() {
                    return Ok(GateEnd::Passed);
                }
                if Instant::now() >= deadline {
                    return Ok(GateEnd::TimedOut(obs));
                }
                if last_waiting.as_ref() != Some(&unhealthy) {
                    sink.event(Event::Waiting {
                        seconds_left: deadline.saturating_duration_since(Instant::now()).as_secs(),
                        objects: unhealthy.clone(),
                    });
                    last_waiting = Some(unhealthy);
                }
            }
            Err(e) => {
                consecutive_errors += 1;
                sink.event(Event::Note(format!("health poll failed ({e}); retrying")));
                if Instant::now() >= deadline || consecutive_errors >= 20 {
                    return Err(e);
                }
            }
        }
        if cancel
            .sleep(
                POLL.min(
                    deadline
                        .saturating_duration_since(Instant::now())
                        .max(Duration::from_millis(10)),
                ),
            )
            .await
        {
            return Ok(GateEnd::Interrupted);
        }
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
