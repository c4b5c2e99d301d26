//! Fields and values the API server's validation requires of the common kinds
//! (`k8s.io/kubernetes/pkg/apis/<group>/validation/validation.go`), in its words:
//! `Required value`, `Invalid value: …`, `Not found: …`, `Unsupported value: …`.

use serde_json::{Map, Value};

use super::names::name_errors;
use super::{Issue, IssueKind, NameRule};
use crate::merge_keys::Gvk;

fn required(path: impl Into<String>, detail: &str) -> Issue {
    let message = if detail.is_empty() {
        "Required value".to_string()
    } else {
        format!("Required value: {detail}")
    };
    Issue {
        kind: IssueKind::Required,
        path: path.into(),
        message,
    }
}

fn invalid(path: impl Into<String>, message: String) -> Issue {
    Issue {
        kind: IssueKind::Invalid,
        path: path.into(),
        message,
    }
}

fn absent(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(m)) => m.is_empty(),
        _ => false,
    }
}

fn items(v: Option<&Value>) -> impl Iterator<Item = (usize, &Value)> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

/// The validation checks of `object`, a `gvk`.
pub(super) fn check(object: &Value, gvk: &Gvk) -> Vec<Issue> {
    let mut out = Vec::new();
    let spec = object.get("spec");
    match (gvk.group.as_str(), gvk.kind.as_str()) {
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            workload(spec, &mut out);
        }
        ("batch", "Job") => {
            if let Some(s) = spec {
                pod_template(s.get("template"), "spec.template", &mut out);
                job_restart_policy(s.get("template"), "spec.template", &mut out);
            }
        }
        ("batch", "CronJob") => {
            let Some(s) = spec else {
                return vec![required("spec", "")];
            };
            if absent(s.get("schedule")) {
                out.push(required("spec.schedule", ""));
            }
            let template = s
                .get("jobTemplate")
                .and_then(|t| t.get("spec"))
                .and_then(|t| t.get("template"));
            pod_template(template, "spec.jobTemplate.spec.template", &mut out);
            job_restart_policy(template, "spec.jobTemplate.spec.template", &mut out);
        }
        ("", "Pod") => pod_spec(spec, "spec", &mut out),
        ("", "Service") => service(spec, &mut out),
        ("", "PersistentVolumeClaim") => {
            if absent(spec.and_then(|s| s.get("accessModes"))) {
                out.push(required(
                    "spec.accessModes",
                    "at least 1 access mode is required",
                ));
            }
            if absent(spec.and_then(|s| s.pointer("/resources/requests/storage"))) {
                out.push(required("spec.resources[storage]", ""));
            }
        }
        ("", "PersistentVolume") => {
            if absent(spec.and_then(|s| s.get("accessModes"))) {
                out.push(required(
                    "spec.accessModes",
                    "at least 1 access mode is required",
                ));
            }
            if absent(spec.and_then(|s| s.get("capacity"))) {
                out.push(required("spec.capacity", ""));
            }
        }
        ("", "ConfigMap" | "Secret") => {
            for field in ["data", "stringData", "binaryData"] {
                if let Some(Value::Object(data)) = object.get(field) {
                    config_keys(data, field, &mut out);
                }
            }
        }
        ("networking.k8s.io", "Ingress") => {
            for (r, rule) in items(spec.and_then(|s| s.get("rules"))) {
                for (p, path) in items(rule.pointer("/http/paths")) {
                    if absent(path.get("pathType")) {
                        out.push(required(
                            format!("spec.rules[{r}].http.paths[{p}].pathType"),
                            "pathType must be specified",
                        ));
                    }
                }
            }
        }
        _ => {}
    }
    out
}

/// apps/v1: a selector is required and must select the template's labels.
fn workload(spec: Option<&Value>, out: &mut Vec<Issue>) {
    let Some(spec) = spec else {
        out.push(required("spec.selector", ""));
        return;
    };
    let selector = spec.get("selector");
    if absent(selector) {
        out.push(required("spec.selector", ""));
    } else if let Some(Value::Object(match_labels)) = selector.and_then(|s| s.get("matchLabels")) {
        let labels = spec
            .pointer("/template/metadata/labels")
            .and_then(Value::as_object);
        let selected = match_labels
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
        if !selected {
            let shown: Vec<String> = labels
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k:?}:{}", v))
                .collect();
            out.push(invalid(
                "spec.template.metadata.labels",
                format!(
                    "Invalid value: map[string]string{{{}}}: `selector` does not match template `labels`",
                    shown.join(", ")
                ),
            ));
        }
    }
    pod_template(spec.get("template"), "spec.template", out);
}

fn pod_template(template: Option<&Value>, path: &str, out: &mut Vec<Issue>) {
    match template {
        None | Some(Value::Null) => out.push(required(path, "")),
        Some(t) => pod_spec(t.get("spec"), &format!("{path}.spec"), out),
    }
}

/// A Job's pods may only restart `OnFailure` or `Never` (the pod default, Always, is refused).
fn job_restart_policy(template: Option<&Value>, path: &str, out: &mut Vec<Issue>) {
    let field = format!("{path}.spec.restartPolicy");
    match template
        .and_then(|t| t.pointer("/spec/restartPolicy"))
        .and_then(Value::as_str)
    {
        None | Some("") => out.push(required(field, r#"valid values: "OnFailure", "Never""#)),
        Some("OnFailure" | "Never") => {}
        Some(other) => out.push(Issue {
            kind: IssueKind::Invalid,
            path: field,
            message: format!(
                r#"Unsupported value: {other:?}: supported values: "OnFailure", "Never""#
            ),
        }),
    }
}

/// core/v1 ValidatePodSpec (the common part): containers required, each with a DNS-label name
/// and an image; volumes with DNS-label names; volume mounts naming a volume.
fn pod_spec(spec: Option<&Value>, path: &str, out: &mut Vec<Issue>) {
    let Some(spec) = spec.filter(|s| !s.is_null()) else {
        out.push(required(format!("{path}.containers"), ""));
        return;
    };
    let volumes: Vec<&str> = items(spec.get("volumes"))
        .filter_map(|(_, v)| v.get("name")?.as_str())
        .collect();
    for (i, volume) in items(spec.get("volumes")) {
        match volume.get("name").and_then(Value::as_str) {
            Some(name) if !name.is_empty() => {
                for message in name_errors(name, NameRule::Label) {
                    out.push(invalid(
                        format!("{path}.volumes[{i}].name"),
                        format!("Invalid value: {name:?}: {message}"),
                    ));
                }
            }
            _ => out.push(required(format!("{path}.volumes[{i}].name"), "")),
        }
    }
    if absent(spec.get("containers")) {
        out.push(required(format!("{path}.containers"), ""));
    }
    for list in ["initContainers", "containers"] {
        for (i, container) in items(spec.get(list)) {
            let at = format!("{path}.{list}[{i}]");
            match container.get("name").and_then(Value::as_str) {
                Some(name) if !name.is_empty() => {
                    for message in name_errors(name, NameRule::Label) {
                        out.push(invalid(
                            format!("{at}.name"),
                            format!("Invalid value: {name:?}: {message}"),
                        ));
                    }
                }
                _ => out.push(required(format!("{at}.name"), "")),
            }
            if absent(container.get("image")) {
                out.push(required(format!("{at}.image"), ""));
            }
            for (m, mount) in items(container.get("volumeMounts")) {
                if let Some(name) = mount.get("name").and_then(Value::as_str)
                    && !volumes.contains(&name)
                {
                    out.push(Issue {
                        kind: IssueKind::Invalid,
                        path: format!("{at}.volumeMounts[{m}].name"),
                        message: format!("Not found: {name:?}"),
                    });
                }
            }
        }
    }
}

/// core/v1 ValidateService: ports are required (but for ExternalName and headless Services),
/// and every port needs a name when there are several.
fn service(spec: Option<&Value>, out: &mut Vec<Issue>) {
    let Some(spec) = spec else { return };
    let service_type = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
    let ports: Vec<(usize, &Value)> = items(spec.get("ports")).collect();
    if ports.is_empty() && service_type != "ExternalName" && !headless {
        out.push(required("spec.ports", ""));
    }
    if ports.len() > 1 {
        for (i, port) in &ports {
            if absent(port.get("name")) {
                out.push(required(format!("spec.ports[{i}].name"), ""));
            }
        }
    }
}

/// ConfigMap and Secret keys: `[-._a-zA-Z0-9]+`, at most 253 characters.
fn config_keys(data: &Map<String, Value>, field: &str, out: &mut Vec<Issue>) {
    for key in data.keys() {
        let valid = !key.is_empty()
            && key.len() <= 253
            && key
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
            && key != "."
            && key != "..";
        if !valid {
            out.push(invalid(
                format!("{field}[{key}]"),
                format!(
                    "Invalid value: {key:?}: a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
                ),
            ));
        }
    }
}
