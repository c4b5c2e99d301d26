//! Protobuf request bodies for the simple core kinds kubectl's typed clients send that way
//! (`kubectl create namespace|configmap|secret|serviceaccount`), decoded to the JSON object.
//!
//! kubectl 1.32+ writes built-in objects as `application/vnd.kubernetes.protobuf`: the magic
//! `k8s\0`, then a `runtime.Unknown` whose `raw` field is the object's protobuf message. Field
//! numbers are those of the Kubernetes API's `generated.proto` files. Kinds outside the table
//! below get 415, so a client can retry as JSON.
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use super::status::ApiError;

/// The prefix of every Kubernetes protobuf body.
const MAGIC: &[u8] = b"k8s\x00";

/// How one field is read and written to JSON.
#[derive(Clone, Copy)]
enum Ty {
    /// A string; empty means unset (Go's non-pointer strings are always encoded).
    Str,
    /// An integer; zero means unset.
    Int,
    /// An optional bool (a Go `*bool`): present means set.
    Bool,
    /// `map<string, string>`.
    StrMap,
    /// `map<string, bytes>`, base64 in JSON.
    BytesMap,
    /// A nested message.
    Msg(&'static [Field]),
}

#[derive(Clone, Copy)]
struct Field {
    number: u64,
    name: &'static str,
    ty: Ty,
    repeated: bool,
}

const fn f(number: u64, name: &'static str, ty: Ty) -> Field {
    Field {
        number,
        name,
        ty,
        repeated: false,
    }
}

const fn rep(number: u64, name: &'static str, ty: Ty) -> Field {
    Field {
        number,
        name,
        ty,
        repeated: true,
    }
}

/// ObjectMeta, without the fields the server owns (timestamps, managedFields).
const OWNER_REFERENCE: &[Field] = &[
    f(1, "kind", Ty::Str),
    f(3, "name", Ty::Str),
    f(4, "uid", Ty::Str),
    f(5, "apiVersion", Ty::Str),
    f(6, "controller", Ty::Bool),
    f(7, "blockOwnerDeletion", Ty::Bool),
];
const OBJECT_META: &[Field] = &[
    f(1, "name", Ty::Str),
    f(2, "generateName", Ty::Str),
    f(3, "namespace", Ty::Str),
    f(5, "uid", Ty::Str),
    f(6, "resourceVersion", Ty::Str),
    f(7, "generation", Ty::Int),
    f(11, "labels", Ty::StrMap),
    f(12, "annotations", Ty::StrMap),
    rep(13, "ownerReferences", Ty::Msg(OWNER_REFERENCE)),
    rep(14, "finalizers", Ty::Str),
];
const NAMESPACE_SPEC: &[Field] = &[rep(1, "finalizers", Ty::Str)];
const NAMESPACE: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "spec", Ty::Msg(NAMESPACE_SPEC)),
];
const CONFIG_MAP: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "data", Ty::StrMap),
    f(3, "binaryData", Ty::BytesMap),
    f(4, "immutable", Ty::Bool),
];
const SECRET: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "data", Ty::BytesMap),
    f(3, "type", Ty::Str),
    f(4, "stringData", Ty::StrMap),
    f(5, "immutable", Ty::Bool),
];
const OBJECT_REFERENCE: &[Field] = &[
    f(1, "kind", Ty::Str),
    f(2, "namespace", Ty::Str),
    f(3, "name", Ty::Str),
    f(4, "uid", Ty::Str),
    f(5, "apiVersion", Ty::Str),
    f(6, "resourceVersion", Ty::Str),
    f(7, "fieldPath", Ty::Str),
];
const LOCAL_OBJECT_REFERENCE: &[Field] = &[f(1, "name", Ty::Str)];
const SERVICE_ACCOUNT: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    rep(2, "secrets", Ty::Msg(OBJECT_REFERENCE)),
    rep(3, "imagePullSecrets", Ty::Msg(LOCAL_OBJECT_REFERENCE)),
    f(4, "automountServiceAccountToken", Ty::Bool),
];
const TYPE_META: &[Field] = &[f(1, "apiVersion", Ty::Str), f(2, "kind", Ty::Str)];

fn schema(api_version: &str, kind: &str) -> Option<&'static [Field]> {
    match (api_version, kind) {
        ("v1", "Namespace") => Some(NAMESPACE),
        ("v1", "ConfigMap") => Some(CONFIG_MAP),
        ("v1", "Secret") => Some(SECRET),
        ("v1", "ServiceAccount") => Some(SERVICE_ACCOUNT),
        _ => None,
    }
}

fn malformed() -> ApiError {
    ApiError::bad_request("the body of the request is not a valid protobuf message")
}

/// A protobuf wire value.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, ApiError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.bytes.split_first().ok_or_else(malformed)?;
            self.bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed())
    }

    fn next(&mut self) -> Result<Option<(u64, Wire<'a>)>, ApiError> {
        if self.bytes.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| malformed())?;
                if len > self.bytes.len() {
                    return Err(malformed());
                }
                let (value, rest) = self.bytes.split_at(len);
                self.bytes = rest;
                Wire::Bytes(value)
            }
            1 => Wire::Bytes(self.take(8)?),
            5 => Wire::Bytes(self.take(4)?),
            _ => return Err(malformed()),
        };
        Ok(Some((key >> 3, wire)))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ApiError> {
        if n > self.bytes.len() {
            return Err(malformed());
        }
        let (value, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(value)
    }
}

fn text(bytes: &[u8]) -> Result<String, ApiError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| malformed())
}

/// A map entry message: key = 1, value = 2.
fn entry(bytes: &[u8]) -> Result<(String, &[u8]), ApiError> {
    let mut reader = Reader { bytes };
    let (mut key, mut value) = (String::new(), &[][..]);
    while let Some((number, wire)) = reader.next()? {
        match (number, wire) {
            (1, Wire::Bytes(b)) => key = text(b)?,
            (2, Wire::Bytes(b)) => value = b,
            _ => {}
        }
    }
    Ok((key, value))
}

fn message(bytes: &[u8], fields: &[Field]) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    let mut reader = Reader { bytes };
    while let Some((number, wire)) = reader.next()? {
        let Some(field) = fields.iter().find(|f| f.number == number) else {
            continue;
        };
        let value = match (field.ty, wire) {
            (Ty::Str, Wire::Bytes(b)) => Value::String(text(b)?),
            (Ty::Int, Wire::Varint(v)) => Value::from(v),
            (Ty::Bool, Wire::Varint(v)) => Value::Bool(v != 0),
            (Ty::StrMap | Ty::BytesMap, Wire::Bytes(b)) => {
                let (key, raw) = entry(b)?;
                let value = match field.ty {
                    Ty::StrMap => Value::String(text(raw)?),
                    _ => Value::String(STANDARD.encode(raw)),
                };
                let map = out
                    .entry(field.name)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(map) = map.as_object_mut() {
                    map.insert(key, value);
                }
                continue;
            }
            (Ty::Msg(inner), Wire::Bytes(b)) => Value::Object(message(b, inner)?),
            _ => return Err(malformed()),
        };
        if field.repeated {
            let list = out
                .entry(field.name)
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Some(list) = list.as_array_mut() {
                list.push(value);
            }
            continue;
        }
        // Go encodes unset strings and zero numbers too; JSON leaves them out.
        let unset = matches!(&value, Value::String(s) if s.is_empty())
            || value.as_u64() == Some(0)
            || matches!(&value, Value::Object(m) if m.is_empty());
        if !unset {
            out.insert(field.name.to_owned(), value);
        }
    }
    Ok(out)
}

/// Decodes a protobuf body into the JSON object it encodes.
pub fn decode(body: &[u8], accepted: &[&str]) -> Result<Value, ApiError> {
    let unsupported =
        || ApiError::unsupported_media_type("application/vnd.kubernetes.protobuf", accepted);
    let rest = body.strip_prefix(MAGIC).ok_or_else(malformed)?;
    let mut reader = Reader { bytes: rest };
    let (mut type_meta, mut raw) = (Map::new(), &[][..]);
    while let Some((number, wire)) = reader.next()? {
        match (number, wire) {
            (1, Wire::Bytes(b)) => type_meta = message(b, TYPE_META)?,
            (2, Wire::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    let api_version = type_meta
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = type_meta
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let fields = schema(api_version, kind).ok_or_else(unsupported)?;
    let mut object = message(raw, fields)?;
    object.insert(
        "apiVersion".to_owned(),
        Value::String(api_version.to_owned()),
    );
    object.insert("kind".to_owned(), Value::String(kind.to_owned()));
    Ok(Value::Object(object))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn decodes_kubectl_create_namespace() {
        // What kubectl 1.32 sends for `kubectl create namespace csa`.
        let body: &[u8] = &[
            0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0f, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x09, 0x4e, 0x61,
            0x6d, 0x65, 0x73, 0x70, 0x61, 0x63, 0x65, 0x12, 0x1b, 0x0a, 0x13, 0x0a, 0x03, 0x63,
            0x73, 0x61, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00,
            0x42, 0x00, 0x12, 0x00, 0x1a, 0x02, 0x0a, 0x00, 0x1a, 0x00, 0x22, 0x00,
        ];
        let object = decode(body, &[]).unwrap_or_default();
        assert_eq!(
            object,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "csa"}})
        );
    }

    #[test]
    fn unknown_kinds_are_415() {
        let body = b"k8s\x00\x0a\x15\x0a\x07apps/v1\x12\x0aDeployment";
        assert_eq!(decode(body, &[]).err().map(|e| e.code.as_u16()), Some(415));
    }
}
