//! The plan: normalisation, per-object changes, field takeovers, secret masking, inventory and
//! prune set, apply order, staleness — pure functions over values; `Plan` is data. `pipeline`
//! alone drives I/O (render, then `cluster`), to feed them.

pub mod change;
pub mod compute;
pub mod inventory;
pub mod managers;
pub mod mask;
pub mod model;
pub mod normalize;
pub mod order;
pub mod pipeline;
pub mod sources;
pub mod stale;

#[cfg(test)]
mod sandbox_tests;

#[cfg(test)]
pub use change::Prediction;
pub use change::{ChangeOp, LiveVersion, ObjectChange};
pub use compute::{DryRun, Observation};
pub use mask::Masker;
pub use model::{ClusterInfo, GitState, Plan, RingPlan, SCHEMA_VERSION, Summary};
