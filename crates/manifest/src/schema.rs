//! Validation of built-in kinds against the Kubernetes schema: unknown fields, wrong types,
//! missing required fields and invalid names, each reported with its field path.
//!
//! The schema is the `k8s-openapi` types: an object is decoded into its typed struct (a wrong
//! type fails with the path, via `serde_path_to_error`) and encoded back; a field of the input
//! that is missing from the round trip is unknown to the schema. This is what the API server's
//! field validation reports (<https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation>):
//! `Strict` rejects unknown fields (400, `strict decoding error: unknown field "…"`), `Warn`
//! accepts the object and returns one warning per unknown field, `Ignore` drops them silently
//! ([`prune_unknown`]). A wrong type is a decoding error (400) in every mode; missing required
//! fields and invalid names are validation errors (422, `Invalid`).

mod crd;
mod names;
mod required;

use std::fmt::Write as _;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::merge_keys::Gvk;

pub use crd::{check_custom_write, crd_for, prune_custom, validate_custom};
pub use names::{NameRule, name_rule};

/// The `fieldValidation` query parameter of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Reject an object with unknown (or duplicate) fields.
    #[default]
    Strict,
    /// Accept it, and warn about each unknown field.
    Warn,
    /// Accept it and drop the unknown fields without a word.
    Ignore,
}

impl FieldValidation {
    /// Parse the query parameter value (`Strict`, `Warn`, `Ignore`); `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "Strict" => Some(Self::Strict),
            "Warn" => Some(Self::Warn),
            "Ignore" => Some(Self::Ignore),
            _ => None,
        }
    }
}

/// What is wrong with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum IssueKind {
    /// The schema has no such field.
    UnknownField,
    /// The value has the wrong JSON type (or cannot be decoded, e.g. bad base64).
    WrongType,
    /// A field the API server requires is absent.
    Required,
    /// A value the API server's validation refuses (names, label values, selectors).
    Invalid,
}

/// One problem, at one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// What kind of problem.
    pub kind: IssueKind,
    /// The field, as the API server spells it: `spec.template.spec.containers[0].image`.
    pub path: String,
    /// The detail, in the API server's words where it has some (`Required value`).
    pub message: String,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            IssueKind::UnknownField => write!(f, "unknown field \"{}\"", self.path),
            _ => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// A write the API server refuses after decoding and validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Decoding failed: a wrong type, or unknown fields under `Strict` (400 BadRequest).
    #[error("{message}")]
    BadRequest {
        /// The Status message, e.g. `strict decoding error: unknown field "spec.replicaz"`.
        message: String,
        /// The fields concerned.
        issues: Vec<Issue>,
    },
    /// Validation failed: missing required fields or invalid values (422 Invalid). The message
    /// is the field list; the API layer prefixes `<Kind>.<group> "<name>" is invalid: `.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    Invalid(Vec<Issue>),
}

impl Rejection {
    /// The HTTP status code.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::BadRequest { .. } => 400,
            Self::Invalid(_) => 422,
        }
    }

    /// The Status `reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "BadRequest",
            Self::Invalid(_) => "Invalid",
        }
    }

    /// The fields concerned (the Status `details.causes`).
    pub fn issues(&self) -> &[Issue] {
        match self {
            Self::BadRequest { issues, .. } | Self::Invalid(issues) => issues,
        }
    }
}

/// Every problem of `object` that offline validation (`gitops validate`) reports: unknown
/// fields, a wrong type (the first one: decoding stops there), missing required fields and
/// invalid names. Objects of kinds without a typed schema get only the name checks.
pub fn validate(object: &Value) -> Vec<Issue> {
    let mut issues = Vec::new();
    let gvk = Gvk::of(object);
    if let Some(gvk) = &gvk {
        match round_trip(gvk, object) {
            Some(Ok(typed)) => unknown_fields(object, &typed, &mut String::new(), &mut issues),
            Some(Err(issue)) => issues.push(issue),
            None => {}
        }
    }
    issues.extend(validation_issues(object, gvk.as_ref()));
    dedup(&mut issues);
    issues
}

/// Drop repeated reports of one field (decoding and validation can both see a missing field).
fn dedup(issues: &mut Vec<Issue>) {
    let mut seen = std::collections::HashSet::new();
    issues.retain(|i| seen.insert((i.path.clone(), i.message.clone())));
}

/// Check a write as the API server decodes and validates it under `mode`: returns the warnings
/// to send (`Warn`: one per unknown field), or the rejection. Under `Ignore` the caller stores
/// [`prune_unknown`] of the object.
pub fn check_write(object: &Value, mode: FieldValidation) -> Result<Vec<String>, Rejection> {
    checked(object, mode).map(|(warnings, _)| warnings)
}

/// [`check_write`] and [`prune_unknown`] with one typed round trip for both: the warnings, and
/// the object without its unknown fields when it had some (`None`: it is accepted as it is).
/// Under `Strict` an object with unknown fields is rejected, so it never needs pruning.
pub fn check_and_prune(
    object: &Value,
    mode: FieldValidation,
) -> Result<(Vec<String>, Option<Value>), Rejection> {
    let (warnings, typed) = checked(object, mode)?;
    Ok((warnings, typed.map(|typed| prune(object, &typed))))
}

/// [`check_write`], and the typed round trip of the object when it lost unknown fields.
fn checked(
    object: &Value,
    mode: FieldValidation,
) -> Result<(Vec<String>, Option<Value>), Rejection> {
    let gvk = Gvk::of(object);
    let mut warnings = Vec::new();
    let mut decode_required = None;
    let mut lossy = None;
    if let Some(gvk) = &gvk {
        match round_trip(gvk, object) {
            Some(Ok(typed)) => {
                let mut unknown = Vec::new();
                unknown_fields(object, &typed, &mut String::new(), &mut unknown);
                if !unknown.is_empty() {
                    lossy = Some(typed);
                    match mode {
                        FieldValidation::Strict => {
                            let list: Vec<String> =
                                unknown.iter().map(ToString::to_string).collect();
                            return Err(Rejection::BadRequest {
                                message: format!("strict decoding error: {}", list.join(", ")),
                                issues: unknown,
                            });
                        }
                        FieldValidation::Warn => {
                            warnings.extend(unknown.iter().map(ToString::to_string))
                        }
                        FieldValidation::Ignore => {}
                    }
                }
            }
            // A missing non-optional field is a validation error (422), not a decoding one.
            Some(Err(issue)) if issue.kind == IssueKind::Required => decode_required = Some(issue),
            Some(Err(issue)) => {
                return Err(Rejection::BadRequest {
                    message: issue.to_string(),
                    issues: vec![issue],
                });
            }
            None => {}
        }
    }
    let mut invalid: Vec<Issue> = decode_required.into_iter().collect();
    invalid.extend(validation_issues(object, gvk.as_ref()));
    dedup(&mut invalid);
    if invalid.is_empty() {
        Ok((warnings, lossy))
    } else {
        Err(Rejection::Invalid(invalid))
    }
}

/// The object without the fields its kind's schema does not know (what `fieldValidation=Ignore`
/// stores). Objects of kinds without a typed schema, or that do not decode, are returned as they are.
pub fn prune_unknown(object: &Value) -> Value {
    let Some(gvk) = Gvk::of(object) else {
        return object.clone();
    };
    match round_trip(&gvk, object) {
        Some(Ok(typed)) => prune(object, &typed),
        _ => object.clone(),
    }
}

/// Whether offline validation has a typed schema for this kind.
pub fn has_schema(gvk: &Gvk) -> bool {
    round_trip(gvk, &Value::Null).is_some()
}

fn prune(input: &Value, typed: &Value) -> Value {
    match (input, typed) {
        (Value::Object(i), Value::Object(t)) => Value::Object(
            i.iter()
                .filter_map(|(k, v)| match t.get(k) {
                    Some(tv) => Some((k.clone(), prune(v, tv))),
                    None if v.is_null() => Some((k.clone(), v.clone())),
                    None => None,
                })
                .collect(),
        ),
        (Value::Array(i), Value::Array(t)) => Value::Array(
            i.iter()
                .zip(t.iter().chain(std::iter::repeat(&Value::Null)))
                .map(|(a, b)| prune(a, b))
                .collect(),
        ),
        _ => input.clone(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Fields of `input` that the typed round trip lost. `path` is the field being looked at,
/// extended and cut back in place: a path is copied only for a lost field.
fn unknown_fields(input: &Value, typed: &Value, path: &mut String, out: &mut Vec<Issue>) {
    match (input, typed) {
        (Value::Object(i), Value::Object(t)) => {
            for (key, value) in i {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                match t.get(key) {
                    Some(tv) => unknown_fields(value, tv, path, out),
                    // A null is "unset" to the decoder; it is not an unknown field.
                    None if value.is_null() => {}
                    None => out.push(Issue {
                        kind: IssueKind::UnknownField,
                        path: path.clone(),
                        message: "unknown field".into(),
                    }),
                }
                path.truncate(len);
            }
        }
        (Value::Array(i), Value::Array(t)) => {
            for (n, (a, b)) in i.iter().zip(t.iter()).enumerate() {
                let len = path.len();
                // Writing to a String cannot fail.
                let _ = write!(path, "[{n}]");
                unknown_fields(a, b, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

fn validation_issues(object: &Value, gvk: Option<&Gvk>) -> Vec<Issue> {
    let mut issues = names::check_metadata(object, gvk);
    if let Some(gvk) = gvk {
        issues.extend(required::check(object, gvk));
    }
    issues
}

fn typed<T: DeserializeOwned + Serialize>(object: &Value) -> Result<Value, Issue> {
    // Decoded without tracking the path first (the tracker copies every key it passes); only a
    // failure is decoded again with it, for the path the error names.
    let decoded: T = match T::deserialize(object) {
        Ok(decoded) => decoded,
        Err(_) => decode_tracked(object)?,
    };
    serde_json::to_value(&decoded).map_err(|e| Issue {
        kind: IssueKind::WrongType,
        path: String::new(),
        message: e.to_string(),
    })
}

/// Decode with the path of the failing field; the error as an [`Issue`].
fn decode_tracked<T: DeserializeOwned>(object: &Value) -> Result<T, Issue> {
    serde_path_to_error::deserialize(object).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // A missing non-optional field surfaces as a decoding error; it is a required field.
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            let at = if path == "." {
                field.to_string()
            } else {
                join(&path, field)
            };
            return Issue {
                kind: IssueKind::Required,
                path: at,
                message: "Required value".into(),
            };
        }
        Issue {
            kind: IssueKind::WrongType,
            path,
            message,
        }
    })
}

/// Decode and re-encode an object through its typed struct; `None` for kinds without one.
/// `object` may be `Null` to ask only whether the kind is known (then the result is an error).
fn round_trip(gvk: &Gvk, object: &Value) -> Option<Result<Value, Issue>> {
    use k8s_openapi::api::{
        admissionregistration, apps, autoscaling, batch, coordination, core, discovery, events,
        networking, policy, rbac, scheduling, storage,
    };
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
    let o = object;
    Some(
        match (gvk.group.as_str(), gvk.version.as_str(), gvk.kind.as_str()) {
            ("", "v1", "ConfigMap") => typed::<core::v1::ConfigMap>(o),
            ("", "v1", "Secret") => typed::<core::v1::Secret>(o),
            ("", "v1", "Service") => typed::<core::v1::Service>(o),
            ("", "v1", "ServiceAccount") => typed::<core::v1::ServiceAccount>(o),
            ("", "v1", "PersistentVolume") => typed::<core::v1::PersistentVolume>(o),
            ("", "v1", "PersistentVolumeClaim") => typed::<core::v1::PersistentVolumeClaim>(o),
            ("", "v1", "Pod") => typed::<core::v1::Pod>(o),
            ("", "v1", "PodTemplate") => typed::<core::v1::PodTemplate>(o),
            ("", "v1", "ReplicationController") => typed::<core::v1::ReplicationController>(o),
            ("", "v1", "Namespace") => typed::<core::v1::Namespace>(o),
            ("", "v1", "Node") => typed::<core::v1::Node>(o),
            ("", "v1", "Event") => typed::<core::v1::Event>(o),
            ("", "v1", "Endpoints") => typed::<core::v1::Endpoints>(o),
            ("", "v1", "LimitRange") => typed::<core::v1::LimitRange>(o),
            ("", "v1", "ResourceQuota") => typed::<core::v1::ResourceQuota>(o),
            ("apps", "v1", "Deployment") => typed::<apps::v1::Deployment>(o),
            ("apps", "v1", "ReplicaSet") => typed::<apps::v1::ReplicaSet>(o),
            ("apps", "v1", "StatefulSet") => typed::<apps::v1::StatefulSet>(o),
            ("apps", "v1", "DaemonSet") => typed::<apps::v1::DaemonSet>(o),
            ("apps", "v1", "ControllerRevision") => typed::<apps::v1::ControllerRevision>(o),
            ("batch", "v1", "Job") => typed::<batch::v1::Job>(o),
            ("batch", "v1", "CronJob") => typed::<batch::v1::CronJob>(o),
            ("autoscaling", "v1", "HorizontalPodAutoscaler") => {
                typed::<autoscaling::v1::HorizontalPodAutoscaler>(o)
            }
            ("autoscaling", "v2", "HorizontalPodAutoscaler") => {
                typed::<autoscaling::v2::HorizontalPodAutoscaler>(o)
            }
            ("policy", "v1", "PodDisruptionBudget") => typed::<policy::v1::PodDisruptionBudget>(o),
            ("networking.k8s.io", "v1", "Ingress") => typed::<networking::v1::Ingress>(o),
            ("networking.k8s.io", "v1", "IngressClass") => typed::<networking::v1::IngressClass>(o),
            ("networking.k8s.io", "v1", "NetworkPolicy") => {
                typed::<networking::v1::NetworkPolicy>(o)
            }
            ("rbac.authorization.k8s.io", "v1", "Role") => typed::<rbac::v1::Role>(o),
            ("rbac.authorization.k8s.io", "v1", "ClusterRole") => typed::<rbac::v1::ClusterRole>(o),
            ("rbac.authorization.k8s.io", "v1", "RoleBinding") => typed::<rbac::v1::RoleBinding>(o),
            ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding") => {
                typed::<rbac::v1::ClusterRoleBinding>(o)
            }
            ("storage.k8s.io", "v1", "StorageClass") => typed::<storage::v1::StorageClass>(o),
            ("storage.k8s.io", "v1", "CSIDriver") => typed::<storage::v1::CSIDriver>(o),
            ("coordination.k8s.io", "v1", "Lease") => typed::<coordination::v1::Lease>(o),
            ("scheduling.k8s.io", "v1", "PriorityClass") => {
                typed::<scheduling::v1::PriorityClass>(o)
            }
            ("discovery.k8s.io", "v1", "EndpointSlice") => typed::<discovery::v1::EndpointSlice>(o),
            ("events.k8s.io", "v1", "Event") => typed::<events::v1::Event>(o),
            ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration") => {
                typed::<admissionregistration::v1::ValidatingWebhookConfiguration>(o)
            }
            ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration") => {
                typed::<admissionregistration::v1::MutatingWebhookConfiguration>(o)
            }
            ("apiextensions.k8s.io", "v1", "CustomResourceDefinition") => {
                typed::<apiextensions::v1::CustomResourceDefinition>(o)
            }
            _ => return None,
        },
    )
}

#[cfg(test)]
mod tests;
