//! Field paths of server-side apply: the elements of the `FieldsV1` format and their display.
//!
//! <https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management>: a path
//! element is a field name (`f:`), the key of an item of a list of type `map` (`k:`), a value of
//! a list of type `set` (`v:`), or an index (`i:`, only for lists of unknown type).

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

/// One step of a field path. Keys and values are held as canonical JSON (sorted keys,
/// compact), which is both their `FieldsV1` spelling and a total order. The text is shared:
/// a path and the paths below it hold the same elements, so extending a path copies no text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// A field of a map: `f:name`.
    Field(Arc<str>),
    /// An item of a list of type `map`, by its key fields: `k:{"name":"web"}`.
    Key(Arc<str>),
    /// An item of a list of type `set`, by its value: `v:"finalizer"`.
    Value(Arc<str>),
    /// An item of a list by position: `i:0`.
    Index(usize),
}

impl PathElement {
    /// The key element of a list item from its key fields and their values.
    pub fn key(fields: &[(&str, Value)]) -> Self {
        let map: Map<String, Value> = fields
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect();
        Self::Key(Value::Object(map).to_string().into())
    }

    /// The value element of a set item.
    pub fn value(v: &Value) -> Self {
        Self::Value(v.to_string().into())
    }

    /// The `FieldsV1` key of this element (`f:spec`, `k:{"name":"x"}`, `v:"a"`, `i:0`).
    pub fn to_fields_v1_key(&self) -> String {
        let (prefix, text) = match self {
            Self::Field(name) => ("f:", name),
            Self::Key(json) => ("k:", json),
            Self::Value(json) => ("v:", json),
            Self::Index(i) => return format!("i:{i}"),
        };
        // Written for every owned field of every managedFields entry: one allocation, no
        // formatting machinery.
        let mut key = String::with_capacity(prefix.len() + text.len());
        key.push_str(prefix);
        key.push_str(text);
        key
    }

    /// Parse a `FieldsV1` key; `None` for anything else (including `.`).
    pub fn from_fields_v1_key(key: &str) -> Option<Self> {
        let (prefix, rest) = key.split_at_checked(2)?;
        match prefix {
            "f:" => Some(Self::Field(rest.into())),
            // Re-serialise so that equal keys compare equal whatever their spelling.
            "k:" => match serde_json::from_str::<Value>(rest).ok()? {
                v @ Value::Object(_) => Some(Self::Key(v.to_string().into())),
                _ => None,
            },
            "v:" => serde_json::from_str::<Value>(rest)
                .ok()
                .map(|v| Self::Value(v.to_string().into())),
            "i:" => rest.parse().ok().map(Self::Index),
            _ => None,
        }
    }
}

/// A path from the object root: `.spec.template.spec.containers[name="web"].image`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path(pub Vec<PathElement>);

impl Path {
    /// This path extended by one element.
    pub fn child(&self, element: PathElement) -> Path {
        let mut elements = Vec::with_capacity(self.0.len() + 1);
        elements.extend(self.0.iter().cloned());
        elements.push(element);
        Path(elements)
    }

    /// Whether `self` starts with `prefix` (a path is its own prefix).
    pub fn starts_with(&self, prefix: &Path) -> bool {
        self.0.starts_with(&prefix.0)
    }
}

/// The display of structured-merge-diff (`fieldpath.Path.String()`), used in conflict messages:
/// `.spec.replicas`, `[name="web"]`, `[containerPort=80,protocol="TCP"]`, `[=value]`, `[0]`.
impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for element in &self.0 {
            match element {
                PathElement::Field(name) => write!(f, ".{name}")?,
                PathElement::Key(json) => {
                    let parsed: Value = serde_json::from_str(json).unwrap_or(Value::Null);
                    let parts: Vec<String> = parsed
                        .as_object()
                        .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                        .unwrap_or_default();
                    write!(f, "[{}]", parts.join(","))?;
                }
                PathElement::Value(json) => write!(f, "[={json}]")?,
                PathElement::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_v1_keys_round_trip_and_normalise() {
        for key in ["f:spec", r#"k:{"name":"web"}"#, r#"v:"a""#, "i:3"] {
            let e = PathElement::from_fields_v1_key(key).expect("parses");
            assert_eq!(e.to_fields_v1_key(), key);
        }
        let spaced =
            PathElement::from_fields_v1_key(r#"k:{ "protocol": "TCP", "containerPort": 80 }"#);
        assert_eq!(
            spaced,
            Some(PathElement::key(&[
                ("containerPort", json!(80)),
                ("protocol", json!("TCP"))
            ]))
        );
        assert_eq!(PathElement::from_fields_v1_key("."), None);
        assert_eq!(PathElement::from_fields_v1_key("x:1"), None);
    }

    #[test]
    fn paths_display_like_structured_merge_diff() {
        let p = Path(vec![
            PathElement::Field("spec".into()),
            PathElement::Field("containers".into()),
            PathElement::key(&[("name", json!("web"))]),
            PathElement::Field("ports".into()),
            PathElement::key(&[("containerPort", json!(80)), ("protocol", json!("TCP"))]),
        ]);
        assert_eq!(
            p.to_string(),
            r#".spec.containers[name="web"].ports[containerPort=80,protocol="TCP"]"#
        );
        let s = Path(vec![
            PathElement::Field("finalizers".into()),
            PathElement::value(&json!("x")),
        ]);
        assert_eq!(s.to_string(), r#".finalizers[="x"]"#);
    }
}
