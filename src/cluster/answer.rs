//! Reading the API server's answers for a plan: objects (and lists of objects) as `Value`s,
//! without the `managedFields` entries of our own field manager.
//!
//! A plan reads `managedFields` only to name the fields another manager loses
//! ([`crate::plan::managers::takeovers`]: entries of managers other than ours, on both sides),
//! and then drops them all (normalisation). Our own entries are a third of a typical object's
//! JSON and most of its small maps: building them to throw them away was a large part of a
//! steady-state plan's CPU. Everything else is read exactly as `serde_json` reads a `Value`.

use std::fmt;

use serde::Deserialize as _;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::plan::managers::FIELD_MANAGER;

/// An object, without our own `managedFields` entries.
pub fn object(text: &str) -> Result<Value, serde_json::Error> {
    read(text, Node::Object)
}

/// A list (`{"items": [...], "metadata": {...}}`), its items read as [`object`] does.
pub fn list(text: &str) -> Result<Value, serde_json::Error> {
    read(text, Node::List)
}

fn read(text: &str, node: Node) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Seed(node).deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Where in an answer a value sits: the places that lead to `managedFields`, and the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    /// A list answer.
    List,
    /// A list's `items`.
    Items,
    /// An object.
    Object,
    /// An object's `metadata`.
    Metadata,
    /// `metadata.managedFields`.
    ManagedFields,
}

impl Node {
    /// The node of the value under `key` of a map at this node (`None`: an ordinary value).
    fn child(self, key: &str) -> Option<Self> {
        match (self, key) {
            (Self::List, "items") => Some(Self::Items),
            (Self::Object, "metadata") => Some(Self::Metadata),
            (Self::Metadata, "managedFields") => Some(Self::ManagedFields),
            _ => None,
        }
    }
}

struct Seed(Node);

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = match self.0.child(&key) {
                Some(node) => map.next_value_seed(Seed(node))?,
                None => map.next_value::<Value>()?,
            };
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        match self.0 {
            Node::Items => {
                while let Some(item) = seq.next_element_seed(Seed(Node::Object))? {
                    out.push(item);
                }
            }
            Node::ManagedFields => {
                while let Some(entry) = seq.next_element_seed(Entry)? {
                    out.extend(entry);
                }
            }
            _ => {
                while let Some(item) = seq.next_element::<Value>()? {
                    out.push(item);
                }
            }
        }
        Ok(Value::Array(out))
    }

    // Anything else is read as `serde_json` reads it into a `Value`.

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }
}

/// One `managedFields` entry: `None` when it is our own manager's. Kubernetes writes `manager`
/// before `fieldsV1`, so our entries' field sets are skipped unread; in any other order they
/// are read, and the entry dropped all the same.
struct Entry;

impl<'de> DeserializeSeed<'de> for Entry {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<Value>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Entry {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a managedFields entry")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Value>, A::Error> {
        let mut out = Map::new();
        let mut ours = false;
        while let Some(key) = map.next_key::<String>()? {
            if ours && key == "fieldsV1" {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let value = map.next_value::<Value>()?;
            if key == "manager" {
                ours = value.as_str() == Some(FIELD_MANAGER);
            }
            out.insert(key, value);
        }
        Ok((!ours).then_some(Value::Object(out)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Option<Value>, A::Error> {
        Seed(Node::Object).visit_seq(seq).map(Some)
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Option<Value>, E> {
        Ok(Some(Value::Bool(v)))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Option<Value>, E> {
        Ok(Some(Value::Number(v.into())))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Option<Value>, E> {
        Ok(Some(Value::Number(v.into())))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Option<Value>, E> {
        Seed(Node::Object).visit_f64(v).map(Some)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Option<Value>, E> {
        Ok(Some(Value::String(v.to_string())))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Option<Value>, E> {
        Ok(Some(Value::Null))
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Option<Value>, E> {
        Ok(Some(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<Value>, D::Error> {
        Value::deserialize(deserializer).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_entries(entries: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "qa", "uid": "u-1", "resourceVersion": "7",
                "labels": {"app": "web"}, "managedFields": entries},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": "web:1"}]}}},
            "status": {"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]}
        })
    }

    #[test]
    fn everything_but_our_own_managed_fields_entries_is_read_as_serde_json_reads_it() {
        let ours = json!({"manager": "gitops", "operation": "Apply", "apiVersion": "apps/v1",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}});
        let other = json!({"manager": "kubectl-edit", "operation": "Update", "apiVersion": "apps/v1",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:template": {}}}});
        let status = json!({"manager": "kube-controller-manager", "operation": "Update",
            "subresource": "status", "fieldsV1": {"f:status": {"f:replicas": {}}}});
        let live = with_entries(json!([ours, other, status]));
        let read = object(&live.to_string()).unwrap();
        assert_eq!(read, with_entries(json!([other, status])));
        // Our entry with its field set first is dropped too.
        let reordered = r#"{"metadata": {"managedFields": [{"fieldsV1": {"f:a": {}}, "manager": "gitops"}, 7, null]}}"#;
        assert_eq!(
            object(reordered).unwrap(),
            json!({"metadata": {"managedFields": [7, null]}})
        );
        // Values in odd places, numbers of every kind, and no managedFields at all.
        for text in [
            r#"{"metadata": null, "a": [1, -2, 3.5, 1e300, "x", true, null, {"metadata": {"managedFields": [{"manager": "gitops"}]}}]}"#,
            r#"{"metadata": {"managedFields": null, "name": "x"}, "items": [{"metadata": 5}]}"#,
            r#"[1, {"metadata": {}}]"#,
            r#""text""#,
            r#"{"kind": "Status", "message": "caf\u00e9 \"quoted\" \n"}"#,
        ] {
            let expected: Value = serde_json::from_str(text).unwrap();
            assert_eq!(object(text).unwrap(), expected, "{text}");
            assert_eq!(list(text).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn list_items_are_objects() {
        let ours = json!({"manager": "gitops", "fieldsV1": {"f:data": {}}});
        let other = json!({"manager": "kubectl", "fieldsV1": {"f:data": {}}});
        let page = json!({"kind": "ConfigMapList", "metadata": {"continue": "abc", "managedFields": [ours]},
        "items": [
            {"metadata": {"name": "a", "managedFields": [ours, other]}},
            {"metadata": {"name": "b", "managedFields": [ours]}}
        ]});
        assert_eq!(
            list(&page.to_string()).unwrap(),
            json!({"kind": "ConfigMapList", "metadata": {"continue": "abc", "managedFields": [ours]},
            "items": [
                {"metadata": {"name": "a", "managedFields": [other]}},
                {"metadata": {"name": "b", "managedFields": []}}
            ]})
        );
    }

    #[test]
    fn what_is_not_json_is_an_error_as_with_serde_json() {
        for text in [
            "",
            "{",
            r#"{"metadata": {"managedFields": [{"manager": "gitops", "fieldsV1": {]}}"#,
            "{} x",
        ] {
            assert!(object(text).is_err(), "{text}");
            assert!(serde_json::from_str::<Value>(text).is_err(), "{text}");
        }
    }
}
