//! `Plan` and `RingPlan`: the plan as data, the one thing every view prints and `apply` executes.

use gitops_manifest::ObjectRef;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::change::{ChangeOp, ObjectChange};
use super::inventory::Inventory;

/// The version of the plan's JSON schema (`docs/plan-json.md`); bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// A plan over one or more rings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Always [`SCHEMA_VERSION`] when written by this build.
    pub schema_version: u32,
    /// When the plan was computed (RFC 3339, UTC).
    pub generated_at: String,
    /// The rings, in `gitops.yaml` order.
    pub rings: Vec<RingPlan>,
}

/// The git state a ring was rendered from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GitState {
    /// The `HEAD` commit id; `None` outside a git repository or before the first commit.
    pub commit: Option<String>,
    /// Whether the work tree had uncommitted changes.
    pub dirty: bool,
}

/// The cluster a ring was planned against.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// The API server URL (`in-process` for the embedded sandbox).
    pub server: String,
    /// The kubeconfig context, when one was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

/// Counts per change kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Objects to create.
    pub create: usize,
    /// Objects to update.
    pub update: usize,
    /// Objects to delete (prune).
    pub delete: usize,
    /// Objects left as they are.
    pub unchanged: usize,
}

impl Summary {
    /// Count the changes.
    pub fn of(changes: &[ObjectChange]) -> Self {
        let mut s = Self::default();
        for c in changes {
            match c.op {
                ChangeOp::Create => s.create += 1,
                ChangeOp::Update => s.update += 1,
                ChangeOp::Delete => s.delete += 1,
                ChangeOp::Unchanged => s.unchanged += 1,
            }
        }
        s
    }

    /// Whether anything would change.
    pub fn has_changes(&self) -> bool {
        self.create + self.update + self.delete > 0
    }
}

/// The plan of one ring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RingPlan {
    /// The ring's name.
    pub ring: String,
    /// The git state it was rendered from.
    pub git: GitState,
    /// The cluster it was planned against.
    pub cluster: ClusterInfo,
    /// Counts per change kind.
    pub summary: Summary,
    /// Every object: rendered ones in apply order, then deletions in delete order.
    pub changes: Vec<ObjectChange>,
    /// The objects to prune (also present in `changes` as deletions).
    pub prune: Vec<ObjectRef>,
    /// The inventory the apply will record for this ring.
    pub inventory: Inventory,
    /// The exact objects to apply (unmasked: this is why plan files are written 0600). Present
    /// in plan files, absent from `--output json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendered: Option<Vec<Value>>,
}

impl Plan {
    /// Whether any ring would change.
    pub fn has_changes(&self) -> bool {
        self.rings.iter().any(|r| r.summary.has_changes())
    }

    /// The names of the rings that would change, in ring order.
    pub fn changed_rings(&self) -> Vec<&str> {
        self.rings
            .iter()
            .filter(|r| r.summary.has_changes())
            .map(|r| r.ring.as_str())
            .collect()
    }

    /// A copy without the unmasked rendered objects: what may be printed.
    pub fn without_rendered(&self) -> Self {
        let mut plan = self.clone();
        for ring in &mut plan.rings {
            ring.rendered = None;
        }
        plan
    }
}
