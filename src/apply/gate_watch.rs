//! The health gate fed by watches: one LIST+WATCH per kind and namespace (the lists of
//! [`gate::list_requests`]), kept in a local copy and judged by [`gate::judge`] whenever it
//! changed, at most every [`JUDGE_EVERY`]. Polling the same lists every half second re-read
//! every Deployment, ReplicaSet and pod of a ring of hundreds of workloads each time (several
//! MB per poll, seconds per poll on a busy API server); the watches send each change once,
//! and the gate sees the ring healthy as soon as the API server does.
//!
//! The judgement is the same as the polling gate's: same rules, same fail-fast, one deadline
//! for the ring. It starts only once every watch has its complete initial list, so an object
//! not yet listed is never taken for absent, and pods not yet listed never hide a failing one.
//! Watches restart (relist) on their own after an error or an expired resourceVersion, as
//! client-go's reflectors do (<https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes>).

use std::collections::{BTreeMap, HashMap};

use futures::StreamExt as _;
use kube::api::DynamicObject;
use kube::runtime::watcher::{self, Event as WatchEvent};
use serde_json::Value;
use std::time::Duration;
use tokio::time::Instant;

use crate::apply::cancel::Cancel;
use crate::apply::event::{Event, Sink};
use crate::apply::gate::{self, GateEnd, ListKey, Watched};
use crate::cluster::{Cluster, ClusterError};
use crate::health::Health;
use gitops_manifest::ObjectRef;

/// The shortest pause between two judgements (the polling gate's pause): changes arriving
/// meanwhile are judged together.
pub const JUDGE_EVERY: Duration = gate::POLL;

/// Consecutive watch errors (with no event in between) after which the gate gives up.
const MAX_ERRORS: usize = 20;

/// The live objects of one watch: the current copy, and the one being rebuilt by a relist.
#[derive(Default)]
struct Copy {
    objects: HashMap<String, Value>,
    relist: Option<HashMap<String, Value>>,
    listed: bool,
}

fn key_of(object: &Value) -> String {
    let ns = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    format!("{ns}/{name}")
}

/// Wait until every watched object is healthy, one fails, `deadline` passes or `cancel` fires.
/// Transient API errors are reported and the watches restart: the gate judges the ring, not
/// one request.
pub async fn wait_healthy(
    cluster: &Cluster,
    watched: &[Watched],
    deadline: Instant,
    cancel: &Cancel,
    sink: &dyn Sink,
) -> Result<GateEnd, ClusterError> {
    let requests = gate::list_requests(watched);
    if requests.is_empty() {
        // Nothing with a readiness: judged at once (every object is healthy by existing).
        return Ok(end_of(gate::judge(watched, &BTreeMap::new())).unwrap_or(GateEnd::Passed));
    }
    let keys: Vec<ListKey> = requests.iter().map(gate::list_key).collect();
    let streams = requests.iter().enumerate().map(|(i, (_, kind, ns))| {
        let types = kube::core::TypeMeta {
            api_version: kind.resource.api_version.clone(),
            kind: kind.resource.kind.clone(),
        };
        let label = kind.resource.kind.clone();
        cluster
            .watch_all(kind, ns.as_deref())
            .map(move |event| (i, label.clone(), types.clone(), event))
            .boxed()
    });
    let mut events = futures::stream::select_all(streams);
    let mut copies: Vec<Copy> = keys.iter().map(|_| Copy::default()).collect();
    let mut last_waiting: Option<Vec<(ObjectRef, Health)>> = None;
    let mut changed = false;
    let mut last_judged: Option<Instant> = None;
    let mut errors = 0;
    loop {
        let ready = copies.iter().all(|c| c.listed);
        let now = Instant::now();
        if ready && (changed || now >= deadline) {
            let due = last_judged.map_or(now, |t| t + JUDGE_EVERY);
            if now >= due || now >= deadline {
                let lists: BTreeMap<ListKey, Vec<Value>> = keys
                    .iter()
                    .zip(&copies)
                    .map(|(k, c)| (k.clone(), c.objects.values().cloned().collect()))
                    .collect();
                let obs = gate::judge(watched, &lists);
                changed = false;
                last_judged = Some(Instant::now());
                if let Some(end) = end_of_at(obs, deadline, &mut last_waiting, sink) {
                    return Ok(end);
                }
                continue;
            }
        }
        if !ready && now >= deadline {
            // A watch never got its first list in time: judge from one poll instead.
            let obs = gate::observe(cluster, watched).await?;
            return Ok(end_of(obs).unwrap_or_else(|| GateEnd::TimedOut(Default::default())));
        }
        let wake = if ready && changed {
            last_judged.map_or(now, |t| t + JUDGE_EVERY).min(deadline)
        } else {
            deadline
        };
        let next = tokio::select! {
            () = cancel.cancelled() => return Ok(GateEnd::Interrupted),
            () = tokio::time::sleep_until(wake) => continue,
            next = events.next() => next,
        };
        let Some((i, label, types, event)) = next else {
            // Watches end only with the client: judge from one poll.
            let obs = gate::observe(cluster, watched).await?;
            return Ok(end_of(obs).unwrap_or_else(|| GateEnd::TimedOut(Default::default())));
        };
        let value = |mut object: DynamicObject| -> Result<Value, ClusterError> {
            object.types = Some(types.clone());
            serde_json::to_value(object).map_err(|e| ClusterError::Api {
                what: format!("watching `{label}`"),
                message: e.to_string(),
            })
        };
        let copy = &mut copies[i];
        match event {
            Ok(WatchEvent::Init) => copy.relist = Some(HashMap::new()),
            Ok(WatchEvent::InitApply(object)) => {
                let v = value(object)?;
                copy.relist
                    .get_or_insert_with(HashMap::new)
                    .insert(key_of(&v), v);
            }
            Ok(WatchEvent::InitDone) => {
                copy.objects = copy.relist.take().unwrap_or_default();
                copy.listed = true;
                changed = true;
                errors = 0;
            }
            Ok(WatchEvent::Apply(object)) => {
                let v = value(object)?;
                copy.objects.insert(key_of(&v), v);
                changed = true;
                errors = 0;
            }
            Ok(WatchEvent::Delete(object)) => {
                let v = value(object)?;
                copy.objects.remove(&key_of(&v));
                changed = true;
                errors = 0;
            }
            Err(e) => {
                errors += 1;
                let err = watch_error(cluster, &label, e);
                sink.event(Event::Note(format!(
                    "health watch failed ({err}); retrying"
                )));
                if errors >= MAX_ERRORS || Instant::now() >= deadline {
                    return Err(err);
                }
            }
        }
    }
}

fn watch_error(cluster: &Cluster, label: &str, e: watcher::Error) -> ClusterError {
    let what = format!("watching `{label}`");
    match e {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => cluster.api_error(what, &e),
        watcher::Error::WatchError(status) => cluster.api_error(what, &kube::Error::Api(status)),
        other => ClusterError::Api {
            what,
            message: other.to_string(),
        },
    }
}

/// Failed or passed, if the observation says so.
fn end_of(obs: gate::Observation) -> Option<GateEnd> {
    if !obs.failed().is_empty() {
        return Some(GateEnd::Failed(obs));
    }
    if obs.unhealthy().is_empty() {
        return Some(GateEnd::Passed);
    }
    None
}

/// Failed, passed or timed out; otherwise report what is waited on (when it changed).
fn end_of_at(
    obs: gate::Observation,
    deadline: Instant,
    last_waiting: &mut Option<Vec<(ObjectRef, Health)>>,
    sink: &dyn Sink,
) -> Option<GateEnd> {
    if !obs.failed().is_empty() {
        return Some(GateEnd::Failed(obs));
    }
    let unhealthy = obs.unhealthy();
    if unhealthy.is_empty() {
        return Some(GateEnd::Passed);
    }
    if Instant::now() >= deadline {
        return Some(GateEnd::TimedOut(obs));
    }
    if last_waiting.as_ref() != Some(&unhealthy) {
        sink.event(Event::Waiting {
            seconds_left: deadline.saturating_duration_since(Instant::now()).as_secs(),
            objects: unhealthy.clone(),
        });
        *last_waiting = Some(unhealthy);
    }
    None
}
