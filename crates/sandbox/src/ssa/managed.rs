//! `metadata.managedFields` entries: who owns which fields, by which operation.
//!
//! <https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management>: one
//! entry per applier (`operation: Apply`), one per updater and API version (`operation: Update`);
//! an entry that owns no field is dropped.

use serde_json::{Map, Value, json};

use super::SsaError;
use super::fieldset::FieldSet;

/// The operation that made a manager own its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    /// A server-side apply.
    Apply,
    /// Any other write: create, update, patch.
    Update,
}

impl Operation {
    /// The `operation` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Apply => "Apply",
            Self::Update => "Update",
        }
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedEntry {
    /// The field manager (`kubectl`, `gitops`, `kube-controller-manager`).
    pub manager: String,
    /// Apply or Update.
    pub operation: Operation,
    /// The API version the fields were set through (`apps/v1`).
    pub api_version: String,
    /// When the entry last changed, RFC 3339 (`2024-01-01T00:00:00Z`).
    pub time: Option<String>,
    /// The subresource written (`status`, `scale`), if not the main resource.
    pub subresource: Option<String>,
    /// The owned fields.
    pub fields: FieldSet,
}

impl ManagedEntry {
    /// Whether `self` and `other` are the same manager identity: an applier is one entry
    /// whatever the API version; an updater is one entry per API version
    /// (`fieldmanager/internal/managedfields.go`, `BuildManagerIdentifier`).
    pub fn same_identity(&self, other: &ManagedEntry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == Operation::Apply || self.api_version == other.api_version)
    }

    /// How conflict messages name the manager: `"kubectl"` for an applier,
    /// `"kubectl-client-side-apply" using apps/v1` for an updater
    /// (`fieldmanager/internal/conflict.go`, `printManager`).
    pub fn display(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            out.push_str(&format!(" with subresource {sub:?}"));
        }
        if self.operation == Operation::Update {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }

    /// The entry as JSON.
    pub fn to_value(&self) -> Value {
        let mut entry = Map::new();
        entry.insert("manager".into(), json!(self.manager));
        entry.insert("operation".into(), json!(self.operation.as_str()));
        entry.insert("apiVersion".into(), json!(self.api_version));
        if let Some(time) = &self.time {
            entry.insert("time".into(), json!(time));
        }
        entry.insert("fieldsType".into(), json!("FieldsV1"));
        entry.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if let Some(sub) = &self.subresource {
            entry.insert("subresource".into(), json!(sub));
        }
        Value::Object(entry)
    }

    /// Read an entry.
    pub fn from_value(value: &Value) -> Result<Self, SsaError> {
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
        let operation = match value.get("operation").and_then(Value::as_str) {
            Some("Apply") => Operation::Apply,
            Some("Update") => Operation::Update,
            other => {
                return Err(SsaError::InvalidManagedFields(format!(
                    "operation must be `Apply` or `Update`, not {}",
                    other.unwrap_or("missing")
                )));
            }
        };
        if let Some(kind) = value
            .get("fieldsType")
            .and_then(Value::as_str)
            .filter(|k| *k != "FieldsV1")
        {
            return Err(SsaError::InvalidManagedFields(format!(
                "fieldsType `{kind}` is not FieldsV1"
            )));
        }
        let fields = match value.get("fieldsV1") {
            Some(v) => FieldSet::from_fields_v1(v)?,
            None => FieldSet::new(),
        };
        Ok(Self {
            manager: text("manager").unwrap_or_default(),
            operation,
            api_version: text("apiVersion").unwrap_or_default(),
            time: text("time"),
            subresource: text("subresource").filter(|s| !s.is_empty()),
            fields,
        })
    }
}

/// The entries of an object's `metadata.managedFields` (none when absent).
pub fn read_managed_fields(object: &Value) -> Result<Vec<ManagedEntry>, SsaError> {
    match object.pointer("/metadata/managedFields") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(ManagedEntry::from_value).collect(),
        Some(_) => Err(SsaError::InvalidManagedFields(
            "metadata.managedFields is not a list".into(),
        )),
    }
}

/// Write entries into `metadata.managedFields`, dropping empty ones, in the API server's order:
/// appliers first, then by time, manager, API version and subresource.
pub fn write_managed_fields(object: &mut Value, entries: &[ManagedEntry]) {
    let Some(Value::Object(meta)) = object.get_mut("metadata") else {
        return;
    };
    match managed_fields_value(entries) {
        Some(list) => meta.insert("managedFields".into(), list),
        None => meta.remove("managedFields"),
    };
}

/// The `managedFields` value [`write_managed_fields`] writes; `None` when no entry owns a field.
pub(super) fn managed_fields_value(entries: &[ManagedEntry]) -> Option<Value> {
    let mut kept: Vec<&ManagedEntry> = entries.iter().filter(|e| !e.fields.is_empty()).collect();
    kept.sort_by(|a, b| {
        (
            a.operation,
            &a.time,
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
    if kept.is_empty() {
        None
    } else {
        Some(Value::Array(kept.iter().map(|e| e.to_value()).collect()))
    }
}
