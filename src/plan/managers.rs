//! Fields taken back from other field managers: with `force`, a server-side apply moves every
//! conflicting field to our manager. Comparing each other manager's field set in the live
//! object with the one in the dry-run result names exactly those fields, so a hand edit
//! (`kubectl edit`, `kubectl scale`) shows up as such in the plan.
//!
//! Field sets are the `fieldsV1` trie described at
//! <https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management>.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The field manager `gitops` applies as.
pub const FIELD_MANAGER: &str = "gitops";

/// Fields one other manager owned before and will not own after the apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Takeover {
    /// The manager that loses the fields (`kubectl-edit`, `kubectl`, `hpa-controller`, …).
    pub manager: String,
    /// Field paths such as `.spec.replicas` or `.spec.template.spec.containers[name=web].image`.
    pub fields: Vec<String>,
}

/// The fields each manager other than ours loses between `live` and `dry_run`
/// (both full objects with `metadata.managedFields`), by manager name.
pub fn takeovers(live: &Value, dry_run: &Value) -> Vec<Takeover> {
    // Only other managers can lose fields: ours is never collected, and the dry-run's field
    // sets are collected only for the managers that owned something before (usually none).
    let before = owned_by_manager(live, |manager| manager != FIELD_MANAGER);
    if before.is_empty() {
        return Vec::new();
    }
    let after = owned_by_manager(dry_run, |manager| before.contains_key(manager));
    let mut out = Vec::new();
    for (manager, fields) in before {
        let kept = after.get(&manager);
        let lost: Vec<String> = fields
            .into_iter()
            .filter(|f| kept.is_none_or(|k| !k.contains(f)))
            .collect();
        if !lost.is_empty() {
            out.push(Takeover {
                manager,
                fields: lost,
            });
        }
    }
    out
}

/// Leaf paths owned per manager (main resource only: `status` subresource entries are skipped,
/// an apply to the main resource cannot take them).
/// Only the managers `wanted` accepts are collected.
fn owned_by_manager(
    object: &Value,
    wanted: impl Fn(&str) -> bool,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let entries = object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array);
    for entry in entries.into_iter().flatten() {
        if entry
            .get("subresource")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
        {
            continue;
        }
        let Some(manager) = entry.get("manager").and_then(Value::as_str) else {
            continue;
        };
        if !wanted(manager) {
            continue;
        }
        let set = out.entry(manager.to_string()).or_default();
        if let Some(fields) = entry.get("fieldsV1") {
            collect_leaves(fields, String::new(), set);
        }
    }
    out
}

fn collect_leaves(node: &Value, path: String, out: &mut BTreeSet<String>) {
    let Some(map) = node.as_object() else { return };
    if (map.is_empty() || map.contains_key(".")) && !path.is_empty() {
        out.insert(path.clone());
    }
    for (key, child) in map {
        if key == "." {
            continue;
        }
        collect_leaves(child, format!("{path}{}", segment(key)), out);
    }
}

/// One `fieldsV1` key as a readable path segment.
fn segment(key: &str) -> String {
    if let Some(field) = key.strip_prefix("f:") {
        format!(".{field}")
    } else if let Some(keys) = key.strip_prefix("k:") {
        // `k:{"name":"web","port":80}` → `[name=web,port=80]`
        match serde_json::from_str::<serde_json::Map<String, Value>>(keys) {
            Ok(map) => {
                let parts: Vec<String> = map
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{k}={}",
                            v.as_str().map_or_else(|| v.to_string(), str::to_string)
                        )
                    })
                    .collect();
                format!("[{}]", parts.join(","))
            }
            Err(_) => format!("[{keys}]"),
        }
    } else if let Some(value) = key.strip_prefix("v:") {
        let value = serde_json::from_str::<Value>(value)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| value.to_string());
        format!("[={value}]")
    } else if let Some(index) = key.strip_prefix("i:") {
        format!("[{index}]")
    } else {
        format!(".{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_fields(entries: Value) -> Value {
        json!({"metadata": {"name": "web", "managedFields": entries}})
    }

    #[test]
    fn names_exactly_the_fields_another_manager_loses() {
        let live = with_fields(json!([
            {"manager": "gitops", "operation": "Apply", "fieldsV1": {"f:spec": {"f:template": {}}}},
            {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:spec": {
                "f:replicas": {},
                "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}}}}}}}},
            {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
             "fieldsV1": {"f:status": {"f:replicas": {}}}}
        ]));
        let dry = with_fields(json!([
            {"manager": "gitops", "operation": "Apply", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
            {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:spec": {
                "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}}}}}}}}
        ]));
        assert_eq!(
            takeovers(&live, &dry),
            vec![Takeover {
                manager: "kubectl-edit".into(),
                fields: vec![".spec.replicas".into()]
            }]
        );
    }

    #[test]
    fn a_manager_that_disappears_loses_all_its_fields() {
        let live = with_fields(json!([{"manager": "kubectl", "operation": "Apply",
            "fieldsV1": {"f:data": {"f:a": {}, "f:b": {}}}}]));
        let dry = with_fields(json!([{"manager": "gitops", "operation": "Apply",
            "fieldsV1": {"f:data": {"f:a": {}, "f:b": {}}}}]));
        let t = takeovers(&live, &dry);
        assert_eq!(t[0].manager, "kubectl");
        assert_eq!(t[0].fields, vec![".data.a", ".data.b"]);
    }

    #[test]
    fn no_conflict_means_no_takeover() {
        let entries = json!([{"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:data": {"f:a": {}}}}]);
        assert!(takeovers(&with_fields(entries.clone()), &with_fields(entries)).is_empty());
    }
}
