//! One ring run, after the lock and the approval: snapshot → ordered server-side apply →
//! prune → health gate → (diagnosis, rollback, gate again) → soak → revision record.
//!
//! The order is kapp's and Helm's: what others depend on goes first (see `plan::order`), CRDs
//! are waited on until `Established` before their custom resources are sent, deletions run
//! last in reverse. The ApplySet parent (KEP-3659) is widened to the union of the old and new
//! inventories before any member is written and narrowed to the new one after the prune, so
//! an interrupted run never leaves a member that no inventory lists.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::StreamExt as _;
use gitops_manifest::ObjectRef;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::apply::cancel::Cancel;
use crate::apply::cause::Cause;
use crate::apply::diagnose::diagnose;
use crate::apply::diagnosis::Diagnosis;
use crate::apply::event::{Event, Sink};
use crate::apply::gate::{self, GateEnd, Watched};
use crate::apply::snapshot::{RollbackStep, Snapshot};
use crate::cluster::{Cluster, ClusterError, Kind, Kinds};
use crate::history::{GateResult, Outcome, Revision, RollbackRecord};
use crate::plan::inventory::{Inventory, label_member};
use crate::plan::order::{rank, sort_for_delete};
use crate::plan::stale::{Moved, bindings, moved};
use crate::plan::{ChangeOp, LiveVersion, RingPlan};

/// The settings of the ring being run.
#[derive(Debug, Clone)]
pub struct RingSettings {
    /// The ring's name.
    pub name: String,
    /// The health-gate deadline for the whole ring.
    pub wait: Duration,
    /// How long the ring must stay healthy after the gate.
    pub soak: Duration,
    /// Whether the prune set is deleted.
    pub prune: bool,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Take over fields of other managers (`false`: `--no-force`, conflicts are errors).
    pub force: bool,
    /// Roll back on a failed gate (`false`: `--no-rollback`).
    pub rollback: bool,
    /// Refuse to run when an object moved since the plan (`--plan plan.json`).
    pub check_stale: bool,
    /// What started the run, for the record (`apply`, `rollback --to 3`).
    pub trigger: String,
    /// Who runs it, for the record.
    pub who: String,
}

/// Why a ring run did not start (nothing was changed, no revision recorded).
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    /// The plan is stale: these objects moved since it was made.
    #[error("ring `{ring}`: the plan is stale, re-run `gitops plan`: {}", list(.moved))]
    Stale {
        /// The ring.
        ring: String,
        /// What moved.
        moved: Vec<Moved>,
    },
    /// The cluster could not be read before anything was changed.
    #[error("ring `{ring}`: {source}")]
    Cluster {
        /// The ring.
        ring: String,
        /// Cause.
        #[source]
        source: ClusterError,
    },
    /// The plan holds no rendered objects (a plan written with `--output json`, not `--out`).
    #[error(
        "ring `{0}`: the plan holds no rendered objects; write it with `gitops plan --out FILE`"
    )]
    NoObjects(String),
}

fn list(moved: &[Moved]) -> String {
    moved
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Everything one ring run needs.
pub struct RingRun<'a> {
    /// The cluster of the ring.
    pub cluster: &'a Cluster,
    /// The ring.
    pub ring: RingSettings,
    /// The plan to execute.
    pub plan: &'a RingPlan,
    /// How.
    pub options: &'a Options,
    /// Where progress goes.
    pub sink: &'a dyn Sink,
    /// Ctrl-C / SIGTERM.
    pub cancel: &'a Cancel,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn kind_of<'k>(kinds: &'k Kinds, id: &ObjectRef) -> Option<&'k Kind> {
    kinds.get(&id.group, id.version.as_deref().unwrap_or(""), &id.kind)
}

fn gate_result(phase: &str, end: &GateEnd, started: Instant) -> GateResult {
    let unhealthy = match end {
        GateEnd::Failed(obs) | GateEnd::TimedOut(obs) => obs.unhealthy(),
        _ => Vec::new(),
    };
    GateResult {
        phase: phase.to_string(),
        result: end.word().to_string(),
        seconds: started.elapsed().as_secs_f64(),
        unhealthy,
    }
}

/// The mutable record of a run in progress.
struct Progress {
    touched: Vec<ObjectRef>,
    pruned: Vec<ObjectRef>,
    gates: Vec<GateResult>,
    diagnosis: Vec<Diagnosis>,
}

/// How the forward part (apply, prune, gate, soak) ended.
enum Forward {
    Done,
    GateFailed(GateEnd),
    ApplyFailed(String),
    Interrupted(String),
}

impl RingRun<'_> {
    /// Run the ring and return its revision record (not yet stored; see `history::store`).
    pub async fn run(&self) -> Result<Revision, RingError> {
        let started = now();
        let ring = &self.ring.name;
        let cluster_err = |source| RingError::Cluster {
            ring: ring.clone(),
            source,
        };
        let plan = self.plan;
        let rendered_list = plan
            .rendered
            .as_ref()
            .ok_or_else(|| RingError::NoObjects(ring.clone()))?;
        let id = plan.inventory.id.clone();
        let mut rendered: BTreeMap<ObjectRef, Value> = BTreeMap::new();
        for object in rendered_list {
            let mut object = object.clone();
            label_member(&mut object, &id);
            if let Ok(r) = ObjectRef::from_value(&object) {
                rendered.insert(r, object);
            }
        }
        let ops: BTreeMap<&ObjectRef, ChangeOp> =
            plan.changes.iter().map(|c| (&c.object, c.op)).collect();
        let to_apply: Vec<ObjectRef> = rendered
            .keys()
            .filter(|r| matches!(ops.get(r), Some(ChangeOp::Create | ChangeOp::Update) | None))
            .cloned()
            .collect();
        let mut to_prune: Vec<ObjectRef> = if self.ring.prune {
            plan.prune.clone()
        } else {
            Vec::new()
        };
        sort_for_delete(&mut to_prune);

        // Discovery for everything the run may touch; kinds a CRD of this run will serve are
        // resolved again once it is established.
        let parent = plan.inventory.parent.clone();
        let group_versions: BTreeSet<(String, String)> = rendered
            .keys()
            .chain(to_prune.iter())
            .chain(std::iter::once(&parent))
            .map(|r| (r.group.clone(), r.version.clone().unwrap_or_default()))
            .collect();
        let mut kinds = self
            .cluster
            .kinds(&group_versions)
            .await
            .map_err(cluster_err)?;

        // Snapshot (and, for a saved plan, the staleness check) before anything changes.
        let mut to_read: BTreeSet<ObjectRef> =
            to_apply.iter().chain(to_prune.iter()).cloned().collect();
        to_read.insert(parent.clone());
        if self.options.check_stale {
            to_read.extend(plan.changes.iter().map(|c| c.object.clone()));
        }
        let live = self.read_all(&kinds, to_read).await.map_err(cluster_err)?;
        if self.options.check_stale {
            let current: BTreeMap<ObjectRef, Option<LiveVersion>> = live
                .iter()
                .map(|(id, v)| (id.clone(), v.as_ref().and_then(LiveVersion::of)))
                .collect();
            let moved = moved(&bindings(plan), &current);
            if !moved.is_empty() {
                return Err(RingError::Stale {
                    ring: ring.clone(),
                    moved,
                });
            }
        }
        let mut snapshot = Snapshot::default();
        for id in to_apply
            .iter()
            .chain(to_prune.iter())
            .chain(std::iter::once(&parent))
        {
            snapshot.insert(id.clone(), live.get(id).cloned().flatten());
        }

        let deadline = Instant::now() + self.ring.wait;
        let mut progress = Progress {
            touched: Vec::new(),
            pruned: Vec::new(),
            gates: Vec::new(),
            diagnosis: Vec::new(),
        };
        let forward = self
            .forward(
                &mut kinds,
                &rendered,
                &to_apply,
                &to_prune,
                &live,
                &mut progress,
                deadline,
            )
            .await;

        let watched = self.watched(&kinds, &rendered);
        let (outcome, message, rollback) = match forward {
            Forward::Done => {
                let unchanged = to_apply.is_empty() && to_prune.is_empty();
                let outcome = if unchanged {
                    Outcome::Unchanged
                } else {
                    Outcome::Succeeded
                };
                (outcome, String::new(), None)
            }
            Forward::Interrupted(message) => (Outcome::Interrupted, message, None),
            Forward::ApplyFailed(message) => {
                self.settle(
                    Cause::Apply,
                    message,
                    &snapshot,
                    &kinds,
                    &watched,
                    &mut progress,
                )
                .await
            }
            Forward::GateFailed(end) => {
                let what = match &end {
                    GateEnd::TimedOut(obs) => format!(
                        "the health gate timed out after {}: {}",
                        crate::duration::Duration::from(self.ring.wait),
                        describe_unhealthy(&obs.unhealthy())
                    ),
                    GateEnd::Failed(obs) => format!(
                        "the health gate failed: {}",
                        describe_unhealthy(&obs.failed())
                    ),
                    _ => "the health gate failed".to_string(),
                };
                if let GateEnd::Failed(obs) | GateEnd::TimedOut(obs) = &end {
                    progress.diagnosis = diagnose(self.cluster, obs).await;
                }
                self.settle(
                    Cause::Gate,
                    what,
                    &snapshot,
                    &kinds,
                    &watched,
                    &mut progress,
                )
                .await
            }
        };

        let inventory: Vec<ObjectRef> = match outcome {
            Outcome::RolledBack | Outcome::ErrorRolledBack => {
                members_before(&rendered, &to_apply, &snapshot, &id)
            }
            _ => rendered.keys().cloned().collect(),
        };
        Ok(Revision {
            ring: ring.clone(),
            number: 0,
            commit: plan.git.commit.clone(),
            who: self.options.who.clone(),
            trigger: self.options.trigger.clone(),
            started,
            finished: now(),
            outcome,
            message,
            gates: progress.gates,
            diagnosis: progress.diagnosis,
            manifests: rendered.into_values().collect(),
            inventory,
            pruned: progress.pruned,
            snapshot,
            rollback,
        })
    }

    /// Read objects concurrently; objects of kinds the cluster does not serve yet are absent.
    async fn read_all(
        &self,
        kinds: &Kinds,
        ids: BTreeSet<ObjectRef>,
    ) -> Result<BTreeMap<ObjectRef, Option<Value>>, ClusterError> {
        let results: Vec<Result<(ObjectRef, Option<Value>), ClusterError>> =
            futures::stream::iter(ids)
                .map(|id| async move {
                    match kind_of(kinds, &id) {
                        Some(kind) => Ok((id.clone(), self.cluster.read(kind, &id).await?)),
                        None => Ok((id, None)),
                    }
                })
                .buffer_unordered(self.cluster.concurrency())
                .collect()
                .await;
        results.into_iter().collect()
    }

    /// The objects the gate watches: every rendered object whose kind is served.
    fn watched(&self, kinds: &Kinds, rendered: &BTreeMap<ObjectRef, Value>) -> Vec<Watched> {
        rendered
            .keys()
            .filter_map(|id| {
                kind_of(kinds, id).map(|k| Watched {
                    id: id.clone(),
                    kind: k.clone(),
                })
            })
            .collect()
    }

    /// Write the ApplySet parent with the given inventory.
    async fn write_parent(&self, kinds: &Kinds, inventory: &Inventory) -> Result<(), String> {
        let parent = &inventory.parent;
        let kind = kind_of(kinds, parent).ok_or_else(|| format!("{parent}: kind not served"))?;
        let meta = inventory.parent_metadata();
        let body = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": parent.name,
                "namespace": parent.namespace,
                "labels": meta["labels"],
                "annotations": meta["annotations"],
            },
            "type": "gitops.dev/applyset",
        });
        self.cluster
            .apply(kind, parent, &body, true)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    #[allow(clippy::too_many_arguments)]
    async fn forward(
        &self,
        kinds: &mut Kinds,
        rendered: &BTreeMap<ObjectRef, Value>,
        to_apply: &[ObjectRef],
        to_prune: &[ObjectRef],
        live: &BTreeMap<ObjectRef, Option<Value>>,
        progress: &mut Progress,
        deadline: Instant,
    ) -> Forward {
        let ring = &self.ring.name;
        let parent = self.plan.inventory.parent.clone();
        let new_inventory = self.plan.inventory.clone();
        if !to_apply.is_empty() || !to_prune.is_empty() {
            // Widen the parent first: old ∪ new.
            let mut widened = new_inventory.clone();
            if let Some(Some(old)) = live
                .get(&parent)
                .map(|v| v.as_ref().and_then(Inventory::from_parent))
            {
                widened.group_kinds.extend(old.group_kinds);
                widened.namespaces.extend(old.namespaces);
            }
            progress.touched.push(parent.clone());
            if let Err(e) = self.write_parent(kinds, &widened).await {
                return Forward::ApplyFailed(format!("writing the ApplySet parent: {e}"));
            }
        }
        self.sink.event(Event::Phase {
            ring: ring.clone(),
            phase: "apply".into(),
            detail: format!("{} to apply, {} to prune", to_apply.len(), to_prune.len()),
        });
        // Group by rank, in order.
        let mut groups: BTreeMap<u8, Vec<&ObjectRef>> = BTreeMap::new();
        for id in to_apply {
            groups
                .entry(rank(&id.group, &id.kind))
                .or_default()
                .push(id);
        }
        for (group_rank, ids) in groups {
            if self.cancel.is_cancelled() {
                return Forward::Interrupted("interrupted before all objects were applied".into());
            }
            // Kinds served by a CRD applied in this run are known only now.
            let missing: BTreeSet<(String, String)> = ids
                .iter()
                .filter(|id| kind_of(kinds, id).is_none())
                .map(|id| (id.group.clone(), id.version.clone().unwrap_or_default()))
                .collect();
            if !missing.is_empty() {
                match self.cluster.kinds(&missing).await {
                    Ok(found) => {
                        for id in &ids {
                            if let Some(k) = kind_of(&found, id) {
                                kinds.insert(k.clone());
                            }
                        }
                    }
                    Err(e) => return Forward::ApplyFailed(e.to_string()),
                }
            }
            let results: Vec<(ObjectRef, Result<&'static str, String>)> =
                futures::stream::iter(ids.iter().copied())
                    .map(|id| {
                        let kinds = &*kinds;
                        async move {
                            let result = match (kind_of(kinds, id), rendered.get(id)) {
                                (Some(kind), Some(object)) => self
                                    .cluster
                                    .apply(kind, id, object, self.options.force)
                                    .await
                                    .map(|_| {
                                        if matches!(live.get(id), Some(Some(_))) {
                                            "configured"
                                        } else {
                                            "created"
                                        }
                                    })
                                    .map_err(|e| e.to_string()),
                                (None, _) => Err(format!(
                                    "`{id}`: the cluster does not serve kind `{}` in `{}`",
                                    id.kind,
                                    id.api_version().unwrap_or_default()
                                )),
                                (_, None) => {
                                    Err(format!("`{id}`: not in the plan's rendered objects"))
                                }
                            };
                            (id.clone(), result)
                        }
                    })
                    .buffer_unordered(self.cluster.concurrency())
                    .collect()
                    .await;
            let mut errors = Vec::new();
            for (id, result) in results {
                // Touched even when the call failed: it may have reached the server.
                progress.touched.push(id.clone());
                match result {
                    Ok(verb) => self.sink.event(Event::Object { object: id, verb }),
                    Err(e) => errors.push(e),
                }
            }
            if !errors.is_empty() {
                errors.sort();
                return Forward::ApplyFailed(errors.join("; "));
            }
            // CRDs must be Established before custom resources are sent.
            if group_rank == rank("apiextensions.k8s.io", "CustomResourceDefinition") {
                let crds: Vec<Watched> = ids
                    .iter()
                    .filter_map(|id| {
                        kind_of(kinds, id).map(|k| Watched {
                            id: (*id).clone(),
                            kind: k.clone(),
                        })
                    })
                    .collect();
                let t = Instant::now();
                self.sink.event(Event::Phase {
                    ring: ring.clone(),
                    phase: "crds".into(),
                    detail: "waiting for Established".into(),
                });
                match gate::wait_healthy(self.cluster, &crds, deadline, self.cancel, self.sink)
                    .await
                {
                    Ok(GateEnd::Passed) => {
                        progress
                            .gates
                            .push(gate_result("crds", &GateEnd::Passed, t))
                    }
                    Ok(GateEnd::Interrupted) => {
                        return Forward::Interrupted("interrupted while waiting for CRDs".into());
                    }
                    Ok(end) => {
                        progress.gates.push(gate_result("crds", &end, t));
                        return Forward::GateFailed(end);
                    }
                    Err(e) => return Forward::ApplyFailed(e.to_string()),
                }
            }
        }
        // Prune, last, in reverse order.
        for id in to_prune {
            if self.cancel.is_cancelled() {
                return Forward::Interrupted("interrupted before the prune".into());
            }
            let Some(kind) = kind_of(kinds, id) else {
                return Forward::ApplyFailed(format!("`{id}`: cannot prune, kind not served"));
            };
            progress.touched.push(id.clone());
            match self.cluster.delete(kind, id).await {
                Ok(_) => {
                    progress.pruned.push(id.clone());
                    self.sink.event(Event::Object {
                        object: id.clone(),
                        verb: "deleted",
                    });
                }
                Err(e) => return Forward::ApplyFailed(e.to_string()),
            }
        }
        if (!to_apply.is_empty() || !to_prune.is_empty())
            && let Err(e) = self.write_parent(kinds, &new_inventory).await
        {
            return Forward::ApplyFailed(format!("writing the ApplySet parent: {e}"));
        }
        // Gate.
        let watched = self.watched(kinds, rendered);
        self.sink.event(Event::Phase {
            ring: ring.clone(),
            phase: "gate".into(),
            detail: format!(
                "{} objects, deadline {}",
                watched.iter().filter(|w| w.needs_polling()).count(),
                crate::duration::Duration::from(self.ring.wait)
            ),
        });
        let t = Instant::now();
        match gate::wait_healthy(self.cluster, &watched, deadline, self.cancel, self.sink).await {
            Ok(GateEnd::Passed) => progress
                .gates
                .push(gate_result("gate", &GateEnd::Passed, t)),
            Ok(GateEnd::Interrupted) => {
                progress
                    .gates
                    .push(gate_result("gate", &GateEnd::Interrupted, t));
                return Forward::Interrupted("interrupted during the health gate".into());
            }
            Ok(end) => {
                progress.gates.push(gate_result("gate", &end, t));
                return Forward::GateFailed(end);
            }
            Err(e) => {
                return Forward::ApplyFailed(format!(
                    "the health gate could not read the cluster: {e}"
                ));
            }
        }
        // Soak.
        if !self.ring.soak.is_zero() {
            self.sink.event(Event::Phase {
                ring: ring.clone(),
                phase: "soak".into(),
                detail: crate::duration::Duration::from(self.ring.soak).to_string(),
            });
            let t = Instant::now();
            match gate::soak(
                self.cluster,
                &watched,
                self.ring.soak,
                self.cancel,
                self.sink,
            )
            .await
            {
                Ok(GateEnd::Passed) => {
                    progress
                        .gates
                        .push(gate_result("soak", &GateEnd::Passed, t))
                }
                Ok(GateEnd::Interrupted) => {
                    progress
                        .gates
                        .push(gate_result("soak", &GateEnd::Interrupted, t));
                    return Forward::Interrupted("interrupted during the soak".into());
                }
                Ok(end) => {
                    progress.gates.push(gate_result("soak", &end, t));
                    return Forward::GateFailed(end);
                }
                Err(e) => {
                    return Forward::ApplyFailed(format!(
                        "the soak could not read the cluster: {e}"
                    ));
                }
            }
        }
        Forward::Done
    }

    /// After a failure: roll back (unless `--no-rollback`) and gate the restored state.
    async fn settle(
        &self,
        cause: Cause,
        message: String,
        snapshot: &Snapshot,
        kinds: &Kinds,
        watched: &[Watched],
        progress: &mut Progress,
    ) -> (Outcome, String, Option<RollbackRecord>) {
        if !self.options.rollback {
            return (
                cause.left(false),
                format!("{message}; left as it is (--no-rollback)"),
                None,
            );
        }
        let steps = snapshot.rollback_steps(&dedup(&progress.touched), &progress.pruned);
        self.sink.event(Event::Phase {
            ring: self.ring.name.clone(),
            phase: "rollback".into(),
            detail: format!("{} steps", steps.len()),
        });
        let mut errors = Vec::new();
        for step in &steps {
            let result = match kind_of(kinds, step.object()) {
                None => Err(format!("`{}`: kind not served", step.object())),
                Some(kind) => match step {
                    RollbackStep::Restore { object, content } => self
                        .cluster
                        .replace(kind, object, content)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                    RollbackStep::Recreate { object, content } => self
                        .cluster
                        .create(kind, object, content)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                    RollbackStep::Delete { object } => self
                        .cluster
                        .delete(kind, object)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                },
            };
            let error = result.err();
            if let Some(e) = &error {
                errors.push(format!("{} {}: {e}", step.verb(), step.object()));
            }
            self.sink.event(Event::Rollback {
                step: step.clone(),
                error,
            });
        }
        let record = RollbackRecord {
            steps: steps.clone(),
            errors: errors.clone(),
        };
        if !errors.is_empty() {
            return (
                cause.left(true),
                format!("{message}; the rollback failed: {}", errors.join("; ")),
                Some(record),
            );
        }
        // Gate the restored state: the objects that exist again as before.
        let restored: BTreeSet<&ObjectRef> = steps
            .iter()
            .filter(|s| !matches!(s, RollbackStep::Delete { .. }))
            .map(RollbackStep::object)
            .collect();
        let mut again: Vec<Watched> = watched
            .iter()
            .filter(|w| restored.contains(&w.id))
            .cloned()
            .collect();
        for step in &steps {
            if let RollbackStep::Recreate { object, .. } = step
                && !again.iter().any(|w| &w.id == object)
                && let Some(kind) = kind_of(kinds, object)
            {
                again.push(Watched {
                    id: object.clone(),
                    kind: kind.clone(),
                });
            }
        }
        self.sink.event(Event::Phase {
            ring: self.ring.name.clone(),
            phase: "rollback gate".into(),
            detail: format!(
                "{} objects",
                again.iter().filter(|w| w.needs_polling()).count()
            ),
        });
        let t = Instant::now();
        let deadline = Instant::now() + self.ring.wait;
        match gate::wait_healthy(self.cluster, &again, deadline, self.cancel, self.sink).await {
            Ok(GateEnd::Passed) => {
                progress
                    .gates
                    .push(gate_result("rollback-gate", &GateEnd::Passed, t));
                (
                    cause.rolled_back(),
                    format!("{message}; rolled back to the objects before the run, healthy"),
                    Some(record),
                )
            }
            Ok(end) => {
                progress.gates.push(gate_result("rollback-gate", &end, t));
                let why = match &end {
                    GateEnd::Failed(obs) | GateEnd::TimedOut(obs) => {
                        describe_unhealthy(&obs.unhealthy())
                    }
                    _ => "interrupted".into(),
                };
                (
                    cause.left(true),
                    format!(
                        "{message}; rolled back, but the restored objects are not healthy: {why}"
                    ),
                    Some(record),
                )
            }
            Err(e) => (
                cause.left(true),
                format!(
                    "{message}; rolled back, but the rollback gate could not read the cluster: {e}"
                ),
                Some(record),
            ),
        }
    }
}

fn dedup(ids: &[ObjectRef]) -> Vec<ObjectRef> {
    let mut seen = BTreeSet::new();
    ids.iter()
        .filter(|id| seen.insert((*id).clone()))
        .cloned()
        .collect()
}

/// `apps/Deployment qa/web: failed: pod …; …`
pub fn describe_unhealthy(list: &[(ObjectRef, crate::health::Health)]) -> String {
    list.iter()
        .map(|(id, h)| format!("{id}: {h}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The ring's members after a rollback: the untouched rendered objects, plus every object of
/// the snapshot that carried the ApplySet label before the run (restored or re-created).
fn members_before(
    rendered: &BTreeMap<ObjectRef, Value>,
    to_apply: &[ObjectRef],
    snapshot: &Snapshot,
    id: &str,
) -> Vec<ObjectRef> {
    let mut out: BTreeSet<ObjectRef> = rendered
        .keys()
        .filter(|r| !to_apply.contains(r))
        .cloned()
        .collect();
    for (object, live) in &snapshot.objects {
        let member = live
            .as_ref()
            .and_then(|v| v.pointer("/metadata/labels"))
            .and_then(|l| l.get(crate::plan::inventory::PART_OF_LABEL))
            .and_then(Value::as_str)
            == Some(id);
        if member {
            out.insert(object.clone());
        }
    }
    out.into_iter().collect()
}
