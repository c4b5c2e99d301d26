//! `ObjectRef`: the identity of a Kubernetes object (group, kind, namespace, name).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The identity of one object: what the API server keys it by.
///
/// The `version` is carried along (it says how to address the object) but is not part of
/// the identity: `apps/v1 Deployment qa/web` and `apps/v1beta2 Deployment qa/web` are the
/// same object on a cluster, so equality, ordering and hashing ignore it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectRef {
    /// API group; empty for the core group (`v1`).
    pub group: String,
    /// API version without the group (`v1`, `v1beta1`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The kind (`Deployment`).
    pub kind: String,
    /// The namespace; `None` for cluster-scoped objects or when none was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The object's name.
    pub name: String,
}

/// Why a JSON value is not a Kubernetes object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectRefError {
    /// The value is not a mapping.
    #[error("the document is not a mapping")]
    NotAnObject,
    /// A required field is absent, empty or not a string.
    #[error("the object has no `{0}`")]
    Missing(&'static str),
}

impl ObjectRef {
    /// An id from its parts; an empty namespace counts as none.
    pub fn new(
        group: impl Into<String>,
        version: Option<String>,
        kind: impl Into<String>,
        namespace: Option<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            group: group.into(),
            version,
            kind: kind.into(),
            namespace: namespace.filter(|n| !n.is_empty()),
            name: name.into(),
        }
    }

    /// The id of an object given as JSON: `apiVersion`, `kind` and `metadata.name` are
    /// required; `metadata.namespace` is optional.
    pub fn from_value(value: &Value) -> Result<Self, ObjectRefError> {
        let obj = value.as_object().ok_or(ObjectRefError::NotAnObject)?;
        let api_version = obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or(ObjectRefError::Missing("apiVersion"))?;
        let kind = obj
            .get("kind")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or(ObjectRefError::Missing("kind"))?;
        let metadata = obj.get("metadata");
        let name = metadata
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or(ObjectRefError::Missing("metadata.name"))?;
        let namespace = metadata
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let (group, version) = split_api_version(api_version);
        Ok(Self::new(
            group,
            Some(version.to_string()),
            kind,
            namespace,
            name,
        ))
    }

    /// `group/version`, or just `version` for the core group; `None` without a version.
    pub fn api_version(&self) -> Option<String> {
        let version = self.version.as_deref()?;
        Some(if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.group)
        })
    }

    fn key(&self) -> (&str, &str, Option<&str>, &str) {
        (
            &self.group,
            &self.kind,
            self.namespace.as_deref(),
            &self.name,
        )
    }
}

/// Split an `apiVersion` into group and version: `apps/v1` → (`apps`, `v1`), `v1` → (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

impl PartialEq for ObjectRef {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for ObjectRef {}

impl Hash for ObjectRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialOrd for ObjectRef {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ObjectRef {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// `apps/Deployment qa/frontend`, `ConfigMap qa/settings`, `Namespace qa`.
impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.group.is_empty() {
            write!(f, "{}/", self.group)?;
        }
        write!(f, "{} ", self.kind)?;
        if let Some(ns) = &self.namespace {
            write!(f, "{ns}/")?;
        }
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_an_object_and_displays_it() {
        let v = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": "frontend", "namespace": "qa"}});
        let r = ObjectRef::from_value(&v).unwrap();
        assert_eq!(r.group, "apps");
        assert_eq!(r.version.as_deref(), Some("v1"));
        assert_eq!(r.to_string(), "apps/Deployment qa/frontend");
        assert_eq!(r.api_version().as_deref(), Some("apps/v1"));
    }

    #[test]
    fn core_and_cluster_scoped_objects_display_without_group_or_namespace() {
        let v = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "qa"}});
        let r = ObjectRef::from_value(&v).unwrap();
        assert_eq!(r.to_string(), "Namespace qa");
        assert_eq!(r.namespace, None);
    }

    #[test]
    fn refuses_values_that_are_not_objects() {
        assert_eq!(
            ObjectRef::from_value(&json!([1])),
            Err(ObjectRefError::NotAnObject)
        );
        let no_name = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}});
        assert_eq!(
            ObjectRef::from_value(&no_name),
            Err(ObjectRefError::Missing("metadata.name"))
        );
        let no_kind = json!({"apiVersion": "v1", "metadata": {"name": "x"}});
        assert_eq!(
            ObjectRef::from_value(&no_kind),
            Err(ObjectRefError::Missing("kind"))
        );
    }

    #[test]
    fn identity_ignores_the_version_and_orders_by_group_kind_namespace_name() {
        let a = ObjectRef::new(
            "apps",
            Some("v1".into()),
            "Deployment",
            Some("qa".into()),
            "web",
        );
        let b = ObjectRef::new(
            "apps",
            Some("v1beta2".into()),
            "Deployment",
            Some("qa".into()),
            "web",
        );
        assert_eq!(a, b);
        let c = ObjectRef::new("", None, "ConfigMap", Some("qa".into()), "web");
        assert!(c < a, "core group sorts first");
        let d = ObjectRef::new("apps", None, "Deployment", None, "web");
        assert!(d < a, "no namespace sorts before a namespace");
        assert_eq!(
            ObjectRef::new("", None, "Namespace", Some(String::new()), "x").namespace,
            None
        );
    }
}
