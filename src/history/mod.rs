//! Revisions: one record per ring run, stored in the cluster as a Secret per revision in the
//! history namespace (like Helm releases), the `keep` newest kept.

pub mod revision;
pub mod secret;
pub mod store;

pub use revision::{GateResult, Outcome, Revision, RevisionSummary, RollbackRecord};
