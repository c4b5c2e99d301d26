//! `ObjectChange` and `ChangeOp`: what the plan predicts for one object.

use gitops_manifest::ObjectRef;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::managers::Takeover;

/// What applying the ring will do to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeOp {
    /// The object does not exist on the cluster.
    Create,
    /// The object exists and the apply changes it.
    Update,
    /// The object is pruned: the previous revision owned it, the render no longer has it.
    Delete,
    /// The apply would leave the object as it is.
    Unchanged,
}

impl ChangeOp {
    /// The word used in summaries and headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Unchanged => "unchanged",
        }
    }
}

/// The live version a prediction was computed against (what a stale plan is detected by).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveVersion {
    /// `metadata.uid`: changes when the object is deleted and re-created.
    pub uid: String,
    /// `metadata.resourceVersion`: changes on every write.
    pub resource_version: String,
}

impl LiveVersion {
    /// Read both from a live object; `None` when either is missing.
    pub fn of(object: &Value) -> Option<Self> {
        let meta = object.get("metadata")?;
        Some(Self {
            uid: meta.get("uid")?.as_str()?.to_string(),
            resource_version: meta.get("resourceVersion")?.as_str()?.to_string(),
        })
    }
}

/// How the predicted state was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Prediction {
    /// A server-side apply with `dryRun=All`: the server's own answer.
    Server,
    /// No dry-run was possible (the kind's CRD is created by this same plan); the rendered
    /// object is shown as is.
    Rendered,
    /// A deletion: nothing to dry-run.
    None,
}

/// The predicted change of one object, ready for every view (values normalised and masked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectChange {
    /// Which object.
    pub object: ObjectRef,
    /// What happens to it.
    pub op: ChangeOp,
    /// The file the object was rendered from, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The live object, normalised and masked (`None` for a create).
    #[serde(default)]
    pub before: Option<Value>,
    /// The predicted object, normalised and masked (`None` for a delete).
    #[serde(default)]
    pub after: Option<Value>,
    /// Fields taken back from other field managers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taken_from: Vec<Takeover>,
    /// The live version the prediction was computed against (`None`: absent on the cluster).
    #[serde(default)]
    pub live: Option<LiveVersion>,
    /// How the prediction was obtained.
    pub prediction: Prediction,
    /// A remark for the reader (why no dry-run was done, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
