//! The object store: every object of the sandbox as JSON, one global resourceVersion, change events.
//!
//! This is the sandbox's etcd plus the parts of the API server every write goes through: `uid`,
//! `resourceVersion`, `generation`, `creationTimestamp`, optimistic concurrency, finalizers and
//! `deletionTimestamp`, owner-reference garbage collection and namespace deletion. The HTTP API
//! (`crate::api`) and the simulated controllers both write through it, so both see one history.
//!
//! - Objects are `serde_json::Value`s, keyed by [`ResourceKey`] (group + plural) and [`ObjectKey`]
//!   (namespace + name). `metadata.resourceVersion` is a decimal string of one global counter.
//! - Every change is an [`StoreEvent`], kept in a bounded history (so a watch can resume from a
//!   resourceVersion, or get 410 Gone when that is too old) and sent on a tokio broadcast channel
//!   ([`Store::subscribe`]).
//! - [`Store::snapshot`] / [`Store::from_snapshot`] turn the whole state into a serialisable value.
//!
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions

mod checked;
mod crd;
mod error;
mod event;
mod gc;
mod key;
mod logs;
mod options;
mod registry;
mod snapshot;
mod state;

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

pub use crd::{crd_key, established_status, served_resources};
pub use error::StoreError;
pub use event::{EventType, StoreEvent, Subscription};
pub use key::{ObjectKey, ResourceKey};
pub use logs::{ContainerLog, LogKey};
pub use options::{DeleteOptions, Deletion, Propagation, WriteOptions};
pub use registry::{
    NameRule, Registry, ResourceInfo, STANDARD_VERBS, ScalePaths, split_api_version,
};
pub use snapshot::{Snapshot, SnapshotLog, SnapshotObject};
use state::Scope;
pub(crate) use state::State;

/// How many changes the store remembers for watches that resume from a resourceVersion.
/// A real server keeps about five minutes of etcd history; older versions answer 410 Gone.
pub const HISTORY_LEN: usize = 20_000;

/// Capacity of the broadcast channel; a subscriber that falls further behind is told it lagged.
const CHANNEL_LEN: usize = 8_192;

/// The object store; cheap to clone (all clones share one state).
#[derive(Clone)]
pub struct Store {
    state: Arc<Mutex<State>>,
    /// Field-validation verdicts of stored versions (see `checked`), under their own lock.
    checked: Arc<Mutex<checked::Checked>>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("resource_version", &self.resource_version())
            .finish_non_exhaustive()
    }
}

/// `metadata.<field>` as a string.
pub fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object.get("metadata")?.get(field)?.as_str()
}

/// The current time as the API server writes timestamps (RFC 3339, seconds, `Z`).
pub fn now_timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A random RFC 4122 version 4 UUID, as the API server gives `metadata.uid`.
pub fn new_uid() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    // 8-4-4-4-12 hex digits, written straight into one string.
    let mut uid = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            uid.push('-');
        }
        uid.push(char::from(HEX[usize::from(byte >> 4)]));
        uid.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    uid
}

fn metadata_mut(object: &mut Value) -> Option<&mut Map<String, Value>> {
    let map = object.as_object_mut()?;
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    meta.as_object_mut()
}

fn object_key(object: &Value) -> ObjectKey {
    ObjectKey::new(
        meta_str(object, "namespace"),
        meta_str(object, "name").unwrap_or_default(),
    )
}

/// Whether everything but `metadata` and `status` is equal: what a `generation` bump is about.
/// https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/object-meta/#ObjectMeta
/// Compared in place: every update runs this under the store lock, and copying both versions of
/// the object cost more than the comparison.
fn same_spec(a: &Value, b: &Value) -> bool {
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => equal_except(a, b, &["metadata", "status"]),
        _ => a == b,
    }
}

/// Whether two versions of an object are equal, ignoring `resourceVersion` (a missing
/// `metadata` counts as an empty one). Compared in place, as [`same_spec`].
fn same_content(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    if !equal_except(a, b, &["metadata"]) {
        return false;
    }
    let empty = Value::Object(Map::new());
    let meta_a = a.get("metadata").unwrap_or(&empty);
    let meta_b = b.get("metadata").unwrap_or(&empty);
    match (meta_a.as_object(), meta_b.as_object()) {
        (Some(ma), Some(mb)) => equal_except(ma, mb, &["resourceVersion"]),
        _ => meta_a == meta_b,
    }
}

/// Whether two maps are equal once the `skipped` keys are left out of both.
fn equal_except(a: &Map<String, Value>, b: &Map<String, Value>, skipped: &[&str]) -> bool {
    let kept = |map: &Map<String, Value>| {
        map.keys()
            .filter(|k| !skipped.contains(&k.as_str()))
            .count()
    };
    kept(a) == kept(b)
        && a.iter()
            .filter(|(k, _)| !skipped.contains(&k.as_str()))
            .all(|(k, v)| b.get(k) == Some(v))
}

fn finalizers(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl Store {
    /// An empty store serving the built-in kinds.
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(State::new(Registry::builtin()))),
            checked: Arc::default(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every change is one `commit`),
        // so a poisoned lock is used as is.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The warnings field validation gave a stored version under the validation mode `mode`
    /// (an opaque tag of the caller's), when it accepted it unchanged before.
    pub fn checked_warnings(&self, version: &Arc<Value>, mode: u8) -> Option<Vec<String>> {
        self.checked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(version, mode)
    }

    /// Remembers that field validation under `mode` accepted the stored `version` unchanged,
    /// with `warnings`.
    pub fn remember_checked(&self, version: &Arc<Value>, mode: u8, warnings: Vec<String>) {
        self.checked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(version, mode, warnings);
    }

    /// The current (last written) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().resource_version
    }

    /// A copy of the served resources (built-ins and established CRDs).
    pub fn registry(&self) -> Registry {
        self.lock().registry.clone()
    }

    /// The resource served at `group/version/plural`, if any.
    pub fn resource_info(&self, group: &str, version: &str, plural: &str) -> Option<ResourceInfo> {
        self.lock().registry.get(group, version, plural).cloned()
    }

    /// One object, if it exists.
    pub fn get(&self, key: &ResourceKey, namespace: Option<&str>, name: &str) -> Option<Value> {
        self.get_shared(key, namespace, name)
            .map(|object| Value::clone(&object))
    }

    /// One object as stored, shared: no copy is made (under the lock or after it) for a reader
    /// that only looks at it.
    pub fn get_shared(
        &self,
        key: &ResourceKey,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Arc<Value>> {
        let okey = ObjectKey::new(namespace, name);
        self.lock().get_shared(key, &okey)
    }

    /// The objects of a resource (in one namespace, or all with `None`), in key order, and the
    /// resourceVersion they were read at.
    pub fn list(&self, key: &ResourceKey, namespace: Option<&str>) -> (Vec<Value>, u64) {
        self.list_matching(key, namespace, |_| true)
    }

    /// [`Store::list`] of only the objects `keep` accepts, tested before they are copied (a
    /// selector matching one object of thousands copies one, as the real server's watch cache
    /// answers a selective list without materialising the others).
    pub fn list_matching(
        &self,
        key: &ResourceKey,
        namespace: Option<&str>,
        keep: impl Fn(&Value) -> bool,
    ) -> (Vec<Value>, u64) {
        let (items, rv) = self.list_matching_shared(key, namespace, keep);
        (items.iter().map(|o| Value::clone(o)).collect(), rv)
    }

    /// [`Store::list_matching`] of the stored versions, shared: nothing is copied, for readers
    /// that only serialise or look at them (a paged LIST of thousands of objects).
    pub fn list_matching_shared(
        &self,
        key: &ResourceKey,
        namespace: Option<&str>,
        keep: impl Fn(&Value) -> bool,
    ) -> (Vec<Arc<Value>>, u64) {
        let state = self.lock();
        let items = state
            .objects
            .get(key)
            .map(|objects| {
                objects
                    .iter()
                    .filter(|(k, v)| namespace.is_none_or(|ns| k.namespace == ns) && keep(v))
                    .map(|(_, v)| Arc::clone(v))
                    .collect()
            })
            .unwrap_or_default();
        (items, state.resource_version)
    }

    /// Creates an object; `metadata.namespace` and `metadata.name` (or `generateName`) say where.
    /// Sets `uid`, `creationTimestamp`, `resourceVersion` and (where kept) `generation: 1`.
    pub fn create(&self, key: &ResourceKey, object: Value) -> Result<Value, StoreError> {
        self.create_with(key, object, WriteOptions::default())
    }

    /// [`Store::create`] with options (dry run).
    pub fn create_with(
        &self,
        key: &ResourceKey,
        object: Value,
        opts: WriteOptions,
    ) -> Result<Value, StoreError> {
        self.lock().create(key, object, opts)
    }

    /// Replaces an object's spec and metadata (status is kept if the resource has a status
    /// subresource). A non-empty `metadata.resourceVersion` must match the stored one (else
    /// [`StoreError::Conflict`]); an empty one means an unconditional update. Server-owned
    /// metadata is kept; `generation` is bumped when anything outside metadata and status changed.
    pub fn update(&self, key: &ResourceKey, object: Value) -> Result<Value, StoreError> {
        self.update_with(key, object, WriteOptions::default())
    }

    /// [`Store::update`] with options (dry run).
    pub fn update_with(
        &self,
        key: &ResourceKey,
        object: Value,
        opts: WriteOptions,
    ) -> Result<Value, StoreError> {
        self.lock().update(key, object, Scope::Main, opts)
    }

    /// Writes only `status` of an object (the `status` subresource); same preconditions as update.
    pub fn update_status(&self, key: &ResourceKey, object: Value) -> Result<Value, StoreError> {
        self.update_status_with(key, object, WriteOptions::default())
    }

    /// [`Store::update_status`] with options (dry run).
    pub fn update_status_with(
        &self,
        key: &ResourceKey,
        object: Value,
        opts: WriteOptions,
    ) -> Result<Value, StoreError> {
        self.lock().update(key, object, Scope::Status, opts)
    }

    /// Replaces spec and status at once, for controllers (no status subresource rule).
    pub fn replace(&self, key: &ResourceKey, object: Value) -> Result<Value, StoreError> {
        self.lock()
            .update(key, object, Scope::Whole, WriteOptions::default())
    }

    /// Deletes an object with background propagation.
    pub fn delete(
        &self,
        key: &ResourceKey,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Deletion, StoreError> {
        self.delete_with(key, namespace, name, &DeleteOptions::default())
    }

    /// Deletes an object: finalizers make it pending (`deletionTimestamp` set); dependents are
    /// collected, orphaned or waited for as `opts.propagation` says.
    /// https://kubernetes.io/docs/concepts/architecture/garbage-collection/
    pub fn delete_with(
        &self,
        key: &ResourceKey,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Deletion, StoreError> {
        self.lock()
            .delete(key, &ObjectKey::new(namespace, name), opts)
    }

    /// Every future change, live. Subscribers filter by resource themselves.
    pub fn subscribe(&self) -> broadcast::Receiver<StoreEvent> {
        self.lock().sender.subscribe()
    }

    /// Starts a watch of `key` (all resources if `None`): with `since: None` the replay is a
    /// synthetic `ADDED` per existing object (a watch "from now" with the current state first); with
    /// `Some(rv)` it is every change after `rv`, or [`StoreError::Gone`] when `rv` is older than the
    /// history.
    /// https://kubernetes.io/docs/reference/using-api/api-concepts/#semantics-for-watch
    pub fn watch(
        &self,
        key: Option<&ResourceKey>,
        since: Option<u64>,
    ) -> Result<Subscription, StoreError> {
        let state = self.lock();
        let live = state.sender.subscribe();
        let matches = |k: &ResourceKey| key.is_none_or(|key| key == k);
        let replay = match since {
            None => state
                .objects
                .iter()
                .filter(|(k, _)| matches(k))
                .flat_map(|(k, objects)| {
                    objects.values().map(move |object| StoreEvent {
                        event_type: EventType::Added,
                        resource: k.clone(),
                        resource_version: object
                            .pointer("/metadata/resourceVersion")
                            .and_then(Value::as_str)
                            .and_then(|rv| rv.parse().ok())
                            .unwrap_or(0),
                        object: Arc::clone(object),
                        previous: None,
                    })
                })
                .collect(),
            Some(rv) => {
                if rv < state.oldest_watchable {
                    return Err(StoreError::Gone {
                        requested: rv,
                        oldest: state.oldest_watchable,
                    });
                }
                state
                    .history
                    .iter()
                    .filter(|e| e.resource_version > rv && matches(&e.resource))
                    .cloned()
                    .collect()
            }
        };
        Ok(Subscription {
            replay,
            live,
            resource_version: state.resource_version,
        })
    }

    /// Appends a line to a container's current log (the simulated kubelet's output).
    pub fn append_log(&self, namespace: &str, pod: &str, container: &str, line: impl Into<String>) {
        self.lock()
            .logs
            .append(log_key(namespace, pod, container), line.into());
    }

    /// A container restarted: its current log becomes the previous one (`logs --previous`).
    pub fn restart_log(&self, namespace: &str, pod: &str, container: &str) {
        self.lock().logs.restart(log_key(namespace, pod, container));
    }

    /// A container's log, if it has written anything.
    pub fn container_log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
    ) -> Option<ContainerLog> {
        self.lock()
            .logs
            .get(&log_key(namespace, pod, container))
            .cloned()
    }

    /// The whole state as a serialisable value.
    pub fn snapshot(&self) -> Snapshot {
        let state = self.lock();
        Snapshot {
            resource_version: state.resource_version,
            objects: state
                .objects
                .iter()
                .flat_map(|(k, objects)| {
                    objects.values().map(move |object| SnapshotObject {
                        group: k.group.clone(),
                        resource: k.resource.clone(),
                        object: Value::clone(object),
                    })
                })
                .collect(),
            logs: state
                .logs
                .entries
                .iter()
                .map(|(key, log)| SnapshotLog {
                    key: key.clone(),
                    log: log.clone(),
                })
                .collect(),
        }
    }

    /// A store holding a snapshot's state; CRDs in it serve their kinds again. Watches can resume
    /// from the snapshot's resourceVersion on (older ones get 410 Gone, as after a compaction).
    pub fn from_snapshot(snapshot: Snapshot) -> Self {
        let mut state = State::new(Registry::builtin());
        for entry in snapshot.objects {
            let key = ResourceKey::new(entry.group, entry.resource);
            let okey = object_key(&entry.object);
            if key == crd_key() {
                state.sync_crd(&entry.object, EventType::Added);
            }
            state
                .objects
                .entry(key)
                .or_default()
                .insert(okey, Arc::new(entry.object));
        }
        for entry in snapshot.logs {
            state.logs.entries.insert(entry.key, entry.log);
        }
        state.resource_version = snapshot.resource_version;
        state.oldest_watchable = snapshot.resource_version;
        Self {
            state: Arc::new(Mutex::new(state)),
            checked: Arc::default(),
        }
    }
}

fn log_key(namespace: &str, pod: &str, container: &str) -> LogKey {
    LogKey {
        namespace: namespace.to_owned(),
        pod: pod.to_owned(),
        container: container.to_owned(),
    }
}

#[cfg(test)]
mod tests;
