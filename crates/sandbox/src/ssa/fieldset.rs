//! Sets of field paths: what a manager owns, in the `FieldsV1` format of `managedFields`.
//!
//! <https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management>.
//! A set is a trie, as structured-merge-diff's `fieldpath.Set` is: a node per path, its children
//! by path element, a flag for the nodes that are members themselves. That is also the shape of
//! `FieldsV1`, where `.` marks a member that has members below it (a list item and its fields),
//! so building a set from an object, reading and writing `FieldsV1`, and union, difference and
//! intersection walk the tries side by side and never copy whole paths.

use serde_json::{Map, Value};

use super::SsaError;
use super::merge::step;
use super::path::{Path, PathElement};

/// A set of field paths.
///
/// Equal sets are equal tries: no node is empty (every node is a member or has one below it),
/// and children are sorted by element without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    pub(super) root: Node,
}

/// One node of a [`FieldSet`]: the path from the root to it is a member when `member` is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Node {
    pub(super) member: bool,
    /// Sorted by element, no duplicates, none empty.
    pub(super) children: Vec<(PathElement, Node)>,
}

impl Node {
    /// A member with nothing below it.
    pub(super) fn leaf() -> Node {
        Node {
            member: true,
            children: Vec::new(),
        }
    }

    /// Whether no member lies at or below this node.
    pub(super) fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    fn child(&self, element: &PathElement) -> Option<&Node> {
        self.children
            .binary_search_by(|(e, _)| e.cmp(element))
            .ok()
            .map(|i| &self.children[i].1)
    }

    /// Add `node` below `element`, merging it with a node already there. Empty nodes are not
    /// kept. Children usually come in order (map keys are sorted): then it is a push.
    pub(super) fn add_child(&mut self, element: PathElement, node: Node) {
        if node.is_empty() {
            return;
        }
        if self.children.last().is_none_or(|(last, _)| *last < element) {
            self.children.push((element, node));
            return;
        }
        match self.children.binary_search_by(|(e, _)| e.cmp(&element)) {
            Ok(i) => self.children[i].1.union_owned(node),
            Err(i) => self.children.insert(i, (element, node)),
        }
    }

    fn count(&self) -> usize {
        usize::from(self.member) + self.children.iter().map(|(_, c)| c.count()).sum::<usize>()
    }

    /// Add every member of `other`, taking its nodes.
    fn union_owned(&mut self, other: Node) {
        self.member |= other.member;
        for (element, node) in other.children {
            self.add_child(element, node);
        }
    }

    /// Add every member of `other`, copying only the nodes `self` lacks.
    fn union_with(&mut self, other: &Node) {
        self.member |= other.member;
        if self.children.is_empty() {
            self.children.clone_from(&other.children);
            return;
        }
        let mine = std::mem::take(&mut self.children);
        let mut merged = Vec::with_capacity(mine.len().max(other.children.len()));
        let mut theirs = other.children.iter().peekable();
        for (element, mut node) in mine {
            while let Some((e, n)) = theirs.next_if(|(e, _)| *e < element) {
                merged.push((e.clone(), n.clone()));
            }
            if let Some((_, n)) = theirs.next_if(|(e, _)| *e == element) {
                node.union_with(n);
            }
            merged.push((element, node));
        }
        merged.extend(theirs.map(|(e, n)| (e.clone(), n.clone())));
        self.children = merged;
    }

    /// The members of `self` that are not members of `other`.
    fn difference(&self, other: &Node) -> Node {
        let mut out = Node {
            member: self.member && !other.member,
            children: Vec::new(),
        };
        let mut theirs = other.children.iter().peekable();
        for (element, node) in &self.children {
            while theirs.next_if(|(e, _)| e < element).is_some() {}
            match theirs.next_if(|(e, _)| e == element) {
                Some((_, n)) => {
                    let rest = node.difference(n);
                    if !rest.is_empty() {
                        out.children.push((element.clone(), rest));
                    }
                }
                None => out.children.push((element.clone(), node.clone())),
            }
        }
        out
    }

    /// The members of both.
    fn intersection(&self, other: &Node) -> Node {
        let mut out = Node {
            member: self.member && other.member,
            children: Vec::new(),
        };
        let mut theirs = other.children.iter().peekable();
        for (element, node) in &self.children {
            while theirs.next_if(|(e, _)| e < element).is_some() {}
            if let Some((_, n)) = theirs.next_if(|(e, _)| e == element) {
                let both = node.intersection(n);
                if !both.is_empty() {
                    out.children.push((element.clone(), both));
                }
            }
        }
        out
    }

    /// Whether some member of `self` is also a member of `other`.
    fn intersects(&self, other: &Node) -> bool {
        if self.member && other.member {
            return true;
        }
        let mut theirs = other.children.iter().peekable();
        self.children.iter().any(|(element, node)| {
            while theirs.next_if(|(e, _)| e < element).is_some() {}
            theirs
                .next_if(|(e, _)| e == element)
                .is_some_and(|(_, n)| node.intersects(n))
        })
    }

    fn collect(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Path>) {
        if self.member {
            out.push(Path(prefix.clone()));
        }
        for (element, node) in &self.children {
            prefix.push(element.clone());
            node.collect(prefix, out);
            prefix.pop();
        }
    }

    fn to_value(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".into(), Value::Object(Map::new()));
        }
        for (element, node) in &self.children {
            map.insert(element.to_fields_v1_key(), node.to_value());
        }
        Value::Object(map)
    }

    fn from_value(value: &Value, at: &Trail<'_>) -> Result<Node, SsaError> {
        let Value::Object(map) = value else {
            return Err(SsaError::InvalidManagedFields(format!(
                "`{}` is not a map in fieldsV1",
                at.path()
            )));
        };
        let mut node = Node::default();
        for (key, child) in map {
            if key == "." {
                node.member = true;
                continue;
            }
            let element = PathElement::from_fields_v1_key(key).ok_or_else(|| {
                SsaError::InvalidManagedFields(format!("`{key}` is not a fieldsV1 key"))
            })?;
            let child_node = if child.as_object().is_some_and(Map::is_empty) {
                Node::leaf()
            } else {
                Node::from_value(child, &at.child(&element))?
            };
            // Two spellings of one key (`k:{"a":1}`, `k:{ "a": 1 }`) are one element: merged.
            node.add_child(element, child_node);
        }
        Ok(node)
    }

    /// The members whose values differ between `old` and `new` (the values at this node).
    fn changed(&self, old: Option<&Value>, new: Option<&Value>) -> Node {
        let member = self.member
            && match (old, new) {
                (None, None) => false,
                (Some(_), None) | (None, Some(_)) => true,
                // A list item or map whose members are tracked below it: only its presence
                // counts here.
                (Some(x), Some(y))
                    if x.is_object() && y.is_object() && !self.children.is_empty() =>
                {
                    false
                }
                (Some(x), Some(y)) => x != y,
            };
        let mut out = Node {
            member,
            children: Vec::new(),
        };
        for (element, node) in &self.children {
            let below = node.changed(
                old.and_then(|v| step(v, element)),
                new.and_then(|v| step(v, element)),
            );
            if !below.is_empty() {
                out.children.push((element.clone(), below));
            }
        }
        out
    }
}

/// The path walked so far, as a chain of borrowed elements: a [`Path`] is only built when an
/// error names it.
#[derive(Clone, Copy)]
pub(super) struct Trail<'a> {
    parent: Option<&'a Trail<'a>>,
    element: Option<&'a PathElement>,
}

impl<'a> Trail<'a> {
    /// The object root.
    pub(super) const ROOT: Trail<'static> = Trail {
        parent: None,
        element: None,
    };

    /// This trail extended by one element.
    pub(super) fn child(&'a self, element: &'a PathElement) -> Trail<'a> {
        Trail {
            parent: Some(self),
            element: Some(element),
        }
    }

    /// The path from the root.
    pub(super) fn path(&self) -> Path {
        let mut elements = Vec::new();
        let mut at = Some(self);
        while let Some(trail) = at {
            elements.extend(trail.element.cloned());
            at = trail.parent;
        }
        elements.reverse();
        Path(elements)
    }
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the set has no paths.
    pub fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    /// How many paths the set holds.
    pub fn len(&self) -> usize {
        self.root.count()
    }

    /// Add a path.
    pub fn insert(&mut self, path: Path) {
        let mut node = &mut self.root;
        for element in path.0 {
            let i = match node.children.binary_search_by(|(e, _)| e.cmp(&element)) {
                Ok(i) => i,
                Err(i) => {
                    node.children.insert(i, (element, Node::default()));
                    i
                }
            };
            node = &mut node.children[i].1;
        }
        node.member = true;
    }

    /// The node a path leads to, if the set has members at or below it.
    fn node(&self, path: &Path) -> Option<&Node> {
        path.0
            .iter()
            .try_fold(&self.root, |node, element| node.child(element))
    }

    /// Whether the path is a member.
    pub fn contains(&self, path: &Path) -> bool {
        self.node(path).is_some_and(|n| n.member)
    }

    /// The paths, in order (a path before the paths below it; siblings by element).
    pub fn iter(&self) -> impl Iterator<Item = Path> {
        let mut out = Vec::new();
        self.root.collect(&mut Vec::new(), &mut out);
        out.into_iter()
    }

    /// Paths in either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.root.union_with(&other.root);
        out
    }

    /// Add the paths of `other`.
    pub fn extend(&mut self, other: &FieldSet) {
        self.root.union_with(&other.root);
    }

    /// Paths in `self` and not in `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet {
            root: self.root.difference(&other.root),
        }
    }

    /// Paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        FieldSet {
            root: self.root.intersection(&other.root),
        }
    }

    /// Whether the sets share a path.
    pub fn intersects(&self, other: &FieldSet) -> bool {
        self.root.intersects(&other.root)
    }

    /// Whether some member lies strictly below `path`.
    pub fn has_descendant(&self, path: &Path) -> bool {
        self.node(path).is_some_and(|n| !n.children.is_empty())
    }

    /// The members of this set whose values differ between two versions of an object: added,
    /// removed or changed. A member with members below it (a list item, a map) only counts
    /// its presence.
    pub fn changed_between(&self, old: &Value, new: &Value) -> FieldSet {
        FieldSet {
            root: self.root.changed(Some(old), Some(new)),
        }
    }

    /// The set in `FieldsV1` form (`{"f:spec":{"f:replicas":{}}}`).
    pub fn to_fields_v1(&self) -> Value {
        self.root.to_value()
    }

    /// Read a `FieldsV1` value.
    pub fn from_fields_v1(value: &Value) -> Result<FieldSet, SsaError> {
        Ok(FieldSet {
            root: Node::from_value(value, &Trail::ROOT)?,
        })
    }
}

#[cfg(test)]
#[path = "fieldset_tests.rs"]
mod tests;
