//! Options and outcomes of writes and deletions.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Options of a write.
#[derive(Clone, Copy, Debug, Default)]
pub struct WriteOptions {
    /// Compute and return the result, store nothing, bump nothing (`dryRun=All`).
    pub dry_run: bool,
}

/// How a deletion treats the object's dependents.
///
/// https://kubernetes.io/docs/concepts/architecture/garbage-collection/#cascading-deletion
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Propagation {
    /// The owner goes now; the garbage collector deletes the dependents after it.
    #[default]
    Background,
    /// The owner stays (with `deletionTimestamp` and the `foregroundDeletion` finalizer) until its
    /// dependents are gone.
    Foreground,
    /// The dependents lose their owner reference and stay.
    Orphan,
}

/// Options of a deletion.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    /// What happens to dependents.
    pub propagation: Propagation,
    /// Delete only if the object still has this uid.
    pub precondition_uid: Option<String>,
    /// Delete only if the object still has this resourceVersion.
    pub precondition_resource_version: Option<String>,
    /// Compute and return the result, change nothing.
    pub dry_run: bool,
}

/// The outcome of a deletion.
#[derive(Clone, Debug, PartialEq)]
pub enum Deletion {
    /// The object is gone; its last state.
    Deleted(Value),
    /// The object has a `deletionTimestamp` and waits for finalizers; its current state.
    Pending(Value),
}
