//! Reading a ring's live objects in bulk: one paged LIST per (kind, namespace) that holds many
//! rendered objects, instead of one GET per object. On a ring of 2,000 objects that is a handful
//! of requests instead of 2,000, so the plan costs the API server (and the network) little more
//! than the dry-runs it cannot avoid. The same lists also give the previous inventory's members
//! in those scopes, so the prune set needs no second read of them.
//!
//! A list returns the same objects a GET does, `managedFields` included, from one consistent
//! snapshot (https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks);
//! only `apiVersion`/`kind` are left off the items, and put back here.

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt as _, TryStreamExt as _};
use gitops_manifest::ObjectRef;
use kube::api::ListParams;
use serde_json::Value;

use super::Cluster;
use super::error::ClusterError;
use super::kinds::Kind;
use crate::plan::inventory::PART_OF_LABEL;

/// A (kind, namespace) with at least this many rendered objects is listed rather than read one
/// object at a time. Below it, GETs cost less than a list of a namespace that may hold many
/// objects of that kind that are not ours.
pub const LIST_AT_LEAST: usize = 16;

/// Items per page: large pages are cheap for the server, and paging bounds one response.
const PAGE_SIZE: u32 = 500;

/// Where objects live: a served kind (group, version, kind) in a namespace (`None`: cluster scope).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Scope {
    group: String,
    version: String,
    kind: String,
    namespace: Option<String>,
}

impl Scope {
    fn of(kind: &Kind, namespace: Option<&str>) -> Self {
        let r = &kind.resource;
        Self {
            group: r.group.clone(),
            version: r.version.clone(),
            kind: r.kind.clone(),
            namespace: if kind.namespaced {
                namespace.map(str::to_string)
            } else {
                None
            },
        }
    }
}

/// What the lists found, per listed scope: the rendered objects that exist, by name, and the
/// live members of the ring's ApplySet that are not rendered.
#[derive(Debug, Default)]
pub struct LiveLists {
    applyset_id: String,
    listed: BTreeMap<Scope, Listed>,
}

#[derive(Debug, Default)]
struct Listed {
    rendered: BTreeMap<String, Value>,
    other_members: Vec<Value>,
}

impl LiveLists {
    /// The live object for a rendered one: `Some(None)` when its scope was listed and it does
    /// not exist, `None` when its scope was not listed (read it with a GET). Each object is
    /// handed out once.
    pub fn take(&mut self, kind: &Kind, id: &ObjectRef) -> Option<Option<Value>> {
        let listed = self
            .listed
            .get_mut(&Scope::of(kind, id.namespace.as_deref()))?;
        Some(listed.rendered.remove(&id.name))
    }

    /// Whether a rendered object exists, when its scope was listed (`None`: not listed) and
    /// the object not yet handed out by [`LiveLists::take`].
    pub fn exists(&self, kind: &Kind, id: &ObjectRef) -> Option<bool> {
        let listed = self.listed.get(&Scope::of(kind, id.namespace.as_deref()))?;
        Some(listed.rendered.contains_key(&id.name))
    }

    /// The live members of ApplySet `applyset_id` in a listed scope that are not rendered;
    /// `None` when the scope was not listed (or for another ApplySet).
    pub fn unrendered_members(
        &self,
        applyset_id: &str,
        kind: &Kind,
        namespace: Option<&str>,
    ) -> Option<&[Value]> {
        if applyset_id != self.applyset_id {
            return None;
        }
        self.listed
            .get(&Scope::of(kind, namespace))
            .map(|l| l.other_members.as_slice())
    }
}

/// The scopes [`Cluster::list_live`] lists for `objects`: those holding at least
/// [`LIST_AT_LEAST`] of them. An object elsewhere is read with a GET.
#[derive(Debug, Default)]
pub struct Crowded(BTreeSet<Scope>);

impl Crowded {
    /// The crowded scopes of `objects`.
    pub fn of<'a>(objects: impl IntoIterator<Item = (&'a Kind, &'a ObjectRef)>) -> Self {
        Self(wanted(objects).into_keys().collect())
    }

    /// Whether the object's scope is listed.
    pub fn contains(&self, kind: &Kind, id: &ObjectRef) -> bool {
        self.0.contains(&Scope::of(kind, id.namespace.as_deref()))
    }
}

/// The scopes to list, each with its kind and the names rendered there.
fn wanted<'a>(
    objects: impl IntoIterator<Item = (&'a Kind, &'a ObjectRef)>,
) -> BTreeMap<Scope, (&'a Kind, BTreeSet<&'a str>)> {
    let mut wanted: BTreeMap<Scope, (&Kind, BTreeSet<&str>)> = BTreeMap::new();
    for (kind, id) in objects {
        wanted
            .entry(Scope::of(kind, id.namespace.as_deref()))
            .or_insert_with(|| (kind, BTreeSet::new()))
            .1
            .insert(id.name.as_str());
    }
    wanted.retain(|_, (_, names)| names.len() >= LIST_AT_LEAST);
    wanted
}

fn part_of(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/labels")
        .and_then(|l| l.get(PART_OF_LABEL))
        .and_then(Value::as_str)
}

impl Cluster {
    /// List every (kind, namespace) that holds at least [`LIST_AT_LEAST`] of `objects`,
    /// keeping only what the plan needs: the rendered objects and the members of
    /// `applyset_id` (so a namespace full of other objects costs no memory).
    pub async fn list_live<'a>(
        &self,
        objects: impl IntoIterator<Item = (&'a Kind, &'a ObjectRef)>,
        applyset_id: &str,
    ) -> Result<LiveLists, ClusterError> {
        let wanted = wanted(objects);
        let listed: Vec<Option<(Scope, Listed)>> = futures::stream::iter(wanted)
            .map(|(scope, (kind, names))| async move {
                let namespace = scope.namespace.as_deref();
                let objects = match self.list_pages(kind, namespace).await {
                    Ok(objects) => objects,
                    // Allowed to read the objects but not to list them (RBAC grants verbs
                    // separately): read this scope one GET at a time, as without the list.
                    Err(kube::Error::Api(status)) if status.code == 403 => return Ok(None),
                    Err(e) => {
                        let what = match namespace {
                            Some(ns) => {
                                format!("listing `{}` in namespace `{ns}`", kind.resource.kind)
                            }
                            None => format!("listing `{}`", kind.resource.kind),
                        };
                        return Err(self.api_error(what, &e));
                    }
                };
                let mut listed = Listed::default();
                for object in objects {
                    let name = object
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if names.contains(name) {
                        listed.rendered.insert(name.to_string(), object);
                    } else if part_of(&object) == Some(applyset_id) {
                        listed.other_members.push(object);
                    }
                }
                Ok::<_, ClusterError>(Some((scope, listed)))
            })
            .buffer_unordered(self.concurrency)
            .try_collect()
            .await?;
        Ok(LiveLists {
            applyset_id: applyset_id.to_string(),
            listed: listed.into_iter().flatten().collect(),
        })
    }

    /// Every object of `kind` in `namespace`, page by page.
    async fn list_pages(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
    ) -> Result<Vec<Value>, kube::Error> {
        let request = self.request(kind, namespace);
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut params = ListParams::default().limit(PAGE_SIZE);
            if let Some(t) = &token {
                params = params.continue_token(t);
            }
            // Read without our own managedFields entries (see `answer`): a list of thousands
            // of objects is mostly field sets nobody reads.
            let text = self.send_text(|| request.list(&params)).await?;
            let mut page = super::answer::list(&text).map_err(kube::Error::SerdeError)?;
            if let Some(items) = page.get_mut("items").and_then(Value::as_array_mut) {
                for mut item in std::mem::take(items) {
                    // List items come without apiVersion/kind; put them back so they are whole objects.
                    if let Some(fields) = item.as_object_mut() {
                        fields.insert(
                            "apiVersion".into(),
                            Value::String(kind.resource.api_version.clone()),
                        );
                        fields.insert("kind".into(), Value::String(kind.resource.kind.clone()));
                    }
                    out.push(item);
                }
            }
            match page
                .pointer("/metadata/continue")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                Some(t) => token = Some(t.to_string()),
                None => return Ok(out),
            }
        }
    }
}
