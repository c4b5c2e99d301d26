//! Staleness: a saved plan is bound to the live versions it was computed against; before it is
//! applied, every bound object is read again and any that moved is named.

use std::collections::BTreeMap;

use gitops_manifest::ObjectRef;
use serde::Serialize;

use super::change::LiveVersion;
use super::model::RingPlan;

/// How a bound object moved since the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "how")]
pub enum Movement {
    /// It was absent when planned and exists now.
    Appeared,
    /// It existed when planned and is gone now.
    Disappeared,
    /// It was deleted and re-created (another `uid`).
    Replaced,
    /// It was written since (another `resourceVersion`).
    Modified {
        /// The planned resourceVersion.
        planned: String,
        /// The current one.
        current: String,
    },
}

/// One object that moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Moved {
    /// Which object.
    pub object: ObjectRef,
    /// How.
    pub movement: Movement,
}

impl std::fmt::Display for Moved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.movement {
            Movement::Appeared => write!(f, "`{}` was created since the plan", self.object),
            Movement::Disappeared => write!(f, "`{}` was deleted since the plan", self.object),
            Movement::Replaced => write!(
                f,
                "`{}` was deleted and re-created since the plan",
                self.object
            ),
            Movement::Modified { planned, current } => write!(
                f,
                "`{}` changed since the plan (resourceVersion {planned} → {current})",
                self.object
            ),
        }
    }
}

/// The objects a ring plan is bound to, with the live version each was planned against.
pub fn bindings(plan: &RingPlan) -> Vec<(ObjectRef, Option<LiveVersion>)> {
    plan.changes
        .iter()
        .map(|c| (c.object.clone(), c.live.clone()))
        .collect()
}

/// Compare the bound versions with the current ones (`None`: absent now); every object that
/// moved is returned, in the order of `bound`.
pub fn moved(
    bound: &[(ObjectRef, Option<LiveVersion>)],
    current: &BTreeMap<ObjectRef, Option<LiveVersion>>,
) -> Vec<Moved> {
    let mut out = Vec::new();
    for (object, planned) in bound {
        let now = current.get(object).cloned().flatten();
        let movement = match (planned, now) {
            (None, None) => continue,
            (None, Some(_)) => Movement::Appeared,
            (Some(_), None) => Movement::Disappeared,
            (Some(p), Some(c)) if p.uid != c.uid => Movement::Replaced,
            (Some(p), Some(c)) if p.resource_version != c.resource_version => Movement::Modified {
                planned: p.resource_version.clone(),
                current: c.resource_version,
            },
            (Some(_), Some(_)) => continue,
        };
        out.push(Moved {
            object: object.clone(),
            movement,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(uid: &str, rv: &str) -> Option<LiveVersion> {
        Some(LiveVersion {
            uid: uid.into(),
            resource_version: rv.into(),
        })
    }

    #[test]
    fn names_every_object_that_moved_and_only_those() {
        let id = |n: &str| ObjectRef::new("", None, "ConfigMap", Some("qa".into()), n);
        let bound = vec![
            (id("same"), v("u1", "1")),
            (id("edited"), v("u2", "1")),
            (id("recreated"), v("u3", "1")),
            (id("deleted"), v("u4", "1")),
            (id("new"), None),
            (id("still-absent"), None),
        ];
        let current = BTreeMap::from([
            (id("same"), v("u1", "1")),
            (id("edited"), v("u2", "7")),
            (id("recreated"), v("u9", "8")),
            (id("deleted"), None),
            (id("new"), v("u5", "2")),
        ]);
        let names: Vec<String> = moved(&bound, &current)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            names,
            [
                "`ConfigMap qa/edited` changed since the plan (resourceVersion 1 → 7)",
                "`ConfigMap qa/recreated` was deleted and re-created since the plan",
                "`ConfigMap qa/deleted` was deleted since the plan",
                "`ConfigMap qa/new` was created since the plan",
            ]
        );
    }
}
