//! Events as the controllers and the kubelet record them (core/v1 `Event`): one object per
//! involved object, reason and message, whose `count` rises when the same thing happens again,
//! as client-go's event correlator aggregates them.
//! https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/

use serde_json::{Value, json};

use super::meta::{self, keys};
use crate::clock::{Clock, SimTime, timestamp};
use crate::store::Store;

/// `Normal` or `Warning`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Things going as planned.
    Normal,
    /// Something the user should look at.
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// One (possibly repeated) occurrence to record.
#[derive(Clone, Debug, PartialEq)]
pub struct Occurrence {
    /// `Normal` or `Warning`.
    pub severity: Severity,
    /// The machine-readable reason (`Scheduled`, `BackOff`, `ScalingReplicaSet`).
    pub reason: String,
    /// The human-readable message.
    pub message: String,
    /// `spec.containers{app}` for container events.
    pub field_path: Option<String>,
    /// When it first happened.
    pub first: SimTime,
    /// When it last happened.
    pub last: SimTime,
    /// How often it happened.
    pub count: u32,
}

impl Occurrence {
    /// A single occurrence at `at`.
    pub fn once(severity: Severity, reason: &str, message: impl Into<String>, at: SimTime) -> Self {
        Self {
            severity,
            reason: reason.to_owned(),
            message: message.into(),
            field_path: None,
            first: at,
            last: at,
            count: 1,
        }
    }
}

/// Who reports: `kubelet` on a node, `default-scheduler`, `deployment-controller`...
#[derive(Clone, Debug)]
pub struct Source {
    /// The reporting component.
    pub component: &'static str,
    /// The node, for the kubelet.
    pub host: Option<String>,
}

impl Source {
    /// A control-plane component.
    pub fn controller(component: &'static str) -> Self {
        Self {
            component,
            host: None,
        }
    }
}

/// Adds `occurrence` about `involved`: a new Event, or the existing one with the new count. An
/// Event already at that count (or beyond) is left alone, so replaying a history is harmless.
pub fn record(
    store: &Store,
    clock: &Clock,
    involved: &Value,
    source: &Source,
    occurrence: &Occurrence,
) {
    let key = keys::events();
    let namespace = match meta::namespace(involved) {
        "" => "default",
        ns => ns,
    };
    let identity = format!(
        "{}/{}/{}/{}",
        meta::uid(involved),
        occurrence.reason,
        occurrence.message,
        occurrence.field_path.as_deref().unwrap_or_default()
    );
    // The real name is `<object>.<unique hex>`; a hash of what happened keeps it stable for
    // aggregation.
    let name = format!(
        "{}.{:08x}{:08x}",
        meta::name(involved),
        meta::fnv32a(identity.as_bytes()),
        meta::fnv32a(occurrence.message.as_bytes())
    );
    let existing = store.get(&key, Some(namespace), &name);
    if let Some(existing) = &existing
        && meta::int_at(existing, "/count", 0) >= i64::from(occurrence.count)
    {
        return;
    }
    let mut involved_ref = json!({
        "apiVersion": involved.get("apiVersion").cloned().unwrap_or(Value::Null),
        "kind": involved.get("kind").cloned().unwrap_or(Value::Null),
        "name": meta::name(involved),
        "uid": meta::uid(involved),
        "resourceVersion": involved.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null),
    });
    if !meta::namespace(involved).is_empty() {
        meta::set(
            &mut involved_ref,
            "namespace",
            json!(meta::namespace(involved)),
        );
    }
    if let Some(path) = &occurrence.field_path {
        meta::set(&mut involved_ref, "fieldPath", json!(path));
    }
    let mut source_json = json!({"component": source.component});
    if let Some(host) = &source.host {
        meta::set(&mut source_json, "host", json!(host));
    }
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": involved_ref,
        "reason": occurrence.reason,
        "message": occurrence.message,
        "type": occurrence.severity.as_str(),
        "source": source_json,
        "firstTimestamp": timestamp(clock.wall(occurrence.first)),
        "lastTimestamp": timestamp(clock.wall(occurrence.last)),
        "count": occurrence.count,
        "eventTime": null,
        "reportingComponent": source.component,
        "reportingInstance": source.host.clone().unwrap_or_default(),
    });
    let outcome = match existing {
        Some(mut existing) => {
            for field in ["count", "lastTimestamp", "involvedObject"] {
                meta::set(&mut existing, field, event[field].clone());
            }
            store.update(&key, existing)
        }
        None => store.create(&key, event),
    };
    if let Err(err) = outcome {
        // An event is best effort, as in client-go: losing one never stops a controller.
        tracing::debug!(error = %err, "recording an event");
    }
}
