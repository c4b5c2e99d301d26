//! Change events: what the store broadcasts and a watch replays.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast;

use super::{ResourceKey, meta_str};

/// What happened to an object, as in a watch event's `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    /// The object was created.
    Added,
    /// The object was changed (including getting a `deletionTimestamp`).
    Modified,
    /// The object is gone.
    Deleted,
}

impl EventType {
    /// The watch event type string (`ADDED`, `MODIFIED`, `DELETED`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change of the store.
#[derive(Clone, Debug)]
pub struct StoreEvent {
    /// What happened.
    pub event_type: EventType,
    /// The resource of the object.
    pub resource: ResourceKey,
    /// The object after the change (for `Deleted`, its last state with the deletion's resourceVersion).
    pub object: Arc<Value>,
    /// The resourceVersion of the change.
    pub resource_version: u64,
    /// The object before the change (`None` for `Added`), so a filtered watch can tell an object
    /// that stopped matching its selector from one it never saw.
    pub previous: Option<Arc<Value>>,
}

impl StoreEvent {
    /// The namespace of the changed object (`""` for cluster-scoped objects).
    pub fn namespace(&self) -> &str {
        meta_str(&self.object, "namespace").unwrap_or_default()
    }

    /// The name of the changed object.
    pub fn name(&self) -> &str {
        meta_str(&self.object, "name").unwrap_or_default()
    }
}

/// The resumable start of a watch: what happened since the asked-for version, then the live feed.
pub struct Subscription {
    /// Events to deliver first (synthetic `ADDED`s for a watch from "now", or the history since the
    /// asked-for version), oldest first.
    pub replay: Vec<StoreEvent>,
    /// Later events, live.
    pub live: broadcast::Receiver<StoreEvent>,
    /// The store's resourceVersion when the subscription was taken.
    pub resource_version: u64,
}
