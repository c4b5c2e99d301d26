//! A minimal OpenAPI v3 surface: the per-group-version index and documents whose PATCH operations
//! declare `fieldValidation`, `dryRun`, `fieldManager` and `force`.
//!
//! kubectl (1.27+) reads `/openapi/v3` before `apply`/`create` to learn whether the server validates
//! fields itself (it looks for a `fieldValidation` query parameter on the kind's PATCH operation);
//! if it cannot learn it, `kubectl apply` fails. Schemas are left out: without a request body on
//! the PATCH operation kubectl computes strategic merge patches from its compiled-in types, as it
//! does against servers that publish no schema, so `kubectl explain` is what this does not support.
//! https://kubernetes.io/docs/concepts/overview/kubernetes-api/#openapi-v3
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation

use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::{Map, Value, json};

use super::discovery::GIT_VERSION;
use crate::store::{Registry, ResourceInfo};

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn infos<'a>(
    registry: &'a Registry,
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'a ResourceInfo> {
    registry
        .iter()
        .filter(move |i| i.group == group && i.version == version)
}

/// `/openapi/v3`: one entry per served group version, with a hash that changes with its content
/// (clients cache documents by that URL).
pub fn index(registry: &Registry) -> Value {
    let mut paths = Map::new();
    let mut seen: Vec<(String, String)> = Vec::new();
    for info in registry.iter() {
        let gv = (info.group.clone(), info.version.clone());
        if seen.contains(&gv) {
            continue;
        }
        seen.push(gv);
        let mut hasher = DefaultHasher::new();
        for i in infos(registry, &info.group, &info.version) {
            (&i.plural, &i.kind, i.namespaced).hash(&mut hasher);
        }
        let path = gv_path(&info.group, &info.version);
        let url = format!("/openapi/v3/{path}?hash={:016X}", hasher.finish());
        paths.insert(path, json!({"serverRelativeURL": url}));
    }
    json!({"paths": paths})
}

fn query_param(name: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}})
}

/// `/openapi/v3/apis/<group>/<version>`, if served.
pub fn group_version(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let mut paths = Map::new();
    for info in infos(registry, group, version) {
        let scope = if info.namespaced {
            "namespaces/{namespace}/"
        } else {
            ""
        };
        let path = format!(
            "/{}/{scope}{}/{{name}}",
            gv_path(group, version),
            info.plural
        );
        let gvk = json!({"group": info.group, "version": info.version, "kind": info.kind});
        let op = |action: &str| {
            json!({
                "operationId": format!("{action}{}", info.kind),
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
                "parameters": [query_param("dryRun"), query_param("fieldManager"), query_param("fieldValidation"), query_param("force")],
                "responses": {"200": {"description": "OK"}},
            })
        };
        paths.insert(path, json!({"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}));
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": GIT_VERSION},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}
