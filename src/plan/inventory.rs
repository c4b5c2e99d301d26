//! The inventory of a ring: which objects `gitops` owns there, recorded with the ApplySet
//! convention (KEP-3659, <https://kubernetes.io/docs/reference/labels-annotations-taints/#applyset-kubernetes-io-id>)
//! so `kubectl` understands it too.
//!
//! The parent is a Secret in the history namespace, labelled `applyset.kubernetes.io/id` and
//! annotated with the group-kinds and namespaces of its members; every member carries the label
//! `applyset.kubernetes.io/part-of: <id>`. Objects that were members and are no longer rendered
//! form the prune set.

use std::collections::BTreeSet;

use base64::Engine as _;
use gitops_manifest::ObjectRef;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Label on the parent: the ApplySet id.
pub const ID_LABEL: &str = "applyset.kubernetes.io/id";
/// Label on every member: the id of the ApplySet it belongs to.
pub const PART_OF_LABEL: &str = "applyset.kubernetes.io/part-of";
/// Annotation on the parent: the tool that manages the set.
pub const TOOLING_ANNOTATION: &str = "applyset.kubernetes.io/tooling";
/// Annotation on the parent: `Kind.group` of every member kind, comma-separated, sorted.
pub const GROUP_KINDS_ANNOTATION: &str = "applyset.kubernetes.io/contains-group-kinds";
/// Annotation on the parent: namespaces of members other than the parent's own.
pub const NAMESPACES_ANNOTATION: &str = "applyset.kubernetes.io/additional-namespaces";
/// The tooling value we write.
pub const TOOLING: &str = "gitops/v1";

/// A `(group, kind)` pair, written `Kind.group` (`Deployment.apps`, `ConfigMap`) as kubectl does.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GroupKind {
    /// API group; empty for core.
    pub group: String,
    /// Kind.
    pub kind: String,
}

impl GroupKind {
    /// Parse `Kind.group` (the group may itself hold dots) or `Kind`.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        Some(match text.split_once('.') {
            Some((kind, group)) => Self {
                group: group.to_string(),
                kind: kind.to_string(),
            },
            None => Self {
                group: String::new(),
                kind: text.to_string(),
            },
        })
    }
}

impl std::fmt::Display for GroupKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.kind)
        } else {
            write!(f, "{}.{}", self.kind, self.group)
        }
    }
}

/// What a ring's ApplySet parent records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inventory {
    /// The ApplySet id (`applyset-<hash>-v1`).
    pub id: String,
    /// The parent object.
    pub parent: ObjectRef,
    /// Kinds of members.
    pub group_kinds: BTreeSet<GroupKind>,
    /// Namespaces holding members (the parent's own included).
    pub namespaces: BTreeSet<String>,
}

/// The parent object of a ring's ApplySet: Secret `gitops-applyset-<ring>` in the history namespace.
pub fn parent_ref(ring: &str, history_namespace: &str) -> ObjectRef {
    ObjectRef::new(
        "",
        Some("v1".into()),
        "Secret",
        Some(history_namespace.into()),
        format!("gitops-applyset-{ring}"),
    )
}

/// The ApplySet id of a parent, as KEP-3659 defines it:
/// `applyset-` + base64url(sha256(`name.namespace.kind.group`)) + `-v1`.
pub fn applyset_id(parent: &ObjectRef) -> String {
    let text = format!(
        "{}.{}.{}.{}",
        parent.name,
        parent.namespace.as_deref().unwrap_or(""),
        parent.kind,
        parent.group
    );
    let hash = Sha256::digest(text.as_bytes());
    format!(
        "applyset-{}-v1",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash)
    )
}

impl Inventory {
    /// The inventory that would record `members` under `parent`.
    pub fn for_members<'a>(
        parent: ObjectRef,
        members: impl IntoIterator<Item = &'a ObjectRef>,
    ) -> Self {
        let mut group_kinds = BTreeSet::new();
        let mut namespaces = BTreeSet::new();
        for m in members {
            group_kinds.insert(GroupKind {
                group: m.group.clone(),
                kind: m.kind.clone(),
            });
            if let Some(ns) = &m.namespace {
                namespaces.insert(ns.clone());
            }
        }
        if let Some(ns) = &parent.namespace {
            namespaces.insert(ns.clone());
        }
        Self {
            id: applyset_id(&parent),
            parent,
            group_kinds,
            namespaces,
        }
    }

    /// Read the inventory from a live parent object; `None` when it is not an ApplySet parent
    /// (no id label, or an id that does not belong to this object).
    pub fn from_parent(parent: &Value) -> Option<Self> {
        let parent_ref = ObjectRef::from_value(parent).ok()?;
        let meta = parent.get("metadata")?;
        let id = meta.get("labels")?.get(ID_LABEL)?.as_str()?.to_string();
        if id != applyset_id(&parent_ref) {
            return None;
        }
        let annotation = |key: &str| {
            meta.get("annotations")
                .and_then(|a| a.get(key))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let group_kinds = annotation(GROUP_KINDS_ANNOTATION)
            .split(',')
            .filter_map(GroupKind::parse)
            .collect();
        let mut namespaces: BTreeSet<String> = annotation(NAMESPACES_ANNOTATION)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if let Some(ns) = &parent_ref.namespace {
            namespaces.insert(ns.clone());
        }
        Some(Self {
            id,
            parent: parent_ref,
            group_kinds,
            namespaces,
        })
    }

    /// The parent object's labels and annotations (what the apply writes on the parent).
    pub fn parent_metadata(&self) -> Value {
        // kubectl sorts the written form, not the (group, kind) pair.
        let mut kinds: Vec<String> = self.group_kinds.iter().map(ToString::to_string).collect();
        kinds.sort();
        let extra: Vec<&str> = self
            .namespaces
            .iter()
            .filter(|ns| Some(ns.as_str()) != self.parent.namespace.as_deref())
            .map(String::as_str)
            .collect();
        json!({
            "labels": {ID_LABEL: self.id},
            "annotations": {
                TOOLING_ANNOTATION: TOOLING,
                GROUP_KINDS_ANNOTATION: kinds.join(","),
                NAMESPACES_ANNOTATION: extra.join(","),
            }
        })
    }
}

/// Label a rendered object as a member of the ApplySet `id`: the plan dry-runs, and the apply
/// applies, exactly this labelled object, so the label never shows as a change after the first apply.
pub fn label_member(object: &mut Value, id: &str) {
    let Some(root) = object.as_object_mut() else {
        return;
    };
    let meta = root.entry("metadata").or_insert_with(|| json!({}));
    let Some(meta) = meta.as_object_mut() else {
        return;
    };
    let labels = meta.entry("labels").or_insert_with(|| json!({}));
    if !labels.is_object() {
        *labels = json!({});
    }
    if let Some(labels) = labels.as_object_mut() {
        labels.insert(PART_OF_LABEL.to_string(), Value::String(id.to_string()));
    }
}

/// The members of the previous inventory that are not rendered any more, in delete order.
pub fn prune_set(members: &[ObjectRef], rendered: &BTreeSet<ObjectRef>) -> Vec<ObjectRef> {
    let mut out: Vec<ObjectRef> = members
        .iter()
        .filter(|m| !rendered.contains(*m))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    super::order::sort_for_delete(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_follows_kep_3659() {
        // The KEP's own formula, checked against an independent computation:
        // python3 -c "import hashlib,base64;print(base64.urlsafe_b64encode(hashlib.sha256(
        //   b'gitops-applyset-dev.gitops-system.Secret.').digest()).rstrip(b'=').decode())"
        let id = applyset_id(&parent_ref("dev", "gitops-system"));
        assert_eq!(
            id,
            "applyset-yE0u-gQhFRUd0hdT3Gfa6GDnszd92e5YAFofHXVdCxU-v1"
        );
    }

    #[test]
    fn parent_metadata_round_trips() {
        let members = [
            ObjectRef::new("apps", None, "Deployment", Some("qa".into()), "web"),
            ObjectRef::new("", None, "PersistentVolume", None, "disk"),
        ];
        let inv = Inventory::for_members(parent_ref("qa", "gitops-system"), &members);
        let mut parent = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "gitops-applyset-qa", "namespace": "gitops-system"}});
        let meta = inv.parent_metadata();
        parent["metadata"]["labels"] = meta["labels"].clone();
        parent["metadata"]["annotations"] = meta["annotations"].clone();
        assert_eq!(
            parent["metadata"]["annotations"][GROUP_KINDS_ANNOTATION],
            "Deployment.apps,PersistentVolume"
        );
        assert_eq!(
            parent["metadata"]["annotations"][NAMESPACES_ANNOTATION],
            "qa"
        );
        assert_eq!(Inventory::from_parent(&parent), Some(inv));
    }

    #[test]
    fn a_parent_with_a_foreign_id_is_not_ours() {
        let parent = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "x", "namespace": "n", "labels": {ID_LABEL: "applyset-other-v1"}}});
        assert_eq!(Inventory::from_parent(&parent), None);
    }

    #[test]
    fn prune_set_is_members_no_longer_rendered_in_delete_order() {
        let dep = ObjectRef::new("apps", None, "Deployment", Some("qa".into()), "old");
        let cm = ObjectRef::new("", None, "ConfigMap", Some("qa".into()), "old");
        let kept = ObjectRef::new("", None, "ConfigMap", Some("qa".into()), "kept");
        let rendered = BTreeSet::from([kept.clone()]);
        assert_eq!(
            prune_set(&[cm.clone(), kept, dep.clone()], &rendered),
            vec![dep, cm]
        );
    }
}
