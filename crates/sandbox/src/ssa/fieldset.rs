//! Sets of field paths: what a manager owns, in the `FieldsV1` format of `managedFields`.
//!
//! <https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management>.
//! A set is flat (a sorted set of paths); `FieldsV1` is its trie, where `.` marks a path that is
//! itself a member and also has members below it (a list item and its fields).

use std::collections::{BTreeMap, BTreeSet};

use gitops_manifest::merge_keys::{FieldSchema, SsaListType, TypeSchema};
use serde_json::{Map, Value};

use super::SsaError;
use super::path::{Path, PathElement};

/// A set of field paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet(BTreeSet<Path>);

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
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the set has no paths.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many paths the set holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Add a path.
    pub fn insert(&mut self, path: Path) {
        self.0.insert(path);
    }

    /// Whether the path is a member.
    pub fn contains(&self, path: &Path) -> bool {
        self.0.contains(path)
    }

    /// The paths, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Path> {
        self.0.iter()
    }

    /// Paths in either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.union(&other.0).cloned().collect())
    }

    /// Paths in `self` and not in `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.difference(&other.0).cloned().collect())
    }

    /// Paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.intersection(&other.0).cloned().collect())
    }

    /// Whether some member lies strictly below `path`.
    pub fn has_descendant(&self, path: &Path) -> bool {
        // Descendants sort right after the path itself, so the scan stops at the first stranger.
        self.0
            .range(path.clone()..)
            .take_while(|p| p.starts_with(path))
            .any(|p| p.0.len() > path.0.len())
    }

    /// The set in `FieldsV1` form (`{"f:spec":{"f:replicas":{}}}`).
    pub fn to_fields_v1(&self) -> Value {
        #[derive(Default)]
        struct Node {
            member: bool,
            children: BTreeMap<PathElement, Node>,
        }
        fn to_value(node: &Node) -> Value {
            let mut map = Map::new();
            if node.member && !node.children.is_empty() {
                map.insert(".".into(), Value::Object(Map::new()));
            }
            for (element, child) in &node.children {
                map.insert(element.to_fields_v1_key(), to_value(child));
            }
            Value::Object(map)
        }
        let mut root = Node::default();
        for path in &self.0 {
            let mut node = &mut root;
            for element in &path.0 {
                node = node.children.entry(element.clone()).or_default();
            }
            node.member = true;
        }
        to_value(&root)
    }

    /// Read a `FieldsV1` value.
    pub fn from_fields_v1(value: &Value) -> Result<FieldSet, SsaError> {
        fn walk(value: &Value, at: &Path, out: &mut FieldSet) -> Result<(), SsaError> {
            let Value::Object(map) = value else {
                return Err(SsaError::InvalidManagedFields(format!(
                    "`{at}` is not a map in fieldsV1"
                )));
            };
            for (key, child) in map {
                if key == "." {
                    out.insert(at.clone());
                    continue;
                }
                let element = PathElement::from_fields_v1_key(key).ok_or_else(|| {
                    SsaError::InvalidManagedFields(format!("`{key}` is not a fieldsV1 key"))
                })?;
                let path = at.child(element);
                if child.as_object().is_some_and(Map::is_empty) {
                    out.insert(path);
                } else {
                    walk(child, &path, out)?;
                }
            }
            Ok(())
        }
        let mut out = FieldSet::new();
        walk(value, &Path::default(), &mut out)?;
        Ok(out)
    }

    /// The fields an object (or an applied configuration) sets, by the rules of
    /// structured-merge-diff's `ToFieldSet`: scalars, atomic lists and maps, empty maps and
    /// nulls are members; list items of `map` and `set` lists are members themselves and
    /// (for maps) have their fields below them.
    pub fn from_object(
        object: &Value,
        root: Option<TypeSchema>,
        scope: Scope,
    ) -> Result<FieldSet, SsaError> {
        let mut out = FieldSet::new();
        let Value::Object(map) = object else {
            return Ok(out);
        };
        for (key, value) in map {
            let keep = match scope {
                Scope::Main => !matches!(key.as_str(), "apiVersion" | "kind" | "status"),
                Scope::Status => key == "status",
            };
            if !keep {
                continue;
            }
            let field = root.map(|t| t.field(key)).unwrap_or(FieldSchema::UNKNOWN);
            let path = Path(vec![PathElement::Field(key.as_str().into())]);
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
                        walk_field(
                            mvalue,
                            &mfield,
                            path.child(PathElement::Field(mkey.as_str().into())),
                            &mut out,
                        )?;
                    }
                }
                continue;
            }
            walk_field(value, &field, path, &mut out)?;
        }
        Ok(out)
    }
}

fn walk_field(
    value: &Value,
    field: &FieldSchema,
    path: Path,
    out: &mut FieldSet,
) -> Result<(), SsaError> {
    match value {
        Value::Object(map) if !map.is_empty() && !field.atomic => {
            let ty = field.child();
            for (key, child) in map {
                let child_field = ty.map(|t| t.field(key)).unwrap_or(FieldSchema::UNKNOWN);
                walk_field(
                    child,
                    &child_field,
                    path.child(PathElement::Field(key.as_str().into())),
                    out,
                )?;
            }
        }
        Value::Array(items) if field.ssa_list_type() != SsaListType::Atomic => {
            let item_field = item_schema(field);
            for (i, item) in items.iter().enumerate() {
                let element = item_element(item, i, field.ssa_list_type(), &path)?;
                let item_path = path.child(element);
                if let Value::Object(item_map) = item {
                    let ty = item_field.child();
                    for (key, child) in item_map {
                        let child_field = ty.map(|t| t.field(key)).unwrap_or(FieldSchema::UNKNOWN);
                        walk_field(
                            child,
                            &child_field,
                            item_path.child(PathElement::Field(key.as_str().into())),
                            out,
                        )?;
                    }
                }
                out.insert(item_path);
            }
        }
        _ => out.insert(path),
    }
    Ok(())
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
const KEY_DEFAULTS: &[(&str, &str)] = &[("protocol", "TCP")];

/// The path element that names a list item: its key fields for `map` lists, its value for `set`s.
pub(super) fn item_element(
    item: &Value,
    index: usize,
    list_type: SsaListType,
    list_path: &Path,
) -> Result<PathElement, SsaError> {
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
                        None => {
                            return Err(SsaError::MissingListKey {
                                path: format!("{list_path}[{index}]"),
                                key,
                            });
                        }
                    },
                }
            }
            Ok(PathElement::key(&fields))
        }
    }
}
