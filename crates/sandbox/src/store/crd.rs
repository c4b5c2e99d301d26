//! CustomResourceDefinitions: the resources a CRD serves, and the status that marks it Established.
//!
//! https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/

use serde_json::{Value, json};

use super::key::ResourceKey;
use super::registry::{NameRule, ResourceInfo, STANDARD_VERBS, ScalePaths};

/// The storage key of CustomResourceDefinitions.
pub fn crd_key() -> ResourceKey {
    ResourceKey::new("apiextensions.k8s.io", "customresourcedefinitions")
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
}

fn strings_at(value: &Value, path: &[&str]) -> Vec<String> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The (group, plural) a CRD defines, if its spec names them.
pub fn crd_group_plural(crd: &Value) -> Option<(String, String)> {
    Some((
        str_at(crd, &["spec", "group"])?.to_owned(),
        str_at(crd, &["spec", "names", "plural"])?.to_owned(),
    ))
}

/// The resources a CRD serves: one per version with `served: true`.
///
/// A CRD being deleted (it has a `deletionTimestamp`) serves nothing new.
pub fn served_resources(crd: &Value) -> Vec<ResourceInfo> {
    let Some((group, plural)) = crd_group_plural(crd) else {
        return Vec::new();
    };
    let Some(kind) = str_at(crd, &["spec", "names", "kind"]) else {
        return Vec::new();
    };
    let namespaced = str_at(crd, &["spec", "scope"]) != Some("Cluster");
    let singular = str_at(crd, &["spec", "names", "singular"])
        .map_or_else(|| kind.to_lowercase(), str::to_owned);
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    versions
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool).unwrap_or(false))
        .filter_map(|v| {
            let version = v.get("name")?.as_str()?.to_owned();
            let scale = v.pointer("/subresources/scale").map(|s| ScalePaths {
                spec_replicas: s
                    .get("specReplicasPath")
                    .and_then(Value::as_str)
                    .unwrap_or(".spec.replicas")
                    .to_owned(),
                status_replicas: s
                    .get("statusReplicasPath")
                    .and_then(Value::as_str)
                    .unwrap_or(".status.replicas")
                    .to_owned(),
                label_selector: s
                    .get("labelSelectorPath")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            });
            Some(ResourceInfo {
                group: group.clone(),
                version,
                kind: kind.to_owned(),
                plural: plural.clone(),
                singular: singular.clone(),
                namespaced,
                short_names: strings_at(crd, &["spec", "names", "shortNames"]),
                categories: strings_at(crd, &["spec", "names", "categories"]),
                verbs: STANDARD_VERBS.iter().map(|s| (*s).to_owned()).collect(),
                status_subresource: v.pointer("/subresources/status").is_some(),
                scale,
                // Custom resources always carry metadata.generation.
                // https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#status-subresource
                generation: true,
                name_rule: NameRule::Subdomain,
                storage: ResourceKey::new(group.clone(), plural.clone()),
                custom: true,
            })
        })
        .collect()
}

/// The status the API server gives a valid CRD: `acceptedNames` and the `NamesAccepted` and
/// `Established` conditions, both True (a real server sets them within moments of the create).
pub fn established_status(crd: &Value, now: &str) -> Value {
    let names = crd
        .pointer("/spec/names")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut accepted = names;
    if let Some(map) = accepted.as_object_mut()
        && !map.contains_key("singular")
        && let Some(kind) = map.get("kind").and_then(Value::as_str)
    {
        let singular = kind.to_lowercase();
        map.insert("singular".to_owned(), Value::String(singular));
    }
    let stored: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|versions| {
            versions
                .iter()
                .filter(|v| v.get("storage").and_then(Value::as_bool).unwrap_or(false))
                .filter_map(|v| v.get("name").cloned())
                .collect()
        })
        .unwrap_or_default();
    json!({
        "acceptedNames": accepted,
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "lastTransitionTime": now,
                "reason": "NoConflicts",
                "message": "no conflicts found",
            },
            {
                "type": "Established",
                "status": "True",
                "lastTransitionTime": now,
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
            },
        ],
        "storedVersions": stored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widget_crd() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
                "versions": [
                    {"name": "v1", "served": true, "storage": true, "subresources": {"status": {}}},
                    {"name": "v1alpha1", "served": false, "storage": false},
                ],
            },
        })
    }

    #[test]
    fn only_served_versions_are_resources() {
        let infos = served_resources(&widget_crd());
        assert_eq!(infos.len(), 1);
        assert_eq!(infos[0].version, "v1");
        assert_eq!(infos[0].singular, "widget");
        assert_eq!(infos[0].short_names, ["wd"]);
        assert!(infos[0].status_subresource);
        assert!(infos[0].namespaced);
    }

    #[test]
    fn status_marks_established_with_stored_versions() {
        let status = established_status(&widget_crd(), "2024-01-01T00:00:00Z");
        assert_eq!(status["conditions"][1]["type"], "Established");
        assert_eq!(status["conditions"][1]["status"], "True");
        assert_eq!(status["storedVersions"], json!(["v1"]));
        assert_eq!(status["acceptedNames"]["singular"], "widget");
    }
}
