//! Server-side printing: `Table` responses for `kubectl get`, with the columns the real server's
//! printers give the common kinds (`NAME READY STATUS RESTARTS AGE` for pods, ...).
//!
//! kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io`; without a Table it would print
//! only names and ages. https://kubernetes.io/docs/reference/using-api/api-concepts/#receiving-resources-as-tables

use chrono::{DateTime, Utc};
use http::HeaderMap;
use http::header::ACCEPT;
use serde_json::{Value, json};

use crate::store::ResourceInfo;

/// Whether the client asked for a Table (it lists it first among acceptable types).
pub fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .and_then(|accept| accept.split(',').next())
        .is_some_and(|first| first.contains("as=Table"))
}

/// kubectl's human durations (`5s`, `3m20s`, `2d4h`), as the real printers write ages.
/// https://kubernetes.io/docs/reference/kubectl/generated/kubectl_get/ (the AGE column)
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    let s = seconds.max(0);
    let (m, h) = (s / 60, s / 3600);
    let d = h / 24;
    match () {
        () if s < 120 => format!("{s}s"),
        () if m < 10 && s % 60 != 0 => format!("{m}m{}s", s % 60),
        () if m < 180 => format!("{m}m"),
        () if h < 8 && m % 60 != 0 => format!("{h}h{}m", m % 60),
        () if h < 48 => format!("{h}h"),
        () if h < 24 * 8 && h % 24 != 0 => format!("{d}d{}h", h % 24),
        () if h < 24 * 365 * 2 => format!("{d}d"),
        () if h < 24 * 365 * 8 && d % 365 != 0 => format!("{}y{}d", d / 365, d % 365),
        () => format!("{}y", d / 365),
    }
}

fn age(timestamp: Option<&str>) -> String {
    timestamp
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or_else(
            || "<unknown>".to_owned(),
            |t| human_duration((Utc::now() - t.with_timezone(&Utc)).num_seconds()),
        )
}

fn s<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn n(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn array<'a>(object: &'a Value, pointer: &str) -> &'a [Value] {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn none_if_empty(text: String) -> String {
    if text.is_empty() {
        "<none>".to_owned()
    } else {
        text
    }
}

struct Column {
    name: &'static str,
    kind: &'static str,
    priority: u8,
}

const fn col(name: &'static str, kind: &'static str, priority: u8) -> Column {
    Column {
        name,
        kind,
        priority,
    }
}

/// The pod STATUS column, following the real pod printer's rules (init containers first, then the
/// last container's waiting or terminated reason, `Terminating` once deletion started).
fn pod_status(pod: &Value) -> (String, i64, usize, usize) {
    let mut reason = s(pod, "/status/phase").to_owned();
    if !s(pod, "/status/reason").is_empty() {
        reason = s(pod, "/status/reason").to_owned();
    }
    let init_total = array(pod, "/spec/initContainers").len();
    let mut restarts = 0;
    let mut initializing = false;
    for (i, c) in array(pod, "/status/initContainerStatuses")
        .iter()
        .enumerate()
    {
        restarts += n(c, "/restartCount");
        let terminated = c.pointer("/state/terminated");
        let waiting_reason = s(c, "/state/waiting/reason");
        if let Some(t) = terminated {
            if n(t, "/exitCode") == 0 {
                continue;
            }
            let r = s(t, "/reason");
            reason = if r.is_empty() {
                format!("Init:ExitCode:{}", n(t, "/exitCode"))
            } else {
                format!("Init:{r}")
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{i}/{init_total}");
        }
        initializing = true;
        break;
    }
    let statuses = array(pod, "/status/containerStatuses");
    let total = array(pod, "/spec/containers").len();
    let mut ready = 0;
    if !initializing {
        restarts = 0;
        let mut running = false;
        for c in statuses.iter().rev() {
            restarts += n(c, "/restartCount");
            let waiting = s(c, "/state/waiting/reason");
            let terminated = c.pointer("/state/terminated");
            if !waiting.is_empty() {
                reason = waiting.to_owned();
            } else if let Some(t) = terminated {
                let r = s(t, "/reason");
                reason = if r.is_empty() {
                    format!("ExitCode:{}", n(t, "/exitCode"))
                } else {
                    r.to_owned()
                };
            } else if c.get("ready").and_then(Value::as_bool).unwrap_or(false)
                && c.pointer("/state/running").is_some()
            {
                running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && running {
            reason = "Running".to_owned();
        }
    }
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        reason = "Terminating".to_owned();
    }
    (reason, restarts, ready, total)
}

fn restarts_cell(pod: &Value, restarts: i64) -> String {
    let last = array(pod, "/status/containerStatuses")
        .iter()
        .chain(array(pod, "/status/initContainerStatuses"))
        .filter_map(|c| {
            c.pointer("/lastState/terminated/finishedAt")
                .and_then(Value::as_str)
        })
        .max();
    match last {
        Some(t) if restarts > 0 => format!("{restarts} ({} ago)", age(Some(t))),
        _ => restarts.to_string(),
    }
}

fn service_ports(svc: &Value) -> String {
    let ports: Vec<String> = array(svc, "/spec/ports")
        .iter()
        .map(|p| {
            let node = p
                .get("nodePort")
                .and_then(Value::as_i64)
                .map(|np| format!(":{np}"))
                .unwrap_or_default();
            format!(
                "{}{node}/{}",
                n(p, "/port"),
                p.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
            )
        })
        .collect();
    none_if_empty(ports.join(","))
}

fn external_ip(svc: &Value) -> String {
    let mut ips: Vec<String> = array(svc, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    if s(svc, "/spec/type") == "LoadBalancer" {
        let ingress: Vec<String> = array(svc, "/status/loadBalancer/ingress")
            .iter()
            .filter_map(|i| {
                i.get("ip")
                    .or_else(|| i.get("hostname"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect();
        if ingress.is_empty() && ips.is_empty() {
            return "<pending>".to_owned();
        }
        ips.extend(ingress);
    }
    none_if_empty(ips.join(","))
}

fn selector_text(selector: Option<&Value>) -> String {
    let Some(map) = selector.and_then(Value::as_object) else {
        return "<none>".to_owned();
    };
    let labels = map
        .get("matchLabels")
        .and_then(Value::as_object)
        .unwrap_or(map);
    let parts: Vec<String> = labels
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
        .collect();
    none_if_empty(parts.join(","))
}

fn columns_and_cells(info: &ResourceInfo, object: &Value) -> (Vec<Column>, Vec<Value>) {
    let name = json!(s(object, "/metadata/name"));
    let created = age(object
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str));
    let containers = array(object, "/spec/template/spec/containers");
    let names = |cs: &[Value]| {
        cs.iter()
            .map(|c| s(c, "/name"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let images = |cs: &[Value]| {
        cs.iter()
            .map(|c| s(c, "/image"))
            .collect::<Vec<_>>()
            .join(",")
    };
    match (info.group.as_str(), info.plural.as_str()) {
        ("", "pods") => {
            let (status, restarts, ready, total) = pod_status(object);
            let cols = vec![
                col("Name", "string", 0),
                col("Ready", "string", 0),
                col("Status", "string", 0),
                col("Restarts", "string", 0),
                col("Age", "string", 0),
                col("IP", "string", 1),
                col("Node", "string", 1),
            ];
            let cells = vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(status),
                json!(restarts_cell(object, restarts)),
                json!(created),
                json!(none_if_empty(s(object, "/status/podIP").to_owned())),
                json!(none_if_empty(s(object, "/spec/nodeName").to_owned())),
            ];
            (cols, cells)
        }
        ("apps", "deployments") => (
            vec![
                col("Name", "string", 0),
                col("Ready", "string", 0),
                col("Up-to-date", "integer", 0),
                col("Available", "integer", 0),
                col("Age", "string", 0),
                col("Containers", "string", 1),
                col("Images", "string", 1),
                col("Selector", "string", 1),
            ],
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    n(object, "/status/readyReplicas"),
                    n(object, "/spec/replicas")
                )),
                json!(n(object, "/status/updatedReplicas")),
                json!(n(object, "/status/availableReplicas")),
                json!(created),
                json!(names(containers)),
                json!(images(containers)),
                json!(selector_text(object.pointer("/spec/selector"))),
            ],
        ),
        ("apps", "replicasets") => (
            vec![
                col("Name", "string", 0),
                col("Desired", "integer", 0),
                col("Current", "integer", 0),
                col("Ready", "integer", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(n(object, "/spec/replicas")),
                json!(n(object, "/status/replicas")),
                json!(n(object, "/status/readyReplicas")),
                json!(created),
            ],
        ),
        ("apps", "statefulsets") => (
            vec![
                col("Name", "string", 0),
                col("Ready", "string", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    n(object, "/status/readyReplicas"),
                    n(object, "/spec/replicas")
                )),
                json!(created),
            ],
        ),
        ("", "services") => (
            vec![
                col("Name", "string", 0),
                col("Type", "string", 0),
                col("Cluster-IP", "string", 0),
                col("External-IP", "string", 0),
                col("Port(s)", "string", 0),
                col("Age", "string", 0),
                col("Selector", "string", 1),
            ],
            vec![
                name,
                json!(s(object, "/spec/type")),
                json!(none_if_empty(s(object, "/spec/clusterIP").to_owned())),
                json!(external_ip(object)),
                json!(service_ports(object)),
                json!(created),
                json!(selector_text(object.pointer("/spec/selector"))),
            ],
        ),
        ("", "configmaps") => {
            let data = object
                .get("data")
                .and_then(Value::as_object)
                .map_or(0, |m| m.len())
                + object
                    .get("binaryData")
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len());
            (
                vec![
                    col("Name", "string", 0),
                    col("Data", "integer", 0),
                    col("Age", "string", 0),
                ],
                vec![name, json!(data), json!(created)],
            )
        }
        ("", "secrets") => {
            let data = object
                .get("data")
                .and_then(Value::as_object)
                .map_or(0, |m| m.len());
            (
                vec![
                    col("Name", "string", 0),
                    col("Type", "string", 0),
                    col("Data", "integer", 0),
                    col("Age", "string", 0),
                ],
                vec![name, json!(s(object, "/type")), json!(data), json!(created)],
            )
        }
        ("", "namespaces") => (
            vec![
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Age", "string", 0),
            ],
            vec![name, json!(s(object, "/status/phase")), json!(created)],
        ),
        ("", "persistentvolumeclaims") => (
            vec![
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Volume", "string", 0),
                col("Capacity", "string", 0),
                col("Access Modes", "string", 0),
                col("StorageClass", "string", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(s(object, "/status/phase")),
                json!(s(object, "/spec/volumeName")),
                json!(s(object, "/status/capacity/storage")),
                json!(access_modes(array(object, "/status/accessModes"))),
                json!(s(object, "/spec/storageClassName")),
                json!(created),
            ],
        ),
        ("", "persistentvolumes") => (
            vec![
                col("Name", "string", 0),
                col("Capacity", "string", 0),
                col("Access Modes", "string", 0),
                col("Reclaim Policy", "string", 0),
                col("Status", "string", 0),
                col("Claim", "string", 0),
                col("StorageClass", "string", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(s(object, "/spec/capacity/storage")),
                json!(access_modes(array(object, "/spec/accessModes"))),
                json!(s(object, "/spec/persistentVolumeReclaimPolicy")),
                json!(s(object, "/status/phase")),
                json!(claim(object)),
                json!(s(object, "/spec/storageClassName")),
                json!(created),
            ],
        ),
        ("storage.k8s.io", "storageclasses") => {
            // The default class is marked in the name column.
            // https://kubernetes.io/docs/concepts/storage/storage-classes/#default-storageclass
            let default = s(
                object,
                "/metadata/annotations/storageclass.kubernetes.io~1is-default-class",
            ) == "true";
            let label = if default {
                format!("{} (default)", s(object, "/metadata/name"))
            } else {
                s(object, "/metadata/name").to_owned()
            };
            (
                vec![
                    col("Name", "string", 0),
                    col("Provisioner", "string", 0),
                    col("ReclaimPolicy", "string", 0),
                    col("VolumeBindingMode", "string", 0),
                    col("AllowVolumeExpansion", "string", 0),
                    col("Age", "string", 0),
                ],
                vec![
                    json!(label),
                    json!(s(object, "/provisioner")),
                    json!(
                        object
                            .get("reclaimPolicy")
                            .and_then(Value::as_str)
                            .unwrap_or("Delete")
                    ),
                    json!(
                        object
                            .get("volumeBindingMode")
                            .and_then(Value::as_str)
                            .unwrap_or("Immediate")
                    ),
                    json!(
                        object
                            .get("allowVolumeExpansion")
                            .and_then(Value::as_bool)
                            .unwrap_or(false)
                            .to_string()
                    ),
                    json!(created),
                ],
            )
        }
        ("apps", "daemonsets") => (
            vec![
                col("Name", "string", 0),
                col("Desired", "integer", 0),
                col("Current", "integer", 0),
                col("Ready", "integer", 0),
                col("Up-to-date", "integer", 0),
                col("Available", "integer", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(n(object, "/status/desiredNumberScheduled")),
                json!(n(object, "/status/currentNumberScheduled")),
                json!(n(object, "/status/numberReady")),
                json!(n(object, "/status/updatedNumberScheduled")),
                json!(n(object, "/status/numberAvailable")),
                json!(created),
            ],
        ),
        ("batch", "jobs") => {
            let completions = object
                .pointer("/spec/completions")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let status = if array(object, "/status/conditions")
                .iter()
                .any(|c| s(c, "/type") == "Complete" && s(c, "/status") == "True")
            {
                "Complete"
            } else if array(object, "/status/conditions")
                .iter()
                .any(|c| s(c, "/type") == "Failed" && s(c, "/status") == "True")
            {
                "Failed"
            } else {
                "Running"
            };
            (
                vec![
                    col("Name", "string", 0),
                    col("Status", "string", 0),
                    col("Completions", "string", 0),
                    col("Age", "string", 0),
                ],
                vec![
                    name,
                    json!(status),
                    json!(format!("{}/{completions}", n(object, "/status/succeeded"))),
                    json!(created),
                ],
            )
        }
        ("", "nodes") => {
            let ready = array(object, "/status/conditions")
                .iter()
                .find(|c| s(c, "/type") == "Ready")
                .map_or("Unknown", |c| {
                    if s(c, "/status") == "True" {
                        "Ready"
                    } else {
                        "NotReady"
                    }
                });
            (
                vec![
                    col("Name", "string", 0),
                    col("Status", "string", 0),
                    col("Roles", "string", 0),
                    col("Age", "string", 0),
                    col("Version", "string", 0),
                ],
                vec![
                    name,
                    json!(ready),
                    json!(node_roles(object)),
                    json!(created),
                    json!(s(object, "/status/nodeInfo/kubeletVersion")),
                ],
            )
        }
        ("", "events") => (
            vec![
                col("Last Seen", "string", 0),
                col("Type", "string", 0),
                col("Reason", "string", 0),
                col("Object", "string", 0),
                col("Message", "string", 0),
            ],
            vec![
                json!(age(object
                    .pointer("/lastTimestamp")
                    .or_else(|| object.pointer("/eventTime"))
                    .and_then(Value::as_str))),
                json!(s(object, "/type")),
                json!(s(object, "/reason")),
                json!(format!(
                    "{}/{}",
                    s(object, "/involvedObject/kind").to_lowercase(),
                    s(object, "/involvedObject/name")
                )),
                json!(s(object, "/message")),
            ],
        ),
        _ if info.custom => (
            vec![col("Name", "string", 0), col("Age", "date", 0)],
            vec![name, json!(created)],
        ),
        _ => (
            vec![col("Name", "string", 0), col("Created At", "date", 0)],
            vec![name, json!(s(object, "/metadata/creationTimestamp"))],
        ),
    }
}

/// Node roles from `node-role.kubernetes.io/<role>` and `kubernetes.io/role` labels.
/// https://kubernetes.io/docs/reference/labels-annotations-taints/#node-role-kubernetes-io
fn node_roles(node: &Value) -> String {
    let mut roles: Vec<String> = Vec::new();
    if let Some(labels) = node.pointer("/metadata/labels").and_then(Value::as_object) {
        for (key, value) in labels {
            if let Some(role) = key
                .strip_prefix("node-role.kubernetes.io/")
                .filter(|r| !r.is_empty())
            {
                roles.push(role.to_owned());
            } else if key == "kubernetes.io/role"
                && let Some(role) = value.as_str().filter(|r| !r.is_empty())
            {
                roles.push(role.to_owned());
            }
        }
    }
    roles.sort();
    roles.dedup();
    none_if_empty(roles.join(","))
}

fn access_modes(modes: &[Value]) -> String {
    modes
        .iter()
        .filter_map(Value::as_str)
        .map(|m| match m {
            "ReadWriteOnce" => "RWO",
            "ReadOnlyMany" => "ROX",
            "ReadWriteMany" => "RWX",
            "ReadWriteOncePod" => "RWOP",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn claim(pv: &Value) -> String {
    let name = s(pv, "/spec/claimRef/name");
    if name.is_empty() {
        String::new()
    } else {
        format!("{}/{name}", s(pv, "/spec/claimRef/namespace"))
    }
}

/// A `Table` of objects; each row carries the object's metadata (`PartialObjectMetadata`), which
/// kubectl uses for `-A` and `--show-labels`.
pub fn table(info: &ResourceInfo, objects: &[Value], metadata: Value) -> Value {
    let mut columns = columns_and_cells(info, &json!({})).0;
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let (cols, cells) = columns_and_cells(info, object);
            columns = cols;
            json!({
                "cells": cells,
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
                },
            })
        })
        .collect();
    let definitions: Vec<Value> = columns
        .iter()
        .map(|c| {
            let format = if c.name == "Name" { "name" } else { "" };
            json!({"name": c.name, "type": c.kind, "format": format, "description": "", "priority": c.priority})
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_kubectl() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(200), "3m20s");
        assert_eq!(human_duration(3600 * 5), "5h");
        assert_eq!(human_duration(3600 * 50), "2d2h");
    }

    #[test]
    fn default_storage_class_and_node_roles() {
        let registry = crate::store::Registry::builtin();
        let sc_info = registry
            .get("storage.k8s.io", "v1", "storageclasses")
            .cloned()
            .unwrap_or_else(|| panic!("sc"));
        let sc = json!({"metadata": {"name": "managed-csi",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "disk.csi.azure.com", "volumeBindingMode": "WaitForFirstConsumer"});
        let (_, cells) = columns_and_cells(&sc_info, &sc);
        assert_eq!(cells[0], "managed-csi (default)");
        assert_eq!(cells[3], "WaitForFirstConsumer");
        assert_eq!(cells[2], "Delete");
        let node = json!({"metadata": {"labels": {"kubernetes.io/role": "agent", "node-role.kubernetes.io/infra": ""}}});
        assert_eq!(node_roles(&node), "agent,infra");
        assert_eq!(node_roles(&json!({})), "<none>");
    }

    #[test]
    fn crash_looping_init_container_shows_init_reason() {
        let pod = json!({
            "spec": {"initContainers": [{"name": "init"}], "containers": [{"name": "app"}]},
            "status": {"phase": "Pending",
                "initContainerStatuses": [{"name": "init", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}],
                "containerStatuses": [{"name": "app", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}]},
        });
        let (status, restarts, ready, total) = pod_status(&pod);
        assert_eq!(
            (status.as_str(), restarts, ready, total),
            ("Init:CrashLoopBackOff", 3, 0, 1)
        );
    }
}
