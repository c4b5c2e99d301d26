//! Strategic merge patch: merge a patch into an object as the API server and kustomize do.
//!
//! Semantics follow the Kubernetes documentation
//! (<https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/>,
//! <https://github.com/kubernetes/community/blob/master/contributors/devel/sig-api-machinery/strategic-merge-patch.md>):
//! maps merge key by key and a `null` deletes a key; a list merges by its `patchMergeKey`,
//! unions its scalars (`patchStrategy=merge`), or is replaced (no strategy, and every list of
//! a kind the schema table does not know, e.g. custom resources). Directives:
//! `$patch: replace | delete | merge` on a map or on a list item, `$retainKeys`,
//! `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>` (what `kubectl apply`
//! sends). List order follows apimachinery: the patch's items in the patch's (or
//! `$setElementOrder`'s) order, with items only on the server kept at their relative place.

use serde_json::{Map, Value};

use crate::merge_keys::{FieldSchema, Gvk, SmpStrategy, TypeSchema, root};

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";

/// A strategic merge patch could not be applied; `path` is the field it is about
/// (e.g. `spec.template.spec.containers[1]`, empty for the object itself).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// The target object or the patch is not a map.
    #[error("{what} is not an object (a map)")]
    NotAnObject {
        /// `the target` or `the patch`.
        what: &'static str,
    },
    /// A list item of a list merged by key lacks the key.
    #[error("`{path}`: the list item does not contain the merge key `{key}`")]
    MissingMergeKey {
        /// The list item.
        path: String,
        /// The declared `patchMergeKey`.
        key: &'static str,
    },
    /// A `$patch`, `$retainKeys`, `$setElementOrder` or `$deleteFromPrimitiveList` directive is malformed.
    #[error("`{path}`: {message}")]
    InvalidDirective {
        /// Where the directive is.
        path: String,
        /// What is wrong with it.
        message: String,
    },
}

/// Apply a strategic merge `patch` to `target`, an object of kind `gvk`; returns the new object.
///
/// A top-level `$patch: delete` returns `Value::Null`: the patch deletes the whole object
/// (kustomize removes the resource; see [`deletes_object`]). Kinds the schema table does not
/// know are merged with maps merged and lists replaced, which is what kustomize does for
/// custom resources (the API server refuses SMP on them: check
/// [`crate::merge_keys::is_builtin`] before calling for that).
pub fn apply_strategic_merge(
    target: &Value,
    patch: &Value,
    gvk: &Gvk,
) -> Result<Value, MergeError> {
    let Value::Object(target) = target else {
        return Err(MergeError::NotAnObject { what: "the target" });
    };
    let Value::Object(patch) = patch else {
        return Err(MergeError::NotAnObject { what: "the patch" });
    };
    let schema = root(gvk);
    Ok(merge_map(Some(target), patch, schema, false, "")?
        .map(Value::Object)
        .unwrap_or(Value::Null))
}

/// Whether a patch is a top-level `$patch: delete` (it deletes the object it targets).
pub fn deletes_object(patch: &Value) -> bool {
    patch.get(PATCH).and_then(Value::as_str) == Some("delete")
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

fn invalid(path: &str, message: impl Into<String>) -> MergeError {
    MergeError::InvalidDirective {
        path: path.to_string(),
        message: message.into(),
    }
}

/// Merge a patch map into an original map (absent: the patch creates the map).
/// `Ok(None)` means the map is deleted (`$patch: delete`).
fn merge_map(
    original: Option<&Map<String, Value>>,
    patch: &Map<String, Value>,
    ty: Option<TypeSchema>,
    retain_keys_allowed: bool,
    path: &str,
) -> Result<Option<Map<String, Value>>, MergeError> {
    let mut result = match patch.get(PATCH) {
        None => original.cloned().unwrap_or_default(),
        Some(Value::String(d)) if d == "delete" => return Ok(None),
        // `replace`: the patch (minus its directives) is the whole new map.
        Some(Value::String(d)) if d == "replace" => Map::new(),
        // `merge` is the default; kustomize accepts it spelled out.
        Some(Value::String(d)) if d == "merge" => original.cloned().unwrap_or_default(),
        Some(other) => return Err(invalid(path, format!("unknown `$patch` directive {other}"))),
    };

    if let Some(retain) = patch.get(RETAIN_KEYS) {
        apply_retain_keys(&mut result, patch, retain, retain_keys_allowed, path)?;
    }

    let mut orders: Vec<(&str, &Value)> = Vec::new();
    let mut deletions: Vec<(&str, &Value)> = Vec::new();
    for (key, value) in patch {
        if key == PATCH || key == RETAIN_KEYS {
            continue;
        }
        if let Some(field) = key.strip_prefix(SET_ELEMENT_ORDER) {
            orders.push((field, value));
            continue;
        }
        if let Some(field) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            deletions.push((field, value));
            continue;
        }
        if key.starts_with('$') {
            return Err(invalid(&join(path, key), "unknown patch directive"));
        }
        if value.is_null() {
            result.remove(key);
            continue;
        }
        let field = ty.map(|t| t.field(key)).unwrap_or(FieldSchema::UNKNOWN);
        let child_path = join(path, key);
        let order = patch.get(&format!("{SET_ELEMENT_ORDER}{key}"));
        match merge_value(result.get(key), value, &field, order, &child_path)? {
            Some(merged) => {
                result.insert(key.clone(), merged);
            }
            None => {
                result.remove(key);
            }
        }
    }

    for (field, values) in deletions {
        let field_path = join(path, field);
        let Value::Array(values) = values else {
            return Err(invalid(
                &field_path,
                "`$deleteFromPrimitiveList` needs a list",
            ));
        };
        if let Some(Value::Array(list)) = result.get_mut(field) {
            list.retain(|item| !values.contains(item));
        }
    }

    // An order for a list the patch did not touch reorders the existing list.
    for (field, order) in orders {
        if patch.contains_key(field) {
            continue;
        }
        let field_schema = ty.map(|t| t.field(field)).unwrap_or(FieldSchema::UNKNOWN);
        let key = match field_schema.smp_strategy() {
            SmpStrategy::MergeByKey(key) => Some(key),
            _ => None,
        };
        let field_path = join(path, field);
        let order = order_list(order, &field_path)?;
        if let Some(Value::Array(list)) = result.get(field) {
            let reordered = reorder(list.clone(), list, order, key, &field_path)?;
            result.insert(field.to_string(), Value::Array(reordered));
        }
    }
    Ok(Some(result))
}

fn apply_retain_keys(
    result: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    retain: &Value,
    allowed: bool,
    path: &str,
) -> Result<(), MergeError> {
    let Value::Array(retain) = retain else {
        return Err(invalid(path, "`$retainKeys` needs a list of field names"));
    };
    let mut names = Vec::with_capacity(retain.len());
    for name in retain {
        match name.as_str() {
            Some(n) => names.push(n),
            None => return Err(invalid(path, "`$retainKeys` needs a list of field names")),
        }
    }
    // Fields the schema does not mark retainKeys still honour the directive (apimachinery
    // does not check the schema either), but a patch must list every field it sets.
    let _ = allowed;
    for key in patch.keys() {
        if !key.starts_with('$') && !names.contains(&key.as_str()) {
            return Err(invalid(
                path,
                format!("the field `{key}` is set but not listed in `$retainKeys`"),
            ));
        }
    }
    result.retain(|k, _| names.contains(&k.as_str()));
    Ok(())
}

/// Merge one patch value into the original value of a field; `Ok(None)` deletes the field.
fn merge_value(
    original: Option<&Value>,
    patch: &Value,
    field: &FieldSchema,
    order: Option<&Value>,
    path: &str,
) -> Result<Option<Value>, MergeError> {
    match patch {
        Value::Object(p) => {
            let orig = match original {
                Some(Value::Object(o)) => Some(o),
                _ => None,
            };
            Ok(merge_map(orig, p, field.child(), field.retain_keys, path)?.map(Value::Object))
        }
        Value::Array(p) => {
            let empty = Vec::new();
            let orig = match original {
                Some(Value::Array(o)) => o,
                _ => &empty,
            };
            let order = match order {
                Some(o) => Some(order_list(o, path)?),
                None => None,
            };
            Ok(Some(Value::Array(merge_list(orig, p, field, order, path)?)))
        }
        scalar => Ok(Some(scalar.clone())),
    }
}

fn order_list<'a>(order: &'a Value, path: &str) -> Result<&'a [Value], MergeError> {
    match order {
        Value::Array(items) => Ok(items),
        _ => Err(invalid(path, "`$setElementOrder` needs a list")),
    }
}

/// The `$patch` directive of a list item, if it is a map carrying one.
fn item_directive(item: &Value) -> Option<&str> {
    item.as_object()
        .and_then(|m| m.get(PATCH))
        .and_then(Value::as_str)
}

fn merge_list(
    original: &[Value],
    patch: &[Value],
    field: &FieldSchema,
    order: Option<&[Value]>,
    path: &str,
) -> Result<Vec<Value>, MergeError> {
    let strategy = field.smp_strategy();
    // `{$patch: replace}` as an item: the rest of the patch list replaces the whole list.
    let replace = patch
        .iter()
        .any(|item| item_directive(item) == Some("replace"));
    let original: &[Value] = if replace { &[] } else { original };

    match strategy {
        SmpStrategy::Replace => {
            let mut out = Vec::with_capacity(patch.len());
            for (i, item) in patch.iter().enumerate() {
                if item_directive(item).is_some() && item.as_object().is_some_and(|m| m.len() == 1)
                {
                    continue;
                }
                if let Some(v) = strip(item, field, &format!("{path}[{i}]"))? {
                    out.push(v);
                }
            }
            Ok(out)
        }
        SmpStrategy::MergePrimitive => {
            let mut merged: Vec<Value> = original.to_vec();
            for item in patch {
                if item_directive(item).is_none() && !merged.contains(item) {
                    merged.push(item.clone());
                }
            }
            match order {
                Some(order) => reorder(merged, original, order, None, path),
                None => Ok(merged),
            }
        }
        SmpStrategy::MergeByKey(key) => merge_keyed_list(original, patch, field, key, order, path),
    }
}

/// Drop the directives from a value that has nothing to merge with (a new field or item).
fn strip(value: &Value, field: &FieldSchema, path: &str) -> Result<Option<Value>, MergeError> {
    merge_value(None, value, field, None, path)
}

fn merge_keyed_list(
    original: &[Value],
    patch: &[Value],
    field: &FieldSchema,
    key: &'static str,
    order: Option<&[Value]>,
    path: &str,
) -> Result<Vec<Value>, MergeError> {
    let mut merged: Vec<Value> = original.to_vec();
    let mut patch_keys: Vec<Value> = Vec::new();
    for (i, item) in patch.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let Value::Object(item_map) = item else {
            return Err(invalid(
                &item_path,
                format!("a list merged by `{key}` needs maps as items"),
            ));
        };
        match item_map.get(PATCH).and_then(Value::as_str) {
            Some("replace") => continue,
            Some("delete") => {
                let Some(k) = item_map.get(key) else {
                    return Err(MergeError::MissingMergeKey {
                        path: item_path,
                        key,
                    });
                };
                merged.retain(|o| o.get(key) != Some(k));
                continue;
            }
            _ => {}
        }
        let Some(k) = item_map.get(key) else {
            return Err(MergeError::MissingMergeKey {
                path: item_path,
                key,
            });
        };
        let position = merged.iter().position(|o| o.get(key) == Some(k));
        let orig_item = position.and_then(|p| merged[p].as_object());
        let new_item = merge_map(
            orig_item,
            item_map,
            field.child(),
            field.retain_keys,
            &item_path,
        )?;
        match (position, new_item) {
            (Some(p), Some(v)) => merged[p] = Value::Object(v),
            (Some(p), None) => {
                merged.remove(p);
            }
            (None, Some(v)) => merged.push(Value::Object(v)),
            (None, None) => {}
        }
        if !patch_keys.contains(k) {
            patch_keys.push(k.clone());
        }
    }

    // The order the patch asks for: `$setElementOrder`, else the patch list itself.
    let wanted: Vec<Value> = match order {
        Some(order) => {
            let mut keys = Vec::with_capacity(order.len());
            for (i, o) in order.iter().enumerate() {
                match o.get(key) {
                    Some(k) => keys.push(k.clone()),
                    None => {
                        return Err(MergeError::MissingMergeKey {
                            path: format!("{path}[{i}]"),
                            key,
                        });
                    }
                }
            }
            keys
        }
        None => patch_keys,
    };
    Ok(interleave(merged, original, &wanted, |v| {
        v.get(key).cloned()
    }))
}

/// Reorder a list by a `$setElementOrder` list (of `{key: value}` maps, or of scalars).
fn reorder(
    merged: Vec<Value>,
    original: &[Value],
    order: &[Value],
    key: Option<&'static str>,
    path: &str,
) -> Result<Vec<Value>, MergeError> {
    match key {
        Some(key) => {
            let mut wanted = Vec::with_capacity(order.len());
            for (i, o) in order.iter().enumerate() {
                match o.get(key) {
                    Some(k) => wanted.push(k.clone()),
                    None => {
                        return Err(MergeError::MissingMergeKey {
                            path: format!("{path}[{i}]"),
                            key,
                        });
                    }
                }
            }
            Ok(interleave(merged, original, &wanted, |v| {
                v.get(key).cloned()
            }))
        }
        None => Ok(interleave(merged, original, order, |v| Some(v.clone()))),
    }
}

/// Order a merged list as apimachinery does (`normalizeElementOrder` / `mergeSortedSlice`):
/// the items named in `wanted` come in that order; every other item keeps its place relative
/// to them by its position in `original`.
fn interleave(
    merged: Vec<Value>,
    original: &[Value],
    wanted: &[Value],
    id: impl Fn(&Value) -> Option<Value>,
) -> Vec<Value> {
    let original_ids: Vec<Option<Value>> = original.iter().map(&id).collect();
    let original_index = |v: &Value| -> Option<usize> {
        let i = id(v)?;
        original_ids.iter().position(|o| o.as_ref() == Some(&i))
    };
    let wanted_index = |v: &Value| -> Option<usize> {
        let i = id(v)?;
        wanted.iter().position(|w| *w == i)
    };
    let (mut named, mut server_only): (Vec<Value>, Vec<Value>) =
        merged.into_iter().partition(|v| wanted_index(v).is_some());
    named.sort_by_key(|v| wanted_index(v));
    server_only.sort_by_key(|v| original_index(v).unwrap_or(usize::MAX));

    let mut out = Vec::with_capacity(named.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = named.into_iter().peekable();
    loop {
        match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => {
                // A server-only item goes first only when both are in the original and it was first.
                let take_left = matches!((original_index(l), original_index(r)), (Some(li), Some(ri)) if li < ri);
                let next = if take_left { left.next() } else { right.next() };
                out.extend(next);
            }
            (Some(_), None) => out.extend(left.next()),
            (None, Some(_)) => out.extend(right.next()),
            (None, None) => break,
        }
    }
    out
}

#[cfg(test)]
mod tests;
