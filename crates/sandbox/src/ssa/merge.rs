//! The structured merge of server-side apply: an applied configuration merged into the live
//! object by the list and map types of the schema, and the navigation of objects by field path.
//!
//! <https://kubernetes.io/docs/reference/using-api/server-side-apply/#merge-strategy>: maps
//! merge field by field unless atomic, `map` lists merge their items by key, `set` lists take
//! the union, atomic lists and scalars are replaced by the configuration's value.

use std::collections::BTreeSet;

use gitops_manifest::merge_keys::{FieldSchema, SsaListType, TypeSchema};
use serde_json::{Map, Value};

use super::SsaError;
use super::object_fields::{KEY_DEFAULTS, item_element, item_schema};
use super::path::{Path, PathElement};

/// Merge `config` into `live` (both whole objects of the type `ty`); the configuration wins.
/// The result has no `metadata.managedFields`: the apply writes them anew.
///
/// The live object is copied once (without its managedFields, often the largest part of it)
/// and the configuration merged into the copy in place (a copy per nested map, replaced right
/// after by its merged version, cost a multiple of the object on every apply).
pub(super) fn merge_object(
    live: &Value,
    config: &Value,
    ty: Option<TypeSchema>,
) -> Result<Value, SsaError> {
    let Value::Object(config_map) = config else {
        return Err(SsaError::NotAnObject);
    };
    let mut out = match live {
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    Value::Object(meta) if key == "metadata" => Value::Object(
                        meta.iter()
                            .filter(|(k, _)| k.as_str() != "managedFields")
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    ),
                    other => other.clone(),
                };
                (key.clone(), value)
            })
            .collect(),
        _ => Map::new(),
    };
    merge_map(&mut out, config_map, ty, &Path::default())?;
    Ok(Value::Object(out))
}

/// [`merge_object`] into no live object, taking the configuration: it is the new object, but
/// for its fields set to `null` (which the merge removes, here from nothing).
pub(super) fn created(config: Value) -> Value {
    match config {
        Value::Object(mut map) => {
            map.retain(|_, value| !value.is_null());
            Value::Object(map)
        }
        other => other,
    }
}

/// Merge `config` into the map `out` (a copy of the live map).
fn merge_map(
    out: &mut Map<String, Value>,
    config: &Map<String, Value>,
    ty: Option<TypeSchema>,
    path: &Path,
) -> Result<(), SsaError> {
    for (key, value) in config {
        let field = ty.map(|t| t.field(key)).unwrap_or(FieldSchema::UNKNOWN);
        // The path only names a list item without its key in an error: made where lists can be.
        let child_path = || path.child(PathElement::Field(key.as_str().into()));
        match (out.get_mut(key), value) {
            (_, Value::Null) => {
                out.remove(key);
            }
            (Some(Value::Object(live)), Value::Object(c)) if !field.atomic => {
                merge_map(live, c, field.child(), &child_path())?;
            }
            (Some(Value::Array(live)), Value::Array(c))
                if field.ssa_list_type() != SsaListType::Atomic =>
            {
                let items = std::mem::take(live);
                *live = merge_list(items, c, &field, &child_path())?;
            }
            (Some(slot), v) => *slot = v.clone(),
            (None, v) => {
                out.insert(key.clone(), v.clone());
            }
        }
    }
    Ok(())
}

/// Merge two lists of type `set` or `map`: structured-merge-diff's two-pointer walk, which
/// keeps live-only items where they were and puts the configuration's items in its order.
/// The live items are moved into the result (each is used at most once: an item merges with
/// the configuration's item of its key, which is emitted once, or is kept as it is).
fn merge_list(
    live: Vec<Value>,
    config: &[Value],
    field: &FieldSchema,
    path: &Path,
) -> Result<Vec<Value>, SsaError> {
    let list_type = field.ssa_list_type();
    let item_field = item_schema(field);
    let config_ids = config
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item_element(item, i, list_type).map_err(|key| SsaError::MissingListKey {
                path: format!("{path}[{i}]"),
                key,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // A live item without its key fields matches nothing (it is kept as it is).
    let live_ids: Vec<Option<PathElement>> = live
        .iter()
        .enumerate()
        .map(|(i, item)| item_element(item, i, list_type).ok())
        .collect();
    let live_len = live.len();
    let mut live: Vec<Option<Value>> = live.into_iter().map(Some).collect();

    let find_live = |id: &PathElement| live_ids.iter().position(|l| l.as_ref() == Some(id));
    let in_config =
        |id: &Option<PathElement>| id.as_ref().is_some_and(|id| config_ids.contains(id));

    let merge_item = |live_item: Option<Value>,
                      config_item: &Value,
                      id: &PathElement|
     -> Result<Value, SsaError> {
        Ok(match (live_item, config_item) {
            (Some(Value::Object(mut l)), Value::Object(c)) => {
                let item_path = path.child(id.clone());
                merge_map(&mut l, c, item_field.child(), &item_path)?;
                Value::Object(l)
            }
            (_, c) => c.clone(),
        })
    };

    let mut out = Vec::with_capacity(live_len + config.len());
    let mut emitted: BTreeSet<PathElement> = BTreeSet::new();
    let (mut li, mut ri) = (0, 0);
    while li < live_len || ri < config.len() {
        if li < live_len && ri < config.len() && live_ids[li].as_ref() == Some(&config_ids[ri]) {
            if emitted.insert(config_ids[ri].clone()) {
                out.push(merge_item(live[li].take(), &config[ri], &config_ids[ri])?);
            }
            li += 1;
            ri += 1;
            continue;
        }
        if li < live_len {
            if !in_config(&live_ids[li]) {
                if let Some(item) = live[li].take() {
                    out.push(item);
                }
                li += 1;
                continue;
            }
            if live_ids[li].as_ref().is_some_and(|id| emitted.contains(id)) {
                li += 1;
                continue;
            }
        }
        if ri < config.len() {
            let id = &config_ids[ri];
            if emitted.insert(id.clone()) {
                let live_item = find_live(id).and_then(|p| live[p].take());
                out.push(merge_item(live_item, &config[ri], id)?);
            }
            ri += 1;
        } else {
            // Only live items remain and they are all in the configuration: already emitted.
            li += 1;
        }
    }
    Ok(out)
}

/// A path element that names a list item, read once to be matched against every item.
enum ItemId {
    Index(usize),
    Value(Value),
    Key(Map<String, Value>),
    None,
}

impl ItemId {
    fn of(element: &PathElement) -> ItemId {
        match element {
            PathElement::Index(i) => ItemId::Index(*i),
            PathElement::Value(json) => {
                serde_json::from_str(json).map_or(ItemId::None, ItemId::Value)
            }
            PathElement::Key(json) => match serde_json::from_str::<Value>(json) {
                Ok(Value::Object(keys)) => ItemId::Key(keys),
                _ => ItemId::None,
            },
            PathElement::Field(_) => ItemId::None,
        }
    }

    /// Whether the item at `index` is the one this names.
    fn matches(&self, item: &Value, index: usize) -> bool {
        match self {
            ItemId::Index(i) => *i == index,
            ItemId::Value(v) => v == item,
            ItemId::Key(keys) => keys.iter().all(|(k, v)| match item.get(k) {
                Some(found) if !found.is_null() => found == v,
                // The defaulted key fields.
                _ => KEY_DEFAULTS
                    .iter()
                    .any(|(key, default)| k == key && v == default),
            }),
            ItemId::None => false,
        }
    }

    /// The position of the first item this names.
    fn position(&self, items: &[Value]) -> Option<usize> {
        items
            .iter()
            .enumerate()
            .position(|(i, item)| self.matches(item, i))
    }
}

/// The value one path element below `value`: a field of a map, an item of a list.
pub(super) fn step<'a>(value: &'a Value, element: &PathElement) -> Option<&'a Value> {
    match (element, value) {
        (PathElement::Field(name), Value::Object(map)) => map.get(&**name),
        (_, Value::Array(items)) => items.get(ItemId::of(element).position(items)?),
        _ => None,
    }
}

/// Remove the field or list item a path names; nothing when it is not there.
pub(super) fn remove_at(object: &mut Value, path: &Path) {
    let Some((last, parents)) = path.0.split_last() else {
        return;
    };
    let mut current = object;
    for element in parents {
        let next = match (element, current) {
            (PathElement::Field(name), Value::Object(map)) => map.get_mut(&**name),
            (_, Value::Array(items)) => match ItemId::of(element).position(items) {
                Some(i) => items.get_mut(i),
                None => None,
            },
            _ => None,
        };
        match next {
            Some(n) => current = n,
            None => return,
        }
    }
    match (last, current) {
        (PathElement::Field(name), Value::Object(map)) => {
            map.remove(&**name);
        }
        (_, Value::Array(items)) => {
            if let Some(pos) = ItemId::of(last).position(items) {
                items.remove(pos);
            }
        }
        _ => {}
    }
}

/// Drop maps that a removal left empty, unless a kept path names them.
pub(super) fn drop_emptied_maps(
    object: &mut Value,
    before: &Value,
    keep: &super::FieldSet,
    path: &Path,
) {
    let Value::Object(map) = object else { return };
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let child_path = path.child(PathElement::Field(key.as_str().into()));
        let was = before.get(&key);
        if let Some(child) = map.get_mut(&key)
            && child.is_object()
        {
            drop_emptied_maps(child, was.unwrap_or(&Value::Null), keep, &child_path);
            let emptied = child.as_object().is_some_and(Map::is_empty)
                && was
                    .and_then(Value::as_object)
                    .is_some_and(|m| !m.is_empty());
            if emptied && !keep.contains(&child_path) {
                map.remove(&key);
            }
        }
    }
}
