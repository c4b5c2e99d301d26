//! Custom resources against the `openAPIV3Schema` of their CRD (structural schemas,
//! <https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema>):
//! unknown fields (unless `x-kubernetes-preserve-unknown-fields`), types, `required`, `enum`.

use gitops_manifest::schema::{Issue, IssueKind};
use serde_json::Value;

/// The problems of a custom resource `object` under `schema` (its version's `openAPIV3Schema`).
pub fn validate(schema: &Value, object: &Value) -> Vec<Issue> {
    let mut out = Vec::new();
    check(schema, object, "", true, &mut out);
    out
}

fn issue(out: &mut Vec<Issue>, kind: IssueKind, path: &str, message: impl Into<String>) {
    out.push(Issue {
        kind,
        path: path.to_string(),
        message: message.into(),
    });
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => true,
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn check(schema: &Value, value: &Value, path: &str, root: bool, out: &mut Vec<Issue>) {
    if value.is_null() && schema.get("nullable").and_then(Value::as_bool) == Some(true) {
        return;
    }
    if schema
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        == Some(true)
    {
        if !(value.is_string() || value.is_i64() || value.is_u64()) {
            issue(
                out,
                IssueKind::WrongType,
                path,
                "must be an integer or a string",
            );
        }
        return;
    }
    if let Some(expected) = schema.get("type").and_then(Value::as_str)
        && !type_matches(expected, value)
    {
        issue(
            out,
            IssueKind::WrongType,
            path,
            format!("must be of type {expected}"),
        );
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed.iter().map(ToString::to_string).collect();
        issue(
            out,
            IssueKind::Invalid,
            path,
            format!(
                "Unsupported value: {value}: supported values: {}",
                list.join(", ")
            ),
        );
    }
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            let preserve = schema
                .get("x-kubernetes-preserve-unknown-fields")
                .and_then(Value::as_bool)
                == Some(true);
            for (key, v) in map {
                // apiVersion, kind and metadata are the API server's, whatever the schema says.
                if root && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                let p = child(path, key);
                if let Some(s) = properties.and_then(|p| p.get(key)) {
                    check(s, v, &p, false, out);
                } else if let Some(s) = additional.filter(|a| a.is_object()) {
                    check(s, v, &p, false, out);
                } else if !(preserve || additional.and_then(Value::as_bool) == Some(true)) {
                    issue(
                        out,
                        IssueKind::UnknownField,
                        &p,
                        "field not declared in schema",
                    );
                }
            }
            for required in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(name) = required.as_str()
                    && !map.contains_key(name)
                {
                    issue(
                        out,
                        IssueKind::Required,
                        &child(path, name),
                        "Required value",
                    );
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(s, item, &format!("{path}[{i}]"), false, out);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
        "spec": {"type": "object", "required": ["size"], "properties": {
            "size": {"type": "integer"},
            "mode": {"type": "string", "enum": ["fast", "safe"]},
            "port": {"x-kubernetes-int-or-string": true},
            "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}}
        }}}})
    }

    #[test]
    fn a_valid_resource_has_no_issues() {
        let w = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"size": 1, "mode": "fast", "port": "http", "items": [{"name": "a"}],
                     "extra": {"anything": [1]}, "labels": {"a": "b"}}});
        assert_eq!(validate(&schema(), &w), vec![]);
    }

    #[test]
    fn unknown_fields_wrong_types_required_and_enum_are_named_by_path() {
        let w = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"sizee": 1, "mode": "slow", "items": [{"name": 3}], "labels": {"a": 1}}});
        let found: Vec<String> = validate(&schema(), &w)
            .iter()
            .map(|i| format!("{:?} {}", i.kind, i.path))
            .collect();
        assert_eq!(
            found,
            [
                "WrongType spec.items[0].name",
                "WrongType spec.labels.a",
                "Invalid spec.mode",
                "UnknownField spec.sizee",
                "Required spec.size"
            ]
        );
    }
}
