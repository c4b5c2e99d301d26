//! The keys of the store: which resource (group + plural), which object (namespace + name).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A resource type as the store keeps it: API group and plural resource name.
///
/// The version is left out on purpose: the API server stores one copy of an object and serves it in
/// every version of its group (https://kubernetes.io/docs/reference/using-api/#api-versioning).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceKey {
    /// The API group, `""` for the core group.
    pub group: String,
    /// The plural resource name, as in URLs (`deployments`).
    pub resource: String,
}

impl ResourceKey {
    /// A resource of a named group (`ResourceKey::new("apps", "deployments")`).
    pub fn new(group: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            group: group.into(),
            resource: resource.into(),
        }
    }

    /// A resource of the core group (`ResourceKey::core("pods")`).
    pub fn core(resource: impl Into<String>) -> Self {
        Self::new("", resource)
    }
}

impl fmt::Display for ResourceKey {
    /// `deployments.apps`, or `pods` for the core group: the form kubectl and the API server use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}", self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

/// One object of a resource: namespace (`""` for cluster-scoped objects) and name.
///
/// The derived order (namespace, then name) is the order of etcd keys
/// `/registry/<resource>/<namespace>/<name>`, so lists come out as a real server's do.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectKey {
    /// The namespace, `""` for cluster-scoped objects.
    pub namespace: String,
    /// The object's name.
    pub name: String,
}

impl ObjectKey {
    /// The key of `name` in `namespace` (`None` or `""` for cluster-scoped objects).
    pub fn new(namespace: Option<&str>, name: &str) -> Self {
        Self {
            namespace: namespace.unwrap_or_default().to_owned(),
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}
