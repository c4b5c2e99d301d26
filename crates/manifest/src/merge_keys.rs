//! Schema knowledge of lists and maps in built-in kinds: merged by key, a set, or atomic.
//!
//! Two merge engines read this table and they disagree on purpose, as the API server's do:
//! strategic merge patch reads the Go struct tags `patchStrategy` / `patchMergeKey`
//! (<https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/#notes-on-the-strategic-merge-patch>),
//! server-side apply reads `x-kubernetes-list-type` / `x-kubernetes-list-map-keys` /
//! `x-kubernetes-map-type` (<https://kubernetes.io/docs/reference/using-api/server-side-apply/#merge-strategy>).
//! Container ports, for example, merge by `containerPort` in a patch but by
//! `(containerPort, protocol)` in an apply.
//!
//! The table is a small type graph: each built-in kind names its root type, and each
//! `(type, field)` row says what the field holds (a nested type, a list of it) and how it merges.
//! Fields not in the table fall back to the defaults of both engines: maps merge
//! field by field, lists are replaced (SMP) or atomic (SSA). Sources: the Go types in
//! `k8s.io/api/*/v1/types.go` and `k8s.io/apimachinery/pkg/apis/meta/v1/types.go`,
//! cross-checked against the `DeepMerge` implementations `k8s-openapi` generates from the
//! OpenAPI list types.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use serde_json::Value;

/// A group, version and kind, e.g. `apps/v1 Deployment` (the core group is the empty string).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gvk {
    /// API group; empty for the core group (`v1`).
    pub group: String,
    /// API version within the group, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
}

impl Gvk {
    /// A GVK from its three parts.
    pub fn new(group: &str, version: &str, kind: &str) -> Self {
        Self {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
        }
    }

    /// A GVK from an object's `apiVersion` (`apps/v1`, or `v1` for the core group) and `kind`.
    pub fn from_api_version(api_version: &str, kind: &str) -> Self {
        match api_version.split_once('/') {
            Some((group, version)) => Self::new(group, version, kind),
            None => Self::new("", api_version, kind),
        }
    }

    /// The GVK an object declares in `apiVersion` and `kind`, if both are strings.
    pub fn of(object: &Value) -> Option<Self> {
        let api_version = object.get("apiVersion")?.as_str()?;
        let kind = object.get("kind")?.as_str()?;
        Some(Self::from_api_version(api_version, kind))
    }

    /// The `apiVersion` string: `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

impl fmt::Display for Gvk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.api_version(), self.kind)
    }
}

/// How strategic merge patch treats a list field (`patchStrategy` / `patchMergeKey`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmpStrategy {
    /// No `patchStrategy`: the patch's list replaces the whole list.
    Replace,
    /// `patchStrategy=merge` on a list of scalars: union, deletions via `$deleteFromPrimitiveList`.
    MergePrimitive,
    /// `patchStrategy=merge` with `patchMergeKey`: items with equal keys are merged.
    MergeByKey(&'static str),
}

/// How server-side apply treats a list field (`x-kubernetes-list-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsaListType {
    /// The list is owned and replaced as a whole.
    Atomic,
    /// A set of scalars; each value is owned on its own (`v:` in FieldsV1).
    Set,
    /// A list of maps identified by these keys (`k:` in FieldsV1).
    Map(&'static [&'static str]),
}

/// What the table knows about one field of a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSchema {
    /// For a list: its strategic-merge strategy. `None` for non-list fields.
    pub smp: Option<SmpStrategy>,
    /// For a list: its server-side-apply list type. `None` for non-list fields.
    pub ssa: Option<SsaListType>,
    /// `patchStrategy=retainKeys` on a map field, or on the items of a list field
    /// (`merge,retainKeys`): a patch's `$retainKeys` clears the keys it does not list.
    pub retain_keys: bool,
    /// `x-kubernetes-map-type: atomic` / `structType=atomic`: server-side apply owns the
    /// field as a whole (an apply replaces it, it appears as `f:field: {}`).
    pub atomic: bool,
    /// The named type of the field's value (for a list: of its items), when the table knows it.
    child: Option<&'static str>,
}

impl FieldSchema {
    /// A field the table knows nothing about: maps merge field by field, lists are replaced.
    pub const UNKNOWN: FieldSchema = FieldSchema {
        smp: None,
        ssa: None,
        retain_keys: false,
        atomic: false,
        child: None,
    };

    /// The type of the field's value (for a list: of its items), to look deeper fields up.
    pub fn child(&self) -> Option<TypeSchema> {
        self.child.map(TypeSchema)
    }

    /// The strategic merge strategy of this field as a list (`Replace` when not known).
    pub fn smp_strategy(&self) -> SmpStrategy {
        self.smp.unwrap_or(SmpStrategy::Replace)
    }

    /// The server-side-apply list type of this field (`Atomic` when not known).
    pub fn ssa_list_type(&self) -> SsaListType {
        self.ssa.unwrap_or(SsaListType::Atomic)
    }
}

/// A named type of the built-in schema (e.g. `PodSpec`), a cursor to look fields up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeSchema(&'static str);

impl TypeSchema {
    /// The Go type name this cursor stands for, e.g. `PodSpec`.
    pub fn name(&self) -> &'static str {
        self.0
    }

    /// What the table knows about `field` of this type (all `None` when nothing).
    pub fn field(&self, field: &str) -> FieldSchema {
        FIELD_INDEX
            .get(&(self.0, field))
            .copied()
            .unwrap_or(FieldSchema::UNKNOWN)
    }
}

/// The root type of a built-in kind, or `None` for kinds this table does not know
/// (custom resources, or built-ins outside the table).
pub fn root(gvk: &Gvk) -> Option<TypeSchema> {
    KINDS
        .iter()
        .find(|(group, kind, _)| *group == gvk.group && *kind == gvk.kind)
        .map(|(_, _, ty)| TypeSchema(ty))
}

/// Whether the kind is a built-in of the Kubernetes API (served by the API server itself,
/// not by a CRD). Strategic merge patch is only supported for these
/// (<https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#advanced-topics>:
/// "custom resources do not support strategic merge patch").
pub fn is_builtin(gvk: &Gvk) -> bool {
    BUILTIN_GROUPS.contains(&gvk.group.as_str())
}

/// What the table knows about the field at `path` (field names from the object root,
/// list indices left out), e.g. `["spec", "template", "spec", "containers"]`.
pub fn field_at(gvk: &Gvk, path: &[&str]) -> FieldSchema {
    let Some((last, parents)) = path.split_last() else {
        return FieldSchema::UNKNOWN;
    };
    let mut ty = root(gvk);
    for segment in parents {
        ty = ty.and_then(|t| t.field(segment).child());
    }
    ty.map(|t| t.field(last)).unwrap_or(FieldSchema::UNKNOWN)
}

/// API groups served by the API server itself (kube-apiserver's built-in groups).
const BUILTIN_GROUPS: &[&str] = &[
    "",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
];

/// Built-in kinds and their root types: (group, kind, type).
const KINDS: &[(&str, &str, &str)] = &[
    ("", "Pod", "Pod"),
    ("", "PodTemplate", "PodTemplate"),
    ("", "ReplicationController", "ReplicationController"),
    ("", "Service", "Service"),
    ("", "Endpoints", "Endpoints"),
    ("", "Namespace", "Namespace"),
    ("", "Node", "Node"),
    ("", "ConfigMap", "Object"),
    ("", "Secret", "Object"),
    ("", "ServiceAccount", "ServiceAccount"),
    ("", "PersistentVolume", "PersistentVolume"),
    ("", "PersistentVolumeClaim", "PersistentVolumeClaim"),
    ("", "Event", "Object"),
    ("", "LimitRange", "Object"),
    ("", "ResourceQuota", "Object"),
    ("apps", "Deployment", "Deployment"),
    ("apps", "ReplicaSet", "ReplicaSet"),
    ("apps", "StatefulSet", "StatefulSet"),
    ("apps", "DaemonSet", "DaemonSet"),
    ("apps", "ControllerRevision", "Object"),
    ("batch", "Job", "Job"),
    ("batch", "CronJob", "CronJob"),
    (
        "autoscaling",
        "HorizontalPodAutoscaler",
        "HorizontalPodAutoscaler",
    ),
    ("policy", "PodDisruptionBudget", "PodDisruptionBudget"),
    ("networking.k8s.io", "Ingress", "Ingress"),
    ("networking.k8s.io", "IngressClass", "Object"),
    ("networking.k8s.io", "NetworkPolicy", "NetworkPolicy"),
    ("rbac.authorization.k8s.io", "Role", "Role"),
    ("rbac.authorization.k8s.io", "ClusterRole", "ClusterRole"),
    ("rbac.authorization.k8s.io", "RoleBinding", "RoleBinding"),
    (
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        "RoleBinding",
    ),
    ("storage.k8s.io", "StorageClass", "StorageClass"),
    ("coordination.k8s.io", "Lease", "Object"),
    ("scheduling.k8s.io", "PriorityClass", "Object"),
    (
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        "CustomResourceDefinition",
    ),
];

/// One row of the type graph.
struct Row {
    ty: &'static str,
    field: &'static str,
    schema: FieldSchema,
}

/// A nested object of a named type.
const fn obj(ty: &'static str, field: &'static str, child: &'static str) -> Row {
    Row {
        ty,
        field,
        schema: FieldSchema {
            smp: None,
            ssa: None,
            retain_keys: false,
            atomic: false,
            child: Some(child),
        },
    }
}

/// An object owned as a whole by server-side apply (`structType=atomic` / `mapType=atomic`).
const fn atomic(ty: &'static str, field: &'static str) -> Row {
    Row {
        ty,
        field,
        schema: FieldSchema {
            smp: None,
            ssa: None,
            retain_keys: false,
            atomic: true,
            child: None,
        },
    }
}

/// A nested object with `patchStrategy=retainKeys` (a union such as a Deployment's strategy).
const fn retain(ty: &'static str, field: &'static str) -> Row {
    Row {
        ty,
        field,
        schema: FieldSchema {
            smp: None,
            ssa: None,
            retain_keys: true,
            atomic: false,
            child: None,
        },
    }
}

/// A list with its SMP strategy, SSA list type and item type.
const fn list(
    ty: &'static str,
    field: &'static str,
    smp: SmpStrategy,
    ssa: SsaListType,
    child: Option<&'static str>,
) -> Row {
    Row {
        ty,
        field,
        schema: FieldSchema {
            smp: Some(smp),
            ssa: Some(ssa),
            retain_keys: false,
            atomic: false,
            child,
        },
    }
}

/// A list whose items carry `patchStrategy=merge,retainKeys` (volumes: a union per item).
const fn list_retain(
    ty: &'static str,
    field: &'static str,
    smp: SmpStrategy,
    ssa: SsaListType,
    child: Option<&'static str>,
) -> Row {
    Row {
        ty,
        field,
        schema: FieldSchema {
            smp: Some(smp),
            ssa: Some(ssa),
            retain_keys: true,
            atomic: false,
            child,
        },
    }
}

/// A list replaced by a patch and atomic for apply: the default, spelled out where it matters
/// (e.g. tolerations, which users often expect to merge and which do not).
const fn atomic_list(ty: &'static str, field: &'static str) -> Row {
    list(ty, field, SmpStrategy::Replace, SsaListType::Atomic, None)
}

/// `patchStrategy=merge` + `patchMergeKey=key`, `listType=map` + `listMapKey=key`.
macro_rules! keyed {
    ($ty:literal, $field:literal, $key:literal, $child:expr) => {
        list(
            $ty,
            $field,
            SmpStrategy::MergeByKey($key),
            SsaListType::Map(&[$key]),
            $child,
        )
    };
}

use SmpStrategy::{MergeByKey, MergePrimitive, Replace};
use SsaListType::{Map, Set};

/// The type graph. Sources: `k8s.io/api/core/v1/types.go`, `apps/v1/types.go`,
/// `batch/v1/types.go`, `networking/v1/types.go`, `rbac/v1/types.go`, `autoscaling/v2/types.go`,
/// `policy/v1/types.go`, `apiextensions/v1/types.go`, `apimachinery/pkg/apis/meta/v1/types.go`
/// (struct tags and `+listType` markers).
const ROWS: &[Row] = &[
    // Every object: metadata.
    obj("Object", "metadata", "ObjectMeta"),
    // ObjectMeta: finalizers `patchStrategy=merge` + `listType=set`; ownerReferences by uid.
    list("ObjectMeta", "finalizers", MergePrimitive, Set, None),
    keyed!("ObjectMeta", "ownerReferences", "uid", None),
    atomic_list("ObjectMeta", "managedFields"),
    // Pods and templates.
    obj("Pod", "metadata", "ObjectMeta"),
    obj("Pod", "spec", "PodSpec"),
    obj("Pod", "status", "PodStatus"),
    obj("PodTemplate", "metadata", "ObjectMeta"),
    obj("PodTemplate", "template", "PodTemplateSpec"),
    obj("PodTemplateSpec", "metadata", "ObjectMeta"),
    obj("PodTemplateSpec", "spec", "PodSpec"),
    list_retain(
        "PodSpec",
        "volumes",
        MergeByKey("name"),
        Map(&["name"]),
        Some("Volume"),
    ),
    keyed!("PodSpec", "initContainers", "name", Some("Container")),
    keyed!("PodSpec", "containers", "name", Some("Container")),
    keyed!("PodSpec", "ephemeralContainers", "name", Some("Container")),
    keyed!("PodSpec", "imagePullSecrets", "name", None),
    keyed!("PodSpec", "hostAliases", "ip", Some("HostAlias")),
    atomic_list("PodSpec", "tolerations"),
    list(
        "PodSpec",
        "topologySpreadConstraints",
        MergeByKey("topologyKey"),
        Map(&["topologyKey", "whenUnsatisfiable"]),
        Some("TopologySpreadConstraint"),
    ),
    atomic_list("PodSpec", "readinessGates"),
    list_retain(
        "PodSpec",
        "resourceClaims",
        MergeByKey("name"),
        Map(&["name"]),
        None,
    ),
    keyed!("PodSpec", "schedulingGates", "name", None),
    atomic("PodSpec", "nodeSelector"),
    obj("PodSpec", "affinity", "Affinity"),
    obj("PodSpec", "securityContext", "PodSecurityContext"),
    obj("PodSpec", "dnsConfig", "PodDNSConfig"),
    atomic_list("HostAlias", "hostnames"),
    atomic_list("PodSecurityContext", "supplementalGroups"),
    atomic_list("PodSecurityContext", "sysctls"),
    atomic_list("PodDNSConfig", "nameservers"),
    atomic_list("PodDNSConfig", "searches"),
    atomic_list("PodDNSConfig", "options"),
    atomic("TopologySpreadConstraint", "labelSelector"),
    atomic_list("TopologySpreadConstraint", "matchLabelKeys"),
    obj("Affinity", "nodeAffinity", "NodeAffinity"),
    obj("Affinity", "podAffinity", "PodAffinity"),
    obj("Affinity", "podAntiAffinity", "PodAffinity"),
    atomic(
        "NodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
    ),
    atomic_list(
        "NodeAffinity",
        "preferredDuringSchedulingIgnoredDuringExecution",
    ),
    atomic_list(
        "PodAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
    ),
    atomic_list(
        "PodAffinity",
        "preferredDuringSchedulingIgnoredDuringExecution",
    ),
    // Containers (Container and EphemeralContainer share their lists).
    list(
        "Container",
        "ports",
        MergeByKey("containerPort"),
        Map(&["containerPort", "protocol"]),
        None,
    ),
    keyed!("Container", "env", "name", None),
    keyed!("Container", "volumeMounts", "mountPath", None),
    keyed!("Container", "volumeDevices", "devicePath", None),
    atomic_list("Container", "envFrom"),
    atomic_list("Container", "command"),
    atomic_list("Container", "args"),
    atomic_list("Container", "resizePolicy"),
    obj("Container", "resources", "ResourceRequirements"),
    obj("Container", "securityContext", "SecurityContext"),
    obj("Container", "livenessProbe", "Probe"),
    obj("Container", "readinessProbe", "Probe"),
    obj("Container", "startupProbe", "Probe"),
    list(
        "ResourceRequirements",
        "claims",
        Replace,
        Map(&["name"]),
        None,
    ),
    obj("SecurityContext", "capabilities", "Capabilities"),
    atomic_list("Capabilities", "add"),
    atomic_list("Capabilities", "drop"),
    obj("Probe", "exec", "ExecAction"),
    obj("Probe", "httpGet", "HTTPGetAction"),
    atomic_list("ExecAction", "command"),
    atomic_list("HTTPGetAction", "httpHeaders"),
    // Volumes: sources whose item lists are atomic.
    obj("Volume", "configMap", "KeyToPathSource"),
    obj("Volume", "secret", "KeyToPathSource"),
    obj("Volume", "downwardAPI", "KeyToPathSource"),
    obj("Volume", "projected", "ProjectedVolumeSource"),
    atomic_list("KeyToPathSource", "items"),
    atomic_list("ProjectedVolumeSource", "sources"),
    // Pod status.
    keyed!("PodStatus", "conditions", "type", None),
    keyed!("PodStatus", "podIPs", "ip", None),
    keyed!("PodStatus", "hostIPs", "ip", None),
    atomic_list("PodStatus", "containerStatuses"),
    atomic_list("PodStatus", "initContainerStatuses"),
    atomic_list("PodStatus", "ephemeralContainerStatuses"),
    // ReplicationController.
    obj("ReplicationController", "metadata", "ObjectMeta"),
    obj("ReplicationController", "spec", "ReplicationControllerSpec"),
    obj("ReplicationController", "status", "WorkloadStatus"),
    atomic("ReplicationControllerSpec", "selector"),
    obj("ReplicationControllerSpec", "template", "PodTemplateSpec"),
    // Service.
    obj("Service", "metadata", "ObjectMeta"),
    obj("Service", "spec", "ServiceSpec"),
    obj("Service", "status", "ServiceStatus"),
    list(
        "ServiceSpec",
        "ports",
        MergeByKey("port"),
        Map(&["port", "protocol"]),
        None,
    ),
    atomic("ServiceSpec", "selector"),
    atomic_list("ServiceSpec", "clusterIPs"),
    atomic_list("ServiceSpec", "externalIPs"),
    atomic_list("ServiceSpec", "ipFamilies"),
    atomic_list("ServiceSpec", "loadBalancerSourceRanges"),
    keyed!("ServiceStatus", "conditions", "type", None),
    obj("ServiceStatus", "loadBalancer", "LoadBalancerStatus"),
    atomic_list("LoadBalancerStatus", "ingress"),
    // Endpoints, Namespace, Node, ServiceAccount.
    obj("Endpoints", "metadata", "ObjectMeta"),
    atomic_list("Endpoints", "subsets"),
    obj("Namespace", "metadata", "ObjectMeta"),
    obj("Namespace", "spec", "NamespaceSpec"),
    obj("Namespace", "status", "ConditionsStatus"),
    atomic_list("NamespaceSpec", "finalizers"),
    obj("Node", "metadata", "ObjectMeta"),
    obj("Node", "spec", "NodeSpec"),
    obj("Node", "status", "NodeStatus"),
    list("NodeSpec", "podCIDRs", MergePrimitive, Set, None),
    atomic_list("NodeSpec", "taints"),
    keyed!("NodeStatus", "conditions", "type", None),
    keyed!("NodeStatus", "addresses", "type", None),
    atomic_list("NodeStatus", "images"),
    obj("ServiceAccount", "metadata", "ObjectMeta"),
    keyed!("ServiceAccount", "secrets", "name", None),
    atomic_list("ServiceAccount", "imagePullSecrets"),
    // Volumes and claims.
    obj("PersistentVolume", "metadata", "ObjectMeta"),
    obj("PersistentVolume", "spec", "PersistentVolumeSpec"),
    atomic_list("PersistentVolumeSpec", "accessModes"),
    atomic_list("PersistentVolumeSpec", "mountOptions"),
    atomic("PersistentVolumeSpec", "claimRef"),
    atomic("PersistentVolumeSpec", "nodeAffinity"),
    obj("PersistentVolumeClaim", "metadata", "ObjectMeta"),
    obj("PersistentVolumeClaim", "spec", "PersistentVolumeClaimSpec"),
    obj(
        "PersistentVolumeClaim",
        "status",
        "PersistentVolumeClaimStatus",
    ),
    atomic_list("PersistentVolumeClaimSpec", "accessModes"),
    atomic("PersistentVolumeClaimSpec", "selector"),
    atomic_list("PersistentVolumeClaimStatus", "accessModes"),
    keyed!("PersistentVolumeClaimStatus", "conditions", "type", None),
    // apps/v1.
    obj("Deployment", "metadata", "ObjectMeta"),
    obj("Deployment", "spec", "DeploymentSpec"),
    obj("Deployment", "status", "ConditionsStatus"),
    atomic("DeploymentSpec", "selector"),
    obj("DeploymentSpec", "template", "PodTemplateSpec"),
    retain("DeploymentSpec", "strategy"),
    obj("ReplicaSet", "metadata", "ObjectMeta"),
    obj("ReplicaSet", "spec", "WorkloadSpec"),
    obj("ReplicaSet", "status", "ConditionsStatus"),
    obj("DaemonSet", "metadata", "ObjectMeta"),
    obj("DaemonSet", "spec", "WorkloadSpec"),
    obj("DaemonSet", "status", "ConditionsStatus"),
    obj("StatefulSet", "metadata", "ObjectMeta"),
    obj("StatefulSet", "spec", "StatefulSetSpec"),
    obj("StatefulSet", "status", "ConditionsStatus"),
    atomic("StatefulSetSpec", "selector"),
    obj("StatefulSetSpec", "template", "PodTemplateSpec"),
    atomic_list("StatefulSetSpec", "volumeClaimTemplates"),
    atomic("WorkloadSpec", "selector"),
    obj("WorkloadSpec", "template", "PodTemplateSpec"),
    keyed!("ConditionsStatus", "conditions", "type", None),
    // batch/v1.
    obj("Job", "metadata", "ObjectMeta"),
    obj("Job", "spec", "JobSpec"),
    obj("Job", "status", "ConditionsStatus"),
    atomic("JobSpec", "selector"),
    obj("JobSpec", "template", "PodTemplateSpec"),
    atomic("JobSpec", "podFailurePolicy"),
    obj("CronJob", "metadata", "ObjectMeta"),
    obj("CronJob", "spec", "CronJobSpec"),
    obj("CronJob", "status", "CronJobStatus"),
    obj("CronJobSpec", "jobTemplate", "JobTemplateSpec"),
    obj("JobTemplateSpec", "metadata", "ObjectMeta"),
    obj("JobTemplateSpec", "spec", "JobSpec"),
    atomic_list("CronJobStatus", "active"),
    // autoscaling, policy.
    obj("HorizontalPodAutoscaler", "metadata", "ObjectMeta"),
    obj(
        "HorizontalPodAutoscaler",
        "spec",
        "HorizontalPodAutoscalerSpec",
    ),
    obj(
        "HorizontalPodAutoscaler",
        "status",
        "HorizontalPodAutoscalerStatus",
    ),
    atomic_list("HorizontalPodAutoscalerSpec", "metrics"),
    keyed!("HorizontalPodAutoscalerStatus", "conditions", "type", None),
    atomic_list("HorizontalPodAutoscalerStatus", "currentMetrics"),
    obj("PodDisruptionBudget", "metadata", "ObjectMeta"),
    obj("PodDisruptionBudget", "spec", "PodDisruptionBudgetSpec"),
    obj("PodDisruptionBudget", "status", "ConditionsStatus"),
    atomic("PodDisruptionBudgetSpec", "selector"),
    // networking.k8s.io/v1.
    obj("Ingress", "metadata", "ObjectMeta"),
    obj("Ingress", "spec", "IngressSpec"),
    atomic_list("IngressSpec", "rules"),
    atomic_list("IngressSpec", "tls"),
    obj("NetworkPolicy", "metadata", "ObjectMeta"),
    obj("NetworkPolicy", "spec", "NetworkPolicySpec"),
    atomic("NetworkPolicySpec", "podSelector"),
    atomic_list("NetworkPolicySpec", "ingress"),
    atomic_list("NetworkPolicySpec", "egress"),
    atomic_list("NetworkPolicySpec", "policyTypes"),
    // rbac.authorization.k8s.io/v1.
    obj("Role", "metadata", "ObjectMeta"),
    atomic_list("Role", "rules"),
    obj("ClusterRole", "metadata", "ObjectMeta"),
    atomic_list("ClusterRole", "rules"),
    obj("ClusterRole", "aggregationRule", "AggregationRule"),
    atomic_list("AggregationRule", "clusterRoleSelectors"),
    obj("RoleBinding", "metadata", "ObjectMeta"),
    atomic_list("RoleBinding", "subjects"),
    atomic("RoleBinding", "roleRef"),
    // storage.k8s.io/v1.
    obj("StorageClass", "metadata", "ObjectMeta"),
    atomic_list("StorageClass", "mountOptions"),
    atomic_list("StorageClass", "allowedTopologies"),
    // apiextensions.k8s.io/v1.
    obj("CustomResourceDefinition", "metadata", "ObjectMeta"),
    obj("CustomResourceDefinition", "status", "ConditionsStatus"),
];

static FIELD_INDEX: LazyLock<HashMap<(&'static str, &'static str), FieldSchema>> =
    LazyLock::new(|| {
        ROWS.iter()
            .map(|row| ((row.ty, row.field), row.schema))
            .collect()
    });

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Gvk {
        Gvk::new("apps", "v1", "Deployment")
    }

    #[test]
    fn containers_merge_by_name_in_both_engines() {
        let f = field_at(&deployment(), &["spec", "template", "spec", "containers"]);
        assert_eq!(f.smp_strategy(), SmpStrategy::MergeByKey("name"));
        assert_eq!(f.ssa_list_type(), SsaListType::Map(&["name"]));
        assert_eq!(f.child().map(|t| t.name()), Some("Container"));
    }

    #[test]
    fn container_ports_key_differs_between_patch_and_apply() {
        let f = field_at(
            &deployment(),
            &["spec", "template", "spec", "containers", "ports"],
        );
        assert_eq!(f.smp_strategy(), SmpStrategy::MergeByKey("containerPort"));
        assert_eq!(
            f.ssa_list_type(),
            SsaListType::Map(&["containerPort", "protocol"])
        );
        let svc = field_at(&Gvk::new("", "v1", "Service"), &["spec", "ports"]);
        assert_eq!(svc.smp_strategy(), SmpStrategy::MergeByKey("port"));
        assert_eq!(svc.ssa_list_type(), SsaListType::Map(&["port", "protocol"]));
    }

    #[test]
    fn pod_spec_is_found_under_every_workload() {
        let cron = Gvk::new("batch", "v1", "CronJob");
        let env = field_at(
            &cron,
            &[
                "spec",
                "jobTemplate",
                "spec",
                "template",
                "spec",
                "initContainers",
                "env",
            ],
        );
        assert_eq!(env.smp_strategy(), SmpStrategy::MergeByKey("name"));
        let pod = Gvk::new("", "v1", "Pod");
        let mounts = field_at(&pod, &["spec", "ephemeralContainers", "volumeMounts"]);
        assert_eq!(mounts.smp_strategy(), SmpStrategy::MergeByKey("mountPath"));
    }

    #[test]
    fn tolerations_are_atomic_and_finalizers_a_set() {
        let t = field_at(&deployment(), &["spec", "template", "spec", "tolerations"]);
        assert_eq!(t.smp_strategy(), SmpStrategy::Replace);
        assert_eq!(t.ssa_list_type(), SsaListType::Atomic);
        let f = field_at(
            &Gvk::new("", "v1", "ConfigMap"),
            &["metadata", "finalizers"],
        );
        assert_eq!(f.smp_strategy(), SmpStrategy::MergePrimitive);
        assert_eq!(f.ssa_list_type(), SsaListType::Set);
    }

    #[test]
    fn volumes_and_strategy_retain_keys_and_selectors_are_atomic() {
        assert!(field_at(&deployment(), &["spec", "template", "spec", "volumes"]).retain_keys);
        assert!(field_at(&deployment(), &["spec", "strategy"]).retain_keys);
        assert!(field_at(&deployment(), &["spec", "selector"]).atomic);
        assert!(!field_at(&deployment(), &["spec", "template"]).atomic);
    }

    #[test]
    fn unknown_kinds_and_fields_fall_back_to_replace() {
        let cr = Gvk::new("example.com", "v1", "Widget");
        assert!(!is_builtin(&cr));
        assert!(is_builtin(&deployment()));
        assert!(is_builtin(&Gvk::new("", "v1", "ConfigMap")));
        assert_eq!(
            field_at(&cr, &["spec", "items"]).smp_strategy(),
            SmpStrategy::Replace
        );
        assert_eq!(
            field_at(&deployment(), &["spec", "nope"]).ssa_list_type(),
            SsaListType::Atomic
        );
    }

    #[test]
    fn gvk_round_trips_api_version() {
        let g = Gvk::from_api_version("v1", "Service");
        assert_eq!(g.group, "");
        assert_eq!(g.api_version(), "v1");
        let d = Gvk::of(&serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment"}));
        assert_eq!(d, Some(deployment()));
        assert_eq!(deployment().to_string(), "apps/v1 Deployment");
    }
}
