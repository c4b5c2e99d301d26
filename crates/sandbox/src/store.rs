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

mod crd;
mod gc;
mod key;
mod logs;
mod registry;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

pub use crd::{crd_key, established_status, served_resources};
pub use key::{ObjectKey, ResourceKey};
pub use logs::{ContainerLog, LogKey};
pub use registry::{
    NameRule, Registry, ResourceInfo, STANDARD_VERBS, ScalePaths, split_api_version,
};

use logs::Logs;

/// How many changes the store remembers for watches that resume from a resourceVersion.
/// A real server keeps about five minutes of etcd history; older versions answer 410 Gone.
pub const HISTORY_LEN: usize = 20_000;

/// Capacity of the broadcast channel; a subscriber that falls further behind is told it lagged.
const CHANNEL_LEN: usize = 8_192;

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

/// A store operation failed; the API layer turns these into `Status` responses.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such object.
    #[error("{resource} \"{}\" not found", .key.name)]
    NotFound {
        /// The resource.
        resource: ResourceKey,
        /// The object asked for.
        key: ObjectKey,
    },
    /// An object of that name exists.
    #[error("{resource} \"{}\" already exists", .key.name)]
    AlreadyExists {
        /// The resource.
        resource: ResourceKey,
        /// The object.
        key: ObjectKey,
    },
    /// A precondition (`resourceVersion`, `uid`) did not hold.
    #[error("Operation cannot be fulfilled on {resource} \"{}\": {message}", .key.name)]
    Conflict {
        /// The resource.
        resource: ResourceKey,
        /// The object.
        key: ObjectKey,
        /// Why, in the real server's words.
        message: String,
    },
    /// The object cannot be stored as given (no name, wrong metadata shape).
    #[error("{resource} \"{}\" is invalid: {message}", .key.name)]
    Invalid {
        /// The resource.
        resource: ResourceKey,
        /// The object.
        key: ObjectKey,
        /// What is wrong.
        message: String,
    },
    /// The resourceVersion asked for is older than the remembered history.
    #[error("too old resource version: {requested} ({oldest})")]
    Gone {
        /// The version asked for.
        requested: u64,
        /// The oldest version a watch can still start from.
        oldest: u64,
    },
}

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

pub(crate) type Objects = BTreeMap<ResourceKey, BTreeMap<ObjectKey, Value>>;

/// The state behind the lock.
pub(crate) struct State {
    pub(crate) resource_version: u64,
    pub(crate) objects: Objects,
    pub(crate) registry: Registry,
    history: VecDeque<StoreEvent>,
    /// Watches can resume from any version >= this one.
    oldest_watchable: u64,
    logs: Logs,
    sender: broadcast::Sender<StoreEvent>,
}

/// The object store; cheap to clone (all clones share one state).
#[derive(Clone)]
pub struct Store {
    state: Arc<Mutex<State>>,
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
    let bytes: [u8; 16] = rand::random();
    let mut b = bytes;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
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

/// Everything but `metadata` and `status`: what a `generation` bump is about.
/// https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/object-meta/#ObjectMeta
fn spec_part(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    copy
}

/// Whether two versions of an object are equal, ignoring `resourceVersion`.
fn same_content(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(meta) = metadata_mut(&mut v) {
            meta.remove("resourceVersion");
        }
        v
    };
    strip(a) == strip(b)
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

impl State {
    fn new(registry: Registry) -> Self {
        let (sender, _) = broadcast::channel(CHANNEL_LEN);
        Self {
            resource_version: 0,
            objects: BTreeMap::new(),
            registry,
            history: VecDeque::new(),
            oldest_watchable: 0,
            logs: Logs::default(),
            sender,
        }
    }

    fn info(&self, key: &ResourceKey) -> Option<&ResourceInfo> {
        self.registry.by_key(key)
    }

    /// Records a change: the next resourceVersion is stamped on `object`, which is stored (or
    /// removed, for `Deleted`), remembered and broadcast.
    pub(crate) fn commit(
        &mut self,
        event_type: EventType,
        key: &ResourceKey,
        mut object: Value,
    ) -> Value {
        self.resource_version += 1;
        let rv = self.resource_version;
        if let Some(meta) = metadata_mut(&mut object) {
            meta.insert("resourceVersion".to_owned(), Value::String(rv.to_string()));
        }
        let okey = object_key(&object);
        let previous = self.get(key, &okey).map(|old| Arc::new(old.clone()));
        match event_type {
            EventType::Deleted => {
                if let Some(objects) = self.objects.get_mut(key) {
                    objects.remove(&okey);
                }
                if key == &ResourceKey::core("pods") {
                    self.logs.remove_pod(&okey.namespace, &okey.name);
                }
            }
            EventType::Added | EventType::Modified => {
                self.objects
                    .entry(key.clone())
                    .or_default()
                    .insert(okey, object.clone());
            }
        }
        let event = StoreEvent {
            event_type,
            resource: key.clone(),
            object: Arc::new(object.clone()),
            resource_version: rv,
            previous,
        };
        if self.history.len() >= HISTORY_LEN
            && let Some(dropped) = self.history.pop_front()
        {
            self.oldest_watchable = dropped.resource_version;
        }
        self.history.push_back(event.clone());
        // No receivers is fine: nobody is watching.
        let _ = self.sender.send(event);
        if key == &crd_key() {
            self.sync_crd(&object, event_type);
        }
        object
    }

    /// Keeps the registry in step with a CRD change; a deleted CRD takes its objects with it.
    /// https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#delete-a-customresourcedefinition
    fn sync_crd(&mut self, crd: &Value, event_type: EventType) {
        let Some((group, plural)) = crd::crd_group_plural(crd) else {
            return;
        };
        let being_deleted = crd.pointer("/metadata/deletionTimestamp").is_some();
        if event_type == EventType::Deleted || being_deleted {
            let storage = ResourceKey::new(group.clone(), plural.clone());
            let doomed: Vec<Value> = self
                .objects
                .get(&storage)
                .map(|objects| objects.values().cloned().collect())
                .unwrap_or_default();
            for object in doomed {
                self.commit(EventType::Deleted, &storage, object);
            }
            if event_type == EventType::Deleted {
                self.registry.set_custom(&group, &plural, Vec::new());
            }
        } else {
            self.registry
                .set_custom(&group, &plural, crd::served_resources(crd));
        }
    }

    fn get(&self, key: &ResourceKey, okey: &ObjectKey) -> Option<&Value> {
        self.objects.get(key)?.get(okey)
    }

    fn not_found(key: &ResourceKey, okey: ObjectKey) -> StoreError {
        StoreError::NotFound {
            resource: key.clone(),
            key: okey,
        }
    }

    fn create(
        &mut self,
        key: &ResourceKey,
        mut object: Value,
        opts: WriteOptions,
    ) -> Result<Value, StoreError> {
        let generation = self.info(key).is_none_or(|info| info.generation);
        let mut okey = object_key(&object);
        let Some(meta) = metadata_mut(&mut object) else {
            return Err(StoreError::Invalid {
                resource: key.clone(),
                key: okey,
                message: "metadata: Invalid value: the object must be a JSON object with an object metadata"
                    .to_owned(),
            });
        };
        if okey.name.is_empty() {
            // https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/object-meta/#ObjectMeta
            // generateName: a random 5-character suffix is appended to the prefix.
            let Some(prefix) = meta
                .get("generateName")
                .and_then(Value::as_str)
                .map(str::to_owned)
            else {
                return Err(StoreError::Invalid {
                    resource: key.clone(),
                    key: okey,
                    message: "metadata.name: Required value: name or generateName is required"
                        .to_owned(),
                });
            };
            okey.name = format!("{prefix}{}", random_suffix(5));
            meta.insert("name".to_owned(), Value::String(okey.name.clone()));
        }
        if self.get(key, &okey).is_some() {
            return Err(StoreError::AlreadyExists {
                resource: key.clone(),
                key: okey,
            });
        }
        meta.insert("uid".to_owned(), Value::String(new_uid()));
        meta.insert(
            "creationTimestamp".to_owned(),
            Value::String(now_timestamp()),
        );
        meta.remove("resourceVersion");
        meta.remove("deletionTimestamp");
        meta.remove("deletionGracePeriodSeconds");
        if generation {
            meta.insert("generation".to_owned(), json!(1));
        } else {
            meta.remove("generation");
        }
        if key == &crd_key() {
            let status = crd::established_status(&object, &now_timestamp());
            if let Some(map) = object.as_object_mut() {
                map.insert("status".to_owned(), status);
            }
        }
        if opts.dry_run {
            return Ok(object);
        }
        Ok(self.commit(EventType::Added, key, object))
    }

    fn update(
        &mut self,
        key: &ResourceKey,
        mut object: Value,
        scope: Scope,
        opts: WriteOptions,
    ) -> Result<Value, StoreError> {
        let okey = object_key(&object);
        let old = self
            .get(key, &okey)
            .cloned()
            .ok_or_else(|| Self::not_found(key, okey.clone()))?;
        let (generation, status_subresource) = self.info(key).map_or((true, false), |info| {
            (info.generation, info.status_subresource)
        });
        if let Some(rv) = meta_str(&object, "resourceVersion").filter(|rv| !rv.is_empty())
            && Some(rv) != meta_str(&old, "resourceVersion")
        {
            // https://kubernetes.io/docs/reference/using-api/api-concepts/#conflicts
            return Err(StoreError::Conflict {
                resource: key.clone(),
                key: okey,
                message: "the object has been modified; please apply your changes to the latest version and try again"
                    .to_owned(),
            });
        }
        match scope {
            Scope::Status => {
                // A status write changes status only.
                // https://kubernetes.io/docs/concepts/overview/working-with-objects/#object-spec-and-status
                let status = object.get("status").cloned();
                object = old.clone();
                if let Some(map) = object.as_object_mut() {
                    match status {
                        Some(status) => map.insert("status".to_owned(), status),
                        None => map.remove("status"),
                    };
                }
            }
            Scope::Main if status_subresource => {
                // With a status subresource, writes to the main resource leave status alone.
                // https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#status-subresource
                if let Some(map) = object.as_object_mut() {
                    match old.get("status") {
                        Some(status) => map.insert("status".to_owned(), status.clone()),
                        None => map.remove("status"),
                    };
                }
            }
            Scope::Main | Scope::Whole => {}
        }
        let Some(meta) = metadata_mut(&mut object) else {
            return Err(StoreError::Invalid {
                resource: key.clone(),
                key: okey,
                message: "metadata: Invalid value: the object must be a JSON object".to_owned(),
            });
        };
        // Fields the server owns are kept from the stored object.
        for field in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match old.pointer(&format!("/metadata/{field}")) {
                Some(v) => meta.insert(field.to_owned(), v.clone()),
                None => meta.remove(field),
            };
        }
        if !meta.contains_key("managedFields")
            && let Some(managed) = old.pointer("/metadata/managedFields")
        {
            meta.insert("managedFields".to_owned(), managed.clone());
        }
        if let Some(rv) = old.pointer("/metadata/resourceVersion") {
            meta.insert("resourceVersion".to_owned(), rv.clone());
        }
        if generation && spec_part(&old) != spec_part(&object) {
            let next = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                + 1;
            if let Some(meta) = metadata_mut(&mut object) {
                meta.insert("generation".to_owned(), json!(next));
            }
        }
        if key == &crd_key()
            && let Some(map) = object.as_object_mut()
        {
            let status = crd::established_status(&object_without_status(map), &now_timestamp());
            map.insert("status".to_owned(), status);
        }
        // An update that changes nothing is not written: no new resourceVersion, no event.
        // https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions
        if same_content(&old, &object) || opts.dry_run {
            return Ok(if same_content(&old, &object) {
                old
            } else {
                object
            });
        }
        let finished =
            old.pointer("/metadata/deletionTimestamp").is_some() && finalizers(&object).is_empty();
        if finished {
            // The last finalizer is gone: the deletion completes.
            // https://kubernetes.io/docs/concepts/overview/working-with-objects/finalizers/
            let deleted = self.commit(EventType::Deleted, key, object);
            gc::collect(self);
            return Ok(deleted);
        }
        Ok(self.commit(EventType::Modified, key, object))
    }

    /// Deletes an object, then lets the garbage collector run.
    pub(crate) fn delete(
        &mut self,
        key: &ResourceKey,
        okey: &ObjectKey,
        opts: &DeleteOptions,
    ) -> Result<Deletion, StoreError> {
        let outcome = self.delete_object(key, okey, opts)?;
        if opts.dry_run {
            return Ok(outcome);
        }
        gc::collect(self);
        // The collector may have finished a pending deletion already (no dependents left).
        Ok(match outcome {
            Deletion::Pending(object) => match self.get(key, okey) {
                Some(current) => Deletion::Pending(current.clone()),
                None => Deletion::Deleted(object),
            },
            deleted => deleted,
        })
    }

    /// Deletes one object without running the garbage collector.
    pub(crate) fn delete_object(
        &mut self,
        key: &ResourceKey,
        okey: &ObjectKey,
        opts: &DeleteOptions,
    ) -> Result<Deletion, StoreError> {
        let old = self
            .get(key, okey)
            .cloned()
            .ok_or_else(|| Self::not_found(key, okey.clone()))?;
        let conflict = |message: String| StoreError::Conflict {
            resource: key.clone(),
            key: okey.clone(),
            message,
        };
        if let Some(uid) = &opts.precondition_uid
            && Some(uid.as_str()) != meta_str(&old, "uid")
        {
            return Err(conflict(format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta_str(&old, "uid").unwrap_or_default()
            )));
        }
        if let Some(rv) = &opts.precondition_resource_version
            && Some(rv.as_str()) != meta_str(&old, "resourceVersion")
        {
            return Err(conflict(format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                meta_str(&old, "resourceVersion").unwrap_or_default()
            )));
        }
        let mut object = old.clone();
        let mut pending_finalizers = finalizers(&old);
        if opts.propagation == Propagation::Foreground
            && !pending_finalizers.iter().any(|f| f == gc::FOREGROUND)
        {
            pending_finalizers.push(gc::FOREGROUND.to_owned());
        }
        let is_namespace = key == &ResourceKey::core("namespaces");
        if opts.dry_run {
            return Ok(if pending_finalizers.is_empty() && !is_namespace {
                Deletion::Deleted(old)
            } else {
                Deletion::Pending(with_deletion_timestamp(object, &pending_finalizers))
            });
        }
        if old.pointer("/metadata/deletionTimestamp").is_some() {
            return Ok(Deletion::Pending(old));
        }
        if opts.propagation == Propagation::Orphan {
            gc::orphan_dependents(self, meta_str(&old, "uid").unwrap_or_default());
        }
        if is_namespace {
            return Ok(self.delete_namespace(okey, old));
        }
        if !pending_finalizers.is_empty() {
            object = with_deletion_timestamp(object, &pending_finalizers);
            return Ok(Deletion::Pending(self.commit(
                EventType::Modified,
                key,
                object,
            )));
        }
        Ok(Deletion::Deleted(self.commit(
            EventType::Deleted,
            key,
            object,
        )))
    }

    /// A namespace is Terminating while its contents are deleted, then goes.
    /// https://kubernetes.io/docs/tasks/administer-cluster/namespaces/#deleting-a-namespace
    fn delete_namespace(&mut self, okey: &ObjectKey, namespace: Value) -> Deletion {
        let key = ResourceKey::core("namespaces");
        let mut terminating = with_deletion_timestamp(namespace, &finalizers(&Value::Null));
        if let Some(map) = terminating.as_object_mut() {
            map.insert("status".to_owned(), json!({"phase": "Terminating"}));
        }
        self.commit(EventType::Modified, &key, terminating);
        let name = okey.name.clone();
        let contents: Vec<(ResourceKey, ObjectKey)> = self
            .objects
            .iter()
            .flat_map(|(rkey, objects)| {
                objects
                    .keys()
                    .filter(|k| k.namespace == name)
                    .map(move |k| (rkey.clone(), k.clone()))
            })
            .collect();
        for (rkey, objkey) in contents {
            // Deleting the contents can fail only if an object vanished meanwhile: nothing to do then.
            let _ = self.delete_object(&rkey, &objkey, &DeleteOptions::default());
        }
        gc::collect(self);
        let leftover = self
            .objects
            .values()
            .any(|objects| objects.keys().any(|k| k.namespace == name));
        match self.get(&key, okey).cloned() {
            Some(current) if leftover => Deletion::Pending(current),
            Some(current) => Deletion::Deleted(self.commit(EventType::Deleted, &key, current)),
            None => Deletion::Deleted(Value::Null),
        }
    }
}

fn object_without_status(map: &Map<String, Value>) -> Value {
    let mut copy = map.clone();
    copy.remove("status");
    Value::Object(copy)
}

fn with_deletion_timestamp(mut object: Value, finalizers: &[String]) -> Value {
    if let Some(meta) = metadata_mut(&mut object) {
        meta.insert(
            "deletionTimestamp".to_owned(),
            Value::String(now_timestamp()),
        );
        meta.insert("deletionGracePeriodSeconds".to_owned(), json!(0));
        if !finalizers.is_empty() {
            meta.insert("finalizers".to_owned(), json!(finalizers));
        }
    }
    object
}

/// Lowercase alphanumerics without vowels and look-alikes, as the API server's name generator.
/// https://kubernetes.io/docs/reference/using-api/api-concepts/#generated-values
fn random_suffix(len: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..len)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect()
}

/// Which part of an object an update writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// The main resource: status is kept from the stored object if there is a status subresource.
    Main,
    /// The `status` subresource: only status changes.
    Status,
    /// Everything (controllers that own a resource without a status subresource).
    Whole,
}

impl Store {
    /// An empty store serving the built-in kinds.
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(State::new(Registry::builtin()))),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every change is one `commit`),
        // so a poisoned lock is used as is.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        self.lock()
            .get(key, &ObjectKey::new(namespace, name))
            .cloned()
    }

    /// The objects of a resource (in one namespace, or all with `None`), in key order, and the
    /// resourceVersion they were read at.
    pub fn list(&self, key: &ResourceKey, namespace: Option<&str>) -> (Vec<Value>, u64) {
        let state = self.lock();
        let items = state
            .objects
            .get(key)
            .map(|objects| {
                objects
                    .iter()
                    .filter(|(k, _)| namespace.is_none_or(|ns| k.namespace == ns))
                    .map(|(_, v)| v.clone())
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
                        object: Arc::new(object.clone()),
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
                        object: object.clone(),
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
                .insert(okey, entry.object);
        }
        for entry in snapshot.logs {
            state.logs.entries.insert(entry.key, entry.log);
        }
        state.resource_version = snapshot.resource_version;
        state.oldest_watchable = snapshot.resource_version;
        Self {
            state: Arc::new(Mutex::new(state)),
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
