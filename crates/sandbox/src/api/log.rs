//! `pods/{name}/log`: a container's current or previous log, with `tailLines`, and the real
//! server's errors for an ambiguous, unknown or not-yet-started container.
//!
//! https://kubernetes.io/docs/concepts/cluster-administration/logging/#basic-logging-in-kubernetes
//! https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#read-log-of-the-specified-pod

use http::Response;
use http::header::{CONTENT_TYPE, HeaderValue};
use serde_json::Value;

use super::body::ResponseBody;
use super::status::ApiError;
use super::{ApiResult, Ctx, write};

fn names(pod: &Value, field: &str) -> Vec<String> {
    pod.pointer(&format!("/spec/{field}"))
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("name")?.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn container_status<'a>(pod: &'a Value, container: &str) -> Option<&'a Value> {
    ["initContainerStatuses", "containerStatuses"]
        .iter()
        .filter_map(|f| {
            pod.pointer(&format!("/status/{f}"))
                .and_then(Value::as_array)
        })
        .flatten()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(container))
}

/// What the kubelet answers for a container that has not started.
fn waiting_message(reason: &str) -> &str {
    match reason {
        "ErrImagePull" | "ImagePullBackOff" => "trying and failing to pull image",
        other => other,
    }
}

/// `GET .../pods/{name}/log`.
pub(crate) fn get(ctx: &Ctx<'_>) -> ApiResult {
    let pod = write::current(ctx)?;
    let name = ctx.name();
    let containers = names(&pod, "containers");
    let init = names(&pod, "initContainers");
    let container = match &ctx.query.container {
        Some(c) => c.clone(),
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            let mut message = format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            );
            if !init.is_empty() {
                message.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init.join(" ")
                ));
            }
            return Err(ApiError::bad_request(message));
        }
    };
    if !containers.contains(&container) && !init.contains(&container) {
        return Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {name}"
        )));
    }
    let namespace = ctx.namespace().unwrap_or_default();
    let log = ctx.store.container_log(namespace, name, &container);
    let lines = if ctx.query.previous {
        log.and_then(|l| l.previous).ok_or_else(|| {
            ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            ))
        })?
    } else {
        let waiting = container_status(&pod, &container)
            .and_then(|s| s.pointer("/state/waiting/reason"))
            .and_then(Value::as_str);
        match (log, waiting) {
            (Some(log), _) if !log.current.is_empty() || waiting.is_none() => log.current,
            (_, Some(reason)) => {
                return Err(ApiError::bad_request(format!(
                    "container \"{container}\" in pod \"{name}\" is waiting to start: {}",
                    waiting_message(reason)
                )));
            }
            (log, None) => log.map(|l| l.current).unwrap_or_default(),
        }
    };
    let skip = ctx
        .query
        .tail_lines
        .map_or(0, |n| lines.len().saturating_sub(n));
    let mut text = String::new();
    for line in &lines[skip..] {
        text.push_str(line);
        text.push('\n');
    }
    let mut response = Response::new(ResponseBody::full(text));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(response)
}
