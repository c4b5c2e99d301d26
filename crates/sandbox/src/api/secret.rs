//! Secrets: `stringData` is write-only. The API server merges it into `data` (base64) on every
//! write, its keys overwriting those of `data`, and never stores or returns it:
//! "stringData ... is merged into the data field on write, overwriting any existing values. The
//! stringData field is never output when reading from the API."
//! https://kubernetes.io/docs/concepts/configuration/secret/#restriction-names-data
//! https://kubernetes.io/docs/reference/kubernetes-api/config-and-storage-resources/secret-v1/

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::store::ResourceInfo;

/// Merge a core `v1` Secret's `stringData` into its `data` and drop it; other objects are left
/// alone. Runs after field validation (a non-string value has been refused by then; one that
/// slipped through is dropped, as the decoder would not have produced it).
pub(crate) fn merge_string_data(info: &ResourceInfo, object: &mut Value) {
    if !(info.group.is_empty() && info.kind == "Secret") {
        return;
    }
    let Some(map) = object.as_object_mut() else {
        return;
    };
    let Some(Value::Object(strings)) = map.remove("stringData") else {
        return;
    };
    if strings.is_empty() {
        return;
    }
    let data = map
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    if let Some(data) = data.as_object_mut() {
        for (key, value) in strings {
            if let Value::String(text) = value {
                let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
                data.insert(key, Value::String(encoded));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info(group: &str, kind: &str) -> ResourceInfo {
        let registry = crate::store::Store::new().registry();
        let mut info = registry
            .by_kind("v1", "Secret")
            .expect("secrets are registered")
            .clone();
        info.group = group.to_owned();
        info.kind = kind.to_owned();
        info
    }

    #[test]
    fn string_data_overwrites_data_and_disappears() {
        let mut secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"user": "b2xk", "keep": "a2VlcA=="}, "stringData": {"user": "admin", "password": "hunter2"}});
        merge_string_data(&info("", "Secret"), &mut secret);
        assert_eq!(
            secret,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                "data": {"user": "YWRtaW4=", "keep": "a2VlcA==", "password": "aHVudGVyMg=="}})
        );
    }

    #[test]
    fn only_core_secrets_are_touched() {
        let mut other = json!({"kind": "Secret", "stringData": {"a": "b"}});
        merge_string_data(&info("example.com", "Secret"), &mut other);
        assert_eq!(other["stringData"]["a"], "b");
    }
}
