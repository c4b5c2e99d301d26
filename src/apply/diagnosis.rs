//! The diagnosis of a failed gate, as data: what a user digs out by hand with
//! `kubectl describe pod` and `kubectl logs --previous` / `logs -c <init-container>`.

use gitops_manifest::ObjectRef;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::health::{Health, pod_problem};

/// How many log lines of each failing container the diagnosis keeps.
pub const LOG_LINES: usize = 20;
/// How many recent events per pod the diagnosis keeps.
pub const EVENTS: usize = 10;

/// Why one object failed its gate, and the state of its pods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnosis {
    /// The object that failed (a Deployment, a Job, …).
    pub object: ObjectRef,
    /// Its health when the gate gave up.
    pub health: Health,
    /// Its current pods.
    pub pods: Vec<PodDiagnosis>,
}

/// One pod, as `kubectl describe pod` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodDiagnosis {
    /// The pod's name.
    pub name: String,
    /// `status.phase`.
    pub phase: String,
    /// Init containers first, then containers.
    pub containers: Vec<ContainerDiagnosis>,
    /// The pod's most recent events, oldest first.
    pub events: Vec<EventLine>,
}

/// One container's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDiagnosis {
    /// The container's name.
    pub name: String,
    /// True for init containers.
    pub init: bool,
    /// `running`, `waiting: CrashLoopBackOff (back-off 40s …)`, `terminated: Error (exit code 1)`.
    pub state: String,
    /// Whether the container is ready.
    pub ready: bool,
    /// How often the kubelet restarted it.
    pub restart_count: i64,
    /// Why its previous run ended (`Error (exit code 1)`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_termination: Option<String>,
    /// Whether this container is the reason the pod fails.
    pub failing: bool,
    /// The last lines of its log (`--previous` when it restarted), for failing containers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<String>,
    /// Which log the lines come from: `previous` or `current`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_source: Option<String>,
}

/// One event, as `kubectl describe` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventLine {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `BackOff`, `Failed`, `Pulled`, …
    pub reason: String,
    /// The message.
    pub message: String,
    /// How often it happened.
    pub count: i64,
    /// When it last happened (RFC 3339), if known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_seen: String,
}

/// Which log to read for a container to explain a failure: the previous run's for a container
/// that has restarted (the current one is usually empty or back-off), else the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogSource {
    /// `logs --previous`.
    Previous,
    /// `logs`.
    Current,
}

impl LogSource {
    /// `previous` / `current`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Previous => "previous",
            Self::Current => "current",
        }
    }
}

fn state_text(state: Option<&Value>) -> String {
    let Some(state) = state.and_then(Value::as_object) else {
        return "unknown".into();
    };
    if state.contains_key("running") {
        return "running".into();
    }
    let describe = |s: &Value, default: &str| {
        let reason = s.get("reason").and_then(Value::as_str).unwrap_or(default);
        let mut text = reason.to_string();
        if let Some(code) = s.get("exitCode").and_then(Value::as_i64) {
            text.push_str(&format!(" (exit code {code})"));
        }
        if let Some(message) = s
            .get("message")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
        {
            text.push_str(&format!(": {message}"));
        }
        text
    };
    if let Some(w) = state.get("waiting") {
        return format!("waiting: {}", describe(w, "Waiting"));
    }
    if let Some(t) = state.get("terminated") {
        return format!("terminated: {}", describe(t, "Terminated"));
    }
    "unknown".into()
}

/// The containers of a pod, init containers first, with the failing one marked; the log
/// lines are filled in by the caller (they need the API).
pub fn containers_of(pod: &Value) -> Vec<ContainerDiagnosis> {
    let problem = pod_problem(pod);
    let mut out = Vec::new();
    for (pointer, init) in [
        ("/status/initContainerStatuses", true),
        ("/status/containerStatuses", false),
    ] {
        for status in pod
            .pointer(pointer)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = status
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string();
            let failing = problem
                .as_ref()
                .is_some_and(|p| p.init == init && p.container == name);
            let last_termination = status.pointer("/lastState/terminated").map(|t| {
                let reason = t
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or("Terminated");
                match t.get("exitCode").and_then(Value::as_i64) {
                    Some(code) => format!("{reason} (exit code {code})"),
                    None => reason.to_string(),
                }
            });
            out.push(ContainerDiagnosis {
                state: state_text(status.get("state")),
                ready: status
                    .get("ready")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                restart_count: status
                    .get("restartCount")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
                last_termination,
                failing,
                logs: Vec::new(),
                log_source: None,
                name,
                init,
            });
        }
    }
    out
}

/// Which log explains a failing container: after a restart the crashed run is the previous
/// one (`logs --previous`); before the first restart the crashed run is still the current
/// container, and `--previous` has nothing
/// (<https://kubernetes.io/docs/reference/kubectl/generated/kubectl_logs/>).
pub fn log_source(container: &ContainerDiagnosis) -> LogSource {
    if container.restart_count > 0 {
        LogSource::Previous
    } else {
        LogSource::Current
    }
}

/// The last `n` lines of a log.
pub fn tail(log: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

/// The events about one pod, most recent last, at most [`EVENTS`].
pub fn events_of(pod_name: &str, events: &[Value]) -> Vec<EventLine> {
    let mut mine: Vec<EventLine> = events
        .iter()
        .filter(|e| {
            e.pointer("/involvedObject/name").and_then(Value::as_str) == Some(pod_name)
                && e.pointer("/involvedObject/kind")
                    .and_then(Value::as_str)
                    .is_none_or(|k| k == "Pod")
        })
        .map(|e| {
            let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let last_seen = [s("lastTimestamp"), s("eventTime"), s("firstTimestamp")]
                .into_iter()
                .find(|t| !t.is_empty())
                .unwrap_or_default();
            EventLine {
                type_: s("type"),
                reason: s("reason"),
                message: s("message"),
                count: e.get("count").and_then(Value::as_i64).unwrap_or(1),
                last_seen,
            }
        })
        .collect();
    mine.sort_by(|a, b| a.last_seen.cmp(&b.last_seen));
    let skip = mine.len().saturating_sub(EVENTS);
    mine.split_off(skip)
}

/// A pod's diagnosis without its logs.
pub fn pod_diagnosis(pod: &Value, events: &[Value]) -> PodDiagnosis {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    PodDiagnosis {
        phase: pod
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("Unknown")
            .to_string(),
        containers: containers_of(pod),
        events: events_of(&name, events),
        name,
    }
}

impl Diagnosis {
    /// The diagnosis as indented text lines (the text view prints them as they are).
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!("{}: {}", self.object, self.health)];
        if self.pods.is_empty() {
            out.push("  no pods".into());
        }
        for pod in &self.pods {
            out.push(format!("  pod {} ({})", pod.name, pod.phase));
            for c in &pod.containers {
                let which = if c.init {
                    "init container"
                } else {
                    "container"
                };
                let mut line = format!(
                    "    {which} {}: {}, restarts {}",
                    c.name, c.state, c.restart_count
                );
                if let Some(last) = &c.last_termination {
                    line.push_str(&format!(", last terminated: {last}"));
                }
                out.push(line);
                if !c.logs.is_empty() {
                    let which = match c.log_source.as_deref() {
                        Some("previous") => "logs --previous",
                        _ => "logs",
                    };
                    out.push(format!("      last {} lines ({which}):", c.logs.len()));
                    out.extend(c.logs.iter().map(|l| format!("        | {l}")));
                }
            }
            if !pod.events.is_empty() {
                out.push("    events:".into());
                for e in &pod.events {
                    out.push(format!(
                        "      {} {} (x{}): {}",
                        e.type_, e.reason, e.count, e.message
                    ));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crashing_pod() -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1"},
            "status": {"phase": "Pending",
              "initContainerStatuses": [{"name": "init-copy-config", "restartCount": 3, "ready": false,
                 "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
                 "lastState": {"terminated": {"reason": "Error", "exitCode": 2}}}],
              "containerStatuses": [{"name": "web", "restartCount": 0, "ready": false,
                 "state": {"waiting": {"reason": "PodInitializing"}}}]}})
    }

    #[test]
    fn marks_the_failing_init_container_and_reads_its_previous_log() {
        let containers = containers_of(&crashing_pod());
        assert_eq!(containers.len(), 2);
        assert!(containers[0].init && containers[0].failing);
        assert_eq!(
            containers[0].state,
            "waiting: CrashLoopBackOff: back-off 40s"
        );
        assert_eq!(
            containers[0].last_termination.as_deref(),
            Some("Error (exit code 2)")
        );
        assert_eq!(log_source(&containers[0]), LogSource::Previous);
        let mut first_crash = containers[0].clone();
        first_crash.restart_count = 0;
        assert_eq!(log_source(&first_crash), LogSource::Current);
        assert!(!containers[1].failing);
        assert_eq!(log_source(&containers[1]), LogSource::Current);
    }

    #[test]
    fn keeps_the_pods_recent_events_and_the_logs_tail() {
        let events: Vec<Value> = (0..15)
            .map(|i| {
                json!({"involvedObject": {"kind": "Pod", "name": "web-1"}, "type": "Warning",
                "reason": "BackOff", "message": format!("m{i}"), "count": 1,
                "lastTimestamp": format!("2026-01-01T00:00:{i:02}Z")})
            })
            .chain([json!({"involvedObject": {"kind": "Pod", "name": "other"}, "reason": "X"})])
            .collect();
        let d = pod_diagnosis(&crashing_pod(), &events);
        assert_eq!(d.events.len(), EVENTS);
        assert_eq!(d.events.last().map(|e| e.message.as_str()), Some("m14"));
        assert_eq!(tail("a\nb\nc\n", 2), ["b", "c"]);
        assert_eq!(tail("a", 5), ["a"]);
    }

    #[test]
    fn renders_as_describe_like_lines() {
        let mut pod = pod_diagnosis(&crashing_pod(), &[]);
        pod.containers[0].logs = vec!["cp: cannot stat '/config/appsettings.json'".into()];
        pod.containers[0].log_source = Some("previous".into());
        let d = Diagnosis {
            object: ObjectRef::new("apps", None, "Deployment", Some("qa".into()), "web"),
            health: Health::failed("pod web-1: init container init-copy-config: CrashLoopBackOff"),
            pods: vec![pod],
        };
        let text = d.lines().join("\n");
        assert!(
            text.contains("init container init-copy-config: waiting: CrashLoopBackOff"),
            "{text}"
        );
        assert!(text.contains("last 1 lines (logs --previous):"), "{text}");
        assert!(text.contains("| cp: cannot stat"), "{text}");
    }
}
