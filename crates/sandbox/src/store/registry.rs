//! The resource types the sandbox serves: the built-in kinds and those of established CRDs.
//!
//! What discovery publishes and how the server treats each resource (scope, short names,
//! subresources, whether `metadata.generation` is kept, which names are valid) is data here, so
//! the router, discovery and the store read one table.
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#standard-api-terminology

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::key::ResourceKey;

/// The verbs of an ordinary resource, as discovery lists them.
pub const STANDARD_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Which names an object of a resource may have.
///
/// https://kubernetes.io/docs/concepts/overview/working-with-objects/names/
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NameRule {
    /// RFC 1123 subdomain: most resources.
    Subdomain,
    /// RFC 1123 label: namespaces.
    Label,
    /// RFC 1035 label: services.
    Rfc1035Label,
    /// Any name that is a valid path segment: RBAC objects.
    PathSegment,
}

/// Where the `scale` subresource finds replicas and the selector (JSONPath-like dotted paths).
///
/// https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#scale-subresource
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalePaths {
    /// `.spec.replicas` for the built-in kinds.
    pub spec_replicas: String,
    /// `.status.replicas` for the built-in kinds.
    pub status_replicas: String,
    /// Where the label selector is; `None` leaves `status.selector` of the Scale empty.
    pub label_selector: Option<String>,
}

/// One resource type in one served version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceInfo {
    /// API group, `""` for core.
    pub group: String,
    /// The served version (`v1`).
    pub version: String,
    /// The kind (`Deployment`).
    pub kind: String,
    /// The plural resource name (`deployments`).
    pub plural: String,
    /// The singular name (`deployment`).
    pub singular: String,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// kubectl short names (`deploy`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// The verbs discovery lists.
    pub verbs: Vec<String>,
    /// Whether the `status` subresource exists (then main-resource writes keep the stored status).
    pub status_subresource: bool,
    /// The `scale` subresource, when the resource has one.
    pub scale: Option<ScalePaths>,
    /// Whether the server keeps `metadata.generation` (bumped on spec changes).
    pub generation: bool,
    /// Which names are valid.
    pub name_rule: NameRule,
    /// Where the objects are stored; differs from (group, plural) only for `events.k8s.io` events,
    /// which the real server stores with the core events.
    pub storage: ResourceKey,
    /// Whether the resource comes from a CustomResourceDefinition.
    pub custom: bool,
}

impl ResourceInfo {
    /// `group/version`, or `version` for the core group: the `apiVersion` of its objects.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The group-qualified resource (`deployments.apps`), as used in error messages.
    pub fn group_resource(&self) -> String {
        ResourceKey::new(self.group.clone(), self.plural.clone()).to_string()
    }

    /// The storage key of this resource.
    pub fn key(&self) -> &ResourceKey {
        &self.storage
    }
}

/// A compact way to write the built-in table.
struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    status: bool,
    scale: bool,
    generation: bool,
}

const fn b(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
) -> Builtin {
    Builtin {
        group,
        version,
        kind,
        plural,
        namespaced,
        short,
        status: false,
        scale: false,
        generation: false,
    }
}

impl Builtin {
    const fn status(mut self) -> Self {
        self.status = true;
        self
    }
    const fn scale(mut self) -> Self {
        self.scale = true;
        self
    }
    const fn generation(mut self) -> Self {
        self.generation = true;
        self
    }
}

/// The built-in kinds, as a Kubernetes 1.33 cluster (k8s-openapi `v1_33`) serves them.
/// https://kubernetes.io/docs/reference/kubernetes-api/
const BUILTINS: &[Builtin] = &[
    b("", "v1", "Namespace", "namespaces", false, &["ns"]).status(),
    b("", "v1", "ConfigMap", "configmaps", true, &["cm"]),
    b("", "v1", "Secret", "secrets", true, &[]),
    b("", "v1", "Service", "services", true, &["svc"]).status(),
    b("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"]),
    b("", "v1", "Endpoints", "endpoints", true, &["ep"]),
    b(
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        false,
        &["pv"],
    )
    .status(),
    b(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        &["pvc"],
    )
    .status(),
    b("", "v1", "Pod", "pods", true, &["po"]).status(),
    b("", "v1", "Event", "events", true, &["ev"]),
    b("", "v1", "Node", "nodes", false, &["no"]).status(),
    b("", "v1", "LimitRange", "limitranges", true, &["limits"]),
    b(
        "",
        "v1",
        "ResourceQuota",
        "resourcequotas",
        true,
        &["quota"],
    )
    .status(),
    b("apps", "v1", "Deployment", "deployments", true, &["deploy"])
        .status()
        .scale()
        .generation(),
    b("apps", "v1", "ReplicaSet", "replicasets", true, &["rs"])
        .status()
        .scale()
        .generation(),
    b("apps", "v1", "StatefulSet", "statefulsets", true, &["sts"])
        .status()
        .scale()
        .generation(),
    b("apps", "v1", "DaemonSet", "daemonsets", true, &["ds"])
        .status()
        .generation(),
    b(
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
        true,
        &[],
    ),
    b("batch", "v1", "Job", "jobs", true, &[])
        .status()
        .generation(),
    b("batch", "v1", "CronJob", "cronjobs", true, &["cj"])
        .status()
        .generation(),
    b(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        true,
        &["ing"],
    )
    .status()
    .generation(),
    b(
        "networking.k8s.io",
        "v1",
        "IngressClass",
        "ingressclasses",
        false,
        &[],
    ),
    b(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
        &["netpol"],
    )
    .generation(),
    b(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        &["hpa"],
    )
    .status()
    .generation(),
    b(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
        &["pdb"],
    )
    .status()
    .generation(),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        true,
        &[],
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
        &[],
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
        &[],
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
        &[],
    ),
    b("coordination.k8s.io", "v1", "Lease", "leases", true, &[]),
    b(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        false,
        &["sc"],
    ),
    b(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        true,
        &[],
    ),
    b("events.k8s.io", "v1", "Event", "events", true, &["ev"]),
    b(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        &["crd", "crds"],
    )
    .status()
    .generation(),
];

/// The kinds kubectl lists for `kubectl get all` (the `all` category).
const ALL_CATEGORY: &[&str] = &[
    "pods",
    "services",
    "deployments",
    "replicasets",
    "statefulsets",
    "daemonsets",
    "jobs",
    "cronjobs",
];

fn builtin_info(def: &Builtin) -> ResourceInfo {
    let name_rule = match (def.group, def.plural) {
        ("", "namespaces") => NameRule::Label,
        ("", "services") => NameRule::Rfc1035Label,
        ("rbac.authorization.k8s.io", _) => NameRule::PathSegment,
        _ => NameRule::Subdomain,
    };
    // events.k8s.io/v1 Events are the core Events in another shape; one storage for both.
    // https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/
    let storage = if def.group == "events.k8s.io" {
        ResourceKey::core("events")
    } else {
        ResourceKey::new(def.group, def.plural)
    };
    ResourceInfo {
        group: def.group.to_owned(),
        version: def.version.to_owned(),
        kind: def.kind.to_owned(),
        plural: def.plural.to_owned(),
        singular: def.kind.to_lowercase(),
        namespaced: def.namespaced,
        short_names: def.short.iter().map(|s| (*s).to_owned()).collect(),
        categories: if ALL_CATEGORY.contains(&def.plural) {
            vec!["all".to_owned()]
        } else {
            Vec::new()
        },
        verbs: STANDARD_VERBS.iter().map(|s| (*s).to_owned()).collect(),
        status_subresource: def.status,
        scale: def.scale.then(|| ScalePaths {
            spec_replicas: ".spec.replicas".to_owned(),
            status_replicas: ".status.replicas".to_owned(),
            label_selector: Some(".spec.selector".to_owned()),
        }),
        generation: def.generation,
        name_rule,
        storage,
        custom: false,
    }
}

/// The served resources: built-ins plus those of established CRDs, by group, version and plural.
#[derive(Clone, Debug)]
pub struct Registry {
    /// (group, version, plural) → info; ordered so discovery output is stable.
    served: BTreeMap<(String, String, String), ResourceInfo>,
    /// Group order for `/apis`: built-in groups first, in their table order, then CRD groups.
    group_order: Vec<String>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Registry {
    /// The built-in kinds only.
    pub fn builtin() -> Self {
        let mut registry = Self {
            served: BTreeMap::new(),
            group_order: Vec::new(),
        };
        for def in BUILTINS {
            registry.insert(builtin_info(def));
        }
        registry
    }

    fn insert(&mut self, info: ResourceInfo) {
        if !self.group_order.contains(&info.group) {
            self.group_order.push(info.group.clone());
        }
        self.served.insert(
            (
                info.group.clone(),
                info.version.clone(),
                info.plural.clone(),
            ),
            info,
        );
    }

    /// The resource served at `group/version/plural`.
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceInfo> {
        self.served
            .get(&(group.to_owned(), version.to_owned(), plural.to_owned()))
    }

    /// The resource of a storage key in its preferred (first served) version.
    pub fn by_key(&self, key: &ResourceKey) -> Option<&ResourceInfo> {
        self.served
            .values()
            .find(|info| info.group == key.group && info.plural == key.resource)
    }

    /// The resource serving `kind` in `apiVersion` (`apps/v1`, `v1`).
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceInfo> {
        let (group, version) = split_api_version(api_version);
        self.served
            .values()
            .find(|info| info.group == group && info.version == version && info.kind == kind)
    }

    /// Every served resource.
    pub fn iter(&self) -> impl Iterator<Item = &ResourceInfo> {
        self.served.values()
    }

    /// The groups, in discovery order (`""` first).
    pub fn groups(&self) -> &[String] {
        &self.group_order
    }

    /// The versions served for `group`, preferred first (CRDs list theirs in their own order).
    pub fn versions(&self, group: &str) -> Vec<String> {
        let mut versions: Vec<String> = Vec::new();
        for info in self.served.values().filter(|info| info.group == group) {
            if !versions.contains(&info.version) {
                versions.push(info.version.clone());
            }
        }
        // Kubernetes orders versions by stability: v2 > v1 > v1beta1 > v1alpha1.
        // https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definition-versioning/#version-priority
        versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        versions
    }

    /// Replaces the resources served for a CRD's group and plural (all versions) with `infos`.
    pub fn set_custom(&mut self, group: &str, plural: &str, infos: Vec<ResourceInfo>) {
        self.served
            .retain(|(g, _, p), info| !(info.custom && g == group && p == plural));
        for info in infos {
            self.insert(info);
        }
        let served = &self.served;
        self.group_order
            .retain(|g| served.values().any(|info| &info.group == g));
    }
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

/// Sort key of a Kubernetes version string: GA > beta > alpha, then by numbers.
fn version_priority(version: &str) -> (u8, u32, u32) {
    let Some(rest) = version.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let major = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    let (stability, tail) = if tail.is_empty() {
        (3, "")
    } else if let Some(t) = tail.strip_prefix("beta") {
        (2, t)
    } else if let Some(t) = tail.strip_prefix("alpha") {
        (1, t)
    } else {
        return (0, 0, 0);
    };
    (stability, major, tail.parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_by_stability() {
        let mut v = vec!["v1alpha1", "v2", "v1beta2", "v1", "v1beta1"];
        v.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        assert_eq!(v, ["v2", "v1", "v1beta2", "v1beta1", "v1alpha1"]);
    }

    #[test]
    fn events_of_both_groups_share_storage() {
        let registry = Registry::builtin();
        let core = registry.get("", "v1", "events").map(|i| i.storage.clone());
        let new = registry
            .get("events.k8s.io", "v1", "events")
            .map(|i| i.storage.clone());
        assert_eq!(core, new);
        assert_eq!(
            registry
                .by_key(&ResourceKey::core("events"))
                .map(|i| i.group.as_str()),
            Some("")
        );
    }
}
