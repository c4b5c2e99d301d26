//! Field specs: "this path in objects of this kind", the unit of kustomize's transformer
//! configuration, and the walker that visits the fields they name.

use serde_json::{Map, Value};

/// A GVK pattern; empty parts match anything (kustomize's `Gvk.IsSelected`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GvkSel {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl GvkSel {
    pub fn kind(kind: &str) -> Self {
        Self {
            kind: kind.into(),
            ..Self::default()
        }
    }

    pub fn new(group: &str, version: &str, kind: &str) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
        }
    }

    /// Whether (group, version, kind) is selected.
    pub fn selects(&self, group: &str, version: &str, kind: &str) -> bool {
        (self.group.is_empty() || self.group == group)
            && (self.version.is_empty() || self.version == version)
            && (self.kind.is_empty() || self.kind == kind)
    }
}

/// One field spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    pub gvk: GvkSel,
    /// The path as written (`spec/template/metadata/labels`).
    pub path: String,
    /// Its segments, `\/` unescaped.
    pub segments: Vec<String>,
    /// Create missing fields on the way.
    pub create: bool,
}

impl FieldSpec {
    pub fn new(gvk: GvkSel, path: &str, create: bool) -> Self {
        Self {
            gvk,
            path: path.to_string(),
            segments: split_path(path),
            create,
        }
    }
}

/// Split a field-spec path on `/`, honouring `\/` as a literal slash.
pub fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                cur.push('/');
                chars.next();
            }
            '/' => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.retain(|s| !s.is_empty());
    out
}

/// What to create at the end of a path when it is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    /// A mapping (labels, annotations, selectors).
    Map,
    /// A scalar (names, namespaces, images); created as null for the setter to fill.
    Scalar,
}

/// Visit every node the segments lead to in `node`, creating missing fields on the way
/// when `create` is set (never inside sequences: `[]` segments are only looked up).
/// Sequences met on the way are entered element by element, as kustomize does.
pub fn walk(
    node: &mut Value,
    segments: &[String],
    create: Option<Leaf>,
    f: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    let Some((first, rest)) = segments.split_first() else {
        return f(node);
    };
    match node {
        Value::Array(items) => {
            for item in items {
                walk(item, segments, create, f)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            let (name, is_seq) = match first.strip_suffix("[]") {
                Some(n) => (n, true),
                None => (first.as_str(), false),
            };
            let creating = create.filter(|_| !is_seq);
            let wanted = |leaf: Leaf| -> Value {
                if rest.is_empty() && leaf == Leaf::Scalar {
                    Value::Null
                } else {
                    Value::Object(Map::new())
                }
            };
            match map.get_mut(name) {
                Some(child) => {
                    if child.is_null() {
                        match creating {
                            Some(leaf) => *child = wanted(leaf),
                            None if rest.is_empty() => {}
                            None => return Ok(()),
                        }
                    }
                    walk(child, rest, create, f)
                }
                None => match creating {
                    Some(leaf) => {
                        let child = map.entry(name.to_string()).or_insert(wanted(leaf));
                        walk(child, rest, create, f)
                    }
                    None => Ok(()),
                },
            }
        }
        // A scalar where the path goes on: nothing to visit.
        _ => Ok(()),
    }
}
