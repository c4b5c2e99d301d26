//! The plan pipeline for one ring: render, observe on the cluster, compute. The only part of
//! `plan` that drives I/O (through `gitops_render` and `cluster`); every decision is made by
//! the pure functions it calls.

use std::path::Path;

use gitops_manifest::ObjectRef;

use super::compute::{RingContext, ring_plan};
use super::inventory::{Inventory, applyset_id, parent_ref};
use super::mask::Masker;
use super::model::{GitState, RingPlan};
use super::sources::Sources;
use crate::cluster::observe::{ObserveError, Rendered};
use crate::cluster::{Cluster, ClusterError};
use crate::config::{Config, Ring};
use crate::output::ci::Annotation;

/// Why a ring could not be planned; each failure carries what CI annotations need.
#[derive(Debug)]
pub struct RingFailure {
    /// The ring.
    pub ring: String,
    /// One per problem (every misspelled field, not just the first).
    pub errors: Vec<Annotation>,
}

impl std::fmt::Display for RingFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "ring `{}`: {}", self.ring, e.message)?;
        }
        Ok(())
    }
}

/// The git commit and dirty flag of the repository holding `root`; an empty state outside git.
pub fn git_state(root: &Path) -> GitState {
    let Ok(repo) = git2::Repository::discover(root) else {
        return GitState::default();
    };
    let commit = repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .map(|c| c.id().to_string());
    let mut options = git2::StatusOptions::new();
    options
        .include_untracked(true)
        .include_ignored(false)
        .exclude_submodules(true);
    let dirty = repo
        .statuses(Some(&mut options))
        .map(|s| !s.is_empty())
        .unwrap_or(false);
    GitState { commit, dirty }
}

/// Render one ring; a render error becomes an annotation naming its file (and line).
pub fn render(config: &Config, ring: &Ring) -> Result<Vec<serde_json::Value>, RingFailure> {
    let fs = disk(config, ring)?;
    gitops_render::build(&fs, &ring.path).map_err(|e| render_failure(ring, &e))
}

/// [`render`], with the [`Sources`] of the rendered objects: the renderer's own record of
/// the file (and line) each object was declared in, so nothing needs to scan the repository.
pub fn render_with_sources(
    config: &Config,
    ring: &Ring,
) -> Result<(Vec<serde_json::Value>, Sources), RingFailure> {
    let fs = disk(config, ring)?;
    let built =
        gitops_render::build_with_origins(&fs, &ring.path).map_err(|e| render_failure(ring, &e))?;
    let sources = Sources::rendered(built.iter().map(|b| (&b.object, b.origin.as_ref())));
    Ok((built.into_iter().map(|b| b.object).collect(), sources))
}

/// The repository as the renderer's file system.
fn disk(config: &Config, ring: &Ring) -> Result<gitops_render::DiskFs, RingFailure> {
    gitops_render::DiskFs::new(&config.root).map_err(|e| RingFailure {
        ring: ring.name.clone(),
        errors: vec![Annotation {
            file: None,
            line: None,
            message: format!("`{}`: {e}", config.root.display()),
        }],
    })
}

fn render_failure(ring: &Ring, err: &gitops_render::RenderError) -> RingFailure {
    RingFailure {
        ring: ring.name.clone(),
        errors: vec![render_annotation(err)],
    }
}

/// A render error as an annotation.
pub fn render_annotation(err: &gitops_render::RenderError) -> Annotation {
    use gitops_render::RenderError as E;
    let (path, line) = match err {
        E::File { path, .. } | E::Field { path, .. } => (path, None),
        E::Yaml { path, line, .. } => (path, *line),
    };
    Annotation {
        file: Some(path.display().to_string()),
        line,
        message: err.to_string(),
    }
}

/// Plan one ring against `cluster`.
pub async fn plan_ring(
    cluster: &Cluster,
    config: &Config,
    ring: &Ring,
    git: GitState,
    masker: &Masker,
    on_progress: &(dyn Fn() + Send + Sync),
) -> Result<RingPlan, RingFailure> {
    let (objects, sources) = render_with_sources(config, ring)?;
    plan_scanned(
        cluster,
        config,
        ring,
        objects,
        &sources,
        git,
        masker,
        on_progress,
    )
    .await
}

/// Plan one ring's already rendered `objects` against `cluster` (objects not rendered here,
/// such as stored manifests: their files are found by scanning the repository).
pub async fn plan_rendered(
    cluster: &Cluster,
    config: &Config,
    ring: &Ring,
    objects: Vec<serde_json::Value>,
    git: GitState,
    masker: &Masker,
    on_progress: &(dyn Fn() + Send + Sync),
) -> Result<RingPlan, RingFailure> {
    let sources = Sources::scan(&config.root);
    plan_scanned(
        cluster,
        config,
        ring,
        objects,
        &sources,
        git,
        masker,
        on_progress,
    )
    .await
}

/// [`plan_rendered`] with the objects' [`Sources`] already known (from the render's origins,
/// [`render_with_sources`], or a scan of the repository).
#[allow(
    clippy::too_many_arguments,
    reason = "plan_rendered's inputs plus the scan it would otherwise do itself"
)]
pub async fn plan_scanned(
    cluster: &Cluster,
    config: &Config,
    ring: &Ring,
    objects: Vec<serde_json::Value>,
    sources: &Sources,
    git: GitState,
    masker: &Masker,
    on_progress: &(dyn Fn() + Send + Sync),
) -> Result<RingPlan, RingFailure> {
    let rendered: Vec<Rendered> = objects
        .into_iter()
        .map(|object| {
            let found = ObjectRef::from_value(&object)
                .ok()
                .and_then(|id| sources.find(&id));
            let (source, line) = match found {
                Some(s) => (Some(s.file), s.line),
                None => (None, None),
            };
            Rendered {
                object,
                source,
                line,
            }
        })
        .collect();
    let parent = parent_ref(&ring.name, &config.history.namespace);
    let id = applyset_id(&parent);
    let previous = ring.prune.then_some(&parent);
    let observed = cluster
        .observe(rendered, &id, previous, on_progress)
        .await
        .map_err(|e| RingFailure {
            ring: ring.name.clone(),
            errors: match e {
                ObserveError::Cluster(e) => vec![cluster_annotation(&e, None, None)],
                ObserveError::Objects(failures) => failures
                    .iter()
                    .map(|f| cluster_annotation(&f.error, f.source.clone(), f.line))
                    .collect(),
            },
        })?;
    // Objects the server could not dry-run yet (their namespace or CRD comes with this plan)
    // are still validated, offline, so a misspelled field fails the plan on a fresh cluster too.
    let skipped: std::collections::BTreeSet<&ObjectRef> = observed
        .observations
        .iter()
        .filter(|o| matches!(o.dry_run, super::DryRun::Skipped(_)))
        .map(|o| &o.object)
        .collect();
    if !skipped.is_empty() {
        let rendered: Vec<serde_json::Value> = observed
            .observations
            .iter()
            .map(|o| o.rendered.clone())
            .collect();
        let errors: Vec<Annotation> = crate::validate::validate_objects(&rendered)
            .into_iter()
            .filter(|p| skipped.contains(&p.object))
            .map(|p| crate::validate::annotation(sources, &p.object, &p.issue))
            .collect();
        if !errors.is_empty() {
            return Err(RingFailure {
                ring: ring.name.clone(),
                errors,
            });
        }
    }
    let inventory = Inventory::for_members(parent, observed.observations.iter().map(|o| &o.object));
    let context = RingContext {
        ring: ring.name.clone(),
        git,
        cluster: cluster.info().clone(),
        inventory,
    };
    Ok(ring_plan(
        context,
        observed.observations,
        &observed.pruned,
        masker,
    ))
}

/// A cluster error as an annotation.
pub fn cluster_annotation(
    err: &ClusterError,
    file: Option<String>,
    line: Option<u64>,
) -> Annotation {
    Annotation {
        file,
        line,
        message: err.to_string(),
    }
}

#[allow(
    dead_code,
    reason = "the check `apply --plan` is specified to call; `apply` reads the bindings itself today"
)]
/// The staleness check of a saved ring plan: re-read every object it is bound to and name
/// every one that moved (created, deleted, re-created or written since the plan).
pub async fn check_stale(
    cluster: &Cluster,
    ring: &RingPlan,
) -> Result<Vec<super::stale::Moved>, ClusterError> {
    use futures::{StreamExt as _, TryStreamExt as _};
    use std::collections::{BTreeMap, BTreeSet};

    let bound = super::stale::bindings(ring);
    let group_versions: BTreeSet<(String, String)> = bound
        .iter()
        .filter_map(|(id, _)| Some((id.group.clone(), id.version.clone()?)))
        .collect();
    let kinds = cluster.kinds(&group_versions).await?;
    let current: BTreeMap<ObjectRef, Option<super::change::LiveVersion>> =
        futures::stream::iter(bound.iter())
            .map(|(id, _)| {
                let kinds = &kinds;
                async move {
                    let version = id.version.clone().unwrap_or_default();
                    // A kind the cluster does not serve (its CRD is still to be created) has no objects.
                    let live = match kinds.get(&id.group, &version, &id.kind) {
                        Some(kind) => cluster.get(kind, id).await?,
                        None => None,
                    };
                    Ok::<_, ClusterError>((
                        id.clone(),
                        live.as_ref().and_then(super::change::LiveVersion::of),
                    ))
                }
            })
            .buffer_unordered(cluster.concurrency())
            .try_collect()
            .await?;
    Ok(super::stale::moved(&bound, &current))
}
