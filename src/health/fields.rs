//! Small readers over an object's JSON: integers, strings and `status.conditions`.

use serde_json::Value;

/// An integer at a JSON pointer (`/status/readyReplicas`); absent counts as `None`.
pub(crate) fn int(obj: &Value, pointer: &str) -> Option<i64> {
    obj.pointer(pointer).and_then(Value::as_i64)
}

/// An integer at a JSON pointer, absent meaning zero: the API server omits zero counters
/// from status (`omitempty`), so a missing `availableReplicas` is 0, not unknown.
pub(crate) fn count(obj: &Value, pointer: &str) -> i64 {
    int(obj, pointer).unwrap_or(0)
}

/// A string at a JSON pointer.
pub(crate) fn str_at<'a>(obj: &'a Value, pointer: &str) -> Option<&'a str> {
    obj.pointer(pointer).and_then(Value::as_str)
}

/// One entry of `status.conditions`, as most built-in kinds share it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Condition<'a> {
    pub status: &'a str,
    pub reason: &'a str,
    pub message: &'a str,
}

impl Condition<'_> {
    /// `status: "True"`.
    pub fn is_true(&self) -> bool {
        self.status == "True"
    }

    /// `reason: message`, or whichever of the two is present.
    pub fn explain(&self) -> String {
        match (self.reason.is_empty(), self.message.is_empty()) {
            (false, false) => format!("{}: {}", self.reason, self.message),
            (false, true) => self.reason.to_string(),
            (true, false) => self.message.to_string(),
            (true, true) => String::from("no reason given"),
        }
    }
}

/// The condition of the given `type` in `status.conditions`, if the object has one.
pub(crate) fn condition<'a>(obj: &'a Value, type_: &str) -> Option<Condition<'a>> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
        .map(|c| {
            let field = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("");
            Condition {
                status: field("status"),
                reason: field("reason"),
                message: field("message"),
            }
        })
}

/// `metadata.generation <= status.observedGeneration`: the controller has seen the latest
/// spec. Objects without a generation (older servers, some emulators) count as observed.
pub(crate) fn generation_observed(obj: &Value) -> bool {
    match int(obj, "/metadata/generation") {
        Some(generation) => int(obj, "/status/observedGeneration").is_some_and(|o| generation <= o),
        None => true,
    }
}
