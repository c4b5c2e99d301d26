//! `State`: what the daemon knows about each ring, shared between the loop (the only
//! writer) and the HTTP endpoints (`/status`, `/metrics`, `/readyz`).

use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use super::metrics::Metrics;

/// A ring's plan while it waits for `gitops approve RING COMMIT`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Waiting {
    /// The commit waiting.
    pub commit: String,
    /// Objects the plan creates.
    pub create: usize,
    /// Objects it updates.
    pub update: usize,
    /// Objects it deletes.
    pub delete: usize,
    /// The command that lets the daemon go on.
    pub approve_with: String,
}

/// The last drift check of a ring.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// How many objects differ from git.
    pub objects: usize,
    /// Which (`kind namespace/name` and the change), never their content.
    pub items: Vec<String>,
    /// When it was checked (RFC 3339).
    pub checked_at: String,
}

/// A ring run in progress.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Running {
    /// The commit being applied.
    pub commit: String,
    /// `watch` or `watch self-heal`.
    pub trigger: String,
    /// When it started (RFC 3339).
    pub since: String,
}

/// What `/status` says about one ring.
#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RingStatus {
    /// The ring.
    pub ring: String,
    /// The commit running on the ring (the last one applied successfully).
    pub commit: Option<String>,
    /// The revision of that apply.
    pub revision: Option<u64>,
    /// How the last run ended (`succeeded`, `rolled-back`, `render-error`, `blocked`, …).
    pub outcome: Option<String>,
    /// The commit of the last run (differs from `commit` when it failed).
    pub last_commit: Option<String>,
    /// When the last run ended.
    pub last_run: Option<String>,
    /// The run in progress, if any.
    pub running: Option<Running>,
    /// The commit waiting for an approval, with its plan summary.
    pub waiting_approval: Option<Waiting>,
    /// The last drift check.
    pub drift: Option<Drift>,
    /// The last error, until the ring next succeeds.
    pub last_error: Option<String>,
}

/// Everything the daemon shows.
#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// The repository (a URL without credentials, or a path).
    pub repo: String,
    /// The branch followed.
    pub branch: Option<String>,
    /// The tip of the branch at the last read.
    pub head: Option<String>,
    /// When the repository was last read successfully.
    pub last_fetch: Option<String>,
    /// Whether this replica leads (`None` without leader election).
    pub leader: Option<bool>,
    /// Whether the repository was read and the cluster reached at least once.
    pub ready: bool,
    /// The last error that is not a ring's (git, configuration, leader election).
    pub last_error: Option<String>,
    /// The rings, in `gitops.yaml` order.
    pub rings: Vec<RingStatus>,
    /// The counters behind `/metrics`.
    #[serde(skip)]
    pub metrics: Metrics,
}

impl State {
    /// The status of `ring`, added (in call order) the first time.
    pub fn ring(&mut self, ring: &str) -> &mut RingStatus {
        if let Some(i) = self.rings.iter().position(|r| r.ring == ring) {
            return &mut self.rings[i];
        }
        self.rings.push(RingStatus {
            ring: ring.to_string(),
            ..RingStatus::default()
        });
        let last = self.rings.len() - 1;
        &mut self.rings[last]
    }
}

/// The state behind a lock, cheap to clone into the HTTP server.
#[derive(Debug, Clone, Default)]
pub struct Shared(Arc<Mutex<State>>);

impl Shared {
    /// Lock the state. A panic while it was held cannot leave it half-written in a way that
    /// matters for a status page, so a poisoned lock is used as it is.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Now, for status timestamps.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
