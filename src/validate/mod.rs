//! Offline validation (`gitops validate`, and the plan for objects the server cannot dry-run
//! yet): built-in kinds against the Kubernetes schema (`gitops_manifest::schema`), custom
//! resources against the `openAPIV3Schema` of the CRDs in the same render.

pub mod crd;

use std::collections::BTreeMap;

use gitops_manifest::ObjectRef;
use gitops_manifest::schema::Issue;
use serde_json::Value;

use crate::output::ci::Annotation;
use crate::plan::sources::Sources;

/// One problem of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The object.
    pub object: ObjectRef,
    /// What is wrong, at which field.
    pub issue: Issue,
}

/// The `openAPIV3Schema` of every (group, version, kind) served by a CRD among `objects`.
fn crd_schemas(objects: &[Value]) -> BTreeMap<(String, String, String), Value> {
    let mut out = BTreeMap::new();
    for crd in objects {
        if crd.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
            continue;
        }
        let Some(spec) = crd.get("spec") else {
            continue;
        };
        let (Some(group), Some(kind)) = (
            spec.get("group").and_then(Value::as_str),
            spec.pointer("/names/kind").and_then(Value::as_str),
        ) else {
            continue;
        };
        for version in spec
            .get("versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(name), Some(schema)) = (
                version.get("name").and_then(Value::as_str),
                version.pointer("/schema/openAPIV3Schema"),
            ) else {
                continue;
            };
            out.insert(
                (group.to_string(), name.to_string(), kind.to_string()),
                schema.clone(),
            );
        }
    }
    out
}

/// A problem as an annotation naming the object, its file and line (when `sources` knows
/// them), and the field.
pub fn annotation(sources: &Sources, object: &ObjectRef, issue: &Issue) -> Annotation {
    let found = sources.find(object);
    let where_ = match &found {
        Some(s) => format!("`{object}` (from `{}`)", s.file),
        None => format!("`{object}`"),
    };
    Annotation {
        file: found.as_ref().map(|s| s.file.clone()),
        line: found.and_then(|s| s.line),
        message: format!("{where_}: {issue}"),
    }
}

/// Every problem of `objects` (one render), in input order.
pub fn validate_objects(objects: &[Value]) -> Vec<Problem> {
    let schemas = crd_schemas(objects);
    let mut out = Vec::new();
    for object in objects {
        let Ok(id) = ObjectRef::from_value(object) else {
            continue;
        };
        let mut issues = gitops_manifest::schema::validate(object);
        let key = (
            id.group.clone(),
            id.version.clone().unwrap_or_default(),
            id.kind.clone(),
        );
        if let Some(schema) = schemas.get(&key) {
            issues.extend(crd::validate(schema, object));
        }
        out.extend(issues.into_iter().map(|issue| Problem {
            object: id.clone(),
            issue,
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn built_in_and_custom_resources_are_both_checked() {
        let objects = vec![
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "qa"},
                   "spec": {"replicass": 2, "selector": {"matchLabels": {"a": "b"}},
                            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}),
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                   "metadata": {"name": "widgets.example.com"},
                   "spec": {"group": "example.com", "scope": "Namespaced",
                            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema":
                                {"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]}}),
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "qa"}, "spec": {"sise": 1}}),
        ];
        let found: Vec<String> = validate_objects(&objects)
            .iter()
            .map(|p| format!("{}: {}", p.object, p.issue))
            .collect();
        assert_eq!(
            found,
            [
                "apps/Deployment qa/web: unknown field \"spec.replicass\"",
                "example.com/Widget qa/w: unknown field \"spec.sise\""
            ]
        );
    }
}
