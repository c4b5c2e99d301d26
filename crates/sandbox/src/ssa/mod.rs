//! Server-side apply: field ownership (`managedFields`), the apply merge, conflicts and removal.
//!
//! Follows <https://kubernetes.io/docs/reference/using-api/server-side-apply/>:
//! - an apply merges the manager's configuration into the live object by the schema's list
//!   types ([`gitops_manifest::merge_keys`]) and makes the manager own exactly the fields of its
//!   configuration ([`apply`]);
//! - a field another manager owns with a different value is a conflict; all conflicts are
//!   reported at once (409), `force` takes the fields over;
//! - equal values are shared ownership, not conflicts;
//! - a field the manager applied before and no longer applies is removed from the object, unless
//!   another manager owns it;
//! - every other write (create, update, patch, scale) records an `Update` entry for the fields it
//!   changed and takes them from their previous owners without conflict ([`record_update`]).
//!
//! Pure: the caller passes the time and stores the result; defaulting and validation run after.

mod fieldset;
mod managed;
mod merge;
mod object_fields;
mod path;

pub use fieldset::FieldSet;
use managed::managed_fields_value;
pub use managed::{ManagedEntry, Operation, read_managed_fields, write_managed_fields};
pub use object_fields::Scope;
pub use path::{Path, PathElement};

use gitops_manifest::merge_keys::{Gvk, root};
use serde_json::Value;

/// The name the API server gives the owner of fields that existed before the first apply to an
/// object without `managedFields`.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// One field that an apply would take from another manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The manager as conflict messages print it (`"kubectl-client-side-apply" using apps/v1`).
    pub manager: String,
    /// The field (`.spec.replicas`).
    pub path: Path,
}

/// Why a server-side apply or an ownership update failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsaError {
    /// Other managers own fields the apply would change (409 Conflict, reason `Conflict`, one
    /// `FieldManagerConflict` cause per field). The message is the API server's.
    #[error("{}", conflict_message(.0))]
    Conflicts(Vec<Conflict>),
    /// The configuration (or the object) is not a map (400).
    #[error("the applied configuration is not an object")]
    NotAnObject,
    /// An item of a list of type `map` lacks one of its key fields (422).
    #[error("`{path}`: associative list with keys has an element that omits key field {key:?}")]
    MissingListKey {
        /// The list item.
        path: String,
        /// The missing key field.
        key: &'static str,
    },
    /// `metadata.managedFields` cannot be read (400, as the API server's decoding error).
    #[error("invalid managedFields: {0}")]
    InvalidManagedFields(String),
}

impl SsaError {
    /// The HTTP status code the API server answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::Conflicts(_) => 409,
            Self::NotAnObject | Self::InvalidManagedFields(_) => 400,
            Self::MissingListKey { .. } => 422,
        }
    }

    /// The `reason` of the Status body.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Conflicts(_) => "Conflict",
            Self::NotAnObject | Self::InvalidManagedFields(_) => "BadRequest",
            Self::MissingListKey { .. } => "Invalid",
        }
    }

    /// The Status `details.causes` of a conflict: `(type, message, field)` per field.
    pub fn causes(&self) -> Vec<(&'static str, String, String)> {
        match self {
            Self::Conflicts(conflicts) => conflicts
                .iter()
                .map(|c| {
                    (
                        "FieldManagerConflict",
                        format!("conflict with {}", c.manager),
                        c.path.to_string(),
                    )
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The API server's message (`fieldmanager/internal/conflict.go`, `getConflictMessage`).
fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.manager, only.path
        );
    }
    let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
    managers.sort_unstable();
    managers.dedup();
    let mut lines = Vec::new();
    for manager in managers {
        lines.push(format!("conflicts with {manager}:"));
        lines.extend(
            conflicts
                .iter()
                .filter(|c| c.manager == manager)
                .map(|c| format!("- {}", c.path)),
        );
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// What an apply is: who applies, whether it forces, when, and to which part of the object.
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions<'a> {
    /// The `fieldManager` query parameter (required by the API for apply).
    pub manager: &'a str,
    /// The `force` query parameter: take conflicting fields instead of failing.
    pub force: bool,
    /// The time to record, RFC 3339.
    pub time: &'a str,
    /// The main resource, or the `status` subresource.
    pub scope: Scope,
}

/// Server-side apply `config` (the applied configuration, as JSON) to `live` (`None` when the
/// object does not exist yet) of kind `gvk`.
///
/// Returns the new object with `metadata.managedFields` updated. The caller still sets server
/// fields (`uid`, `resourceVersion`, `generation`, `creationTimestamp`), runs defaulting and
/// validation, and checks `metadata.resourceVersion` of the configuration as a precondition.
/// On the main resource `status` is neither applied nor owned.
///
/// Validate the configuration first (`gitops_manifest::schema::check_write` under the request's
/// `fieldValidation`): the API server decodes an applied configuration before it merges it, so
/// an unknown field or a wrong type is reported as such (400), never as a conflict.
/// Duplicate list keys in the configuration are not rejected here: the later item is dropped.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    gvk: &Gvk,
    options: &ApplyOptions<'_>,
) -> Result<Value, SsaError> {
    if !config.is_object() {
        return Err(SsaError::NotAnObject);
    }
    let schema = root(gvk);
    let empty = Value::Object(serde_json::Map::new());
    let live_value = live.unwrap_or(&empty);
    let mut entries = read_managed_fields(live_value)?;
    if entries.is_empty() && live.is_some() {
        // An object written before any field manager existed: its fields belong to one updater.
        let fields = FieldSet::from_object(live_value, schema, options.scope)?;
        if !fields.is_empty() {
            entries.push(ManagedEntry {
                manager: BEFORE_FIRST_APPLY.into(),
                operation: Operation::Update,
                api_version: gvk.api_version(),
                time: None,
                subresource: None,
                fields,
            });
        }
    }

    let config = scoped_config(config, options.scope);
    let new_set = FieldSet::from_object(&config, schema, options.scope)?;
    let subresource = match options.scope {
        Scope::Main => None,
        Scope::Status => Some("status".to_string()),
    };
    let mut me = ManagedEntry {
        manager: options.manager.to_string(),
        operation: Operation::Apply,
        api_version: config
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        time: Some(options.time.to_string()),
        subresource,
        fields: FieldSet::new(),
    };
    let (last_set, last_time) = match entries.iter().position(|e| e.same_identity(&me)) {
        Some(i) => {
            let last = entries.remove(i);
            (last.fields, last.time)
        }
        None => (FieldSet::new(), None),
    };

    // A create merges into nothing: the configuration is the object (it is not needed after).
    let mut merged = match live {
        Some(_) => merge::merge_object(live_value, &config, schema)?,
        None => merge::created(config),
    };

    // Removal: fields applied last time, not this time, owned by nobody else. Most applies
    // repeat their fields: then nothing is removed, and the union of every owner's fields and
    // the copy taken before the removal are not needed.
    let mut removed = last_set.difference(&new_set);
    for entry in &entries {
        if removed.is_empty() {
            break;
        }
        removed = removed.difference(&entry.fields);
    }
    if !removed.is_empty() {
        let owned_after = entries.iter().fold(new_set.clone(), |mut acc, e| {
            acc.extend(&e.fields);
            acc
        });
        let before_prune = merged.clone();
        for path in removed.iter() {
            if !owned_after.has_descendant(&path) {
                merge::remove_at(&mut merged, &path);
            }
        }
        merge::drop_emptied_maps(&mut merged, &before_prune, &owned_after, &Path::default());
    }

    // Conflicts are fields other managers own whose value the apply changes. A create has no
    // other managers (nor a live object to compare with), so nothing can conflict.
    if live.is_some() {
        let changed = changed_paths(live_value, &merged, schema, options.scope)?;
        let mut conflicts = Vec::new();
        for entry in &entries {
            for path in entry.fields.intersection(&changed).iter() {
                conflicts.push(Conflict {
                    manager: entry.display(),
                    path,
                });
            }
        }
        if !conflicts.is_empty() {
            if !options.force {
                return Err(SsaError::Conflicts(conflicts));
            }
            for entry in &mut entries {
                entry.fields = entry.fields.difference(&changed);
            }
        }
    }
    me.fields = new_set;
    entries.push(me);
    // A no-op apply leaves the object as it was, managedFields' time included, so that
    // re-applying an unchanged configuration does not make a new resourceVersion. Only an
    // object equal to the live one but for managedFields can be that: it is the live object
    // when the live managedFields are the entries with the applier's time kept.
    if let (Some(live), Some(time)) = (live, last_time)
        && equal_but_managed_fields(&merged, live)
        && merged.get("metadata").is_some_and(Value::is_object)
    {
        let now = entries
            .last_mut()
            .and_then(|entry| entry.time.replace(time));
        let unchanged = managed_fields_value(&entries);
        if unchanged.as_ref() == live.pointer("/metadata/managedFields") {
            // `merged` (without managedFields) and the live ones: equal to the live object.
            if let (Some(list), Some(Value::Object(meta))) = (unchanged, merged.get_mut("metadata"))
            {
                meta.insert("managedFields".into(), list);
            }
            return Ok(merged);
        }
        if let Some(entry) = entries.last_mut() {
            entry.time = now;
        }
    }
    write_managed_fields(&mut merged, &entries);
    Ok(merged)
}

/// Whether two objects are equal once `metadata.managedFields` is left out of both.
fn equal_but_managed_fields(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    let meta_equal = match (a.get("metadata"), b.get("metadata")) {
        (Some(Value::Object(ma)), Some(Value::Object(mb))) => {
            let kept = |m: &serde_json::Map<String, Value>| {
                m.keys().filter(|k| k.as_str() != "managedFields").count()
            };
            kept(ma) == kept(mb)
                && ma
                    .iter()
                    .filter(|(k, _)| k.as_str() != "managedFields")
                    .all(|(k, v)| mb.get(k) == Some(v))
        }
        (ma, mb) => ma == mb,
    };
    meta_equal
        && a.len() == b.len()
        && a.iter()
            .filter(|(k, _)| k.as_str() != "metadata")
            .all(|(k, v)| b.get(k) == Some(v))
}

/// Record a non-apply write (create, update, patch, a subresource write) of `new` over `old`
/// (`None` for a create) by `manager` through `api_version`: the manager's `Update` entry gains
/// the fields the write set or changed, and every other manager loses them (an update never
/// conflicts). Returns `new` with `metadata.managedFields` updated.
///
/// `managedFields` sent in `new` replace the live ones (as the API server allows); otherwise
/// those of `old` are the basis.
pub fn record_update(
    old: Option<&Value>,
    new: &Value,
    gvk: &Gvk,
    manager: &str,
    time: &str,
    scope: Scope,
) -> Result<Value, SsaError> {
    if !new.is_object() {
        return Err(SsaError::NotAnObject);
    }
    let schema = root(gvk);
    let empty = Value::Object(serde_json::Map::new());
    let old_value = old.unwrap_or(&empty);
    // https://kubernetes.io/docs/reference/using-api/server-side-apply/#clearing-managedfields:
    // an empty list leaves the live entries in place; a list with one empty entry clears them
    // all (and the write itself records nothing).
    let sent = new.pointer("/metadata/managedFields");
    if sent
        .and_then(Value::as_array)
        .is_some_and(|l| l.len() == 1 && l[0].as_object().is_some_and(|m| m.is_empty()))
    {
        let mut out = new.clone();
        write_managed_fields(&mut out, &[]);
        return Ok(out);
    }
    let basis = match sent {
        Some(Value::Array(list)) if !list.is_empty() => new,
        _ => old_value,
    };
    let mut entries = read_managed_fields(basis)?;

    let changed = changed_paths(old_value, new, schema, scope)?;
    let new_set = FieldSet::from_object(new, schema, scope)?;
    let set_now = changed.intersection(&new_set);

    let subresource = match scope {
        Scope::Main => None,
        Scope::Status => Some("status".to_string()),
    };
    let me = ManagedEntry {
        manager: manager.to_string(),
        operation: Operation::Update,
        api_version: new
            .get("apiVersion")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or(gvk.api_version()),
        time: Some(time.to_string()),
        subresource,
        fields: FieldSet::new(),
    };
    let previous = entries
        .iter()
        .position(|e| e.same_identity(&me))
        .map(|i| entries.remove(i));
    for entry in &mut entries {
        entry.fields = entry.fields.difference(&changed);
    }
    let mut me = me;
    if let Some(previous) = previous {
        me.fields = previous.fields.difference(&changed);
        // A write that gave the manager nothing new keeps the entry's time.
        if set_now.is_empty() {
            me.time = previous.time;
        }
    }
    me.fields = me.fields.union(&set_now);
    let mut out = new.clone();
    entries.push(me);
    write_managed_fields(&mut out, &entries);
    Ok(out)
}

/// Fields whose value differs between two versions of an object (added, changed or removed).
fn changed_paths(
    old: &Value,
    new: &Value,
    schema: Option<gitops_manifest::merge_keys::TypeSchema>,
    scope: Scope,
) -> Result<FieldSet, SsaError> {
    // Equal objects (managedFields is no field of a set) have no changed field; the common
    // case of a no-op apply or update, told without building a set. The error the old
    // object's set would have (a list item without its key) is still reported.
    if equal_but_managed_fields(old, new) {
        object_fields::check_list_keys(old, schema, scope)?;
        return Ok(FieldSet::new());
    }
    let old_set = FieldSet::from_object(old, schema, scope)?;
    let mut all = FieldSet::from_object(new, schema, scope)?;
    all.extend(&old_set);
    Ok(all.changed_between(old, new))
}

/// The part of a configuration an apply to `scope` uses.
fn scoped_config(config: &Value, scope: Scope) -> Value {
    let mut config = config.clone();
    if let Value::Object(map) = &mut config {
        match scope {
            Scope::Main => {
                map.remove("status");
            }
            Scope::Status => {
                map.retain(|k, _| {
                    matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status")
                });
            }
        }
        if let Some(Value::Object(meta)) = map.get_mut("metadata") {
            meta.remove("managedFields");
        }
    }
    config
}

#[cfg(test)]
mod tests;
