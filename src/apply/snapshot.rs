//! The rollback snapshot: every object an apply will change or delete, as it was before, and
//! the pure plan that puts them back.

use std::collections::BTreeMap;

use gitops_manifest::ObjectRef;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::plan::order::{apply_key, sort_for_delete};

/// The state before an apply of every object it will create, update or delete.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Keyed by id, so the record is deterministic. Written as a list of
    /// `{object, live}` entries: JSON map keys must be strings.
    #[serde(with = "entries")]
    pub objects: BTreeMap<ObjectRef, Option<Value>>,
}

mod entries {
    use std::collections::BTreeMap;

    use gitops_manifest::ObjectRef;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;

    #[derive(Serialize, Deserialize)]
    struct Entry {
        object: ObjectRef,
        live: Option<Value>,
    }

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<ObjectRef, Option<Value>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let list: Vec<Entry> = map
            .iter()
            .map(|(object, live)| Entry {
                object: object.clone(),
                live: live.clone(),
            })
            .collect();
        list.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<ObjectRef, Option<Value>>, D::Error> {
        let list = Vec::<Entry>::deserialize(d)?;
        Ok(list.into_iter().map(|e| (e.object, e.live)).collect())
    }
}

/// One step that undoes part of an apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum RollbackStep {
    /// Put an object that existed back as it was (a full replace, so fields the failed apply
    /// added are removed as well).
    Restore {
        /// The object.
        object: ObjectRef,
        /// Its content before the apply, ready to send.
        content: Value,
    },
    /// Create again an object the apply pruned.
    Recreate {
        /// The object.
        object: ObjectRef,
        /// Its content before the apply, ready to send.
        content: Value,
    },
    /// Delete an object the apply created.
    Delete {
        /// The object.
        object: ObjectRef,
    },
}

impl RollbackStep {
    /// The object the step is about.
    pub fn object(&self) -> &ObjectRef {
        match self {
            Self::Restore { object, .. }
            | Self::Recreate { object, .. }
            | Self::Delete { object } => object,
        }
    }

    /// `restore`, `recreate`, `delete`.
    pub fn verb(&self) -> &'static str {
        match self {
            Self::Restore { .. } => "restore",
            Self::Recreate { .. } => "recreate",
            Self::Delete { .. } => "delete",
        }
    }
}

impl Snapshot {
    /// Record an object's state before the apply.
    pub fn insert(&mut self, object: ObjectRef, live: Option<Value>) {
        self.objects.insert(object, live);
    }

    /// The steps that undo an apply which touched `touched` (applied or pruned objects):
    /// restores and re-creations first, in apply order (a Namespace before what lives in it),
    /// then deletions of created objects in delete order (workloads before their ConfigMaps).
    /// Objects the apply never reached are left alone: they still are as the snapshot says.
    pub fn rollback_steps(&self, touched: &[ObjectRef], pruned: &[ObjectRef]) -> Vec<RollbackStep> {
        let mut puts = Vec::new();
        let mut deletes = Vec::new();
        for object in touched {
            let Some(before) = self.objects.get(object) else {
                continue;
            };
            match before {
                Some(live) if pruned.contains(object) => puts.push(RollbackStep::Recreate {
                    object: object.clone(),
                    content: for_create(live),
                }),
                Some(live) => puts.push(RollbackStep::Restore {
                    object: object.clone(),
                    content: for_replace(live),
                }),
                None => deletes.push(object.clone()),
            }
        }
        puts.sort_by(|a, b| apply_key(a.object()).cmp(&apply_key(b.object())));
        sort_for_delete(&mut deletes);
        puts.into_iter()
            .chain(
                deletes
                    .into_iter()
                    .map(|object| RollbackStep::Delete { object }),
            )
            .collect()
    }
}

/// Metadata the server owns or that would pin a write to a version that no longer exists.
const SERVER_METADATA: &[&str] = &[
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
];

/// An earlier object ready to be written back over the current one with a replace (PUT): the
/// status and server-owned metadata dropped; `uid` and `managedFields` kept, so the object is
/// the same one with the same field ownership as before
/// (<https://kubernetes.io/docs/reference/using-api/server-side-apply/#clearing-managedfields>).
pub fn for_replace(live: &Value) -> Value {
    let mut v = live.clone();
    if let Some(obj) = v.as_object_mut() {
        obj.remove("status");
    }
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in SERVER_METADATA {
            meta.remove(*key);
        }
    }
    v
}

/// An earlier object ready to be created again: as [`for_replace`], without the `uid` (a new
/// object gets a new one) and `managedFields` (the server records the creator).
pub fn for_create(live: &Value) -> Value {
    let mut v = for_replace(live);
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("uid");
        meta.remove("managedFields");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(kind: &str, name: &str) -> ObjectRef {
        let group = if kind == "Deployment" { "apps" } else { "" };
        ObjectRef::new(group, None, kind, Some("qa".into()), name)
    }

    fn live(kind: &str, name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": kind,
               "metadata": {"name": name, "namespace": "qa", "uid": "u", "resourceVersion": "7",
                            "generation": 3, "creationTimestamp": "2026-01-01T00:00:00Z",
                            "managedFields": [{"manager": "gitops"}]},
               "spec": {"x": 1}, "status": {"y": 2}})
    }

    #[test]
    fn restores_recreates_then_deletes_in_order() {
        let mut snap = Snapshot::default();
        snap.insert(id("Deployment", "web"), Some(live("Deployment", "web")));
        snap.insert(id("ConfigMap", "new"), None);
        snap.insert(id("Deployment", "new"), None);
        snap.insert(id("Service", "old"), Some(live("Service", "old")));
        snap.insert(
            id("ConfigMap", "untouched"),
            Some(live("ConfigMap", "untouched")),
        );
        let touched = [
            id("ConfigMap", "new"),
            id("Deployment", "new"),
            id("Deployment", "web"),
            id("Service", "old"),
        ];
        let steps = snap.rollback_steps(&touched, &[id("Service", "old")]);
        let summary: Vec<String> = steps
            .iter()
            .map(|s| format!("{} {}", s.verb(), s.object()))
            .collect();
        assert_eq!(
            summary,
            [
                "recreate Service qa/old",
                "restore apps/Deployment qa/web",
                "delete apps/Deployment qa/new",
                "delete ConfigMap qa/new",
            ]
        );
        let RollbackStep::Restore { content, .. } = &steps[1] else {
            panic!("restore")
        };
        assert_eq!(content["metadata"]["uid"], "u");
        assert!(content.get("status").is_none());
        assert!(content["metadata"].get("resourceVersion").is_none());
        assert_eq!(content["spec"]["x"], 1);
        let RollbackStep::Recreate { content, .. } = &steps[0] else {
            panic!("recreate")
        };
        assert!(content["metadata"].get("uid").is_none());
        assert!(content["metadata"].get("managedFields").is_none());
    }
}
