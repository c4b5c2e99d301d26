//! `TransformerConfig`: which fields each built-in transformer touches, kustomize's
//! defaults (api/internal/konfig/builtinpluginconsts) plus `configurations` files.

use serde::Deserialize;

use crate::fieldspec::{FieldSpec, GvkSel};
use crate::kustomization::FieldSpecEntry;

/// The fields that refer to objects of one kind by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameBackRef {
    /// The kind referred to.
    pub gvk: GvkSel,
    /// Where referrers hold the name.
    pub referrers: Vec<FieldSpec>,
}

/// The field specs of every built-in transformer.
#[derive(Debug, Clone, Default)]
pub struct TransformerConfig {
    pub name_prefix: Vec<FieldSpec>,
    pub name_suffix: Vec<FieldSpec>,
    pub namespace: Vec<FieldSpec>,
    pub common_labels: Vec<FieldSpec>,
    pub template_labels: Vec<FieldSpec>,
    /// Extra specs for every `labels` entry (the `labels` key of `configurations`).
    pub labels: Vec<FieldSpec>,
    pub common_annotations: Vec<FieldSpec>,
    pub name_reference: Vec<NameBackRef>,
    pub images: Vec<FieldSpec>,
    pub replicas: Vec<FieldSpec>,
}

fn fs(group: &str, version: &str, kind: &str, path: &str, create: bool) -> FieldSpec {
    FieldSpec::new(GvkSel::new(group, version, kind), path, create)
}

/// The pod-spec locations of the workload kinds, for references that live in pod specs.
const POD_SPECS: &[(&str, &str, &str)] = &[
    ("v1", "Pod", "spec"),
    ("", "PodTemplate", "template/spec"),
    ("", "Deployment", "spec/template/spec"),
    ("", "ReplicaSet", "spec/template/spec"),
    ("", "DaemonSet", "spec/template/spec"),
    ("", "StatefulSet", "spec/template/spec"),
    ("", "Job", "spec/template/spec"),
    ("", "CronJob", "spec/jobTemplate/spec/template/spec"),
];

fn pod_refs(paths: &[&str], skip_cron: &[&str]) -> Vec<FieldSpec> {
    let mut out = Vec::new();
    for (version, kind, prefix) in POD_SPECS {
        for p in paths {
            if *kind == "CronJob" && skip_cron.contains(p) {
                continue;
            }
            out.push(fs("", version, kind, &format!("{prefix}/{p}"), false));
        }
    }
    out
}

fn workload_refs(path: &str, kinds: &[(&str, &str)]) -> Vec<FieldSpec> {
    kinds
        .iter()
        .map(|(kind, prefix)| fs("", "", kind, &format!("{prefix}/{path}"), false))
        .collect()
}

const SA_KINDS: &[(&str, &str)] = &[
    ("Pod", "spec"),
    ("StatefulSet", "spec/template/spec"),
    ("Deployment", "spec/template/spec"),
    ("ReplicationController", "spec/template/spec"),
    ("CronJob", "spec/jobTemplate/spec/template/spec"),
    ("Job", "spec/template/spec"),
    ("DaemonSet", "spec/template/spec"),
];

fn name_reference() -> Vec<NameBackRef> {
    let scale = |kind: &str| NameBackRef {
        gvk: GvkSel::kind(kind),
        referrers: vec![fs(
            "",
            "",
            "HorizontalPodAutoscaler",
            "spec/scaleTargetRef/name",
            false,
        )],
    };
    let mut cm = pod_refs(
        &[
            "volumes/configMap/name",
            "containers/env/valueFrom/configMapKeyRef/name",
            "initContainers/env/valueFrom/configMapKeyRef/name",
            "containers/envFrom/configMapRef/name",
            "initContainers/envFrom/configMapRef/name",
            "volumes/projected/sources/configMap/name",
        ],
        &[],
    );
    cm.extend([
        fs("", "", "Node", "spec/configSource/configMap", false),
        fs("", "", "Role", "rules/resourceNames", false),
        fs("", "", "ClusterRole", "rules/resourceNames", false),
        fs(
            "",
            "",
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap",
            false,
        ),
    ]);
    let mut secret = pod_refs(
        &[
            "volumes/secret/secretName",
            "containers/env/valueFrom/secretKeyRef/name",
            "initContainers/env/valueFrom/secretKeyRef/name",
            "containers/envFrom/secretRef/name",
            "initContainers/envFrom/secretRef/name",
            "imagePullSecrets/name",
            "volumes/projected/sources/secret/name",
        ],
        &[],
    );
    secret.extend([
        fs("", "", "Ingress", "spec/tls/secretName", false),
        fs(
            "",
            "",
            "Ingress",
            "metadata/annotations/ingress.kubernetes.io\\/auth-secret",
            false,
        ),
        fs(
            "",
            "",
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret",
            false,
        ),
        fs(
            "",
            "",
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret",
            false,
        ),
        fs("", "", "ServiceAccount", "imagePullSecrets/name", false),
        fs("", "", "StorageClass", "parameters/secretName", false),
        fs("", "", "StorageClass", "parameters/adminSecretName", false),
        fs("", "", "StorageClass", "parameters/userSecretName", false),
        fs("", "", "StorageClass", "parameters/secretRef", false),
        fs("", "", "Role", "rules/resourceNames", false),
        fs("", "", "ClusterRole", "rules/resourceNames", false),
        fs(
            "serving.knative.dev",
            "v1",
            "Service",
            "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            false,
        ),
        fs(
            "",
            "",
            "PersistentVolume",
            "spec/azureFile/secretName",
            false,
        ),
    ]);
    let service = vec![
        fs("apps", "", "StatefulSet", "spec/serviceName", false),
        fs(
            "",
            "",
            "Ingress",
            "spec/rules/http/paths/backend/serviceName",
            false,
        ),
        fs("", "", "Ingress", "spec/backend/serviceName", false),
        fs(
            "",
            "",
            "Ingress",
            "spec/rules/http/paths/backend/service/name",
            false,
        ),
        fs("", "", "Ingress", "spec/defaultBackend/service/name", false),
        fs(
            "apiregistration.k8s.io",
            "",
            "APIService",
            "spec/service/name",
            false,
        ),
        fs(
            "admissionregistration.k8s.io",
            "",
            "ValidatingWebhookConfiguration",
            "webhooks/clientConfig/service",
            false,
        ),
        fs(
            "admissionregistration.k8s.io",
            "",
            "MutatingWebhookConfiguration",
            "webhooks/clientConfig/service",
            false,
        ),
        fs("", "", "HTTPRoute", "spec/rules/backendRefs/name", false),
    ];
    let rbac = "rbac.authorization.k8s.io";
    let mut sa = vec![
        fs(rbac, "", "RoleBinding", "subjects", false),
        fs(rbac, "", "ClusterRoleBinding", "subjects", false),
    ];
    sa.extend(workload_refs("serviceAccountName", SA_KINDS));
    let pvc = workload_refs("volumes/persistentVolumeClaim/claimName", SA_KINDS);
    let priority = workload_refs("priorityClassName", SA_KINDS);
    vec![
        scale("Deployment"),
        scale("ReplicationController"),
        scale("ReplicaSet"),
        scale("StatefulSet"),
        NameBackRef {
            gvk: GvkSel::new("", "v1", "ConfigMap"),
            referrers: cm,
        },
        NameBackRef {
            gvk: GvkSel::new("", "v1", "Secret"),
            referrers: secret,
        },
        NameBackRef {
            gvk: GvkSel::new("", "v1", "Service"),
            referrers: service,
        },
        NameBackRef {
            gvk: GvkSel::new(rbac, "", "Role"),
            referrers: vec![fs(rbac, "", "RoleBinding", "roleRef/name", false)],
        },
        NameBackRef {
            gvk: GvkSel::new(rbac, "", "ClusterRole"),
            referrers: vec![
                fs(rbac, "", "RoleBinding", "roleRef/name", false),
                fs(rbac, "", "ClusterRoleBinding", "roleRef/name", false),
            ],
        },
        NameBackRef {
            gvk: GvkSel::new("", "v1", "ServiceAccount"),
            referrers: sa,
        },
        NameBackRef {
            gvk: GvkSel::new("", "v1", "PersistentVolumeClaim"),
            referrers: pvc,
        },
        NameBackRef {
            gvk: GvkSel::new("", "v1", "PersistentVolume"),
            referrers: vec![
                fs("", "", "PersistentVolumeClaim", "spec/volumeName", false),
                fs("", "", "ClusterRole", "rules/resourceNames", false),
            ],
        },
        NameBackRef {
            gvk: GvkSel::new("storage.k8s.io", "v1", "StorageClass"),
            referrers: vec![
                fs("", "", "PersistentVolume", "spec/storageClassName", false),
                fs(
                    "",
                    "",
                    "PersistentVolumeClaim",
                    "spec/storageClassName",
                    false,
                ),
                fs(
                    "",
                    "",
                    "StatefulSet",
                    "spec/volumeClaimTemplates/spec/storageClassName",
                    false,
                ),
            ],
        },
        NameBackRef {
            gvk: GvkSel::new("scheduling.k8s.io", "v1", "PriorityClass"),
            referrers: priority,
        },
        NameBackRef {
            gvk: GvkSel::new(
                "admissionregistration.k8s.io",
                "",
                "ValidatingAdmissionPolicy",
            ),
            referrers: vec![fs(
                "admissionregistration.k8s.io",
                "",
                "ValidatingAdmissionPolicyBinding",
                "spec/policyName",
                false,
            )],
        },
        NameBackRef {
            gvk: GvkSel::new("networking.k8s.io/v1", "v1", "IngressClass"),
            referrers: vec![fs("", "", "Ingress", "spec/ingressClassName", false)],
        },
    ]
}

fn metadata_labels() -> Vec<FieldSpec> {
    let mut v = vec![fs("", "", "", "metadata/labels", true)];
    v.extend(template_labels_with_claims());
    v
}

fn template_labels_with_claims() -> Vec<FieldSpec> {
    vec![
        fs(
            "",
            "v1",
            "ReplicationController",
            "spec/template/metadata/labels",
            true,
        ),
        fs("", "", "Deployment", "spec/template/metadata/labels", true),
        fs("", "", "ReplicaSet", "spec/template/metadata/labels", true),
        fs("", "", "DaemonSet", "spec/template/metadata/labels", true),
        fs(
            "apps",
            "",
            "StatefulSet",
            "spec/template/metadata/labels",
            true,
        ),
        fs(
            "apps",
            "",
            "StatefulSet",
            "spec/volumeClaimTemplates[]/metadata/labels",
            true,
        ),
        fs("batch", "", "Job", "spec/template/metadata/labels", true),
        fs(
            "batch",
            "",
            "CronJob",
            "spec/jobTemplate/metadata/labels",
            true,
        ),
        fs(
            "batch",
            "",
            "CronJob",
            "spec/jobTemplate/spec/template/metadata/labels",
            true,
        ),
    ]
}

fn common_labels() -> Vec<FieldSpec> {
    let mut v = vec![
        fs("", "v1", "Service", "spec/selector", true),
        fs("", "v1", "ReplicationController", "spec/selector", true),
        fs("", "", "Deployment", "spec/selector/matchLabels", true),
    ];
    let affinity = [
        "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
        "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
        "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
    ];
    v.extend(
        affinity
            .iter()
            .map(|p| fs("apps", "", "Deployment", p, false)),
    );
    v.extend([
        fs("", "", "ReplicaSet", "spec/selector/matchLabels", true),
        fs("", "", "DaemonSet", "spec/selector/matchLabels", true),
        fs("apps", "", "StatefulSet", "spec/selector/matchLabels", true),
        fs(
            "apps",
            "",
            "StatefulSet",
            "spec/volumeClaimTemplates[]/metadata/labels",
            true,
        ),
    ]);
    v.extend(
        affinity
            .iter()
            .map(|p| fs("apps", "", "StatefulSet", p, false)),
    );
    v.extend([
        fs("batch", "", "Job", "spec/selector/matchLabels", false),
        fs(
            "batch",
            "",
            "CronJob",
            "spec/jobTemplate/spec/selector/matchLabels",
            false,
        ),
        fs(
            "policy",
            "",
            "PodDisruptionBudget",
            "spec/selector/matchLabels",
            false,
        ),
        fs(
            "networking.k8s.io",
            "",
            "NetworkPolicy",
            "spec/podSelector/matchLabels",
            false,
        ),
        fs(
            "networking.k8s.io",
            "",
            "NetworkPolicy",
            "spec/ingress/from/podSelector/matchLabels",
            false,
        ),
        fs(
            "networking.k8s.io",
            "",
            "NetworkPolicy",
            "spec/egress/to/podSelector/matchLabels",
            false,
        ),
    ]);
    merge_specs(&mut v, metadata_labels());
    v
}

/// kustomize's `templateLabels`: the metadata-label specs without `metadata/labels` itself.
fn template_labels() -> Vec<FieldSpec> {
    template_labels_with_claims()
}

fn common_annotations() -> Vec<FieldSpec> {
    vec![
        fs("", "", "", "metadata/annotations", true),
        fs(
            "",
            "v1",
            "ReplicationController",
            "spec/template/metadata/annotations",
            true,
        ),
        fs(
            "",
            "",
            "Deployment",
            "spec/template/metadata/annotations",
            true,
        ),
        fs(
            "",
            "",
            "ReplicaSet",
            "spec/template/metadata/annotations",
            true,
        ),
        fs(
            "",
            "",
            "DaemonSet",
            "spec/template/metadata/annotations",
            true,
        ),
        fs(
            "apps",
            "",
            "StatefulSet",
            "spec/template/metadata/annotations",
            true,
        ),
        fs(
            "batch",
            "",
            "Job",
            "spec/template/metadata/annotations",
            true,
        ),
        fs(
            "batch",
            "",
            "CronJob",
            "spec/jobTemplate/metadata/annotations",
            true,
        ),
        fs(
            "batch",
            "",
            "CronJob",
            "spec/jobTemplate/spec/template/metadata/annotations",
            true,
        ),
    ]
}

fn replicas() -> Vec<FieldSpec> {
    vec![
        fs("", "", "Deployment", "spec/replicas", true),
        fs("", "", "ReplicationController", "spec/replicas", true),
        fs("", "", "ReplicaSet", "spec/replicas", true),
        fs("", "", "StatefulSet", "spec/replicas", true),
    ]
}

/// Append the specs of `more` that `into` does not have yet.
pub fn merge_specs(into: &mut Vec<FieldSpec>, more: Vec<FieldSpec>) {
    for s in more {
        if !into.contains(&s) {
            into.push(s);
        }
    }
}

impl TransformerConfig {
    /// kustomize's built-in configuration.
    pub fn builtin() -> Self {
        Self {
            name_prefix: vec![fs("", "", "", "metadata/name", false)],
            name_suffix: vec![fs("", "", "", "metadata/name", false)],
            namespace: Vec::new(),
            common_labels: common_labels(),
            template_labels: template_labels(),
            labels: Vec::new(),
            common_annotations: common_annotations(),
            name_reference: name_reference(),
            images: Vec::new(),
            replicas: replicas(),
        }
    }

    /// Add another configuration's specs (from `configurations` or a sub-build).
    pub fn merge(&mut self, other: &TransformerConfig) {
        merge_specs(&mut self.name_prefix, other.name_prefix.clone());
        merge_specs(&mut self.name_suffix, other.name_suffix.clone());
        merge_specs(&mut self.namespace, other.namespace.clone());
        merge_specs(&mut self.common_labels, other.common_labels.clone());
        merge_specs(&mut self.template_labels, other.template_labels.clone());
        merge_specs(&mut self.labels, other.labels.clone());
        merge_specs(
            &mut self.common_annotations,
            other.common_annotations.clone(),
        );
        merge_specs(&mut self.images, other.images.clone());
        merge_specs(&mut self.replicas, other.replicas.clone());
        for br in &other.name_reference {
            match self.name_reference.iter_mut().find(|b| b.gvk == br.gvk) {
                Some(b) => merge_specs(&mut b.referrers, br.referrers.clone()),
                None => self.name_reference.push(br.clone()),
            }
        }
    }
}

/// A `configurations` file.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ConfigFile {
    name_prefix: Vec<FieldSpecEntry>,
    name_suffix: Vec<FieldSpecEntry>,
    namespace: Vec<FieldSpecEntry>,
    common_labels: Vec<FieldSpecEntry>,
    template_labels: Vec<FieldSpecEntry>,
    labels: Vec<FieldSpecEntry>,
    common_annotations: Vec<FieldSpecEntry>,
    name_reference: Vec<BackRefEntry>,
    images: Vec<FieldSpecEntry>,
    replicas: Vec<FieldSpecEntry>,
    var_reference: Vec<FieldSpecEntry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
struct BackRefEntry {
    group: String,
    version: String,
    kind: String,
    field_specs: Vec<FieldSpecEntry>,
}

/// Turn a written field spec into one the walker uses.
pub fn from_entry(e: &FieldSpecEntry) -> FieldSpec {
    fs(&e.group, &e.version, &e.kind, &e.path, e.create)
}

impl ConfigFile {
    /// The configuration this file adds.
    pub fn into_config(self) -> TransformerConfig {
        let conv = |v: Vec<FieldSpecEntry>| v.iter().map(from_entry).collect::<Vec<_>>();
        TransformerConfig {
            name_prefix: conv(self.name_prefix),
            name_suffix: conv(self.name_suffix),
            namespace: conv(self.namespace),
            common_labels: conv(self.common_labels),
            template_labels: conv(self.template_labels),
            labels: conv(self.labels),
            common_annotations: conv(self.common_annotations),
            name_reference: self
                .name_reference
                .into_iter()
                .map(|b| NameBackRef {
                    gvk: GvkSel::new(&b.group, &b.version, &b.kind),
                    referrers: b.field_specs.iter().map(from_entry).collect(),
                })
                .collect(),
            images: conv(self.images),
            replicas: conv(self.replicas),
        }
    }
}
