//! Output order: kustomize's "legacy" order (by kind, then group/version/kind text, then
//! namespace and name) or `fifo` (input order).

use std::collections::HashMap;

use crate::resource::Resource;

/// kustomize's default kind order (api/resid/gvk.go).
pub const ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

/// Kinds kustomize puts last by default.
pub const ORDER_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

fn or(s: &str, empty: &'static str) -> String {
    if s.is_empty() {
        empty.to_string()
    } else {
        s.to_string()
    }
}

/// Sort in legacy order with the given kind lists (stable).
pub fn legacy(list: Vec<Resource>, first: &[String], last: &[String]) -> Vec<Resource> {
    let mut rank: HashMap<&str, i64> = HashMap::new();
    let n = first.len() as i64;
    for (i, k) in first.iter().enumerate() {
        rank.insert(k, i as i64 - n);
    }
    for (i, k) in last.iter().enumerate() {
        rank.insert(k, 1 + i as i64);
    }
    let mut keyed: Vec<((i64, String, String), Resource)> = list
        .into_iter()
        .map(|r| {
            let (g, v) = r.group_version();
            let gvk = format!("{}_{}_{}", or(g, "~G"), or(v, "~V"), or(r.kind(), "~K"));
            let rest = format!("{}|{}|{}", gvk, or(r.namespace(), "~X"), or(r.name(), "~N"));
            ((rank.get(r.kind()).copied().unwrap_or(0), gvk, rest), r)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, r)| r).collect()
}
