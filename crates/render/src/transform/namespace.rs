//! `namespace:`: set the namespace of every namespaced object, rename `Namespace` objects,
//! and update role-binding subjects named `default` (kustomize's namespace filter).

use serde_json::Value;

use crate::fieldspec::{FieldSpec, Leaf, walk};
use crate::resmap::ResMap;
use crate::resource::Resource;

fn set_ns(node: &mut Value, ns: &str) -> Result<(), String> {
    match node {
        Value::Null | Value::String(_) => {
            *node = Value::String(ns.to_string());
            Ok(())
        }
        _ => Err("namespace field specs must target scalar nodes".into()),
    }
}

/// Apply the namespace to one object; `extra` are field specs from `configurations`.
fn apply(r: &mut Resource, ns: &str, extra: &[FieldSpec]) -> Result<(), String> {
    let (group, version) = r.group_version();
    let (group, version) = (group.to_string(), version.to_string());
    let kind = r.kind().to_string();
    if !crate::resource::is_cluster_scoped(&group, &kind) {
        r.set_namespace(ns);
    }
    if kind == "Namespace" && r.api_version() == "v1" {
        r.set_name(ns);
    }
    if (kind == "RoleBinding" || kind == "ClusterRoleBinding")
        && let Some(Value::Array(subjects)) = r.obj.get_mut("subjects")
    {
        for s in subjects.iter_mut().filter_map(Value::as_object_mut) {
            if s.get("name").and_then(Value::as_str) == Some("default") {
                s.insert("namespace".into(), Value::String(ns.to_string()));
            }
        }
    }
    let mut node = Value::Object(std::mem::take(&mut r.obj));
    let mut result = Ok(());
    if group == "apiregistration.k8s.io" && kind == "APIService" {
        let segs = vec!["spec".to_string(), "service".into(), "namespace".into()];
        result = walk(&mut node, &segs, Some(Leaf::Scalar), &mut |n| set_ns(n, ns));
    }
    if result.is_ok() && group == "apiextensions.k8s.io" && kind == "CustomResourceDefinition" {
        let segs: Vec<String> = "spec/conversion/webhook/clientConfig/service/namespace"
            .split('/')
            .map(String::from)
            .collect();
        result = walk(&mut node, &segs, None, &mut |n| set_ns(n, ns));
    }
    for spec in extra
        .iter()
        .filter(|s| s.gvk.selects(&group, &version, &kind))
    {
        if result.is_err() {
            break;
        }
        if spec.path == "metadata/namespace" || spec.path == "metadata/name" {
            continue;
        }
        result = walk(
            &mut node,
            &spec.segments,
            spec.create.then_some(Leaf::Scalar),
            &mut |n| set_ns(n, ns),
        );
    }
    if let Value::Object(m) = node {
        r.obj = m;
    }
    result
}

/// Set `ns` on every object; two objects ending with the same id is an error (message).
pub fn transform(res: &mut ResMap, ns: &str, extra: &[FieldSpec]) -> Result<(), String> {
    if ns.is_empty() {
        return Ok(());
    }
    for r in res.iter_mut() {
        r.store_prev_id();
        apply(r, ns, extra).map_err(|e| format!("{}: {e}", r.cur_id()))?;
    }
    let mut seen = std::collections::HashSet::new();
    for r in res.iter() {
        let id = r.cur_id();
        if !seen.insert((
            id.group.clone(),
            id.version.clone(),
            id.kind.clone(),
            id.namespace.clone(),
            id.name.clone(),
        )) {
            return Err(format!(
                "namespace transformation produces ID conflict: two objects become {id}"
            ));
        }
    }
    Ok(())
}
