//! Observing a ring on the cluster: resolve every rendered kind, read the live objects, dry-run
//! each one (concurrently, bounded), and read the previous inventory's members. The result is
//! plain values for the pure `plan::compute`.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt as _;
use gitops_manifest::ObjectRef;
use serde_json::Value;

use super::Cluster;
use super::error::{ClusterError, describe};
use super::kinds::Kind;
use super::live::{Crowded, LiveLists};
use crate::plan::inventory::{self, Inventory, PART_OF_LABEL};
use crate::plan::{DryRun, Observation};

/// One rendered object and the file it came from.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The object.
    pub object: Value,
    /// Its file, relative to the repo root, when known.
    pub source: Option<String>,
    /// The line in that file where the object is declared, when known.
    pub line: Option<u64>,
}

/// A failure about one object: the error and where the object came from (for CI annotations).
#[derive(Debug)]
pub struct ObjectFailure {
    /// The object's file, when known.
    pub source: Option<String>,
    /// The line of the object in that file, when known.
    pub line: Option<u64>,
    /// What went wrong.
    pub error: ClusterError,
}

/// Why observing a ring failed: a cluster-wide problem, or problems with given objects (all
/// of them, not just the first, so one plan run shows every misspelled field).
#[derive(Debug)]
pub enum ObserveError {
    /// The cluster as a whole (unreachable, credentials, discovery).
    Cluster(ClusterError),
    /// One or more objects.
    Objects(Vec<ObjectFailure>),
}

impl From<ClusterError> for ObserveError {
    fn from(e: ClusterError) -> Self {
        Self::Cluster(e)
    }
}

/// What was observed.
#[derive(Debug, Default)]
pub struct Observed {
    /// One per rendered object, labelled as a member of the ring's ApplySet.
    pub observations: Vec<Observation>,
    /// Live members of the previous inventory that are no longer rendered.
    pub pruned: BTreeMap<ObjectRef, Value>,
}

/// A CRD in the render: what it will serve once applied.
struct RenderedCrd {
    name: String,
    group: String,
    kind: String,
    versions: BTreeSet<String>,
    namespaced: bool,
}

fn rendered_crds<'a>(objects: impl Iterator<Item = &'a Value>) -> Vec<RenderedCrd> {
    objects
        .filter(|object| {
            object.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition")
                && object
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.starts_with("apiextensions.k8s.io/"))
        })
        .filter_map(|object| {
            let spec = object.get("spec")?;
            Some(RenderedCrd {
                name: object.pointer("/metadata/name")?.as_str()?.to_string(),
                group: spec.get("group")?.as_str()?.to_string(),
                kind: spec.pointer("/names/kind")?.as_str()?.to_string(),
                versions: spec
                    .get("versions")?
                    .as_array()?
                    .iter()
                    .filter_map(|v| v.get("name").and_then(Value::as_str).map(str::to_string))
                    .collect(),
                namespaced: spec.get("scope").and_then(Value::as_str) != Some("Cluster"),
            })
        })
        .collect()
}

/// How one object will be observed.
enum Route {
    /// Served: read it and dry-run it.
    Served(Kind),
    /// Served, but its namespace is created by this plan: nothing to read, and the dry-run
    /// still validates the fields (the API server decodes, and so rejects unknown fields,
    /// before admission finds the namespace missing and answers 404).
    NamespacePending(Kind, String),
    /// Not dry-run-able yet (its CRD is created by this plan).
    Skip(String),
}

struct Prepared {
    id: ObjectRef,
    source: Option<String>,
    line: Option<u64>,
    object: Value,
    route: Route,
}

/// One object after its dry-run, before its live object is known for sure.
struct Seen {
    /// The observation; its `dry_run` is decided by [`Cluster::settle`] when `unread` is set.
    observation: Observation,
    /// The line of the object in its file, when known (for a failure).
    line: Option<u64>,
    /// Its kind, when its live object is to be taken from the lists.
    listed: Option<Kind>,
    /// The dry-run answer, not read yet: whether the object exists was not known when it came.
    unread: Option<String>,
}

impl Cluster {
    /// Observe one ring. `applyset_id` labels every object as a member; `previous` is the
    /// ring's ApplySet parent to read the prune set from (`None`: no pruning).
    /// `on_progress` is called once per object done.
    pub async fn observe(
        &self,
        rendered: Vec<Rendered>,
        applyset_id: &str,
        previous: Option<&ObjectRef>,
        on_progress: &(dyn Fn() + Send + Sync),
    ) -> Result<Observed, ObserveError> {
        let prepared = self.prepare(rendered, applyset_id).await?;
        let served: Vec<(Kind, ObjectRef)> = prepared
            .iter()
            .filter_map(|p| match &p.route {
                Route::Served(kind) => Some((kind.clone(), p.id.clone())),
                _ => None,
            })
            .collect();
        let crowded = Crowded::of(served.iter().map(|(kind, id)| (kind, id)));
        let rendered_ids: BTreeSet<ObjectRef> = prepared.iter().map(|p| p.id.clone()).collect();
        // The dry-runs do not need the live objects: they start at once, while the live
        // objects of crowded (kind, namespace) scopes are listed (one list each). The lists,
        // once in, tell each answer that comes after them whether its object exists.
        let listed = std::sync::OnceLock::new();
        let lists = async {
            let lists = self
                .list_live(served.iter().map(|(kind, id)| (kind, id)), applyset_id)
                .await;
            let _ = listed.set(lists);
        };
        let dry_runs = futures::stream::iter(prepared)
            .map(|p| {
                let (crowded, listed) = (&crowded, &listed);
                async move {
                    let result = self.observe_one(p, crowded, listed).await;
                    on_progress();
                    result
                }
            })
            .buffer_unordered(self.concurrency)
            .collect::<Vec<_>>();
        let ((), results) = futures::join!(lists, dry_runs);
        // As when they ran one after the other: a failed list first, then the objects' own
        // failures.
        let mut lists = listed
            .into_inner()
            .unwrap_or_else(|| Ok(LiveLists::default()))?;
        let mut observations = Vec::with_capacity(results.len());
        let mut failures = Vec::new();
        let mut unlisted = Vec::new();
        for r in results {
            match r {
                Ok(mut seen) => match seen.listed.take() {
                    Some(kind) => match lists.take(&kind, &seen.observation.object) {
                        Some(live) => {
                            seen.observation.live = live;
                            match self.settle(seen) {
                                Ok(o) => observations.push(o),
                                Err(f) => failures.push(*f),
                            }
                        }
                        // Not listed after all (listing was forbidden): read it.
                        None => unlisted.push((seen, kind)),
                    },
                    None => match self.settle(seen) {
                        Ok(o) => observations.push(o),
                        Err(f) => failures.push(*f),
                    },
                },
                Err(f) => failures.push(f),
            }
        }
        let reads: Vec<Result<Observation, ObjectFailure>> = futures::stream::iter(unlisted)
            .map(|(mut seen, kind)| async move {
                match self.get(&kind, &seen.observation.object).await {
                    Ok(live) => {
                        seen.observation.live = live;
                        self.settle(seen).map_err(|f| *f)
                    }
                    Err(error) => Err(ObjectFailure {
                        source: seen.observation.source.clone(),
                        line: seen.line,
                        error,
                    }),
                }
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        for r in reads {
            match r {
                Ok(o) => observations.push(o),
                Err(f) => failures.push(f),
            }
        }
        if !failures.is_empty() {
            failures.sort_by_key(|f| f.error.to_string());
            return Err(ObserveError::Objects(failures));
        }
        observations.sort_by(|a, b| a.object.cmp(&b.object));
        // Read after the dry-runs, not alongside: it is a few requests, and a fixed place in
        // the order of requests keeps runs against a sandbox with seeded faults reproducible.
        let pruned = match previous {
            Some(parent) => self.previous_members(parent, &rendered_ids, &lists).await?,
            None => BTreeMap::new(),
        };
        Ok(Observed {
            observations,
            pruned,
        })
    }

    /// Resolve kinds and namespaces; fill in defaults kubectl fills in (the context namespace
    /// for namespaced objects that name none); label members.
    async fn prepare(
        &self,
        rendered: Vec<Rendered>,
        applyset_id: &str,
    ) -> Result<Vec<Prepared>, ObserveError> {
        let mut failures = Vec::new();
        let mut parsed = Vec::with_capacity(rendered.len());
        for r in rendered {
            match ObjectRef::from_value(&r.object) {
                Ok(id) => parsed.push((id, r)),
                Err(e) => failures.push(ObjectFailure {
                    error: ClusterError::Api {
                        what: format!(
                            "an object in `{}`",
                            r.source.as_deref().unwrap_or("the render")
                        ),
                        message: e.to_string(),
                    },
                    source: r.source,
                    line: r.line,
                }),
            }
        }
        let crds = rendered_crds(parsed.iter().map(|(_, r)| &r.object));
        let group_versions: BTreeSet<(String, String)> = parsed
            .iter()
            .map(|(id, _)| (id.group.clone(), id.version.clone().unwrap_or_default()))
            .collect();
        let kinds = self.kinds(&group_versions).await?;

        let rendered_namespaces: BTreeSet<String> = parsed
            .iter()
            .filter(|(id, _)| id.group.is_empty() && id.kind == "Namespace")
            .map(|(id, _)| id.name.clone())
            .collect();
        let mut prepared = Vec::with_capacity(parsed.len());
        for (mut id, r) in parsed {
            let mut object = r.object;
            let version = id.version.clone().unwrap_or_default();
            let (route, namespaced) = match kinds.get(&id.group, &version, &id.kind) {
                Some(kind) => (Route::Served(kind.clone()), kind.namespaced),
                None => match crds.iter().find(|c| {
                    c.group == id.group && c.kind == id.kind && c.versions.contains(&version)
                }) {
                    Some(crd) => (
                        Route::Skip(format!(
                            "not dry-run: its CustomResourceDefinition `{}` is created by this plan",
                            crd.name
                        )),
                        crd.namespaced,
                    ),
                    None => {
                        failures.push(ObjectFailure {
                            error: ClusterError::UnknownKind {
                                object: describe(&id, r.source.as_deref()),
                                kind: id.kind.clone(),
                                api_version: id.api_version().unwrap_or_default(),
                            },
                            source: r.source,
                            line: r.line,
                        });
                        continue;
                    }
                },
            };
            if namespaced && id.namespace.is_none() {
                let ns = self.default_namespace().to_string();
                object["metadata"]["namespace"] = Value::String(ns.clone());
                id.namespace = Some(ns);
            } else if !namespaced && id.namespace.is_some() {
                // A namespace on a cluster-scoped object is ignored by the server; drop it so
                // the id matches what the cluster reports.
                if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove("namespace");
                }
                id.namespace = None;
            }
            inventory::label_member(&mut object, applyset_id);
            prepared.push(Prepared {
                id,
                source: r.source,
                line: r.line,
                object,
                route,
            });
        }

        // Namespaces the objects need: rendered ones may not exist yet (their objects cannot
        // be dry-run), others must exist on the cluster.
        let needed: BTreeSet<String> = prepared
            .iter()
            .filter(|p| matches!(&p.route, Route::Served(k) if k.namespaced))
            .filter_map(|p| p.id.namespace.clone())
            .collect();
        let checks: Vec<(String, Result<bool, ClusterError>)> = futures::stream::iter(needed)
            .map(|ns| async move {
                let exists = self.namespace_exists(&ns).await;
                (ns, exists)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let mut missing = BTreeSet::new();
        for (ns, exists) in checks {
            if !exists? {
                missing.insert(ns);
            }
        }
        for p in &mut prepared {
            let Some(ns) = p.id.namespace.clone() else {
                continue;
            };
            if !matches!(&p.route, Route::Served(k) if k.namespaced) || !missing.contains(&ns) {
                continue;
            }
            if rendered_namespaces.contains(&ns) {
                if let Route::Served(kind) = &p.route {
                    p.route = Route::NamespacePending(kind.clone(), ns);
                }
            } else {
                failures.push(ObjectFailure {
                    error: ClusterError::MissingNamespace {
                        object: describe(&p.id, p.source.as_deref()),
                        namespace: ns,
                    },
                    source: p.source.clone(),
                    line: p.line,
                });
            }
        }
        if !failures.is_empty() {
            return Err(ObserveError::Objects(failures));
        }
        Ok(prepared)
    }

    /// Dry-run one object and read its live state, unless its scope is `crowded` (listed):
    /// then the kind (and the object's line) is returned with the observation, to take the
    /// live object from the list. The answer is read only when the object exists (a create
    /// shows what was declared); when that is not known yet (its scope's list is still
    /// running) it is kept as text, for [`Cluster::settle`].
    async fn observe_one(
        &self,
        p: Prepared,
        crowded: &Crowded,
        listed: &std::sync::OnceLock<Result<LiveLists, ClusterError>>,
    ) -> Result<Seen, ObjectFailure> {
        let fail = |error| ObjectFailure {
            source: p.source.clone(),
            line: p.line,
            error,
        };
        let mut in_list = None;
        let mut unread = None;
        let (live, dry_run) = match &p.route {
            Route::Skip(reason) => (None, DryRun::Skipped(reason.clone())),
            Route::NamespacePending(kind, ns) => {
                let skipped = DryRun::Skipped(format!(
                    "validated, not predicted: its namespace `{ns}` is created by this plan"
                ));
                match self
                    .dry_run_apply(kind, &p.id, &p.object, p.source.as_deref())
                    .await
                {
                    // Only "namespace not found" is expected; anything else (a misspelled
                    // field: 400, an invalid value: 422) is the object's fault.
                    Err(ClusterError::Rejected { code: 404, .. }) => (None, skipped),
                    Err(e) => return Err(fail(e)),
                    Ok(text) => {
                        self.check_answer(&text, &p.id, p.source.as_deref())
                            .map_err(fail)?;
                        (None, skipped)
                    }
                }
            }
            Route::Served(kind) => {
                let live = if crowded.contains(kind, &p.id) {
                    in_list = Some(kind.clone());
                    None
                } else {
                    self.get(kind, &p.id).await.map_err(fail)?
                };
                let text = self
                    .dry_run_apply(kind, &p.id, &p.object, p.source.as_deref())
                    .await
                    .map_err(fail)?;
                let exists = if in_list.is_some() {
                    listed
                        .get()
                        .and_then(|lists| lists.as_ref().ok())
                        .and_then(|lists| lists.exists(kind, &p.id))
                } else {
                    Some(live.is_some())
                };
                let source = p.source.as_deref();
                match exists {
                    Some(true) => (
                        live,
                        DryRun::Result(self.read_answer(&text, &p.id, source).map_err(fail)?),
                    ),
                    Some(false) => {
                        self.check_answer(&text, &p.id, source).map_err(fail)?;
                        (live, DryRun::Accepted)
                    }
                    None => {
                        unread = Some(text);
                        (live, DryRun::Accepted)
                    }
                }
            }
        };
        Ok(Seen {
            observation: Observation {
                object: p.id,
                source: p.source,
                rendered: p.object,
                live,
                dry_run,
            },
            line: p.line,
            listed: in_list,
            unread,
        })
    }

    /// The observation of `seen` once its live object is known: an answer left unread is read
    /// now if the object exists, else only checked.
    fn settle(&self, seen: Seen) -> Result<Observation, Box<ObjectFailure>> {
        let Seen {
            mut observation,
            line,
            unread,
            ..
        } = seen;
        let Some(text) = unread else {
            return Ok(observation);
        };
        let (id, source) = (&observation.object, observation.source.as_deref());
        let read = if observation.live.is_some() {
            self.read_answer(&text, id, source).map(DryRun::Result)
        } else {
            self.check_answer(&text, id, source)
                .map(|()| DryRun::Accepted)
        };
        match read {
            Ok(dry_run) => {
                observation.dry_run = dry_run;
                Ok(observation)
            }
            Err(error) => Err(Box::new(ObjectFailure {
                source: observation.source.clone(),
                line,
                error,
            })),
        }
    }

    /// The live members of the previous inventory that are not rendered now.
    async fn previous_members(
        &self,
        parent: &ObjectRef,
        rendered: &BTreeSet<ObjectRef>,
        lists: &LiveLists,
    ) -> Result<BTreeMap<ObjectRef, Value>, ClusterError> {
        let secret = Kind {
            resource: kube::core::ApiResource::from_gvk_with_plural(
                &kube::core::GroupVersionKind::gvk("", "v1", "Secret"),
                "secrets",
            ),
            namespaced: true,
        };
        let Some(parent_object) = self.get(&secret, parent).await? else {
            return Ok(BTreeMap::new());
        };
        let Some(previous) = Inventory::from_parent(&parent_object) else {
            return Ok(BTreeMap::new());
        };
        let selector = format!("{PART_OF_LABEL}={}", previous.id);
        let mut members = BTreeMap::new();
        for gk in &previous.group_kinds {
            let Some(kind) = self.group_kind(gk).await? else {
                continue;
            };
            let scopes: Vec<Option<&str>> = if kind.namespaced {
                previous
                    .namespaces
                    .iter()
                    .map(|n| Some(n.as_str()))
                    .collect()
            } else {
                vec![None]
            };
            for ns in scopes {
                // A scope the live lists covered needs no second read.
                if let Some(listed) = lists.unrendered_members(&previous.id, &kind, ns) {
                    for object in listed {
                        if let Ok(id) = ObjectRef::from_value(object) {
                            members.insert(id, object.clone());
                        }
                    }
                    continue;
                }
                for object in self.list(&kind, ns, &selector).await? {
                    if let Ok(id) = ObjectRef::from_value(&object) {
                        members.insert(id, object);
                    }
                }
            }
        }
        let ids: Vec<ObjectRef> = members.keys().cloned().collect();
        let prune = inventory::prune_set(&ids, rendered);
        Ok(members
            .into_iter()
            .filter(|(id, _)| prune.contains(id))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ClusterInfo;
    use serde_json::json;

    fn cluster() -> Cluster {
        let sandbox = gitops_sandbox::Sandbox::new();
        Cluster::from_client(
            kube::Client::new(sandbox.service(), "default"),
            ClusterInfo {
                server: "in-process sandbox".into(),
                context: None,
            },
            "the sandbox",
        )
    }

    fn seen(live: Option<Value>, unread: Option<&str>) -> Seen {
        let object = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "web", "namespace": "shop"}, "data": {"a": "1"}});
        Seen {
            observation: Observation {
                object: ObjectRef::from_value(&object).unwrap(),
                source: Some("base/web.yaml".into()),
                rendered: object,
                live,
                dry_run: DryRun::Accepted,
            },
            line: Some(4),
            listed: None,
            unread: unread.map(str::to_string),
        }
    }

    #[tokio::test]
    async fn an_answer_left_unread_is_read_only_for_an_object_that_exists() {
        tokio::time::timeout(std::time::Duration::from_secs(60), async {
            let cluster = cluster();
            let answer = r#"{"kind": "ConfigMap", "data": {"a": "2"}}"#;
            let live = json!({"kind": "ConfigMap", "data": {"a": "1"}});
            let read = cluster.settle(seen(Some(live), Some(answer))).unwrap();
            assert_eq!(
                read.dry_run,
                DryRun::Result(json!({"kind": "ConfigMap", "data": {"a": "2"}}))
            );
            let absent = cluster.settle(seen(None, Some(answer))).unwrap();
            assert_eq!(absent.dry_run, DryRun::Accepted, "a create keeps no answer");
            // An answer that is not JSON fails the object, whether it is read or only checked.
            for live in [None, Some(json!({}))] {
                let failure = cluster.settle(seen(live, Some("{\"kind\": "))).unwrap_err();
                assert_eq!(failure.line, Some(4));
                let message = failure.error.to_string();
                assert!(
                    message.contains("dry-run apply") && message.contains("shop/web"),
                    "{message}"
                );
            }
            // Nothing left unread: the observation is as it was.
            let done = cluster.settle(seen(None, None)).unwrap();
            assert_eq!(done.dry_run, DryRun::Accepted);
        })
        .await
        .expect("the test took over 60 s");
    }
}
