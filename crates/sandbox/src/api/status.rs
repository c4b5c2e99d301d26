//! API errors as `Status` objects: the body, reason and code a real API server answers with.
//!
//! https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#response-status-kind

use http::StatusCode;
use serde_json::{Value, json};

use crate::store::{ResourceInfo, ResourceKey, StoreError};

/// The body limit of a write: 3 MiB, twice etcd's 1.5 MiB, because JSON shrinks when stored.
/// https://kubernetes.io/docs/concepts/configuration/configmap/#motivation
pub const MAX_REQUEST_BYTES: usize = 3 * 1024 * 1024;

/// The largest object etcd stores by default (1.5 MiB).
/// https://etcd.io/docs/v3.5/dev-guide/limit/#request-size-limit
pub const MAX_OBJECT_BYTES: usize = 1536 * 1024;

/// One field-level cause of an Invalid (or Conflict) error.
#[derive(Clone, Debug, PartialEq)]
pub struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldManagerConflict`...
    pub reason: String,
    /// Human message.
    pub message: String,
    /// The field path (`metadata.name`).
    pub field: String,
}

/// A failed request: becomes a `Status` with `status: Failure`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: StatusCode,
    /// `reason` (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`...).
    pub reason: &'static str,
    /// `message`.
    pub message: String,
    /// `details`, if the real server gives them for this error.
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    /// 404 for a path the server does not serve.
    pub fn unknown_path() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    /// 404 for a missing object.
    pub fn not_found(resource: &ResourceKey, name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{resource} \"{name}\" not found"),
        )
        .with_details(json!({"name": name, "group": resource.group, "kind": resource.resource}))
        .without_empty_group()
    }

    /// 405 for a verb the resource does not support.
    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
        )
        .with_details(json!({}))
    }

    /// 409 AlreadyExists.
    pub fn already_exists(resource: &ResourceKey, name: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "AlreadyExists",
            format!("{resource} \"{name}\" already exists"),
        )
        .with_details(json!({"name": name, "group": resource.group, "kind": resource.resource}))
        .without_empty_group()
    }

    /// 409 Conflict.
    pub fn conflict(resource: &ResourceKey, name: &str, why: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!("Operation cannot be fulfilled on {resource} \"{name}\": {why}"),
        )
        .with_details(json!({"name": name, "group": resource.group, "kind": resource.resource}))
        .without_empty_group()
    }

    /// 409 Conflict with causes (server-side apply field conflicts).
    pub fn conflict_with_causes(
        info: &ResourceInfo,
        name: &str,
        message: String,
        causes: &[Cause],
    ) -> Self {
        Self::new(StatusCode::CONFLICT, "Conflict", message)
            .with_details(json!({"name": name, "group": info.group, "kind": info.plural, "causes": causes_json(causes)}))
            .without_empty_group()
    }

    /// 422 Invalid: `<Kind>.<group> "<name>" is invalid: <field>: <message>[, ...]`.
    pub fn invalid(info: &ResourceInfo, name: &str, causes: &[Cause]) -> Self {
        let kind = if info.group.is_empty() {
            info.kind.clone()
        } else {
            format!("{}.{}", info.kind, info.group)
        };
        let list: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let joined = if list.len() == 1 {
            list.join("")
        } else {
            format!("[{}]", list.join(", "))
        };
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", format!("{kind} \"{name}\" is invalid: {joined}"))
            .with_details(json!({"name": name, "group": info.group, "kind": info.kind, "causes": causes_json(causes)}))
            .without_empty_group()
    }

    /// 422 for DeleteOptions the server rejects.
    pub fn invalid_delete_options(message: String) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            format!("DeleteOptions.meta.k8s.io \"\" is invalid: {message}"),
        )
        .with_details(json!({"group": "meta.k8s.io", "kind": "DeleteOptions"}))
    }

    /// 422 for request options (`PatchOptions`, `CreateOptions`...) the server rejects.
    pub fn invalid_options(kind: &str, causes: &[Cause]) -> Self {
        let list: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let joined = if list.len() == 1 {
            list.join("")
        } else {
            format!("[{}]", list.join(", "))
        };
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            format!("{kind}.meta.k8s.io \"\" is invalid: {joined}"),
        )
        .with_details(json!({"group": "meta.k8s.io", "kind": kind, "causes": causes_json(causes)}))
    }

    /// 410 Expired: a watch or continue token from a compacted resourceVersion.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, "Expired", message)
    }

    /// 413 for a body over [`MAX_REQUEST_BYTES`].
    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {MAX_REQUEST_BYTES}"),
        )
    }

    /// 500 for an object etcd refuses (over [`MAX_OBJECT_BYTES`]): the API server passes
    /// etcd's error on as an internal error with no reason (see `api/limits.rs`).
    pub fn object_too_large() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "",
            "etcdserver: request is too large",
        )
    }

    /// 415 for a body in a format the server does not read.
    pub fn unsupported_media_type(content_type: &str, accepted: &[&str]) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: {}", accepted.join(", ")),
        )
        .with_details(json!({"causes": [{"reason": "UnexpectedServerResponse", "message": content_type}]}))
    }

    /// 406 for an `Accept` the server cannot produce.
    pub fn not_acceptable(accepted: &[&str]) -> Self {
        Self::new(
            StatusCode::NOT_ACCEPTABLE,
            "NotAcceptable",
            format!(
                "only the following media types are accepted: {}",
                accepted.join(", ")
            ),
        )
    }

    /// 500 for a bug of the sandbox; the message says what.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
    }

    /// The real server leaves `group` out of details for the core group.
    fn without_empty_group(mut self) -> Self {
        if let Some(details) = self.details.as_mut().and_then(Value::as_object_mut)
            && details.get("group").and_then(Value::as_str) == Some("")
        {
            details.remove("group");
        }
        self
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code.as_u16(),
        });
        if let Some(map) = status.as_object_mut() {
            // `reason` is omitted when empty (Go's `omitempty`), as for an unknown reason.
            if self.reason.is_empty() {
                map.remove("reason");
            }
            if let Some(details) = &self.details {
                map.insert("details".to_owned(), details.clone());
            }
        }
        status
    }

    /// From a store error about `resource`.
    pub fn from_store(error: StoreError, info: &ResourceInfo) -> Self {
        let resource = ResourceKey::new(info.group.clone(), info.plural.clone());
        match error {
            StoreError::NotFound { key, .. } => Self::not_found(&resource, &key.name),
            StoreError::AlreadyExists { key, .. } => Self::already_exists(&resource, &key.name),
            StoreError::Conflict { key, message, .. } => {
                Self::conflict(&resource, &key.name, &message)
            }
            StoreError::Invalid { key, message, .. } => {
                let (field, message) = message
                    .split_once(": ")
                    .unwrap_or(("metadata", message.as_str()));
                Self::invalid(
                    info,
                    &key.name,
                    &[Cause {
                        reason: "FieldValueInvalid".to_owned(),
                        message: message.to_owned(),
                        field: field.to_owned(),
                    }],
                )
            }
            StoreError::Gone { requested, oldest } => {
                Self::expired(format!("too old resource version: {requested} ({oldest})"))
            }
        }
    }
}

fn causes_json(causes: &[Cause]) -> Value {
    Value::Array(
        causes
            .iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect(),
    )
}

/// The `Status` of a successful deletion without a returned object.
/// https://kubernetes.io/docs/reference/using-api/api-concepts/#api-verbs
pub fn success(info: &ResourceInfo, name: &str, uid: &str) -> Value {
    let mut details = json!({"name": name, "group": info.group, "kind": info.plural, "uid": uid});
    if info.group.is_empty()
        && let Some(map) = details.as_object_mut()
    {
        map.remove("group");
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_matches_the_real_body() {
        let status =
            ApiError::not_found(&ResourceKey::new("apps", "deployments"), "web").to_status();
        assert_eq!(
            status,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "deployments.apps \"web\" not found", "reason": "NotFound",
                "details": {"name": "web", "group": "apps", "kind": "deployments"}, "code": 404})
        );
        let core = ApiError::not_found(&ResourceKey::core("namespaces"), "x").to_status();
        assert_eq!(core["details"], json!({"name": "x", "kind": "namespaces"}));
    }
}
