//! `gitops watch`: the daemon that keeps rings in step with a git branch through the same
//! pipeline as `gitops apply`, with drift detection, approvals, leader election, metrics and
//! a status page.

pub mod approval;
pub mod backoff;
pub mod checkout;
pub mod credentials;
pub mod daemon;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod source;
pub mod status;
pub mod trust;
pub mod wake;
