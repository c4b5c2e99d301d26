//! Normalisation: strip what the server owns so that a live object and a dry-run result compare
//! on what a user declared.
//!
//! What is dropped, and why (see <https://kubernetes.io/docs/reference/using-api/api-concepts/>
//! and <https://kubernetes.io/docs/reference/labels-annotations-taints/>):
//! `managedFields`, `resourceVersion`, `generation`, `uid`, `creationTimestamp`, `selfLink` are
//! server bookkeeping that changes on every write; `status` is written by controllers; the
//! annotations below are written by controllers or by kubectl, never by a manifest author.

use serde_json::{Map, Value};

/// Metadata fields only the API server writes.
const SERVER_METADATA: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
];

/// Annotations written by controllers or client tools, not by the manifests.
pub const SERVER_ANNOTATIONS: &[&str] = &[
    "deployment.kubernetes.io/revision",
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubectl.kubernetes.io/restartedAt",
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "pv.kubernetes.io/provisioned-by",
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/selected-node",
];

/// A copy of `object` without server-owned fields; empty `annotations`/`labels` maps are dropped
/// too, so "no annotations" and "only server annotations" compare equal.
pub fn normalize(object: &Value) -> Value {
    normalize_owned(object.clone())
}

/// [`normalize`] in place, for a value the caller no longer needs as it was.
pub fn normalize_owned(object: Value) -> Value {
    let mut out = object;
    let Some(root) = out.as_object_mut() else {
        return out;
    };
    root.remove("status");
    if let Some(Value::Object(meta)) = root.get_mut("metadata") {
        for field in SERVER_METADATA {
            meta.remove(*field);
        }
        if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
            for key in SERVER_ANNOTATIONS {
                annotations.remove(*key);
            }
        }
        drop_if_empty(meta, "annotations");
        drop_if_empty(meta, "labels");
    }
    out
}

fn drop_if_empty(map: &mut Map<String, Value>, key: &str) {
    let empty = match map.get(key) {
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Null) => true,
        _ => false,
    };
    if empty {
        map.remove(key);
    }
}

/// Remove from `after` the fields that appear neither in `before` (the live object) nor in
/// `declared` (what the manifest says): on an update they can only come from server defaulting
/// of a newly added part (a new container's `terminationMessagePath`, …), and a field only the
/// server defaulted must never show as a change.
///
/// Lists are matched item by item on `name` when every item has one (containers, ports, env),
/// otherwise by position.
pub fn strip_new_defaults(after: &mut Value, before: Option<&Value>, declared: Option<&Value>) {
    match after {
        Value::Object(map) => map.retain(|key, child| {
            let b = before.and_then(|b| b.get(key));
            let d = declared.and_then(|d| d.get(key));
            if b.is_none() && d.is_none() {
                return false;
            }
            strip_new_defaults(child, b, d);
            true
        }),
        Value::Array(items) => {
            let by_name = items
                .iter()
                .all(|i| i.get("name").and_then(Value::as_str).is_some());
            for (index, item) in items.iter_mut().enumerate() {
                let (b, d) = if by_name {
                    let name = item.get("name");
                    (find_named(before, name), find_named(declared, name))
                } else {
                    (
                        before.and_then(|b| b.get(index)),
                        declared.and_then(|d| d.get(index)),
                    )
                };
                // An item in neither side is a server-added item (rare); keep it whole, since
                // dropping list items would misrepresent the object.
                if b.is_some() || d.is_some() {
                    strip_new_defaults(item, b, d);
                }
            }
        }
        _ => {}
    }
}

fn find_named<'a>(list: Option<&'a Value>, name: Option<&Value>) -> Option<&'a Value> {
    let name = name?;
    list?
        .as_array()?
        .iter()
        .find(|i| i.get("name") == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drops_server_bookkeeping_status_and_server_annotations() {
        let live = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "name": "web", "namespace": "qa", "uid": "u-1", "resourceVersion": "42",
                "generation": 3, "creationTimestamp": "2026-01-01T00:00:00Z",
                "managedFields": [{"manager": "gitops"}],
                "annotations": {"deployment.kubernetes.io/revision": "3"},
                "labels": {"app": "web"}
            },
            "spec": {"replicas": 2},
            "status": {"readyReplicas": 2}
        });
        assert_eq!(
            normalize(&live),
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "qa", "labels": {"app": "web"}},
                "spec": {"replicas": 2}
            })
        );
    }

    #[test]
    fn keeps_user_annotations() {
        let obj = json!({"metadata": {"name": "a", "annotations": {"team": "x",
            "kubectl.kubernetes.io/last-applied-configuration": "{}"}}});
        assert_eq!(
            normalize(&obj),
            json!({"metadata": {"name": "a", "annotations": {"team": "x"}}})
        );
    }

    #[test]
    fn defaults_of_a_new_container_are_stripped_but_declared_and_live_fields_stay() {
        let live = json!({"spec": {"containers": [
            {"name": "web", "image": "web:1", "imagePullPolicy": "IfNotPresent"}]}});
        let declared = json!({"spec": {"containers": [
            {"name": "web", "image": "web:2"}, {"name": "side", "image": "side:1"}]}});
        let mut after = json!({"spec": {"containers": [
            {"name": "web", "image": "web:2", "imagePullPolicy": "IfNotPresent"},
            {"name": "side", "image": "side:1", "imagePullPolicy": "IfNotPresent",
             "terminationMessagePath": "/dev/termination-log"}]}});
        strip_new_defaults(&mut after, Some(&live), Some(&declared));
        assert_eq!(
            after,
            json!({"spec": {"containers": [
                {"name": "web", "image": "web:2", "imagePullPolicy": "IfNotPresent"},
                {"name": "side", "image": "side:1"}]}})
        );
    }
}
