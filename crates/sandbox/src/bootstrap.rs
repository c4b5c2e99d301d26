//! A fresh cluster as a new AKS cluster starts: system namespaces, the AKS storage classes,
//! a few Ready nodes, the `kubernetes` Service and the `default` service accounts.
//!
//! What a new AKS cluster holds is documented in
//! https://learn.microsoft.com/en-us/azure/aks/azure-csi-disk-storage-provision#dynamically-provision-a-volume
//! (the built-in storage classes) and the namespaces every cluster starts with in
//! https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/#initial-namespaces.

use serde_json::{Value, json};

use crate::store::{ResourceKey, Store, StoreError};

/// The namespaces every cluster starts with.
pub const NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// How many nodes the fresh cluster has (an AKS system node pool's default is 3).
pub const NODE_COUNT: usize = 3;

/// The first address of the service CIDR (AKS default `10.0.0.0/16`): the `kubernetes` Service.
/// https://learn.microsoft.com/en-us/azure/aks/configure-kubenet#create-an-aks-cluster-with-system-assigned-managed-identities
pub const KUBERNETES_SERVICE_IP: &str = "10.0.0.1";

/// The Kubernetes version the sandbox's nodes report.
pub const KUBELET_VERSION: &str = "v1.33.2";

/// The name of node `index`, as AKS names the VM scale set instances of pool `nodepool1`.
pub fn node_name(index: usize) -> String {
    format!("aks-nodepool1-38472916-vmss{index:06}")
}

/// Every object of a fresh cluster, with its resource.
pub fn objects() -> Vec<(ResourceKey, Value)> {
    let mut out = Vec::new();
    for ns in NAMESPACES {
        // https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/ relies on the
        // automatic `kubernetes.io/metadata.name` label (GA since 1.22).
        out.push((
            ResourceKey::core("namespaces"),
            json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }),
        ));
        // The service account controller makes `default` in every namespace.
        // https://kubernetes.io/docs/concepts/security/service-accounts/#default-service-accounts
        out.push((
            ResourceKey::core("serviceaccounts"),
            json!({
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": ns},
            }),
        ));
    }
    out.extend(
        storage_classes()
            .into_iter()
            .map(|sc| (ResourceKey::new("storage.k8s.io", "storageclasses"), sc)),
    );
    out.extend((0..NODE_COUNT).map(|i| (ResourceKey::core("nodes"), node(i))));
    out.push((ResourceKey::core("services"), kubernetes_service()));
    out
}

/// Create the fresh cluster's objects in `store`. Objects that already exist are left alone,
/// so a loaded state is never overwritten.
pub fn install(store: &Store) -> Result<(), StoreError> {
    for (key, object) in objects() {
        match store.create(&key, object) {
            Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// AKS's built-in classes: `default` and `managed-csi` (Azure Disk, StandardSSD_LRS, bound when
/// the first pod uses the claim) and `azurefile-csi` (Azure Files).
/// https://learn.microsoft.com/en-us/azure/aks/concepts-storage#storage-classes
fn storage_classes() -> Vec<Value> {
    let labels = json!({"addonmanager.kubernetes.io/mode": "EnsureExists", "kubernetes.io/cluster-service": "true"});
    let disk = |name: &str, default: bool| {
        let mut sc = json!({
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": name, "labels": labels.clone()},
            "provisioner": "disk.csi.azure.com",
            "parameters": {"skuname": "StandardSSD_LRS"},
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer",
            "allowVolumeExpansion": true,
        });
        if default {
            // https://kubernetes.io/docs/tasks/administer-cluster/change-default-storage-class/
            sc["metadata"]["annotations"] =
                json!({"storageclass.kubernetes.io/is-default-class": "true"});
        }
        sc
    };
    vec![
        disk("default", true),
        disk("managed-csi", false),
        json!({
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "azurefile-csi", "labels": labels},
            "provisioner": "file.csi.azure.com",
            "parameters": {"skuName": "Standard_LRS"},
            "mountOptions": ["mfsymlinks", "actimeo=30", "nosharesock"],
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
            "allowVolumeExpansion": true,
        }),
    ]
}

/// A Ready node of the system pool. Fields as a kubelet reports them:
/// https://kubernetes.io/docs/reference/node/node-status/
fn node(index: usize) -> Value {
    let name = node_name(index);
    let zone = format!("eastus-{}", index % 3 + 1);
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": type_, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": crate::store::now_timestamp(),
            "lastTransitionTime": crate::store::now_timestamp(),
        })
    };
    let resources = json!({"cpu": "4", "memory": "16372068Ki", "pods": "110", "ephemeral-storage": "129886128Ki"});
    let allocatable = json!({"cpu": "3860m", "memory": "12880164Ki", "pods": "110", "ephemeral-storage": "119703055367"});
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "agentpool": "nodepool1",
                "kubernetes.azure.com/agentpool": "nodepool1",
                "kubernetes.azure.com/mode": "system",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/role": "agent",
                "node-role.kubernetes.io/agent": "",
                "node.kubernetes.io/instance-type": "Standard_D4ds_v5",
                "topology.kubernetes.io/region": "eastus",
                "topology.kubernetes.io/zone": zone,
                "topology.disk.csi.azure.com/zone": zone,
            },
        },
        "spec": {
            "podCIDR": pod_cidr(index),
            "podCIDRs": [pod_cidr(index)],
            "providerID": format!("azure:///subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mc_sandbox/providers/Microsoft.Compute/virtualMachineScaleSets/aks-nodepool1-38472916-vmss/virtualMachines/{index}"),
        },
        "status": {
            "capacity": resources,
            "allocatable": allocatable,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [
                {"type": "InternalIP", "address": node_ip(index)},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": format!("5b7f0c4e-0000-4000-8000-00000000000{index}"),
                "containerRuntimeVersion": "containerd://1.7.27-1",
                "kernelVersion": "5.15.0-1089-azure",
                "kubeProxyVersion": KUBELET_VERSION,
                "kubeletVersion": KUBELET_VERSION,
                "machineID": format!("{index:032x}"),
                "operatingSystem": "linux",
                "osImage": "Ubuntu 22.04.5 LTS",
                "systemUUID": format!("00000000-0000-4000-8000-{index:012}"),
            },
        },
    })
}

/// The pod CIDR of node `index` (kubenet's default `10.244.0.0/16`, a /24 per node).
pub fn pod_cidr(index: usize) -> String {
    format!("10.244.{index}.0/24")
}

/// The internal IP of node `index` in the AKS default subnet `10.224.0.0/16`.
pub fn node_ip(index: usize) -> String {
    format!("10.224.0.{}", index + 4)
}

/// The `kubernetes` Service the API server maintains in `default`.
/// https://kubernetes.io/docs/concepts/services-networking/cluster-ip-allocation/
fn kubernetes_service() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": KUBERNETES_SERVICE_IP,
            "clusterIPs": [KUBERNETES_SERVICE_IP],
            "internalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443}],
            "sessionAffinity": "None",
        },
        "status": {"loadBalancer": {}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_cluster_has_the_aks_basics() {
        let store = Store::new();
        install(&store).unwrap();
        let (namespaces, _) = store.list(&ResourceKey::core("namespaces"), None);
        let names: Vec<&str> = namespaces
            .iter()
            .filter_map(|n| n["metadata"]["name"].as_str())
            .collect();
        assert_eq!(
            names,
            vec!["default", "kube-node-lease", "kube-public", "kube-system"]
        );

        let sc_key = ResourceKey::new("storage.k8s.io", "storageclasses");
        let managed = store.get(&sc_key, None, "managed-csi").unwrap();
        assert_eq!(managed["provisioner"], "disk.csi.azure.com");
        assert_eq!(managed["volumeBindingMode"], "WaitForFirstConsumer");
        let default = store.get(&sc_key, None, "default").unwrap();
        assert_eq!(
            default["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"],
            "true"
        );
        assert!(store.get(&sc_key, None, "azurefile-csi").is_some());

        let (nodes, _) = store.list(&ResourceKey::core("nodes"), None);
        assert_eq!(nodes.len(), NODE_COUNT);
        for node in &nodes {
            let ready = node["status"]["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["type"] == "Ready")
                .unwrap();
            assert_eq!(ready["status"], "True");
        }
        let svc = store
            .get(
                &ResourceKey::core("services"),
                Some("default"),
                "kubernetes",
            )
            .unwrap();
        assert_eq!(svc["spec"]["clusterIP"], KUBERNETES_SERVICE_IP);

        // Installing again changes nothing: a loaded state is kept.
        let rv = store.resource_version();
        install(&store).unwrap();
        assert_eq!(store.resource_version(), rv);
    }
}
