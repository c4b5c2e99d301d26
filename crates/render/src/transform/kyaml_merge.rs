//! kustomize's flavour of strategic merge (kyaml `merge2`), used by `patches` and
//! `patchesStrategicMerge`. It differs from the API server's (which
//! `gitops_manifest::strategic_merge` implements for the sandbox) in ways a build shows:
//! merged lists put the patch's items first (kustomize merges with "list prepend"), items
//! are matched by the `x-kubernetes-list-map-keys` when a list has them (container ports by
//! port and protocol, a missing key matching anything when items are set back), lists
//! without merge keys are replaced by the patch list as written (lists of custom resources
//! and unknown fields included: kyaml infers no key, whatever the items hold).
//! The merge keys come from the shared schema table in `gitops_manifest::merge_keys`, minus
//! the fields kustomize's own built-in schema (Kubernetes v1.21) does not know yet.

use gitops_manifest::merge_keys::{FieldSchema, Gvk, SmpStrategy, SsaListType, TypeSchema, root};
use serde_json::{Map, Value};

const PATCH: &str = "$patch";

/// Keyed lists of newer Kubernetes versions than the OpenAPI schema built into kustomize
/// v5.5 (v1.21): kustomize has no merge key for them and replaces them with the patch's list
/// (checked against `kubectl kustomize`; e.g. `PodSpec.schedulingGates` and
/// `PodSpec.resourceClaims`, both v1.26), while `ephemeralContainers` (v1.16) merges.
const NEWER_THAN_KUSTOMIZE_SCHEMA: &[(&str, &str)] = &[
    ("PodSpec", "schedulingGates"),
    ("PodSpec", "resourceClaims"),
];

/// Merge `patch` into `target` (an object of kind `gvk`). `None`: the object is deleted.
pub fn merge(
    target: &Map<String, Value>,
    patch: &Map<String, Value>,
    gvk: &Gvk,
) -> Result<Option<Map<String, Value>>, String> {
    merge_map(Some(target), patch, root(gvk))
}

fn directive(m: &Map<String, Value>) -> Option<&str> {
    m.get(PATCH).and_then(Value::as_str)
}

fn without_directive(m: &Map<String, Value>) -> Map<String, Value> {
    let mut out = m.clone();
    out.remove(PATCH);
    out
}

fn merge_map(
    dest: Option<&Map<String, Value>>,
    patch: &Map<String, Value>,
    ty: Option<TypeSchema>,
) -> Result<Option<Map<String, Value>>, String> {
    match directive(patch) {
        Some("delete") => return Ok(None),
        Some("replace") => return Ok(Some(without_directive(patch))),
        Some("merge") | None => {}
        Some(other) => return Err(format!("unknown `$patch: {other}`")),
    }
    let mut out = dest.cloned().unwrap_or_default();
    for (k, pv) in patch {
        if k == PATCH {
            continue;
        }
        let field = match ty {
            Some(t) if !NEWER_THAN_KUSTOMIZE_SCHEMA.contains(&(t.name(), k.as_str())) => t.field(k),
            _ => FieldSchema::UNKNOWN,
        };
        match pv {
            Value::Null => {
                out.remove(k);
            }
            Value::Object(pm) => {
                let dm = out.get(k).and_then(Value::as_object);
                match merge_map(dm, pm, field.child())? {
                    Some(m) => {
                        out.insert(k.clone(), Value::Object(m));
                    }
                    None => {
                        out.remove(k);
                    }
                }
            }
            Value::Array(pl) => {
                let merged = match out.get(k) {
                    Some(Value::Array(dl)) => merge_list(dl, pl, field)?,
                    _ => merge_list(&[], pl, field)?,
                };
                out.insert(k.clone(), Value::Array(merged));
            }
            scalar => {
                out.insert(k.clone(), scalar.clone());
            }
        }
    }
    Ok(Some(out))
}

/// The keys items of this list are matched by, if it is an associative list.
fn list_keys(field: FieldSchema) -> Option<Vec<&'static str>> {
    if let Some(SsaListType::Map(keys)) = field.ssa
        && matches!(field.smp, Some(SmpStrategy::MergeByKey(_)))
    {
        return Some(keys.to_vec());
    }
    if let Some(SmpStrategy::MergeByKey(k)) = field.smp {
        return Some(vec![k]);
    }
    // No merge key in the schema (or no schema: custom resources, unknown fields): kustomize
    // replaces the list, even when every item has a `name`.
    None
}

fn key_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn values_of(item: &Value, keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| key_text(item.get(*k))).collect()
}

fn merge_list(dest: &[Value], patch: &[Value], field: FieldSchema) -> Result<Vec<Value>, String> {
    let Some(keys) = list_keys(field) else {
        // Not associative: the patch's list, as written, replaces the original.
        return Ok(patch.to_vec());
    };
    // Key tuples: the patch's first, then the original's (kustomize merges with "prepend").
    let mut order: Vec<Vec<String>> = Vec::new();
    for item in patch.iter().chain(dest) {
        let v = values_of(item, &keys);
        if v.iter().all(String::is_empty) || order.contains(&v) {
            continue;
        }
        order.push(v);
    }
    let child = field.child();
    let mut items: Vec<(Vec<String>, Value)> = Vec::new();
    for values in order {
        let d = dest.iter().find(|i| values_of(i, &keys) == values);
        let p = patch.iter().find(|i| values_of(i, &keys) == values);
        let merged = match (d, p) {
            (_, Some(Value::Object(pm))) => {
                merge_map(d.and_then(Value::as_object), pm, child)?.map(Value::Object)
            }
            (_, Some(other)) => Some(other.clone()),
            (Some(dv), None) => Some(dv.clone()),
            (None, None) => None,
        };
        let Some(merged) = merged else {
            continue;
        };
        // Set the item back: an item already placed whose keys match its non-empty keys is
        // removed, and the item is appended (kyaml's ElementSetter, as kustomize behaves).
        items.retain(|(_, placed)| {
            !keys
                .iter()
                .zip(&values)
                .all(|(k, v)| v.is_empty() || key_text(placed.get(*k)) == *v)
        });
        items.push((values, merged));
    }
    Ok(items.into_iter().map(|(_, v)| v).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Gvk {
        Gvk::new("apps", "v1", "Deployment")
    }

    fn run(target: Value, patch: Value) -> Value {
        let out = merge(
            target.as_object().unwrap(),
            patch.as_object().unwrap(),
            &deployment(),
        )
        .unwrap();
        Value::Object(out.unwrap())
    }

    #[test]
    fn patch_items_come_first_then_the_originals() {
        let t = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a"}, {"name": "b", "image": "b"}]}}}});
        let p = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "new", "image": "n"}, {"name": "b", "image": "b2"}]}}}});
        let out = run(t, p);
        let names: Vec<&str> = out["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["new", "b", "a"]);
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"][1]["image"],
            "b2"
        );
    }

    #[test]
    fn lists_without_merge_keys_are_replaced_as_written() {
        let t = json!({"spec": {"template": {"spec": {"tolerations": [{"key": "a"}]}}}});
        let p = json!({"spec": {"template": {"spec": {"tolerations": [{"$patch": "replace"}, {"key": "b"}]}}}});
        let out = run(t, p);
        assert_eq!(
            out["spec"]["template"]["spec"]["tolerations"],
            json!([{"$patch": "replace"}, {"key": "b"}])
        );
    }

    #[test]
    fn lists_of_custom_resources_are_replaced_even_with_names() {
        let t = json!({"spec": {"items": [{"name": "a", "v": 1}, {"name": "b"}]}});
        let p = json!({"spec": {"items": [{"name": "c"}]}});
        let out = merge(
            t.as_object().unwrap(),
            p.as_object().unwrap(),
            &Gvk::new("example.com", "v1", "Thing"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(out["spec"]["items"], json!([{"name": "c"}]));
    }

    #[test]
    fn lists_newer_than_kustomizes_schema_are_replaced() {
        let t = json!({"spec": {"template": {"spec": {
            "schedulingGates": [{"name": "a"}], "imagePullSecrets": [{"name": "a"}]}}}});
        let p = json!({"spec": {"template": {"spec": {
            "schedulingGates": [{"name": "b"}], "imagePullSecrets": [{"name": "b"}]}}}});
        let out = run(t, p);
        let spec = &out["spec"]["template"]["spec"];
        assert_eq!(spec["schedulingGates"], json!([{"name": "b"}]));
        assert_eq!(
            spec["imagePullSecrets"],
            json!([{"name": "b"}, {"name": "a"}])
        );
    }

    #[test]
    fn delete_directives_remove_items_and_objects() {
        let t =
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}}});
        let p = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}}});
        let out = run(t.clone(), p);
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{"name": "b"}])
        );
        let gone = merge(
            t.as_object().unwrap(),
            json!({"$patch": "delete"}).as_object().unwrap(),
            &deployment(),
        )
        .unwrap();
        assert!(gone.is_none());
    }
}
