//! The `scale` subresource: an `autoscaling/v1` Scale view of replicas and selector.
//!
//! https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/#replace-scale-of-the-specified-deployment
//! https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#scale-subresource

use http::StatusCode;
use serde_json::{Value, json};

use super::status::ApiError;
use super::{ApiResult, Ctx, json_response, validate, write};
use crate::store::{ScalePaths, WriteOptions};

fn paths(ctx: &Ctx<'_>) -> Result<ScalePaths, ApiError> {
    ctx.info.scale.clone().ok_or_else(ApiError::unknown_path)
}

/// `.spec.replicas` → `/spec/replicas`.
fn pointer(path: &str) -> String {
    format!("/{}", path.trim_start_matches('.').replace('.', "/"))
}

/// A label selector object (`matchLabels`/`matchExpressions`) as selector text.
fn selector_string(selector: &Value) -> String {
    if let Some(text) = selector.as_str() {
        return text.to_owned();
    }
    let mut parts: Vec<String> = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some(format!("{k}={}", v.as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    for expr in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = expr.get("key").and_then(Value::as_str).unwrap_or_default();
        let values: Vec<&str> = expr
            .get("values")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        match expr.get("operator").and_then(Value::as_str) {
            Some("In") => parts.push(format!("{key} in ({})", values.join(","))),
            Some("NotIn") => parts.push(format!("{key} notin ({})", values.join(","))),
            Some("Exists") => parts.push(key.to_owned()),
            Some("DoesNotExist") => parts.push(format!("!{key}")),
            _ => {}
        }
    }
    parts.join(",")
}

/// The Scale of an object.
pub(crate) fn scale_of(paths: &ScalePaths, object: &Value) -> Value {
    let meta = object.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let mut metadata = json!({});
    for field in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta.get(field) {
            metadata[field] = v.clone();
        }
    }
    let spec_replicas = object
        .pointer(&pointer(&paths.spec_replicas))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let status_replicas = object
        .pointer(&pointer(&paths.status_replicas))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let mut status = json!({"replicas": status_replicas});
    if let Some(selector) = paths
        .label_selector
        .as_deref()
        .and_then(|p| object.pointer(&pointer(p)))
    {
        status["selector"] = json!(selector_string(selector));
    }
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": metadata, "spec": {"replicas": spec_replicas}, "status": status})
}

/// `GET .../scale`.
pub(crate) fn get(ctx: &Ctx<'_>) -> ApiResult {
    let paths = paths(ctx)?;
    Ok(json_response(
        StatusCode::OK,
        &scale_of(&paths, &write::current(ctx)?),
    ))
}

/// Writes the replicas of a Scale to its object; a Scale's resourceVersion is a precondition.
pub(crate) fn write_scale(ctx: &Ctx<'_>, scale: &Value) -> ApiResult {
    let paths = paths(ctx)?;
    let replicas = scale
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if replicas < 0 {
        return Err(ApiError::invalid(
            &ctx.info,
            ctx.name(),
            &[super::status::Cause {
                reason: "FieldValueInvalid".to_owned(),
                message: format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                field: "spec.replicas".to_owned(),
            }],
        ));
    }
    let original = write::current(ctx)?;
    let mut object = original.clone();
    if let Some(rv) = scale
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|rv| !rv.is_empty())
    {
        object["metadata"]["resourceVersion"] = json!(rv);
    }
    let target = pointer(&paths.spec_replicas);
    let (parent, field) = target.rsplit_once('/').unwrap_or(("", "replicas"));
    match object.pointer_mut(parent).and_then(Value::as_object_mut) {
        Some(map) => {
            map.insert(field.to_owned(), json!(replicas));
        }
        None => {
            return Err(ApiError::internal(format!(
                "{} has no {}",
                ctx.info.kind, paths.spec_replicas
            )));
        }
    }
    let object = super::fields::prepare(ctx, object, Some(&original))?;
    let updated = ctx
        .store
        .update_with(
            ctx.info.key(),
            object,
            WriteOptions {
                dry_run: ctx.query.dry_run,
            },
        )
        .map_err(|e| ApiError::from_store(e, &ctx.info))?;
    Ok(json_response(StatusCode::OK, &scale_of(&paths, &updated)))
}

/// `PUT .../scale`.
pub(crate) fn update(ctx: &Ctx<'_>) -> ApiResult {
    let scale = validate::decode_object(ctx)?;
    write_scale(ctx, &scale)
}
