//! One ring of a release, end to end: lock → plan (or the saved plan) → approval → run →
//! record → unlock. The caller walks the rings in `gitops.yaml` order and stops at the first
//! ring that does not succeed.

use serde::Serialize;

use crate::apply::cancel::Cancel;
use crate::apply::event::{Event, Sink};
use crate::apply::ring::{Options, RingError, RingRun, RingSettings};
use crate::cluster::Cluster;
use crate::config::{Approval, Config, Ring};
use crate::history::store::record;
use crate::history::{Outcome, Revision};
use crate::lock::{LockError, acquire};
use crate::plan::pipeline::{RingFailure, plan_rendered, plan_ring};
use crate::plan::{GitState, Masker, RingPlan};

/// Where a ring's plan comes from.
pub enum PlanSource<'a> {
    /// Plan now, from the repo.
    Fresh,
    /// A saved plan (`--plan plan.json`): applied exactly, refused when stale.
    Saved(&'a RingPlan),
    /// A given set of manifests (`gitops rollback --to N`).
    Manifests(Vec<serde_json::Value>),
}

/// What the person at the terminal (or the flags) said about a ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Yes,
    /// Stop here.
    No,
}

/// How one ring ended.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum RingResult {
    /// The ring ran (whatever the outcome) and its revision was recorded.
    Ran {
        /// The record (its `outcome` says how it went).
        revision: Box<Revision>,
        /// Set when the record could not be stored (the run itself happened).
        #[serde(skip_serializing_if = "Option::is_none")]
        record_error: Option<String>,
    },
    /// Not run: locked by someone else, or the approval was not given (exit 4).
    Blocked {
        /// Why, in one line.
        reason: String,
    },
    /// Not run: the plan failed, was stale, or the cluster was unreachable (exit 1).
    Error {
        /// Why (one line per problem).
        reason: String,
    },
}

/// Everything about one ring of a release.
pub struct RingRequest<'a> {
    /// The repo.
    pub config: &'a Config,
    /// The ring.
    pub ring: &'a Ring,
    /// Its cluster.
    pub cluster: &'a Cluster,
    /// Where the plan comes from.
    pub plan: PlanSource<'a>,
    /// The git state of the repo.
    pub git: GitState,
    /// Whether `--approve` named this ring (or `all`).
    pub approved: bool,
    /// How to run.
    pub options: Options,
}

/// Asks whether to go ahead with a planned ring: `required` when the ring has
/// `approval: required`. Returns `None` when nobody can be asked (not a terminal).
pub type Confirm<'a> = dyn Fn(&RingPlan, bool) -> Option<Decision> + Sync + 'a;

fn failure_text(f: &RingFailure) -> String {
    f.to_string()
}

/// Run one ring of a release.
pub async fn run_ring(
    request: RingRequest<'_>,
    confirm: &Confirm<'_>,
    sink: &dyn Sink,
    cancel: &Cancel,
) -> RingResult {
    let RingRequest {
        config,
        ring,
        cluster,
        plan,
        git,
        approved,
        options,
    } = request;
    let namespace = &config.history.namespace;
    let lock = match acquire(cluster, namespace, &ring.name, &options.who).await {
        Ok(lock) => lock,
        Err(LockError::Held { ring: r, holder }) => {
            return RingResult::Blocked {
                reason: LockError::Held { ring: r, holder }.to_string(),
            };
        }
        Err(e) => {
            return RingResult::Error {
                reason: e.to_string(),
            };
        }
    };
    if let Some(previous) = &lock.took_over {
        sink.event(Event::Note(format!(
            "took over the expired lock of ring `{}` held by {previous}",
            ring.name
        )));
    }
    let mut result = locked(
        config, ring, cluster, plan, git, approved, &options, confirm, sink, cancel,
    )
    .await;
    if lock.lost()
        && let RingResult::Ran { revision, .. } = &mut result
    {
        // Someone took the lock over while this run was stalled: say so in the report.
        revision.message = format!(
            "{}; the lock was taken over by another run while this one ran",
            revision.message
        );
    }
    if let Err(e) = lock.release().await {
        sink.event(Event::Note(format!(
            "could not release the lock of ring `{}`: {e}",
            ring.name
        )));
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn locked(
    config: &Config,
    ring: &Ring,
    cluster: &Cluster,
    plan: PlanSource<'_>,
    git: GitState,
    approved: bool,
    options: &Options,
    confirm: &Confirm<'_>,
    sink: &dyn Sink,
    cancel: &Cancel,
) -> RingResult {
    let masker = Masker::random();
    let fresh;
    let ring_plan: &RingPlan = match plan {
        PlanSource::Saved(p) => p,
        PlanSource::Fresh => {
            sink.event(Event::Phase {
                ring: ring.name.clone(),
                phase: "plan".into(),
                detail: String::new(),
            });
            match plan_ring(cluster, config, ring, git, &masker, &|| {}).await {
                Ok(p) => {
                    fresh = p;
                    &fresh
                }
                Err(f) => {
                    return RingResult::Error {
                        reason: failure_text(&f),
                    };
                }
            }
        }
        PlanSource::Manifests(objects) => {
            sink.event(Event::Phase {
                ring: ring.name.clone(),
                phase: "plan".into(),
                detail: String::new(),
            });
            match plan_rendered(cluster, config, ring, objects, git, &masker, &|| {}).await {
                Ok(p) => {
                    fresh = p;
                    &fresh
                }
                Err(f) => {
                    return RingResult::Error {
                        reason: failure_text(&f),
                    };
                }
            }
        }
    };
    let required = ring.approval == Approval::Required;
    if !approved {
        match confirm(ring_plan, required) {
            Some(Decision::Yes) => {}
            Some(Decision::No) => {
                return RingResult::Blocked {
                    reason: format!("ring `{}`: not approved at the prompt", ring.name),
                };
            }
            None if required => {
                return RingResult::Blocked {
                    reason: format!(
                        "ring `{}` requires approval: pass `--approve {}` (or `--approve all`), or run on a terminal to confirm",
                        ring.name, ring.name
                    ),
                };
            }
            None => {}
        }
    }
    let run = RingRun {
        cluster,
        ring: RingSettings {
            name: ring.name.clone(),
            wait: ring.wait.get(),
            soak: ring.soak.get(),
            prune: ring.prune,
        },
        plan: ring_plan,
        options,
        sink,
        cancel,
    };
    let mut revision = match run.run().await {
        Ok(r) => r,
        Err(e @ RingError::Stale { .. })
        | Err(e @ RingError::NoObjects(_))
        | Err(e @ RingError::Cluster { .. }) => {
            return RingResult::Error {
                reason: e.to_string(),
            };
        }
    };
    let record_error = record(
        cluster,
        namespace_of(config),
        config.history.keep,
        &mut revision,
    )
    .await
    .err()
    .map(|e| {
        format!(
            "ring `{}`: the revision could not be recorded: {e}",
            ring.name
        )
    });
    RingResult::Ran {
        revision: Box::new(revision),
        record_error,
    }
}

fn namespace_of(config: &Config) -> &str {
    &config.history.namespace
}

impl RingResult {
    /// Whether the release may go on to the next ring.
    pub fn succeeded(&self) -> bool {
        matches!(self, Self::Ran { revision, record_error: None } if revision.outcome.is_success())
    }

    /// The exit code this ring asks for (DESIGN.md §2).
    pub fn exit(&self) -> crate::exit::Exit {
        use crate::exit::Exit;
        match self {
            Self::Blocked { .. } => Exit::Blocked,
            Self::Error { .. } => Exit::Error,
            Self::Ran {
                revision,
                record_error,
            } => match revision.outcome {
                Outcome::Succeeded | Outcome::Unchanged if record_error.is_none() => Exit::Success,
                Outcome::Succeeded | Outcome::Unchanged => Exit::Error,
                Outcome::RolledBack | Outcome::RollbackFailed | Outcome::Failed => Exit::GateFailed,
                // An apply call failed (no gate did), whether or not it was undone.
                Outcome::Error | Outcome::ErrorRolledBack | Outcome::Interrupted => Exit::Error,
            },
        }
    }
}
