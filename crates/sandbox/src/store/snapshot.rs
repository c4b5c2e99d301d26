//! The serialisable form of the whole store (`--state FILE`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ContainerLog, LogKey};

/// The whole state, serialisable, for `--state FILE`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The global resourceVersion counter.
    pub resource_version: u64,
    /// Every object with its resource.
    pub objects: Vec<SnapshotObject>,
    /// Every container log.
    #[serde(default)]
    pub logs: Vec<SnapshotLog>,
}

/// One object in a [`Snapshot`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotObject {
    /// The object's API group.
    pub group: String,
    /// The object's plural resource name.
    pub resource: String,
    /// The object.
    pub object: Value,
}

/// One container log in a [`Snapshot`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotLog {
    /// Which container.
    #[serde(flatten)]
    pub key: LogKey,
    /// Its lines.
    #[serde(flatten)]
    pub log: ContainerLog,
}
