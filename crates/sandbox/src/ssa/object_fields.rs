//! The fields an object sets, as a [`FieldSet`]: structured-merge-diff's `ToFieldSet`.
//!
//! <https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management>:
//! scalars, atomic lists and maps, empty maps and nulls are members; the items of `map` and
//! `set` lists are members themselves, named by their keys or value, with (for maps) their
//! fields below them. The set is built as a trie in one walk of the object.

use gitops_manifest::merge_keys::{FieldSchema, SsaListType, TypeSchema};
use serde_json::Value;

use super::SsaError;
use super::fieldset::{FieldSet, Node, Trail};
use super::path::{Path, PathElement};

/// Which part of an object a field set covers: the main resource or its `status` subresource.
///
/// The API server resets `status` on writes to the main resource of kinds with a status
/// subresource, so it is neither applied nor owned there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything but `status`.
    Main,
    /// Only `status`.
    Status,
}

/// Metadata fields no manager owns: the API server strips them from every field set
/// (`fieldmanager/internal/stripmeta.go`).
const STRIPPED_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "managedFields",
];

impl FieldSet {
    /// The fields an object (or an applied configuration) sets, by the rules of
    /// structured-merge-diff's `ToFieldSet`: scalars, atomic lists and maps, empty maps and
    /// nulls are members; list items of `map` and `set` lists are members themselves and
    /// (for maps) have their fields below them.
    pub fn from_object(
        object: &Value,
        root: Option<TypeSchema>,
        scope: Scope,
    ) -> Result<FieldSet, SsaError> {
        let mut out = Node::default();
        let Value::Object(map) = object else {
            return Ok(FieldSet { root: out });
        };
        for (key, value) in map {
            if !in_scope(scope, key) {
                continue;
            }
            let field = root.map(|t| t.field(key)).unwrap_or(FieldSchema::UNKNOWN);
            let element = PathElement::Field(key.as_str().into());
            let at = Trail::ROOT.child(&element);
            let node = if key == "metadata" {
                // Only the fields below metadata, never metadata itself.
                let mut node = Node::default();
                if let Value::Object(meta) = value {
                    for (mkey, mvalue) in meta {
                        if STRIPPED_METADATA.contains(&mkey.as_str()) {
                            continue;
                        }
                        let mfield = field
                            .child()
                            .map(|t| t.field(mkey))
                            .unwrap_or(FieldSchema::UNKNOWN);
                        let melement = PathElement::Field(mkey.as_str().into());
                        let child = field_node(mvalue, &mfield, &at.child(&melement))?;
                        node.add_child(melement, child);
                    }
                }
                node
            } else {
                field_node(value, &field, &at)?
            };
            out.add_child(element, node);
        }
        Ok(FieldSet { root: out })
    }
}

/// The node of one field's value (at `at`).
fn field_node(value: &Value, field: &FieldSchema, at: &Trail<'_>) -> Result<Node, SsaError> {
    match value {
        Value::Object(map) if !map.is_empty() && !field.atomic => {
            let ty = field.child();
            let mut node = Node::default();
            for (key, child) in map {
                let child_field = ty.map(|t| t.field(key)).unwrap_or(FieldSchema::UNKNOWN);
                let element = PathElement::Field(key.as_str().into());
                let child_node = field_node(child, &child_field, &at.child(&element))?;
                node.add_child(element, child_node);
            }
            Ok(node)
        }
        Value::Array(items) if field.ssa_list_type() != SsaListType::Atomic => {
            let item_field = item_schema(field);
            let list_type = field.ssa_list_type();
            // Not a member itself (an empty list of this type sets nothing); its items are.
            let mut node = Node::default();
            for (i, item) in items.iter().enumerate() {
                let element =
                    item_element(item, i, list_type).map_err(|key| SsaError::MissingListKey {
                        path: format!("{}[{i}]", at.path()),
                        key,
                    })?;
                let mut item_node = Node::leaf();
                if let Value::Object(item_map) = item {
                    let ty = item_field.child();
                    let item_at = at.child(&element);
                    for (key, child) in item_map {
                        let child_field = ty.map(|t| t.field(key)).unwrap_or(FieldSchema::UNKNOWN);
                        let child_element = PathElement::Field(key.as_str().into());
                        let child_node =
                            field_node(child, &child_field, &item_at.child(&child_element))?;
                        item_node.add_child(child_element, child_node);
                    }
                }
                // Items are in list order, not element order; duplicates merge.
                node.add_child(element, item_node);
            }
            Ok(node)
        }
        _ => Ok(Node::leaf()),
    }
}

/// The error [`FieldSet::from_object`] would return for `object` (a `map` list item without
/// one of its key fields), found in the same order without building the set: for a no-op
/// write, whose field sets are not needed but whose errors are.
pub(super) fn check_list_keys(
    object: &Value,
    root: Option<TypeSchema>,
    scope: Scope,
) -> Result<(), SsaError> {
    let Value::Object(map) = object else {
        return Ok(());
    };
    for (key, value) in map {
        if !in_scope(scope, key) {
            continue;
        }
        let field = root.map(|t| t.field(key)).unwrap_or(FieldSchema::UNKNOWN);
        let at = Steps::ROOT.field(key);
        if key == "metadata" {
            if let Value::Object(meta) = value {
                for (mkey, mvalue) in meta {
                    if STRIPPED_METADATA.contains(&mkey.as_str()) {
                        continue;
                    }
                    let mfield = field
                        .child()
                        .map(|t| t.field(mkey))
                        .unwrap_or(FieldSchema::UNKNOWN);
                    check_field(mvalue, &mfield, &at.field(mkey))?;
                }
            }
            continue;
        }
        check_field(value, &field, &at)?;
    }
    Ok(())
}

/// [`check_list_keys`] of one field's value, walked as [`field_node`] walks it.
fn check_field(value: &Value, field: &FieldSchema, at: &Steps<'_>) -> Result<(), SsaError> {
    match value {
        Value::Object(map) if !map.is_empty() && !field.atomic => {
            let ty = field.child();
            for (key, child) in map {
                let child_field = ty.map(|t| t.field(key)).unwrap_or(FieldSchema::UNKNOWN);
                check_field(child, &child_field, &at.field(key))?;
            }
        }
        Value::Array(items) if field.ssa_list_type() != SsaListType::Atomic => {
            let item_field = item_schema(field);
            let list_type = field.ssa_list_type();
            for (i, item) in items.iter().enumerate() {
                if let SsaListType::Map(keys) = list_type
                    && let Some(key) = keys.iter().find(|key| {
                        item.get(**key).is_none_or(Value::is_null)
                            && !KEY_DEFAULTS.iter().any(|(k, _)| k == *key)
                    })
                {
                    return Err(SsaError::MissingListKey {
                        path: format!("{}[{i}]", at.path()),
                        key,
                    });
                }
                if let Value::Object(item_map) = item {
                    let ty = item_field.child();
                    let item_at = at.item(item, i, list_type);
                    for (key, child) in item_map {
                        let child_field = ty.map(|t| t.field(key)).unwrap_or(FieldSchema::UNKNOWN);
                        check_field(child, &child_field, &item_at.field(key))?;
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The path [`check_field`] walked, borrowed from the object: elements are only made for the
/// path an error names.
#[derive(Clone, Copy)]
struct Steps<'a> {
    parent: Option<&'a Steps<'a>>,
    step: Step<'a>,
}

#[derive(Clone, Copy)]
enum Step<'a> {
    Root,
    Field(&'a str),
    Item(&'a Value, usize, SsaListType),
}

impl<'a> Steps<'a> {
    const ROOT: Steps<'static> = Steps {
        parent: None,
        step: Step::Root,
    };

    fn field(&'a self, name: &'a str) -> Steps<'a> {
        Steps {
            parent: Some(self),
            step: Step::Field(name),
        }
    }

    fn item(&'a self, item: &'a Value, index: usize, list_type: SsaListType) -> Steps<'a> {
        Steps {
            parent: Some(self),
            step: Step::Item(item, index, list_type),
        }
    }

    fn path(&self) -> Path {
        let mut elements = Vec::new();
        let mut at = Some(self);
        while let Some(steps) = at {
            match steps.step {
                Step::Root => {}
                Step::Field(name) => elements.push(PathElement::Field(name.into())),
                // An item is only walked into once its keys are known to be there.
                Step::Item(item, index, list_type) => elements.push(
                    item_element(item, index, list_type).unwrap_or(PathElement::Index(index)),
                ),
            }
            at = steps.parent;
        }
        elements.reverse();
        Path(elements)
    }
}

/// The schema of a list's items: maps with the list's item type, merged field by field.
pub(super) fn item_schema(list: &FieldSchema) -> FieldSchema {
    // A list row's `child` names its item type; an item is a plain (non-atomic) map of it.
    let mut item = *list;
    item.smp = None;
    item.ssa = None;
    item.atomic = false;
    item
}

/// Key fields that the API server defaults when an item leaves them out (OpenAPI `default` on a
/// list-map key, e.g. `protocol: TCP` on container and Service ports).
pub(super) const KEY_DEFAULTS: &[(&str, &str)] = &[("protocol", "TCP")];

/// The path element that names a list item: its key fields for `map` lists, its value for
/// `set`s, its position otherwise. `Err` names the key field a `map` list item lacks.
pub(super) fn item_element(
    item: &Value,
    index: usize,
    list_type: SsaListType,
) -> Result<PathElement, &'static str> {
    match list_type {
        SsaListType::Atomic => Ok(PathElement::Index(index)),
        SsaListType::Set => Ok(PathElement::value(item)),
        SsaListType::Map(keys) => {
            let mut fields = Vec::with_capacity(keys.len());
            for key in keys {
                match item.get(*key) {
                    Some(v) if !v.is_null() => fields.push((*key, v.clone())),
                    _ => match KEY_DEFAULTS.iter().find(|(k, _)| k == key) {
                        Some((_, default)) => {
                            fields.push((*key, Value::String((*default).to_string())))
                        }
                        None => return Err(key),
                    },
                }
            }
            Ok(PathElement::key(&fields))
        }
    }
}

/// Whether a top-level field belongs to the fields of `scope`: the main resource owns all but
/// `apiVersion`, `kind` and `status`; the status subresource owns `status` alone.
/// <https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management>
fn in_scope(scope: Scope, key: &str) -> bool {
    match scope {
        Scope::Main => !matches!(key, "apiVersion" | "kind" | "status"),
        Scope::Status => key == "status",
    }
}
