//! `ResMap`: the ordered objects of a build, with an id index so appends stay linear.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::resource::{Behavior, ResId, Resource, effective_ns};

type Key = (String, String, String, String, String);

fn key(id: &ResId) -> Key {
    (
        id.group.clone(),
        id.version.clone(),
        id.kind.clone(),
        effective_ns(&id.namespace).to_string(),
        id.name.clone(),
    )
}

/// The objects of a build, in input order.
#[derive(Debug, Default, Clone)]
pub struct ResMap {
    list: Vec<Resource>,
    /// Current id → position; `None` after a change that may have renamed something.
    index: Option<HashMap<Key, usize>>,
}

impl ResMap {
    pub fn iter(&self) -> std::slice::Iter<'_, Resource> {
        self.list.iter()
    }

    /// Mutable access; ids may change, so the index is dropped.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Resource> {
        self.index = None;
        self.list.iter_mut()
    }

    pub fn get(&self, i: usize) -> Option<&Resource> {
        self.list.get(i)
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut Resource> {
        self.index = None;
        self.list.get_mut(i)
    }

    pub fn into_vec(self) -> Vec<Resource> {
        self.list
    }

    /// Keep only the objects `keep` accepts.
    pub fn retain(&mut self, keep: impl FnMut(&Resource) -> bool) {
        self.index = None;
        self.list.retain(keep);
    }

    fn index(&mut self) -> &mut HashMap<Key, usize> {
        let list = &self.list;
        self.index.get_or_insert_with(|| {
            list.iter()
                .enumerate()
                .map(|(i, r)| (key(&r.cur_id()), i))
                .collect()
        })
    }

    /// Add an object; an object with the same id already present is an error (its id).
    pub fn append(&mut self, r: Resource) -> Result<(), ResId> {
        let id = r.cur_id();
        let k = key(&id);
        let n = self.list.len();
        let index = self.index();
        if index.contains_key(&k) {
            return Err(id);
        }
        index.insert(k, n);
        self.list.push(r);
        Ok(())
    }

    /// Positions of objects any of whose ids (earlier ones included) `matches`.
    pub fn matching_any_id(&self, mut matches: impl FnMut(&ResId) -> bool) -> Vec<usize> {
        let mut out = Vec::new();
        for (i, r) in self.list.iter().enumerate() {
            if r.prev.iter().any(&mut matches) || matches(&r.cur_id()) {
                out.push(i);
            }
        }
        out
    }

    /// Add generator output, honouring its behaviour against an object of the same id
    /// (kustomize's `appendReplaceOrMerge`). Errors are messages.
    pub fn absorb(&mut self, mut r: Resource) -> Result<(), String> {
        let id = r.cur_id();
        let behavior = r.behavior.unwrap_or(Behavior::Create);
        let matches = self.matching_any_id(|x| x.same(&id));
        match matches.as_slice() {
            [] => match behavior {
                Behavior::Create => self.append(r).map_err(|id| {
                    format!("may not add resource with an already registered id: {id}")
                }),
                _ => Err(format!("id {id} does not exist; cannot merge or replace")),
            },
            [i] => {
                let i = *i;
                let old = self.list[i].clone();
                match behavior {
                    Behavior::Create => {
                        return Err(format!("id {id} exists; behavior must be merge or replace"));
                    }
                    Behavior::Replace => copy_meta_from(&mut r, &old),
                    Behavior::Merge => {
                        copy_meta_from(&mut r, &old);
                        // The merged object is the old one with more data: it stays declared
                        // where it was (a replacement is declared by its new generator).
                        r.origin = old.origin.clone();
                        for field in ["data", "binaryData"] {
                            let mut merged = old
                                .obj
                                .get(field)
                                .and_then(Value::as_object)
                                .cloned()
                                .unwrap_or_default();
                            if let Some(new) = r.obj.get(field).and_then(Value::as_object) {
                                for (k, v) in new {
                                    merged.insert(k.clone(), v.clone());
                                }
                            }
                            if !merged.is_empty() {
                                r.obj.insert(field.to_string(), Value::Object(merged));
                            }
                        }
                    }
                }
                r.behavior = old.behavior.or(Some(Behavior::Create));
                self.list[i] = r;
                self.index = None;
                Ok(())
            }
            _ => Err(format!(
                "id {id} matches more than one object; cannot merge or replace"
            )),
        }
    }
}

/// kustomize's `CopyMergeMetaDataFieldsFrom`: labels and annotations merged (the new win),
/// name, namespace and name history taken from the old object.
fn copy_meta_from(r: &mut Resource, old: &Resource) {
    for key in ["labels", "annotations"] {
        let mut merged: Map<String, Value> = old.meta_map(key);
        for (k, v) in r.meta_map(key) {
            merged.insert(k, v);
        }
        r.set_meta_map(key, merged);
    }
    r.set_name(old.name());
    r.set_namespace(old.namespace());
    r.prev = old.prev.clone();
    r.prefixes = old.prefixes.clone();
    r.suffixes = old.suffixes.clone();
    // kustomize hashes a merged or replaced object only when both sides ask for a hash.
    r.needs_hash = r.needs_hash && old.needs_hash;
}
