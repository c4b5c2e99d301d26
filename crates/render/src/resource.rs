//! `Resource`: one object in a build, with the bookkeeping kustomize keeps beside it
//! (name history for reference fixing, generator behaviour, prefixes applied).

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::origin::Origin;

/// The identity kustomize uses inside a build: group, version, kind, namespace, name.
/// Unlike `ObjectRef` the version takes part, as in kustomize's `ResId`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResId {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ResId {
    /// Namespaces compare with `""` and `"default"` as the same, as kustomize's `IsNsEquals`.
    pub fn ns_equals(&self, other: &ResId) -> bool {
        effective_ns(&self.namespace) == effective_ns(&other.namespace)
    }

    /// kustomize's `ResId.Equals`: same GVK and name, equivalent namespaces.
    pub fn same(&self, other: &ResId) -> bool {
        self.group == other.group
            && self.version == other.version
            && self.kind == other.kind
            && self.name == other.name
            && self.ns_equals(other)
    }

    /// Whether the kind is cluster-scoped (per the built-in Kubernetes kinds).
    pub fn is_cluster_scoped(&self) -> bool {
        is_cluster_scoped(&self.group, &self.kind)
    }
}

impl std::fmt::Display for ResId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.group.is_empty() {
            write!(f, "{}/", self.group)?;
        }
        write!(f, "{}", self.kind)?;
        if !self.version.is_empty() {
            write!(f, ".{}", self.version)?;
        }
        f.write_str(" ")?;
        if !self.namespace.is_empty() {
            write!(f, "{}/", self.namespace)?;
        }
        f.write_str(&self.name)
    }
}

/// `""` means the `default` namespace.
pub fn effective_ns(ns: &str) -> &str {
    if ns.is_empty() { "default" } else { ns }
}

/// Cluster-scoped kinds of Kubernetes (group, kind), as kustomize's built-in OpenAPI data
/// says; anything else (custom resources included) is treated as namespaced, as kustomize does.
/// https://kubernetes.io/docs/reference/kubernetes-api/
pub fn is_cluster_scoped(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        (
            "",
            "Namespace" | "Node" | "PersistentVolume" | "ComponentStatus"
        ) | (
            "rbac.authorization.k8s.io",
            "ClusterRole" | "ClusterRoleBinding"
        ) | ("apiextensions.k8s.io", "CustomResourceDefinition")
            | ("apiregistration.k8s.io", "APIService")
            | (
                "admissionregistration.k8s.io",
                "MutatingWebhookConfiguration"
                    | "ValidatingWebhookConfiguration"
                    | "ValidatingAdmissionPolicy"
                    | "ValidatingAdmissionPolicyBinding"
            )
            | (
                "storage.k8s.io",
                "StorageClass" | "CSIDriver" | "CSINode" | "VolumeAttachment"
            )
            | ("scheduling.k8s.io", "PriorityClass")
            | ("node.k8s.io", "RuntimeClass")
            | ("networking.k8s.io", "IngressClass")
            | ("policy", "PodSecurityPolicy")
            | ("extensions", "PodSecurityPolicy")
            | ("certificates.k8s.io", "CertificateSigningRequest")
            | (
                "flowcontrol.apiserver.k8s.io",
                "FlowSchema" | "PriorityLevelConfiguration"
            )
            | ("authentication.k8s.io", "TokenReview")
            | (
                "authorization.k8s.io",
                "SelfSubjectAccessReview" | "SelfSubjectRulesReview" | "SubjectAccessReview"
            )
    )
}

/// What a generator asked for its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    Create,
    Merge,
    Replace,
}

/// One object in a build.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The object itself.
    pub obj: Map<String, Value>,
    /// Earlier ids, oldest first (not the current one): kustomize's `PrevIds`.
    pub prev: Vec<ResId>,
    /// Name prefixes and suffixes applied so far (kustomize compares them when a
    /// reference has several candidates).
    pub prefixes: Vec<String>,
    pub suffixes: Vec<String>,
    /// Set for generator output: the behaviour and whether the name gets a content hash.
    pub behavior: Option<Behavior>,
    pub needs_hash: bool,
    /// Where the object was declared; set only by builds that track origins.
    pub origin: Option<Arc<Origin>>,
}

fn str_at<'a>(obj: &'a Map<String, Value>, a: &str, b: Option<&str>) -> &'a str {
    let v = obj.get(a);
    let v = match b {
        Some(b) => v.and_then(|m| m.get(b)),
        None => v,
    };
    v.and_then(Value::as_str).unwrap_or("")
}

impl Resource {
    /// Wrap an object read from a file or made by a generator.
    pub fn new(obj: Map<String, Value>) -> Self {
        Self {
            obj,
            prev: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            behavior: None,
            needs_hash: false,
            origin: None,
        }
    }

    pub fn api_version(&self) -> &str {
        str_at(&self.obj, "apiVersion", None)
    }

    pub fn kind(&self) -> &str {
        str_at(&self.obj, "kind", None)
    }

    pub fn name(&self) -> &str {
        str_at(&self.obj, "metadata", Some("name"))
    }

    pub fn namespace(&self) -> &str {
        str_at(&self.obj, "metadata", Some("namespace"))
    }

    /// (group, version) of the `apiVersion`.
    pub fn group_version(&self) -> (&str, &str) {
        let av = self.api_version();
        match av.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", av),
        }
    }

    /// The current id.
    pub fn cur_id(&self) -> ResId {
        let (g, v) = self.group_version();
        ResId {
            group: g.to_string(),
            version: v.to_string(),
            kind: self.kind().to_string(),
            namespace: self.namespace().to_string(),
            name: self.name().to_string(),
        }
    }

    /// The first id this object had in the build.
    pub fn org_id(&self) -> ResId {
        self.prev.first().cloned().unwrap_or_else(|| self.cur_id())
    }

    /// Every id the object had, the current one last.
    pub fn all_ids(&self) -> Vec<ResId> {
        let mut ids = self.prev.clone();
        ids.push(self.cur_id());
        ids
    }

    /// Remember the current id before a rename.
    pub fn store_prev_id(&mut self) {
        let id = self.cur_id();
        if self.prev.last() != Some(&id) {
            self.prev.push(id);
        }
    }

    fn metadata_mut(&mut self) -> &mut Map<String, Value> {
        ensure_object(self.obj.entry("metadata").or_insert(Value::Null))
    }

    pub fn set_name(&mut self, name: &str) {
        self.metadata_mut()
            .insert("name".into(), Value::String(name.to_string()));
    }

    pub fn set_namespace(&mut self, ns: &str) {
        if ns.is_empty() {
            self.metadata_mut().remove("namespace");
        } else {
            self.metadata_mut()
                .insert("namespace".into(), Value::String(ns.to_string()));
        }
    }

    /// A string map under `metadata` (labels, annotations); empty when absent.
    pub fn meta_map(&self, key: &str) -> Map<String, Value> {
        self.obj
            .get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    /// Replace a string map under `metadata`; an empty map removes the key.
    pub fn set_meta_map(&mut self, key: &str, map: Map<String, Value>) {
        if map.is_empty() {
            self.metadata_mut().remove(key);
        } else {
            self.metadata_mut()
                .insert(key.to_string(), Value::Object(map));
        }
    }
}

/// Make `v` a mapping (replacing anything else) and return it.
pub fn ensure_object(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(m) => m,
        // The line above made it a mapping.
        _ => unreachable!("value was just made a mapping"),
    }
}
