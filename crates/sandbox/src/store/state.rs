//! The state behind the store's lock and every write's rules: stamping, preconditions,
//! generation, finalizers, deletion and namespace deletion.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use super::logs::Logs;
use super::{
    CHANNEL_LEN, DeleteOptions, Deletion, EventType, HISTORY_LEN, ObjectKey, Propagation, Registry,
    ResourceInfo, ResourceKey, StoreError, StoreEvent, WriteOptions, crd, crd_key, finalizers, gc,
    meta_str, metadata_mut, new_uid, now_timestamp, object_key, same_content, same_spec,
};

/// Stored objects are shared, never changed in place: a write stores a new version, and the
/// store, the change history and the watchers hold one copy of each version between them.
pub(crate) type Objects = BTreeMap<ResourceKey, BTreeMap<ObjectKey, Arc<Value>>>;

/// The state behind the lock.
pub(crate) struct State {
    pub(crate) resource_version: u64,
    pub(crate) objects: Objects,
    pub(crate) registry: Registry,
    pub(super) history: VecDeque<StoreEvent>,
    /// Watches can resume from any version >= this one.
    pub(super) oldest_watchable: u64,
    pub(super) logs: Logs,
    pub(super) sender: broadcast::Sender<StoreEvent>,
}

impl State {
    pub(super) fn new(registry: Registry) -> Self {
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

    pub(super) fn info(&self, key: &ResourceKey) -> Option<&ResourceInfo> {
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
        let shared = Arc::new(object);
        let previous = match event_type {
            EventType::Deleted => {
                if key == &ResourceKey::core("pods") {
                    self.logs.remove_pod(&okey.namespace, &okey.name);
                }
                self.objects
                    .get_mut(key)
                    .and_then(|objects| objects.remove(&okey))
            }
            EventType::Added | EventType::Modified => self
                .objects
                .entry(key.clone())
                .or_default()
                .insert(okey, Arc::clone(&shared)),
        };
        let event = StoreEvent {
            event_type,
            resource: key.clone(),
            object: Arc::clone(&shared),
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
            self.sync_crd(&shared, event_type);
        }
        // The caller's copy; the stored version is shared with the history and the watchers.
        Value::clone(&shared)
    }

    /// Keeps the registry in step with a CRD change; a deleted CRD takes its objects with it.
    /// https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#delete-a-customresourcedefinition
    pub(super) fn sync_crd(&mut self, crd: &Value, event_type: EventType) {
        let Some((group, plural)) = crd::crd_group_plural(crd) else {
            return;
        };
        let being_deleted = crd.pointer("/metadata/deletionTimestamp").is_some();
        if event_type == EventType::Deleted || being_deleted {
            let storage = ResourceKey::new(group.clone(), plural.clone());
            let doomed: Vec<Value> = self
                .objects
                .get(&storage)
                .map(|objects| objects.values().map(|o| Value::clone(o)).collect())
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

    pub(super) fn get(&self, key: &ResourceKey, okey: &ObjectKey) -> Option<&Value> {
        self.objects.get(key)?.get(okey).map(|o| &**o)
    }

    /// The stored version of an object, shared (no copy).
    pub(super) fn get_shared(&self, key: &ResourceKey, okey: &ObjectKey) -> Option<Arc<Value>> {
        self.objects.get(key)?.get(okey).cloned()
    }

    pub(super) fn not_found(key: &ResourceKey, okey: ObjectKey) -> StoreError {
        StoreError::NotFound {
            resource: key.clone(),
            key: okey,
        }
    }

    pub(super) fn create(
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

    pub(super) fn update(
        &mut self,
        key: &ResourceKey,
        mut object: Value,
        scope: Scope,
        opts: WriteOptions,
    ) -> Result<Value, StoreError> {
        let okey = object_key(&object);
        // The stored version, shared: compared in place, copied only for a status write.
        let old = self
            .get_shared(key, &okey)
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
                object = Value::clone(&old);
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
            match old.get("metadata").and_then(|m| m.get(field)) {
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
        if generation && !same_spec(&old, &object) {
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
        let unchanged = same_content(&old, &object);
        if unchanged || opts.dry_run {
            // Unchanged, `object` is the stored version: equal but for the resourceVersion,
            // which it took from the stored one above.
            let stored_version = old.pointer("/metadata/resourceVersion").is_some();
            return Ok(if unchanged && !stored_version {
                Value::clone(&old)
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
    pub(super) fn delete_namespace(&mut self, okey: &ObjectKey, namespace: Value) -> Deletion {
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
pub(super) enum Scope {
    /// The main resource: status is kept from the stored object if there is a status subresource.
    Main,
    /// The `status` subresource: only status changes.
    Status,
    /// Everything (controllers that own a resource without a status subresource).
    Whole,
}
