//! Owner-reference garbage collection: dependents of deleted owners are deleted, foreground
//! deletions finish when their dependents are gone, orphaning drops owner references.
//!
//! The real collector is asynchronous; here it runs to a fixed point inside the write that made
//! garbage, so the end state is the one a real cluster reaches moments later.
//! https://kubernetes.io/docs/concepts/architecture/garbage-collection/#owners-dependents

use std::collections::HashSet;

use serde_json::Value;

use super::{
    DeleteOptions, EventType, ObjectKey, Propagation, ResourceKey, State, finalizers, meta_str,
    object_key,
};

/// The finalizer that keeps a foreground-deleted owner until its dependents are gone.
/// https://kubernetes.io/docs/concepts/architecture/garbage-collection/#foreground-deletion
pub(crate) const FOREGROUND: &str = "foregroundDeletion";

fn owner_uids(object: &Value) -> Vec<&str> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| refs.iter().filter_map(|r| r.get("uid")?.as_str()).collect())
        .unwrap_or_default()
}

/// Removes owner references to `uid` from every object (`propagationPolicy: Orphan`).
/// https://kubernetes.io/docs/concepts/architecture/garbage-collection/#orphaned-dependents
pub(crate) fn orphan_dependents(state: &mut State, uid: &str) {
    let dependents: Vec<(ResourceKey, Value)> = state
        .objects
        .iter()
        .flat_map(|(k, objects)| {
            objects
                .values()
                .filter(|o| owner_uids(o).contains(&uid))
                .map(move |o| (k.clone(), Value::clone(o)))
        })
        .collect();
    for (key, mut object) in dependents {
        if let Some(refs) = object
            .pointer_mut("/metadata/ownerReferences")
            .and_then(Value::as_array_mut)
        {
            refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid));
            if refs.is_empty()
                && let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut)
            {
                meta.remove("ownerReferences");
            }
        }
        state.commit(EventType::Modified, &key, object);
    }
}

/// What one pass of the collector decided.
enum Action {
    /// Delete a dependent whose owners are all gone (or going, in the foreground).
    Delete(ResourceKey, ObjectKey, Propagation),
    /// A foreground deletion has no dependents left: drop its finalizer.
    Finish(ResourceKey, Value),
}

/// Runs the collector until nothing is left to do.
pub(crate) fn collect(state: &mut State) {
    // Each pass removes at least one object or finalizer, so the number of objects bounds the loop;
    // the extra margin only guards against a bug turning into a hang.
    let bound = state.objects.values().map(|o| o.len()).sum::<usize>() * 2 + 8;
    for _ in 0..bound {
        let actions = plan(state);
        if actions.is_empty() {
            return;
        }
        for action in actions {
            match action {
                Action::Delete(key, okey, propagation) => {
                    // The object may have gone in this pass already; that is fine.
                    let opts = DeleteOptions {
                        propagation,
                        ..DeleteOptions::default()
                    };
                    let _ = state.delete_object(&key, &okey, &opts);
                }
                Action::Finish(key, mut object) => {
                    if let Some(list) = object
                        .pointer_mut("/metadata/finalizers")
                        .and_then(Value::as_array_mut)
                    {
                        list.retain(|f| f.as_str() != Some(FOREGROUND));
                    }
                    if finalizers(&object).is_empty() {
                        state.commit(EventType::Deleted, &key, object);
                    } else {
                        state.commit(EventType::Modified, &key, object);
                    }
                }
            }
        }
    }
}

fn plan(state: &State) -> Vec<Action> {
    let mut live: HashSet<&str> = HashSet::new();
    let mut foreground: HashSet<&str> = HashSet::new();
    let mut owners_with_dependents: HashSet<&str> = HashSet::new();
    for object in state.objects.values().flat_map(|o| o.values()) {
        if let Some(uid) = meta_str(object, "uid") {
            live.insert(uid);
            if object.pointer("/metadata/deletionTimestamp").is_some()
                && finalizers(object).iter().any(|f| f == FOREGROUND)
            {
                foreground.insert(uid);
            }
        }
        owners_with_dependents.extend(owner_uids(object));
    }
    let mut actions = Vec::new();
    for (key, objects) in &state.objects {
        for object in objects.values() {
            let owners = owner_uids(object);
            let being_deleted = object.pointer("/metadata/deletionTimestamp").is_some();
            if !owners.is_empty() && !being_deleted {
                if owners.iter().all(|uid| !live.contains(uid)) {
                    actions.push(Action::Delete(
                        key.clone(),
                        object_key(object),
                        Propagation::Background,
                    ));
                    continue;
                }
                // A dependent of a foreground deletion is deleted in the foreground too, once every
                // owner it has is gone or going.
                if owners
                    .iter()
                    .all(|uid| !live.contains(uid) || foreground.contains(uid))
                {
                    actions.push(Action::Delete(
                        key.clone(),
                        object_key(object),
                        Propagation::Foreground,
                    ));
                    continue;
                }
            }
            if let Some(uid) = meta_str(object, "uid")
                && foreground.contains(uid)
                && !owners_with_dependents.contains(uid)
            {
                actions.push(Action::Finish(key.clone(), Value::clone(object)));
            }
        }
    }
    actions
}
