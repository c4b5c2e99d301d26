//! The PATCH forms a live object can take: JSON patch, JSON merge patch and strategic merge patch.
//!
//! Pure: takes the live object and the request body, returns the patched object or an error that
//! carries the status code and reason the API server answers with
//! (<https://kubernetes.io/docs/reference/using-api/api-concepts/#patch-and-apply>;
//! the handler is `k8s.io/apiserver/pkg/endpoints/handlers/patch.go`). Server-side apply
//! (`application/apply-patch+yaml`) is the fourth PATCH form; it lives in [`crate::ssa`]
//! because it needs field ownership.

use gitops_manifest::merge_keys::{Gvk, is_builtin};
use gitops_manifest::strategic_merge::{MergeError, apply_strategic_merge};
use serde_json::Value;

/// The media types of the PATCH forms (`Content-Type` of a PATCH request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json`, RFC 6902.
    Json,
    /// `application/merge-patch+json`, RFC 7386.
    Merge,
    /// `application/strategic-merge-patch+json`, built-in kinds only.
    StrategicMerge,
    /// `application/apply-patch+yaml`: server-side apply, handled by [`crate::ssa`].
    Apply,
}

/// The media types accepted for built-in kinds, in the order the API server lists them.
pub const BUILTIN_PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];

/// The media types accepted for custom resources (no strategic merge patch).
pub const CUSTOM_RESOURCE_PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
];

impl PatchType {
    /// The patch type of a `Content-Type` header value (parameters such as `; charset=utf-8` ignored).
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/json-patch+json" => Some(Self::Json),
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::StrategicMerge),
            "application/apply-patch+yaml" => Some(Self::Apply),
            _ => None,
        }
    }

    /// The media type string.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json-patch+json",
            Self::Merge => "application/merge-patch+json",
            Self::StrategicMerge => "application/strategic-merge-patch+json",
            Self::Apply => "application/apply-patch+yaml",
        }
    }
}

/// A PATCH that cannot be applied, with the status the API server gives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The content type is not a patch type this resource accepts (415), e.g. a strategic
    /// merge patch on a custom resource. The message is the real server's.
    #[error("the body of the request was in an unknown format - accepted media types include: {}", .accepted.join(", "))]
    UnsupportedMediaType {
        /// The media types the resource accepts.
        accepted: Vec<&'static str>,
    },
    /// The body is not valid JSON, or not a patch document of its type (400).
    #[error("{0}")]
    BadRequest(String),
    /// The patch is well formed but cannot be applied to this object (422), e.g. a JSON patch
    /// `test` that fails or a path that does not exist.
    #[error("{0}")]
    Unprocessable(String),
    /// The strategic merge library failed in a way the API server reports as an internal error
    /// (500), e.g. a list item without its merge key.
    #[error("Internal error occurred: {0}")]
    Internal(String),
}

impl PatchError {
    /// The HTTP status code the API server answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::UnsupportedMediaType { .. } => 415,
            Self::BadRequest(_) => 400,
            Self::Unprocessable(_) => 422,
            Self::Internal(_) => 500,
        }
    }

    /// The `reason` of the Status body (`metav1.StatusReason`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnsupportedMediaType { .. } => "UnsupportedMediaType",
            Self::BadRequest(_) => "BadRequest",
            Self::Unprocessable(_) => "Invalid",
            Self::Internal(_) => "InternalError",
        }
    }
}

/// Apply a JSON, merge or strategic merge patch (`body`, the raw request body) to `live`,
/// an object of kind `gvk`; returns the patched object.
///
/// The result is not validated or defaulted here: the caller runs validation, defaulting and
/// its `resourceVersion` precondition (a patch that sets `metadata.resourceVersion` makes it
/// one) as for an update. [`PatchType::Apply`] is refused with 415: call [`crate::ssa`] for it.
pub fn apply_patch(
    live: &Value,
    patch_type: PatchType,
    body: &[u8],
    gvk: &Gvk,
) -> Result<Value, PatchError> {
    let builtin = is_builtin(gvk);
    let patched = match patch_type {
        PatchType::Json => json_patch_object(live, body)?,
        PatchType::Merge => {
            let patch = parse_json(body)?;
            let mut doc = live.clone();
            json_patch::merge(&mut doc, &patch);
            doc
        }
        PatchType::StrategicMerge if builtin => {
            let patch = parse_json(body)?;
            if !patch.is_object() {
                return Err(PatchError::BadRequest(
                    "json: cannot unmarshal array into Go value of type map[string]interface {}"
                        .into(),
                ));
            }
            strategic(live, &patch, gvk)?
        }
        PatchType::StrategicMerge | PatchType::Apply => {
            let accepted = if builtin {
                BUILTIN_PATCH_TYPES
            } else {
                CUSTOM_RESOURCE_PATCH_TYPES
            };
            return Err(PatchError::UnsupportedMediaType {
                accepted: accepted.to_vec(),
            });
        }
    };
    check_identity(live, &patched)?;
    Ok(patched)
}

fn parse_json(body: &[u8]) -> Result<Value, PatchError> {
    serde_json::from_slice(body)
        .map_err(|e| PatchError::BadRequest(format!("error decoding patch: {e}")))
}

fn json_patch_object(live: &Value, body: &[u8]) -> Result<Value, PatchError> {
    // https://datatracker.ietf.org/doc/html/rfc6902: a malformed document is a bad request,
    // an operation that fails on this object is unprocessable.
    let ops: json_patch::Patch = serde_json::from_slice(body)
        .map_err(|e| PatchError::BadRequest(format!("error decoding patch: {e}")))?;
    let mut doc = live.clone();
    json_patch::patch(&mut doc, &ops.0).map_err(|e| PatchError::Unprocessable(e.to_string()))?;
    Ok(doc)
}

fn strategic(live: &Value, patch: &Value, gvk: &Gvk) -> Result<Value, PatchError> {
    match apply_strategic_merge(live, patch, gvk) {
        // `$patch: delete` at the top leaves an empty object, which then fails to decode.
        Ok(Value::Null) => Err(PatchError::BadRequest(
            "Object 'Kind' is missing in '{}'".into(),
        )),
        Ok(v) => Ok(v),
        // apimachinery's interpretStrategicMergePatchError: malformed directives are 400,
        // retainKeys mismatches 422, anything else surfaces as an internal error.
        Err(e @ MergeError::InvalidDirective { .. }) if e.to_string().contains("$retainKeys") => {
            Err(PatchError::Unprocessable(e.to_string()))
        }
        Err(e @ (MergeError::InvalidDirective { .. } | MergeError::NotAnObject { .. })) => {
            Err(PatchError::BadRequest(e.to_string()))
        }
        Err(e @ MergeError::MissingMergeKey { .. }) => Err(PatchError::Internal(e.to_string())),
    }
}

/// A patch may not rename, move or re-kind the object it is sent to.
fn check_identity(live: &Value, patched: &Value) -> Result<(), PatchError> {
    if !patched.is_object() {
        return Err(PatchError::BadRequest(
            "the patched object is not a JSON object".into(),
        ));
    }
    let name = |v: &Value| {
        v.pointer("/metadata/name")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let (before, after) = (name(live), name(patched));
    if before != after {
        // patch.go checkName: "the name of the object (%s) does not match the name on the URL (%s)".
        return Err(PatchError::BadRequest(format!(
            "the name of the object ({}) does not match the name on the URL ({})",
            after.unwrap_or_default(),
            before.unwrap_or_default()
        )));
    }
    let namespace = |v: &Value| {
        v.pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if namespace(live).is_some() && namespace(live) != namespace(patched) {
        return Err(PatchError::BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        ));
    }
    for field in ["apiVersion", "kind"] {
        if live.get(field) != patched.get(field) {
            return Err(PatchError::BadRequest(format!(
                "the patch may not change the object's `{field}`"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [
                {"name": "web", "image": "web:1"}, {"name": "sidecar", "image": "s:1"}]}}}
        })
    }

    fn gvk() -> Gvk {
        Gvk::new("apps", "v1", "Deployment")
    }

    #[test]
    fn content_types_map_to_patch_types() {
        assert_eq!(
            PatchType::from_content_type("application/json-patch+json"),
            Some(PatchType::Json)
        );
        assert_eq!(
            PatchType::from_content_type("application/strategic-merge-patch+json; charset=utf-8"),
            Some(PatchType::StrategicMerge)
        );
        assert_eq!(
            PatchType::from_content_type("application/apply-patch+yaml"),
            Some(PatchType::Apply)
        );
        assert_eq!(PatchType::from_content_type("text/plain"), None);
        assert_eq!(
            PatchType::Merge.content_type(),
            "application/merge-patch+json"
        );
    }

    #[test]
    fn json_patch_applies_ops_and_a_failed_test_is_422() {
        let body = br#"[{"op":"replace","path":"/spec/replicas","value":3},{"op":"add","path":"/metadata/labels/tier","value":"fe"}]"#;
        let out = apply_patch(&deployment(), PatchType::Json, body, &gvk()).expect("applies");
        assert_eq!(out["spec"]["replicas"], 3);
        assert_eq!(out["metadata"]["labels"]["tier"], "fe");

        let body = br#"[{"op":"test","path":"/spec/replicas","value":5}]"#;
        let err =
            apply_patch(&deployment(), PatchType::Json, body, &gvk()).expect_err("test fails");
        assert_eq!(err.status_code(), 422);
        let err = apply_patch(&deployment(), PatchType::Json, br#"{"op":"add"}"#, &gvk())
            .expect_err("not a list");
        assert_eq!(err.status_code(), 400);
    }

    // RFC 7386: lists are replaced whole, null deletes.
    #[test]
    fn merge_patch_replaces_lists_and_null_deletes() {
        let body = br#"{"metadata":{"labels":{"app":null}},"spec":{"template":{"spec":{"containers":[{"name":"web","image":"web:2"}]}}}}"#;
        let out = apply_patch(&deployment(), PatchType::Merge, body, &gvk()).expect("applies");
        assert_eq!(out["metadata"]["labels"], json!({}));
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{"name": "web", "image": "web:2"}])
        );
    }

    #[test]
    fn strategic_merge_patch_merges_containers_by_name() {
        let body =
            br#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"web:2"}]}}}}"#;
        let out =
            apply_patch(&deployment(), PatchType::StrategicMerge, body, &gvk()).expect("applies");
        let containers = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(
            containers,
            &json!([{"name": "web", "image": "web:2"}, {"name": "sidecar", "image": "s:1"}])
        );
    }

    #[test]
    fn strategic_merge_on_a_custom_resource_is_415() {
        let cr =
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
        let err = apply_patch(
            &cr,
            PatchType::StrategicMerge,
            b"{}",
            &Gvk::new("example.com", "v1", "Widget"),
        )
        .expect_err("refused");
        assert_eq!(err.status_code(), 415);
        assert_eq!(err.reason(), "UnsupportedMediaType");
        assert_eq!(
            err.to_string(),
            "the body of the request was in an unknown format - accepted media types include: \
             application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
        );
        // The other forms work on custom resources.
        let out = apply_patch(
            &cr,
            PatchType::Merge,
            br#"{"spec":{"size":2}}"#,
            &Gvk::new("example.com", "v1", "Widget"),
        )
        .expect("merge patch");
        assert_eq!(out["spec"]["size"], 2);
    }

    #[test]
    fn malformed_bodies_and_renames_are_400() {
        let err =
            apply_patch(&deployment(), PatchType::Merge, b"{not json", &gvk()).expect_err("bad");
        assert_eq!((err.status_code(), err.reason()), (400, "BadRequest"));
        let err = apply_patch(
            &deployment(),
            PatchType::Merge,
            br#"{"metadata":{"name":"other"}}"#,
            &gvk(),
        )
        .expect_err("rename");
        assert_eq!(
            err.to_string(),
            "the name of the object (other) does not match the name on the URL (web)"
        );
        let err = apply_patch(
            &deployment(),
            PatchType::StrategicMerge,
            br#"{"$patch":"delete"}"#,
            &gvk(),
        )
        .expect_err("deleted");
        assert_eq!(err.status_code(), 400);
    }

    #[test]
    fn smp_errors_carry_the_real_status() {
        let body = br#"{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}"#;
        let err = apply_patch(&deployment(), PatchType::StrategicMerge, body, &gvk())
            .expect_err("no key");
        assert_eq!(err.status_code(), 500);
        let body = br#"{"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":{}}}}"#;
        let err = apply_patch(&deployment(), PatchType::StrategicMerge, body, &gvk())
            .expect_err("retain");
        assert_eq!(err.status_code(), 422);
        let err = apply_patch(&deployment(), PatchType::Apply, b"{}", &gvk())
            .expect_err("apply elsewhere");
        assert_eq!(err.status_code(), 415);
    }
}
