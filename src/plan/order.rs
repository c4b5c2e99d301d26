//! Apply order (DESIGN.md §6): CRDs → Namespaces → cluster-scoped classes and PVs →
//! ServiceAccounts and RBAC → ConfigMaps and Secrets → PVCs → Services → workloads → the rest;
//! deletions run last, in reverse.
//!
//! The order follows what each kind needs to exist first: a namespaced object needs its
//! Namespace, a Pod template mounts ConfigMaps/Secrets/PVCs and runs as a ServiceAccount,
//! custom resources need their CRD (the same order Helm's `InstallOrder` and kapp use).

use gitops_manifest::ObjectRef;

/// The apply group of a kind: lower goes first.
pub fn rank(group: &str, kind: &str) -> u8 {
    match (group, kind) {
        ("apiextensions.k8s.io", "CustomResourceDefinition") => 0,
        ("", "Namespace") => 1,
        ("storage.k8s.io", "StorageClass" | "CSIDriver" | "VolumeAttributesClass")
        | ("scheduling.k8s.io", "PriorityClass")
        | ("networking.k8s.io", "IngressClass")
        | ("node.k8s.io", "RuntimeClass")
        | ("", "PersistentVolume") => 2,
        ("", "ServiceAccount") => 3,
        ("rbac.authorization.k8s.io", "ClusterRole" | "Role") => 4,
        ("rbac.authorization.k8s.io", "ClusterRoleBinding" | "RoleBinding") => 5,
        ("", "ResourceQuota" | "LimitRange") => 6,
        ("", "ConfigMap" | "Secret") => 7,
        ("", "PersistentVolumeClaim") => 8,
        ("", "Service") => 9,
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("batch", "Job" | "CronJob")
        | ("", "Pod" | "ReplicationController") => 10,
        _ => 11,
    }
}

/// The sort key of an object in apply order: its group's rank, then its id (deterministic).
pub fn apply_key(object: &ObjectRef) -> (u8, &ObjectRef) {
    (rank(&object.group, &object.kind), object)
}

/// Sort ids into apply order.
#[cfg(test)]
pub fn sort_for_apply(objects: &mut [ObjectRef]) {
    objects.sort_by(|a, b| apply_key(a).cmp(&apply_key(b)));
}

/// Sort ids into delete order: the reverse of apply order.
pub fn sort_for_delete(objects: &mut [ObjectRef]) {
    objects.sort_by(|a, b| apply_key(b).cmp(&apply_key(a)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(group: &str, kind: &str, name: &str) -> ObjectRef {
        ObjectRef::new(group, None, kind, Some("qa".into()), name)
    }

    #[test]
    fn follows_the_design_order_and_deletes_in_reverse() {
        let mut objects = vec![
            id("networking.k8s.io", "Ingress", "web"),
            id("apps", "Deployment", "web"),
            id("", "Service", "web"),
            id("", "PersistentVolumeClaim", "data"),
            id("", "ConfigMap", "settings"),
            id("", "ServiceAccount", "web"),
            id("", "PersistentVolume", "disk"),
            id("", "Namespace", "qa"),
            id(
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                "widgets.example.com",
            ),
        ];
        sort_for_apply(&mut objects);
        let kinds: Vec<&str> = objects.iter().map(|o| o.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "CustomResourceDefinition",
                "Namespace",
                "PersistentVolume",
                "ServiceAccount",
                "ConfigMap",
                "PersistentVolumeClaim",
                "Service",
                "Deployment",
                "Ingress"
            ]
        );
        sort_for_delete(&mut objects);
        assert_eq!(objects[0].kind, "Ingress");
        assert_eq!(objects[8].kind, "CustomResourceDefinition");
    }

    #[test]
    fn ties_break_on_the_id() {
        let mut objects = vec![
            id("", "ConfigMap", "b"),
            id("", "Secret", "a"),
            id("", "ConfigMap", "a"),
        ];
        sort_for_apply(&mut objects);
        let names: Vec<String> = objects
            .iter()
            .map(|o| format!("{}/{}", o.kind, o.name))
            .collect();
        assert_eq!(names, ["ConfigMap/a", "ConfigMap/b", "Secret/a"]);
    }
}
