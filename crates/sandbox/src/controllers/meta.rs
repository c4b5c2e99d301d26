//! Small readers and builders of object metadata the controllers share: owner references,
//! label selectors, resource keys, the hash and name helpers the real controllers use.

use serde_json::{Map, Value, json};

use crate::store::ResourceKey;

/// The resources the controllers read and write.
pub mod keys {
    use crate::store::ResourceKey;

    /// `pods`.
    pub fn pods() -> ResourceKey {
        ResourceKey::core("pods")
    }
    /// `nodes`.
    pub fn nodes() -> ResourceKey {
        ResourceKey::core("nodes")
    }
    /// `events` (core v1).
    pub fn events() -> ResourceKey {
        ResourceKey::core("events")
    }
    /// `services`.
    pub fn services() -> ResourceKey {
        ResourceKey::core("services")
    }
    /// `endpoints`.
    pub fn endpoints() -> ResourceKey {
        ResourceKey::core("endpoints")
    }
    /// `persistentvolumes`.
    pub fn persistent_volumes() -> ResourceKey {
        ResourceKey::core("persistentvolumes")
    }
    /// `persistentvolumeclaims`.
    pub fn persistent_volume_claims() -> ResourceKey {
        ResourceKey::core("persistentvolumeclaims")
    }
    /// `configmaps`.
    pub fn config_maps() -> ResourceKey {
        ResourceKey::core("configmaps")
    }
    /// `secrets`.
    pub fn secrets() -> ResourceKey {
        ResourceKey::core("secrets")
    }
    /// `storageclasses`.
    pub fn storage_classes() -> ResourceKey {
        ResourceKey::new("storage.k8s.io", "storageclasses")
    }
    /// `deployments`.
    pub fn deployments() -> ResourceKey {
        ResourceKey::new("apps", "deployments")
    }
    /// `replicasets`.
    pub fn replica_sets() -> ResourceKey {
        ResourceKey::new("apps", "replicasets")
    }
    /// `statefulsets`.
    pub fn stateful_sets() -> ResourceKey {
        ResourceKey::new("apps", "statefulsets")
    }
    /// `daemonsets`.
    pub fn daemon_sets() -> ResourceKey {
        ResourceKey::new("apps", "daemonsets")
    }
    /// `jobs`.
    pub fn jobs() -> ResourceKey {
        ResourceKey::new("batch", "jobs")
    }
}

/// `metadata.name`.
pub fn name(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `metadata.namespace` (`""` for cluster-scoped objects).
pub fn namespace(object: &Value) -> &str {
    object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `metadata.uid`.
pub fn uid(object: &Value) -> &str {
    object
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `metadata.generation` (0 when absent).
pub fn generation(object: &Value) -> i64 {
    object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// Is the object being deleted (`metadata.deletionTimestamp` set)?
pub fn is_terminating(object: &Value) -> bool {
    object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

/// An integer at a JSON pointer, or `default`.
pub fn int_at(object: &Value, pointer: &str, default: i64) -> i64 {
    object
        .pointer(pointer)
        .and_then(Value::as_i64)
        .unwrap_or(default)
}

/// A string at a JSON pointer.
pub fn str_at<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    object.pointer(pointer).and_then(Value::as_str)
}

/// `metadata.labels` as a map (empty when absent).
pub fn labels(object: &Value) -> Map<String, Value> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// The uid of the object's controller (the owner reference with `controller: true`).
/// https://kubernetes.io/docs/concepts/overview/working-with-objects/owners-dependents/
pub fn controller_uid(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))?
        .get("uid")?
        .as_str()
}

/// Is `object` controlled by `owner`?
pub fn is_controlled_by(object: &Value, owner: &Value) -> bool {
    controller_uid(object).is_some_and(|u| u == uid(owner))
}

/// The owner reference a controller puts on what it creates.
pub fn controller_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner.get("apiVersion").cloned().unwrap_or(Value::Null),
        "kind": owner.get("kind").cloned().unwrap_or(Value::Null),
        "name": name(owner),
        "uid": uid(owner),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// Does a `LabelSelector` object (`matchLabels`, `matchExpressions`) select these labels? An
/// empty selector selects everything; a null one nothing.
/// https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#resources-that-support-set-based-requirements
pub fn selector_matches(selector: &Value, labels: &Map<String, Value>) -> bool {
    if selector.is_null() {
        return false;
    }
    let label = |k: &str| labels.get(k).and_then(Value::as_str);
    if let Some(match_labels) = selector.get("matchLabels").and_then(Value::as_object)
        && match_labels.iter().any(|(k, v)| label(k) != v.as_str())
    {
        return false;
    }
    let expressions = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    expressions.iter().all(|e| {
        let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        match e
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "In" => label(key).is_some_and(|v| values.contains(&v)),
            "NotIn" => label(key).is_none_or(|v| !values.contains(&v)),
            "Exists" => label(key).is_some(),
            "DoesNotExist" => label(key).is_none(),
            _ => false,
        }
    })
}

/// A plain `key: value` map selector (Services, nodeSelector) against labels; empty selects all.
pub fn map_selector_matches(selector: &Map<String, Value>, labels: &Map<String, Value>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// FNV-1a, 32 bits: the hash the controllers use for `pod-template-hash` and
/// `controller-revision-hash` (`k8s.io/kubernetes/pkg/util/hash`).
pub fn fnv32a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, b| {
        (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// A hash written in the API machinery's "safe" alphabet (no vowels, no look-alikes), as
/// `rand.SafeEncodeString(fmt.Sprint(hash))` does for `pod-template-hash`: each decimal digit
/// becomes one letter, so hashes are 9 or 10 characters long like the real ones.
/// https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#pod-template-hash-label
pub fn safe_encode(value: u32) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    value
        .to_string()
        .bytes()
        .map(|b| char::from(ALPHABET[usize::from(b) % ALPHABET.len()]))
        .collect()
}

/// The hash of a pod template (with a collision count), as the Deployment and ReplicaSet
/// controllers compute `pod-template-hash`: FNV-32a over the template, safe-encoded.
pub fn template_hash(template: &Value, collision_count: i64) -> String {
    let text = serde_json::to_string(template).unwrap_or_default();
    let mut bytes = text.into_bytes();
    if collision_count > 0 {
        bytes.extend_from_slice(collision_count.to_string().as_bytes());
    }
    safe_encode(fnv32a(&bytes))
}

/// Quantity as bytes, for comparing storage sizes (`32Gi`, `500M`, `1e9`).
/// https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
pub fn quantity_bytes(text: &str) -> Option<f64> {
    let text = text.trim();
    let suffixes: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1024.0_f64.powi(2)),
        ("Gi", 1024.0_f64.powi(3)),
        ("Ti", 1024.0_f64.powi(4)),
        ("Pi", 1024.0_f64.powi(5)),
        ("Ei", 1024.0_f64.powi(6)),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
        ("m", 1e-3),
    ];
    for (suffix, factor) in suffixes {
        if let Some(number) = text.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    text.parse().ok()
}

/// Writes `value` at `object[key]`, creating the map if needed.
pub fn set(object: &mut Value, key: &str, value: Value) {
    if let Some(map) = object.as_object_mut() {
        map.insert(key.to_owned(), value);
    }
}

/// The resource key of a workload kind, for owners named in owner references.
pub fn key_of_kind(kind: &str) -> Option<ResourceKey> {
    Some(match kind {
        "Deployment" => keys::deployments(),
        "ReplicaSet" => keys::replica_sets(),
        "StatefulSet" => keys::stateful_sets(),
        "DaemonSet" => keys::daemon_sets(),
        "Job" => keys::jobs(),
        "Pod" => keys::pods(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_match_like_the_api() {
        let labels = json!({"app": "web", "tier": "front"})
            .as_object()
            .cloned()
            .unwrap();
        assert!(selector_matches(
            &json!({"matchLabels": {"app": "web"}}),
            &labels
        ));
        assert!(!selector_matches(
            &json!({"matchLabels": {"app": "db"}}),
            &labels
        ));
        assert!(selector_matches(&json!({}), &labels));
        assert!(!selector_matches(&Value::Null, &labels));
        let expr = json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}, {"key": "x", "operator": "DoesNotExist"}]});
        assert!(selector_matches(&expr, &labels));
        let expr =
            json!({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]});
        assert!(!selector_matches(&expr, &labels));
    }

    #[test]
    fn hashes_and_quantities() {
        // FNV-1a test vector: "a" -> 0xe40c292c.
        assert_eq!(fnv32a(b"a"), 0xe40c_292c);
        let hash = template_hash(
            &json!({"spec": {"containers": [{"name": "a", "image": "x"}]}}),
            0,
        );
        assert!(
            hash.chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
            "{hash}"
        );
        assert_ne!(
            hash,
            template_hash(
                &json!({"spec": {"containers": [{"name": "a", "image": "y"}]}}),
                0
            )
        );
        assert_eq!(
            quantity_bytes("32Gi"),
            Some(32.0 * 1024.0 * 1024.0 * 1024.0)
        );
        assert_eq!(quantity_bytes("1G"), Some(1e9));
        assert!(quantity_bytes("32Gi").unwrap() > quantity_bytes("30G").unwrap());
    }
}
