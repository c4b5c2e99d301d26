//! The size limits a real API server enforces on the object a write would store, after the
//! body was decoded (the 3 MiB body limit comes first, in `sandbox.rs`):
//!
//! - validation: a ConfigMap's `data` + `binaryData` and a Secret's `data` may hold at most
//!   1 MiB, an object's annotations at most 256 KiB: 422 Invalid, `FieldValueTooLong`
//!   (https://kubernetes.io/docs/concepts/configuration/configmap/#motivation,
//!   https://kubernetes.io/docs/concepts/configuration/secret/#restriction-data-size,
//!   https://kubernetes.io/docs/concepts/overview/working-with-objects/annotations/#syntax-and-character-set);
//! - storage: etcd refuses a request over 1.5 MiB
//!   (https://etcd.io/docs/v3.5/dev-guide/limit/#request-size-limit). The API server does not
//!   map that error to a status of its own: the client gets `500` with the message
//!   `etcdserver: request is too large` and no reason, as for any error that is not a `Status`
//!   (https://github.com/kubernetes/kubernetes/issues/112152). A dry run never reaches etcd, so
//!   it is not refused
//!   (https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run).

use serde_json::Value;

use super::Ctx;
use super::status::{ApiError, Cause};
use crate::store::meta_str;

/// The most a ConfigMap's or Secret's data may hold (`MaxSecretSize`, 1 MiB).
pub const MAX_DATA_BYTES: usize = 1024 * 1024;

/// The most an object's annotations (keys and values) may hold (256 KiB).
pub const MAX_ANNOTATION_BYTES: usize = 256 * 1024;

/// Checks the validation limits of the module documentation on the object a write would store.
/// The etcd limit is checked by the caller (`fields::finish`), on the JSON size, unless the
/// write is a dry run: etcd stores built-in kinds as protobuf, a little smaller than JSON, which
/// is close enough for the objects that come near the limit (mostly one large value).
pub fn check(ctx: &Ctx<'_>, object: &Value) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    let annotations: usize = object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .map_or(0, |a| {
            a.iter()
                .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
                .sum()
        });
    if annotations > MAX_ANNOTATION_BYTES {
        causes.push(too_long("metadata.annotations", MAX_ANNOTATION_BYTES));
    }
    if ctx.info.group.is_empty() {
        match ctx.info.kind.as_str() {
            // The whole object is named by the empty path, which the server prints as `[]`.
            "ConfigMap" => {
                let data = string_values(object, "data", |s| s.len());
                let binary = string_values(object, "binaryData", decoded_len);
                if data + binary > MAX_DATA_BYTES {
                    causes.push(too_long("[]", MAX_DATA_BYTES));
                }
            }
            "Secret" if string_values(object, "data", decoded_len) > MAX_DATA_BYTES => {
                causes.push(too_long("data", MAX_DATA_BYTES));
            }
            _ => {}
        }
    }
    if !causes.is_empty() {
        let name = meta_str(object, "name").unwrap_or_default();
        return Err(ApiError::invalid(&ctx.info, name, &causes));
    }
    Ok(())
}

fn too_long(field: &str, limit: usize) -> Cause {
    Cause {
        reason: "FieldValueTooLong".to_owned(),
        message: format!("Too long: may not be more than {limit} bytes"),
        field: field.to_owned(),
    }
}

/// The sum of `size` over the string values of the map at `field`.
fn string_values(object: &Value, field: &str, size: impl Fn(&str) -> usize) -> usize {
    object
        .get(field)
        .and_then(Value::as_object)
        .map_or(0, |m| m.values().filter_map(Value::as_str).map(&size).sum())
}

/// The length of (padded) base64 text once decoded: bytes fields are base64 in JSON.
fn decoded_len(text: &str) -> usize {
    let padding = text.bytes().rev().take_while(|&b| b == b'=').count().min(2);
    (text.len() / 4 * 3).saturating_sub(padding)
}
