//! Planning a stored revision's manifests (for `gitops rollback --to N`) through the same
//! observe → compute path as a fresh plan, so the rollback is diffed, pruned and gated like
//! any release.

use gitops_manifest::ObjectRef;
use serde_json::Value;

use crate::cluster::Cluster;
use crate::cluster::observe::{ObserveError, Rendered};
use crate::config::{Config, Ring};
use crate::output::ci::Annotation;
use crate::plan::inventory::{Inventory, PART_OF_LABEL, applyset_id, parent_ref};
use crate::plan::pipeline::{RingFailure, cluster_annotation};
use crate::plan::{GitState, Masker, RingContext, RingPlan, ring_plan};

/// Plan `objects` (a revision's manifests) for `ring`.
pub async fn plan_manifests(
    cluster: &Cluster,
    config: &Config,
    ring: &Ring,
    objects: Vec<Value>,
    git: GitState,
    masker: &Masker,
) -> Result<RingPlan, RingFailure> {
    let rendered: Vec<Rendered> = objects
        .into_iter()
        .map(|mut object| {
            // The stored manifests carry the membership label; observe adds it again.
            if let Some(labels) = object
                .pointer_mut("/metadata/labels")
                .and_then(Value::as_object_mut)
            {
                labels.remove(PART_OF_LABEL);
            }
            Rendered {
                object,
                source: None,
                line: None,
            }
        })
        .collect();
    let parent = parent_ref(&ring.name, &config.history.namespace);
    let id = applyset_id(&parent);
    let previous = ring.prune.then_some(&parent);
    let observed = cluster
        .observe(rendered, &id, previous, &|| {})
        .await
        .map_err(|e| RingFailure {
            ring: ring.name.clone(),
            errors: match e {
                ObserveError::Cluster(e) => vec![cluster_annotation(&e, None, None)],
                ObserveError::Objects(failures) => failures
                    .iter()
                    .map(|f| Annotation {
                        file: None,
                        line: None,
                        message: f.error.to_string(),
                    })
                    .collect(),
            },
        })?;
    let members: Vec<&ObjectRef> = observed.observations.iter().map(|o| &o.object).collect();
    let inventory = Inventory::for_members(parent, members);
    let context = RingContext {
        ring: ring.name.clone(),
        git,
        cluster: cluster.info().clone(),
        inventory,
    };
    Ok(ring_plan(
        context,
        &observed.observations,
        &observed.pruned,
        masker,
    ))
}
