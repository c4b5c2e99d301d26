//! What every write goes through before the store: the stored-size limit (and, as they land, API
//! defaulting, field validation and `managedFields`).
//!
//! https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management

use serde_json::Value;

use super::Ctx;
use super::status::{ApiError, MAX_OBJECT_BYTES};

/// Prepares an object for the store: `old` is the stored object of an update, `operation` the
/// managedFields operation (`Update` or `Apply`).
pub(crate) fn prepare(
    _ctx: &Ctx<'_>,
    object: Value,
    _old: Option<&Value>,
    _operation: &str,
) -> Result<Value, ApiError> {
    // etcd refuses values over its request limit; the real server passes that on as 413.
    if serde_json::to_vec(&object).map_or(0, |b| b.len()) > MAX_OBJECT_BYTES {
        return Err(ApiError::object_too_large());
    }
    Ok(object)
}
