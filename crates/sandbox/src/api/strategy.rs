//! Per-kind create rules of the real registry strategies: what a new object's status starts as.
//!
//! With a status subresource, the status a client sends on create is dropped (clients own spec,
//! controllers own status); some kinds then start in a known phase.
//! https://kubernetes.io/docs/concepts/overview/working-with-objects/#object-spec-and-status

use serde_json::{Value, json};

use crate::store::ResourceInfo;

/// The pod's QoS class from its containers' requests and limits.
/// https://kubernetes.io/docs/concepts/workloads/pods/pod-qos/
pub fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| pod.pointer(&format!("/spec/{k}")).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        let requests = c.pointer("/resources/requests").and_then(Value::as_object);
        let limits = c.pointer("/resources/limits").and_then(Value::as_object);
        if requests.is_some_and(|r| !r.is_empty()) || limits.is_some_and(|l| !l.is_empty()) {
            any = true;
        }
        for resource in ["cpu", "memory"] {
            let limit = limits.and_then(|l| l.get(resource));
            let request = requests.and_then(|r| r.get(resource)).or(limit);
            if limit.is_none() || request != limit {
                guaranteed = false;
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// Resets what a client may not set on create.
pub fn prepare_for_create(info: &ResourceInfo, object: &mut Value) {
    if !info.status_subresource || info.plural == "customresourcedefinitions" {
        return;
    }
    let status = match (info.group.as_str(), info.plural.as_str()) {
        ("", "namespaces") => {
            // https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/
            if let Some(spec) = object
                .as_object_mut()
                .map(|m| m.entry("spec").or_insert_with(|| json!({})))
            {
                spec["finalizers"] = json!(["kubernetes"]);
            }
            Some(json!({"phase": "Active"}))
        }
        ("", "pods") => Some(json!({"phase": "Pending", "qosClass": qos_class(object)})),
        ("", "persistentvolumes" | "persistentvolumeclaims") => Some(json!({"phase": "Pending"})),
        ("", "services") => Some(json!({"loadBalancer": {}})),
        _ => None,
    };
    if let Some(map) = object.as_object_mut() {
        match status {
            Some(status) => map.insert("status".to_owned(), status),
            None => map.remove("status"),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos_follows_requests_and_limits() {
        let best = json!({"spec": {"containers": [{"name": "a"}]}});
        assert_eq!(qos_class(&best), "BestEffort");
        let burst = json!({"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}]}});
        assert_eq!(qos_class(&burst), "Burstable");
        let guaranteed = json!({"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        assert_eq!(qos_class(&guaranteed), "Guaranteed");
    }
}
