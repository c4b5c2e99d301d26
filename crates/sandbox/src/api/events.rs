//! The two shapes of an Event: core `v1` (stored) and `events.k8s.io/v1` (converted on the fly).
//!
//! https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/
//! https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/#Event (field mapping
//! in the descriptions: `note` ← `message`, `regarding` ← `involvedObject`, `deprecated*` ← the old fields)

use serde_json::{Map, Value, json};

/// (core v1 field, events.k8s.io/v1 field).
const RENAMES: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

/// Fields with the same name in both shapes.
const SAME: &[&str] = &[
    "metadata",
    "eventTime",
    "series",
    "action",
    "reason",
    "related",
    "reportingInstance",
    "type",
];

fn convert(object: &Value, forward: bool, api_version: &str) -> Value {
    let Some(map) = object.as_object() else {
        return object.clone();
    };
    let mut out = Map::new();
    out.insert("apiVersion".to_owned(), json!(api_version));
    out.insert("kind".to_owned(), json!("Event"));
    for field in SAME {
        if let Some(v) = map.get(*field) {
            out.insert((*field).to_owned(), v.clone());
        }
    }
    for (core, new) in RENAMES {
        let (from, to) = if forward { (core, new) } else { (new, core) };
        if let Some(v) = map.get(*from) {
            out.insert((*to).to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

/// A stored core Event as `events.k8s.io/v1`.
pub fn to_events_v1(core: &Value) -> Value {
    convert(core, true, "events.k8s.io/v1")
}

/// An `events.k8s.io/v1` Event as the core Event it is stored as.
pub fn to_core(event: &Value) -> Value {
    convert(event, false, "v1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_fields() {
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "message": "Pulled", "reason": "Pulled",
            "count": 2, "type": "Normal"});
        let new = to_events_v1(&core);
        assert_eq!(new["regarding"]["name"], "p");
        assert_eq!(new["note"], "Pulled");
        assert_eq!(new["deprecatedCount"], 2);
        assert_eq!(to_core(&new), core);
    }
}
