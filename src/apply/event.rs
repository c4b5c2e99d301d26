//! What the engine reports while it runs, as data; a view turns events into lines or a
//! progress display and never decides anything.

use gitops_manifest::ObjectRef;

use crate::apply::snapshot::RollbackStep;
use crate::health::Health;

/// One thing that happened during a ring run.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A phase started: `apply`, `gate`, `soak`, `rollback`, `rollback gate`.
    Phase {
        /// The ring.
        ring: String,
        /// The phase.
        phase: String,
        /// A detail (`5 objects`, `deadline 5m`).
        detail: String,
    },
    /// An object was sent (applied, deleted).
    Object {
        /// The object.
        object: ObjectRef,
        /// `created`, `configured`, `deleted`.
        verb: &'static str,
    },
    /// The objects the gate is still waiting on, and why (sorted, deterministic).
    Waiting {
        /// Seconds left before the deadline.
        seconds_left: u64,
        /// The objects not yet healthy.
        objects: Vec<(ObjectRef, Health)>,
    },
    /// A rollback step ran.
    Rollback {
        /// The step.
        step: RollbackStep,
        /// The error, if it failed.
        error: Option<String>,
    },
    /// A free-form note (`took over an expired lock held by …`).
    Note(String),
}

/// Where events go. `Sync` so concurrent applies in a group can report.
pub trait Sink: Send + Sync {
    /// Receive one event.
    fn event(&self, event: Event);
}
