//! Discovery documents: `/version`, `/api`, `/apis`, `/apis/<group>`, and the resource lists.
//!
//! Served in the legacy (unaggregated) form; clients that ask for aggregated discovery
//! (`application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`) fall back to it when the
//! response is plain `application/json`, as they do against servers without the aggregated endpoint.
//! https://kubernetes.io/docs/concepts/overview/kubernetes-api/#discovery-api

use serde_json::{Value, json};

use crate::store::{Registry, ResourceInfo};

/// The Kubernetes version the sandbox emulates (the k8s-openapi `v1_33` schema).
pub const GIT_VERSION: &str = "v1.33.2";

/// `/version`.
/// https://kubernetes.io/docs/reference/using-api/health-checks/ (the version endpoint is public)
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-06-17T00:00:00Z",
        "goVersion": "go1.24.4",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `/api`.
pub fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:443"}],
    })
}

fn group_json(registry: &Registry, group: &str) -> Value {
    let versions = registry.versions(group);
    let entries: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    let preferred = entries.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": entries, "preferredVersion": preferred})
}

/// `/apis`: every named group, built-ins first.
pub fn group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> = registry
        .groups()
        .iter()
        .filter(|g| !g.is_empty())
        .map(|g| group_json(registry, g))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`, if the group is served.
pub fn group(registry: &Registry, group: &str) -> Option<Value> {
    if group.is_empty() || !registry.groups().iter().any(|g| g == group) {
        return None;
    }
    let mut doc = group_json(registry, group);
    if let Some(map) = doc.as_object_mut() {
        map.insert("kind".to_owned(), json!("APIGroup"));
        map.insert("apiVersion".to_owned(), json!("v1"));
    }
    Some(doc)
}

fn resource_entries(info: &ResourceInfo) -> Vec<Value> {
    let mut main = json!({
        "name": info.plural,
        "singularName": info.singular,
        "namespaced": info.namespaced,
        "kind": info.kind,
        "verbs": info.verbs,
    });
    if let Some(map) = main.as_object_mut() {
        if !info.short_names.is_empty() {
            map.insert("shortNames".to_owned(), json!(info.short_names));
        }
        if !info.categories.is_empty() {
            map.insert("categories".to_owned(), json!(info.categories));
        }
    }
    let mut entries = vec![main];
    let sub = |name: &str, kind: &str, verbs: &[&str]| {
        json!({"name": format!("{}/{name}", info.plural), "singularName": "", "namespaced": info.namespaced,
            "kind": kind, "verbs": verbs})
    };
    if info.status_subresource {
        entries.push(sub("status", &info.kind, &["get", "patch", "update"]));
    }
    if info.scale.is_some() {
        let mut scale = sub("scale", "Scale", &["get", "patch", "update"]);
        if let Some(map) = scale.as_object_mut() {
            map.insert("group".to_owned(), json!("autoscaling"));
            map.insert("version".to_owned(), json!("v1"));
        }
        entries.push(scale);
    }
    if info.group.is_empty() && info.plural == "pods" {
        entries.push(sub("log", "Pod", &["get"]));
    }
    entries
}

/// `/api/v1` or `/apis/<group>/<version>`: the APIResourceList, if that group version is served.
pub fn resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let resources: Vec<Value> = registry
        .iter()
        .filter(|info| info.group == group && info.version == version)
        .flat_map(resource_entries)
        .collect();
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    let mut doc =
        json!({"kind": "APIResourceList", "groupVersion": group_version, "resources": resources});
    if !group.is_empty()
        && let Some(map) = doc.as_object_mut()
    {
        map.insert("apiVersion".to_owned(), json!("v1"));
    }
    Some(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_v1_lists_deployments_with_scale_and_status() {
        let doc = resource_list(&Registry::builtin(), "apps", "v1").unwrap_or_default();
        let names: Vec<&str> = doc["resources"]
            .as_array()
            .map(|r| r.iter().filter_map(|e| e["name"].as_str()).collect())
            .unwrap_or_default();
        assert!(names.contains(&"deployments") && names.contains(&"deployments/scale"));
        assert!(names.contains(&"deployments/status"));
        let deploy = &doc["resources"][names.iter().position(|n| *n == "deployments").unwrap_or(0)];
        assert_eq!(deploy["shortNames"], json!(["deploy"]));
        assert_eq!(deploy["namespaced"], true);
    }

    #[test]
    fn unknown_group_version_is_none() {
        assert!(resource_list(&Registry::builtin(), "apps", "v1beta1").is_none());
        assert!(group(&Registry::builtin(), "nope").is_none());
    }
}
