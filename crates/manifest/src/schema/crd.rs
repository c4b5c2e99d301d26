//! Validation of custom resources against the `openAPIV3Schema` of their CustomResourceDefinition.
//!
//! <https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#validation>
//! and `#field-pruning`: a structural schema types every field; fields it does not declare are
//! unknown (pruned, or refused under `fieldValidation=Strict`) unless
//! `x-kubernetes-preserve-unknown-fields` is set; `required`, `enum`, `nullable`,
//! `x-kubernetes-int-or-string` and `x-kubernetes-embedded-resource` are honoured.
//! Messages follow the API server's (`spec.replicas in body must be of type integer: "string"`).

use serde_json::{Map, Value};

use super::{FieldValidation, Issue, IssueKind, Rejection, join};
use crate::merge_keys::Gvk;

/// The CRD among `crds` that serves `gvk` (group, kind and a version it lists).
pub fn crd_for<'a>(crds: impl IntoIterator<Item = &'a Value>, gvk: &Gvk) -> Option<&'a Value> {
    crds.into_iter().find(|crd| {
        let spec = crd.get("spec");
        let group = spec.and_then(|s| s.get("group")).and_then(Value::as_str);
        let kind = spec
            .and_then(|s| s.pointer("/names/kind"))
            .and_then(Value::as_str);
        group == Some(gvk.group.as_str())
            && kind == Some(gvk.kind.as_str())
            && version_schema(crd, &gvk.version).is_some()
    })
}

/// The `openAPIV3Schema` of one version of a CRD (an empty object schema when the version has none).
fn version_schema<'a>(crd: &'a Value, version: &str) -> Option<&'a Value> {
    static NO_SCHEMA: std::sync::LazyLock<Value> = std::sync::LazyLock::new(
        || serde_json::json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
    );
    let versions = crd.pointer("/spec/versions")?.as_array()?;
    let v = versions
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(version))?;
    Some(v.pointer("/schema/openAPIV3Schema").unwrap_or(&NO_SCHEMA))
}

/// Every problem of a custom resource under its CRD: unknown fields, wrong types, missing
/// required fields, values outside an enum. Empty when the CRD does not serve the object's version.
pub fn validate_custom(object: &Value, crd: &Value) -> Vec<Issue> {
    let Some(gvk) = Gvk::of(object) else {
        return Vec::new();
    };
    let Some(schema) = version_schema(crd, &gvk.version) else {
        return Vec::new();
    };
    let mut issues = Vec::new();
    walk(object, schema, "", true, &mut issues);
    issues.extend(super::names::check_metadata(object, Some(&gvk)));
    issues
}

/// [`super::check_write`] for a custom resource under its CRD.
pub fn check_custom_write(
    object: &Value,
    crd: &Value,
    mode: FieldValidation,
) -> Result<Vec<String>, Rejection> {
    let issues = validate_custom(object, crd);
    let (unknown, rest): (Vec<Issue>, Vec<Issue>) = issues
        .into_iter()
        .partition(|i| i.kind == IssueKind::UnknownField);
    if !rest.is_empty() {
        return Err(Rejection::Invalid(rest));
    }
    match mode {
        FieldValidation::Strict if !unknown.is_empty() => {
            let list: Vec<String> = unknown.iter().map(ToString::to_string).collect();
            Err(Rejection::BadRequest {
                message: format!("strict decoding error: {}", list.join(", ")),
                issues: unknown,
            })
        }
        FieldValidation::Warn => Ok(unknown.iter().map(ToString::to_string).collect()),
        _ => Ok(Vec::new()),
    }
}

/// The custom resource without the fields its schema does not declare (what the API server stores).
pub fn prune_custom(object: &Value, crd: &Value) -> Value {
    let Some(gvk) = Gvk::of(object) else {
        return object.clone();
    };
    let Some(schema) = version_schema(crd, &gvk.version) else {
        return object.clone();
    };
    prune(object, schema, true)
}

fn preserves_unknown(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
}

fn embedded(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-embedded-resource")
        .and_then(Value::as_bool)
        == Some(true)
}

/// The schema of a map's entry `key`: a declared property, else `additionalProperties`.
fn property<'a>(schema: &'a Value, key: &str) -> Option<&'a Value> {
    if let Some(p) = schema.get("properties").and_then(|p| p.get(key)) {
        return Some(p);
    }
    match schema.get("additionalProperties") {
        Some(Value::Bool(true)) => Some(&Value::Bool(true)),
        Some(s @ Value::Object(_)) => Some(s),
        _ => None,
    }
}

/// Root and embedded objects carry apiVersion, kind and metadata whatever the schema says.
fn implicit(key: &str, resource: bool) -> bool {
    resource && matches!(key, "apiVersion" | "kind" | "metadata")
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_ok(value: &Value, schema: &Value) -> bool {
    if value.is_null() {
        return schema.get("nullable").and_then(Value::as_bool) == Some(true);
    }
    if schema
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        == Some(true)
    {
        return matches!(type_name(value), "integer" | "string");
    }
    match schema.get("type").and_then(Value::as_str) {
        None => true,
        Some("number") => value.is_number(),
        Some(t) => type_name(value) == t,
    }
}

fn walk(value: &Value, schema: &Value, path: &str, resource: bool, out: &mut Vec<Issue>) {
    if !type_ok(value, schema) {
        let expected = schema
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("integer or string");
        out.push(Issue {
            kind: IssueKind::WrongType,
            path: path.to_string(),
            message: format!(
                "Invalid value: \"{}\": {path} in body must be of type {expected}: \"{}\"",
                type_name(value),
                type_name(value)
            ),
        });
        return;
    }
    if let Some(Value::Array(allowed)) = schema.get("enum")
        && !value.is_null()
        && !allowed.contains(value)
    {
        let shown: Vec<String> = allowed.iter().map(ToString::to_string).collect();
        out.push(Issue {
            kind: IssueKind::Invalid,
            path: path.to_string(),
            message: format!(
                "Unsupported value: {value}: supported values: {}",
                shown.join(", ")
            ),
        });
    }
    match value {
        Value::Object(map) => walk_object(map, schema, path, resource || embedded(schema), out),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(
                        item,
                        item_schema,
                        &format!("{path}[{i}]"),
                        embedded(item_schema),
                        out,
                    );
                }
            }
        }
        _ => {}
    }
}

fn walk_object(
    map: &Map<String, Value>,
    schema: &Value,
    path: &str,
    resource: bool,
    out: &mut Vec<Issue>,
) {
    for required in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(key) = required.as_str()
            && map.get(key).is_none_or(Value::is_null)
        {
            out.push(Issue {
                kind: IssueKind::Required,
                path: join(path, key),
                message: "Required value".into(),
            });
        }
    }
    let keep_unknown = preserves_unknown(schema);
    for (key, child) in map {
        let child_path = join(path, key);
        match property(schema, key) {
            Some(Value::Bool(true)) => {}
            Some(child_schema) => walk(child, child_schema, &child_path, false, out),
            None if implicit(key, resource) || keep_unknown || child.is_null() => {}
            None => out.push(Issue {
                kind: IssueKind::UnknownField,
                path: child_path,
                message: "unknown field".into(),
            }),
        }
    }
}

fn prune(value: &Value, schema: &Value, resource: bool) -> Value {
    match value {
        Value::Object(map) => {
            let resource = resource || embedded(schema);
            let keep_unknown = preserves_unknown(schema);
            Value::Object(
                map.iter()
                    .filter_map(|(k, v)| match property(schema, k) {
                        Some(Value::Bool(true)) => Some((k.clone(), v.clone())),
                        Some(s) => Some((k.clone(), prune(v, s, false))),
                        None if implicit(k, resource) || keep_unknown => {
                            Some((k.clone(), v.clone()))
                        }
                        None => None,
                    })
                    .collect(),
            )
        }
        Value::Array(items) => match schema.get("items") {
            Some(s) => Value::Array(items.iter().map(|i| prune(i, s, embedded(s))).collect()),
            None => value.clone(),
        },
        _ => value.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(text: &str) -> Value {
        crate::yaml::from_str(text).expect("test YAML parses")
    }

    const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer}
              mode: {type: string, enum: [fast, slow]}
              port: {x-kubernetes-int-or-string: true}
              tags: {type: array, items: {type: string}}
              labels: {type: object, additionalProperties: {type: string}}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

    #[test]
    fn a_valid_custom_resource_has_no_issues() {
        let crd = y(CRD);
        let w = y(
            "{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, spec: {size: 3, mode: fast, port: http, tags: [a], labels: {x: z}, extra: {anything: [1]}}}",
        );
        assert!(crd_for([&crd], &Gvk::new("example.com", "v1", "Widget")).is_some());
        assert!(crd_for([&crd], &Gvk::new("example.com", "v2", "Widget")).is_none());
        assert_eq!(validate_custom(&w, &crd), vec![]);
    }

    #[test]
    fn unknown_fields_types_required_and_enums() {
        let crd = y(CRD);
        let w = y(
            "{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, spec: {sise: 3, mode: medium, tags: [1], labels: {x: 2}}}",
        );
        let issues: Vec<String> = validate_custom(&w, &crd)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            issues,
            [
                "spec.size: Required value",
                r#"spec.labels.x: Invalid value: "integer": spec.labels.x in body must be of type string: "integer""#,
                r#"spec.mode: Unsupported value: "medium": supported values: "fast", "slow""#,
                r#"unknown field "spec.sise""#,
                r#"spec.tags[0]: Invalid value: "integer": spec.tags[0] in body must be of type string: "integer""#,
            ]
        );
    }

    #[test]
    fn strict_rejects_warn_warns_and_prune_drops_unknown_fields() {
        let crd = y(CRD);
        let w = y(
            "{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, spec: {size: 1, colour: red}}",
        );
        let err = check_custom_write(&w, &crd, FieldValidation::Strict).expect_err("strict");
        assert_eq!(
            err.to_string(),
            r#"strict decoding error: unknown field "spec.colour""#
        );
        assert_eq!(
            check_custom_write(&w, &crd, FieldValidation::Warn),
            Ok(vec![r#"unknown field "spec.colour""#.to_string()])
        );
        let pruned = prune_custom(&w, &crd);
        assert_eq!(
            pruned,
            y("{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, spec: {size: 1}}")
        );
        let bad =
            y("{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, spec: {size: big}}");
        assert_eq!(
            check_custom_write(&bad, &crd, FieldValidation::Ignore).map_err(|e| e.status_code()),
            Err(422)
        );
    }
}
