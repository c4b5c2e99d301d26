//! The pure core of the plan: from what was rendered, what is live and what the server's
//! dry-run answered, compute each object's change and the ring's plan.

use std::collections::BTreeMap;

use gitops_manifest::ObjectRef;
use serde_json::Value;

use super::change::{ChangeOp, LiveVersion, ObjectChange, Prediction};
use super::inventory::Inventory;
use super::managers::takeovers;
use super::mask::Masker;
use super::model::{ClusterInfo, GitState, RingPlan, Summary};
use super::normalize::{normalize, normalize_owned, strip_new_defaults};
use super::order::apply_key;

/// What the server said about one rendered object.
#[derive(Debug, Clone, PartialEq)]
pub enum DryRun {
    /// The object as a server-side apply with `dryRun=All` would leave it.
    Result(Value),
    /// The server accepted the dry-run of an object that does not exist: its answer is not
    /// kept, since a create shows what was declared (the rest of the answer is defaults).
    Accepted,
    /// No dry-run could be done; the reason is shown to the reader.
    Skipped(String),
}

/// Everything observed about one rendered object.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Which object.
    pub object: ObjectRef,
    /// The file it was rendered from, when known.
    pub source: Option<String>,
    /// The object as rendered (and labelled as an inventory member).
    pub rendered: Value,
    /// The live object, if it exists.
    pub live: Option<Value>,
    /// The dry-run answer.
    pub dry_run: DryRun,
}

fn masked(masker: &Masker, value: Value) -> Value {
    let mut value = value;
    masker.mask_object(&mut value);
    value
}

/// The change predicted for one rendered object.
#[cfg(test)]
pub fn object_change(obs: &Observation, masker: &Masker) -> ObjectChange {
    into_change(obs.clone(), masker).0
}

/// [`object_change`] consuming the observation (the live object and the dry-run answer are
/// normalised in place rather than copied); gives the rendered object back.
fn into_change(obs: Observation, masker: &Masker) -> (ObjectChange, Value) {
    let Observation {
        object,
        source,
        rendered,
        live,
        dry_run,
    } = obs;
    // What was declared, as it is shown: only a create (and a change the server did not
    // predict) shows it, so only they copy it.
    let declared = || normalize(&rendered);
    let live_version = live.as_ref().and_then(LiveVersion::of);
    let (op, before, after, taken_from, prediction, note) = match (live, dry_run) {
        // A create shows what was declared: everything else in the dry-run answer was defaulted
        // by the server, and a field only the server defaulted is never shown.
        (None, DryRun::Result(_) | DryRun::Accepted) => (
            ChangeOp::Create,
            None,
            Some(declared()),
            Vec::new(),
            Prediction::Server,
            None,
        ),
        (None, DryRun::Skipped(reason)) => (
            ChangeOp::Create,
            None,
            Some(declared()),
            Vec::new(),
            Prediction::Rendered,
            Some(reason),
        ),
        (Some(live), DryRun::Result(result)) => {
            let taken_from = takeovers(&live, &result);
            let before = normalize_owned(live);
            let mut after = normalize_owned(result);
            let op = if after == before {
                ChangeOp::Unchanged
            } else {
                ChangeOp::Update
            };
            // The rendered object as it is, not normalised: normalising only removes keys,
            // and `after` (normalised) has none of them, so the fields kept are the same.
            strip_new_defaults(&mut after, Some(&before), Some(&rendered));
            (
                op,
                Some(before),
                Some(after),
                taken_from,
                Prediction::Server,
                None,
            )
        }
        // An answer is dropped only for an object that does not exist; should one exist
        // after all, say so and show the declared object against the live one.
        (Some(live), DryRun::Accepted) => declared_against(
            live,
            declared(),
            "the server's dry-run answer was not kept".to_string(),
        ),
        // Live but not dry-run-able cannot happen for a kind the server serves; be honest and
        // show the declared object against the live one.
        (Some(live), DryRun::Skipped(reason)) => declared_against(live, declared(), reason),
    };
    let change = ObjectChange {
        object,
        op,
        source,
        before: before.map(|v| masked(masker, v)),
        after: after.map(|v| masked(masker, v)),
        taken_from,
        live: live_version,
        prediction,
        note,
    };
    (change, rendered)
}

/// The parts of a change of a live object for which the server predicted nothing: the declared
/// object against the live one, with `reason` as the note.
type Parts = (
    ChangeOp,
    Option<Value>,
    Option<Value>,
    Vec<super::managers::Takeover>,
    Prediction,
    Option<String>,
);

fn declared_against(live: Value, declared: Value, reason: String) -> Parts {
    let before = normalize_owned(live);
    let op = if declared == before {
        ChangeOp::Unchanged
    } else {
        ChangeOp::Update
    };
    (
        op,
        Some(before),
        Some(declared),
        Vec::new(),
        Prediction::Rendered,
        Some(reason),
    )
}

/// The deletion of a pruned object.
pub fn deletion(object: &ObjectRef, live: &Value, masker: &Masker) -> ObjectChange {
    ObjectChange {
        object: object.clone(),
        op: ChangeOp::Delete,
        source: None,
        before: Some(masked(masker, normalize(live))),
        after: None,
        taken_from: Vec::new(),
        live: LiveVersion::of(live),
        prediction: Prediction::None,
        note: Some("no longer rendered; owned by the ring's previous revision (prune)".into()),
    }
}

/// Observations below this many are turned into changes on one thread.
const PARALLEL_FROM: usize = 256;

/// [`into_change`] of every observation, in order. With thousands of objects, normalising and
/// copying them is most of the plan's work after the cluster has answered, and the cores are
/// free by then: the observations are shared out over them.
fn into_changes(observations: Vec<Observation>, masker: &Masker) -> Vec<(ObjectChange, Value)> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if cores < 2 || observations.len() < PARALLEL_FROM {
        return observations
            .into_iter()
            .map(|o| into_change(o, masker))
            .collect();
    }
    let size = observations.len().div_ceil(cores);
    let mut parts = Vec::with_capacity(cores);
    let mut rest = observations;
    while rest.len() > size {
        let tail = rest.split_off(size);
        parts.push(rest);
        rest = tail;
    }
    parts.push(rest);
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                scope.spawn(move || {
                    part.into_iter()
                        .map(|o| into_change(o, masker))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut out = Vec::new();
        for handle in handles {
            match handle.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

/// The inputs of a ring's plan besides the observations.
#[derive(Debug, Clone)]
pub struct RingContext {
    /// The ring's name.
    pub ring: String,
    /// The git state it was rendered from.
    pub git: GitState,
    /// The cluster it is planned against.
    pub cluster: ClusterInfo,
    /// The inventory the apply will record.
    pub inventory: Inventory,
}

/// Assemble a ring's plan: rendered objects in apply order, then the prune set (live objects of
/// the previous inventory, given with their live state) in delete order.
pub fn ring_plan(
    context: RingContext,
    observations: Vec<Observation>,
    pruned: &BTreeMap<ObjectRef, Value>,
    masker: &Masker,
) -> RingPlan {
    let mut changes = Vec::with_capacity(observations.len() + pruned.len());
    let mut rendered = Vec::with_capacity(observations.len());
    for (change, object) in into_changes(observations, masker) {
        changes.push(change);
        rendered.push(object);
    }
    changes.sort_by(|a, b| apply_key(&a.object).cmp(&apply_key(&b.object)));
    let mut prune: Vec<ObjectRef> = pruned.keys().cloned().collect();
    super::order::sort_for_delete(&mut prune);
    for object in &prune {
        if let Some(live) = pruned.get(object) {
            changes.push(deletion(object, live, masker));
        }
    }
    RingPlan {
        ring: context.ring,
        git: context.git,
        cluster: context.cluster,
        summary: Summary::of(&changes),
        changes,
        prune,
        inventory: context.inventory,
        rendered: Some(rendered),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s", "namespace": "qa"}, "data": data})
    }

    fn live(mut v: Value, rv: &str) -> Value {
        v["metadata"]["uid"] = json!("u-1");
        v["metadata"]["resourceVersion"] = json!(rv);
        v["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
        v
    }

    fn obs(rendered: Value, live: Option<Value>, dry_run: DryRun) -> Observation {
        Observation {
            object: ObjectRef::from_value(&rendered).unwrap(),
            source: Some("base/app/cm.yaml".into()),
            rendered,
            live,
            dry_run,
        }
    }

    #[test]
    fn create_update_unchanged() {
        let m = Masker::with_key([1; 32]);
        let c = object_change(
            &obs(
                cm(json!({"a": "1"})),
                None,
                DryRun::Result(live(cm(json!({"a": "1"})), "1")),
            ),
            &m,
        );
        assert_eq!(c.op, ChangeOp::Create);
        assert_eq!(c.live, None);
        let accepted = object_change(&obs(cm(json!({"a": "1"})), None, DryRun::Accepted), &m);
        assert_eq!(accepted, c, "a create needs only the server's yes");

        let cur = live(cm(json!({"a": "1"})), "5");
        let c = object_change(
            &obs(
                cm(json!({"a": "2"})),
                Some(cur.clone()),
                DryRun::Result(live(cm(json!({"a": "2"})), "6")),
            ),
            &m,
        );
        assert_eq!(c.op, ChangeOp::Update);
        assert_eq!(c.before.unwrap()["data"]["a"], "1");
        assert_eq!(c.after.unwrap()["data"]["a"], "2");
        assert_eq!(
            c.live,
            Some(LiveVersion {
                uid: "u-1".into(),
                resource_version: "5".into()
            })
        );

        let c = object_change(
            &obs(
                cm(json!({"a": "1"})),
                Some(cur.clone()),
                DryRun::Result(cur),
            ),
            &m,
        );
        assert_eq!(c.op, ChangeOp::Unchanged);
    }

    #[test]
    fn server_defaults_present_on_both_sides_are_not_a_change() {
        let m = Masker::with_key([1; 32]);
        let rendered = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "qa"},
            "spec": {"ports": [{"port": 80}]}});
        let defaulted = live(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "qa"},
            "spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}], "type": "ClusterIP",
                     "clusterIP": "10.0.0.7", "sessionAffinity": "None"}}),
            "3",
        );
        let c = object_change(
            &obs(rendered, Some(defaulted.clone()), DryRun::Result(defaulted)),
            &m,
        );
        assert_eq!(c.op, ChangeOp::Unchanged);
    }

    #[test]
    fn crd_in_the_same_render_is_a_create_without_dry_run() {
        let m = Masker::with_key([1; 32]);
        let w = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "qa"}});
        let c = object_change(
            &obs(w, None, DryRun::Skipped("CRD created by this plan".into())),
            &m,
        );
        assert_eq!(
            (c.op, c.prediction),
            (ChangeOp::Create, Prediction::Rendered)
        );
        assert_eq!(c.note.as_deref(), Some("CRD created by this plan"));
    }

    #[test]
    fn ring_plan_orders_changes_and_appends_prunes() {
        let m = Masker::with_key([1; 32]);
        let dep = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "qa"}});
        let old = live(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "old", "namespace": "qa"}}),
            "9",
        );
        let observations = vec![
            obs(dep.clone(), None, DryRun::Result(dep)),
            obs(cm(json!({})), None, DryRun::Result(cm(json!({})))),
        ];
        let pruned = BTreeMap::from([(ObjectRef::from_value(&old).unwrap(), old)]);
        let parent = super::super::inventory::parent_ref("qa", "gitops-system");
        let context = RingContext {
            ring: "qa".into(),
            git: GitState::default(),
            cluster: ClusterInfo::default(),
            inventory: Inventory::for_members(parent, observations.iter().map(|o| &o.object)),
        };
        let plan = ring_plan(context, observations, &pruned, &m);
        let kinds: Vec<(&str, ChangeOp)> = plan
            .changes
            .iter()
            .map(|c| (c.object.kind.as_str(), c.op))
            .collect();
        assert_eq!(
            kinds,
            [
                ("ConfigMap", ChangeOp::Create),
                ("Deployment", ChangeOp::Create),
                ("Service", ChangeOp::Delete)
            ]
        );
        assert_eq!(
            plan.summary,
            Summary {
                create: 2,
                update: 0,
                delete: 1,
                unchanged: 0
            }
        );
        assert_eq!(plan.prune.len(), 1);
    }

    #[test]
    fn many_observations_give_the_changes_one_thread_would_in_order() {
        let m = Masker::with_key([1; 32]);
        let observations: Vec<Observation> = (0..PARALLEL_FROM * 3 + 5)
            .map(|i| {
                let mut rendered = cm(json!({"i": i.to_string()}));
                rendered["metadata"]["name"] = json!(format!("cm-{i}"));
                let mut current = live(rendered.clone(), "3");
                current["data"]["i"] = json!(if i % 3 == 0 { "old" } else { "" });
                match i % 3 {
                    0 => obs(rendered.clone(), Some(current), DryRun::Result(rendered)),
                    1 => obs(rendered, None, DryRun::Accepted),
                    _ => obs(rendered, Some(current), DryRun::Skipped("why".into())),
                }
            })
            .collect();
        let one_thread: Vec<(ObjectChange, Value)> = observations
            .iter()
            .map(|o| into_change(o.clone(), &m))
            .collect();
        assert_eq!(into_changes(observations, &m), one_thread);
        assert_eq!(one_thread[0].0.op, ChangeOp::Update);
        assert_eq!(one_thread[1].0.op, ChangeOp::Create);
        assert_eq!(
            one_thread.last().map(|c| &c.0.object.name),
            Some(&"cm-772".to_string())
        );
    }
}
