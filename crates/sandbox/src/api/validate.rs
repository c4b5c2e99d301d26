//! Checks every write passes before it reaches the store: the body's format and size, its
//! apiVersion/kind, namespace and name, and that the namespace exists and is not terminating.
//!
//! https://kubernetes.io/docs/concepts/overview/working-with-objects/names/
//! https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/

use http::StatusCode;
use http::header::CONTENT_TYPE;
use serde_json::Value;

use super::Ctx;
use super::status::{ApiError, Cause};
use crate::store::{NameRule, ResourceInfo, ResourceKey, meta_str};

/// The media types a create or update body may have.
pub const WRITE_TYPES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];

/// The body's media type without parameters (`application/json; charset=utf-8` → `application/json`).
pub fn media_type(ctx: &Ctx<'_>) -> String {
    ctx.headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// Decodes a create/update body (JSON or YAML) into an object.
pub fn decode_object(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let media = media_type(ctx);
    let value: Value = match media.as_str() {
        // No content type: the real server reads JSON too.
        "" | "application/json" | "*/*" => serde_json::from_slice(&ctx.body).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        })?,
        "application/yaml" => {
            let text = std::str::from_utf8(&ctx.body).map_err(|e| {
                ApiError::bad_request(format!("couldn't get version/kind; yaml parse error: {e}"))
            })?;
            gitops_manifest::yaml::from_str(text).map_err(|e| {
                ApiError::bad_request(format!("couldn't get version/kind; yaml parse error: {e}"))
            })?
        }
        // Only some kinds can be read from protobuf; the others answer 415 listing JSON and YAML.
        "application/vnd.kubernetes.protobuf" => {
            super::protobuf::decode(&ctx.body, &WRITE_TYPES[..2])?
        }
        other => return Err(ApiError::unsupported_media_type(other, &WRITE_TYPES[..2])),
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(format!(
            "couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
            json_type(&value)
        )));
    }
    Ok(value)
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        _ => "null",
    }
}

/// Checks `apiVersion` and `kind` against the endpoint, filling them in when absent for a kind
/// the path determines (as the real server's decoder defaults them).
pub fn check_type(info: &ResourceInfo, object: &mut Value) -> Result<(), ApiError> {
    let expected = info.api_version();
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .map(str::to_owned);
    match kind.as_deref() {
        None | Some("") => {
            return Err(ApiError::bad_request(format!(
                "Object 'Kind' is missing in '{}'",
                compact(object)
            )));
        }
        Some(k) if k != info.kind => {
            return Err(ApiError::bad_request(format!(
                "{k} in version \"{}\" cannot be handled as a {}: no kind \"{k}\" is registered for version \"{expected}\" in scheme",
                info.version, info.kind
            )));
        }
        Some(_) => {}
    }
    match api_version.as_deref() {
        Some(v) if v == expected => Ok(()),
        None | Some("") => {
            if let Some(map) = object.as_object_mut() {
                map.insert("apiVersion".to_owned(), Value::String(expected));
            }
            Ok(())
        }
        Some(v) => Err(ApiError::bad_request(format!(
            "the API version in the data ({v}) does not match the expected API version ({expected})"
        ))),
    }
}

fn compact(object: &Value) -> String {
    let text = object.to_string();
    if text.len() > 200 {
        format!("{}...", &text[..text.floor_char_boundary(200)])
    } else {
        text
    }
}

/// Sets or checks `metadata.namespace` against the request path.
pub fn check_namespace(ctx: &Ctx<'_>, object: &mut Value) -> Result<(), ApiError> {
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        if let Some(map) = object.as_object_mut() {
            map.insert("metadata".to_owned(), serde_json::json!({}));
            return check_namespace(ctx, object);
        }
        return Err(ApiError::bad_request("the object has no metadata"));
    };
    if !ctx.info.namespaced {
        // The real server clears a namespace given for a cluster-scoped object.
        meta.remove("namespace");
        return Ok(());
    }
    let path_ns = ctx.namespace().unwrap_or_default();
    match meta.get("namespace").and_then(Value::as_str) {
        None | Some("") => {
            meta.insert("namespace".to_owned(), Value::String(path_ns.to_owned()));
        }
        Some(ns) if ns != path_ns => {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        Some(_) => {}
    }
    Ok(())
}

/// A create in a namespace needs the namespace to exist and not be terminating.
/// https://kubernetes.io/docs/tasks/administer-cluster/namespaces/#deleting-a-namespace
pub fn namespace_accepts_creates(ctx: &Ctx<'_>) -> Result<(), ApiError> {
    let Some(ns) = ctx.namespace().filter(|_| ctx.info.namespaced) else {
        return Ok(());
    };
    // Read shared: only the deletion mark is looked at, the namespace is not copied.
    match ctx
        .store
        .get_shared(&ResourceKey::core("namespaces"), None, ns)
    {
        None => Err(ApiError::not_found(&ResourceKey::core("namespaces"), ns)),
        Some(namespace) if namespace.pointer("/metadata/deletionTimestamp").is_some() => {
            Err(ApiError {
                code: StatusCode::FORBIDDEN,
                reason: "Forbidden",
                message: format!(
                    "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    ctx.info.group_resource(),
                    meta_str(&namespace, "name").unwrap_or_default()
                ),
                details: None,
            })
        }
        Some(_) => Ok(()),
    }
}

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const RFC1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/// RFC 1123 label characters and ends; the length limit is checked (and reported) separately.
fn is_label(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

/// The messages for an invalid name, empty when the name is valid for `rule`.
pub fn name_problems(name: &str, rule: NameRule) -> Vec<String> {
    let mut problems = Vec::new();
    match rule {
        NameRule::Subdomain => {
            if name.len() > 253 {
                problems.push("must be no more than 253 characters".to_owned());
            }
            if !name.split('.').all(is_label) {
                problems.push(SUBDOMAIN_MSG.to_owned());
            }
        }
        NameRule::Label => {
            if name.len() > 63 {
                problems.push("must be no more than 63 characters".to_owned());
            }
            if !is_label(name) {
                problems.push(LABEL_MSG.to_owned());
            }
        }
        NameRule::Rfc1035Label => {
            if name.len() > 63 {
                problems.push("must be no more than 63 characters".to_owned());
            }
            if !is_label(name) || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
                problems.push(RFC1035_MSG.to_owned());
            }
        }
        NameRule::PathSegment => {
            if name == "." || name == ".." {
                problems.push(format!("may not be '{name}'"));
            } else if name.contains('/') || name.contains('%') {
                problems.push(format!(
                    "may not contain '{}'",
                    if name.contains('/') { "/" } else { "%" }
                ));
            }
        }
    }
    problems
}

/// `metadata.name` must be valid for the resource (422 Invalid otherwise).
pub fn check_name(info: &ResourceInfo, object: &Value) -> Result<(), ApiError> {
    let Some(name) = meta_str(object, "name").filter(|n| !n.is_empty()) else {
        // generateName is checked by the store, which fills the name in.
        return Ok(());
    };
    let problems = name_problems(name, info.name_rule);
    if problems.is_empty() {
        return Ok(());
    }
    let causes: Vec<Cause> = problems
        .iter()
        .map(|p| Cause {
            reason: "FieldValueInvalid".to_owned(),
            message: format!("Invalid value: {name:?}: {p}"),
            field: "metadata.name".to_owned(),
        })
        .collect();
    Err(ApiError::invalid(info, name, &causes))
}

/// The name in an update's body must be the one in the URL.
pub fn check_name_matches(ctx: &Ctx<'_>, object: &Value) -> Result<(), ApiError> {
    match meta_str(object, "name") {
        Some(name) if name == ctx.name() => Ok(()),
        None | Some("") => Err(ApiError::bad_request(
            "name is required in the object's metadata",
        )),
        Some(name) => Err(ApiError::bad_request(format!(
            "the name of the object ({name}) does not match the name on the URL ({})",
            ctx.name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rfc_rules() {
        assert!(name_problems("web-1.example", NameRule::Subdomain).is_empty());
        assert_eq!(
            name_problems("Bad_Name", NameRule::Subdomain),
            [SUBDOMAIN_MSG]
        );
        assert!(name_problems("a.b", NameRule::Label).len() == 1);
        assert!(name_problems("1abc", NameRule::Rfc1035Label).len() == 1);
        assert!(name_problems("1abc", NameRule::Label).is_empty());
        assert!(name_problems("system:controller", NameRule::PathSegment).is_empty());
    }
}
