//! `Revision`: the record of one ring run, what `gitops history` lists and `gitops rollback`
//! re-deploys.

use gitops_manifest::ObjectRef;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::apply::diagnosis::Diagnosis;
use crate::apply::snapshot::{RollbackStep, Snapshot};
use crate::health::Health;

/// How a ring run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Applied, gate passed, soak passed.
    Succeeded,
    /// Nothing to change; the gate still passed.
    Unchanged,
    /// The gate (or soak) failed and the ring was rolled back to its earlier objects. Exit 3.
    RolledBack,
    /// The gate failed and the rollback itself did not complete or its gate failed.
    RollbackFailed,
    /// The gate failed and `--no-rollback` left the ring as it was.
    Failed,
    /// An apply call failed (the API refused an object or could not be reached) and the ring
    /// was left as it was then: with `--no-rollback`, or because the rollback did not complete
    /// or its gate failed (the message and the rollback record say which). Exit 1.
    Error,
    /// An apply call failed (not a gate) and the ring was rolled back to its earlier objects,
    /// which passed the gate again. Exit 1, not 3: no health gate failed (DESIGN.md §2).
    ErrorRolledBack,
    /// Ctrl-C or SIGTERM stopped the run.
    Interrupted,
}

impl Outcome {
    /// The word used in tables and labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Unchanged => "unchanged",
            Self::RolledBack => "rolled-back",
            Self::RollbackFailed => "rollback-failed",
            Self::Failed => "failed",
            Self::Error => "error",
            Self::ErrorRolledBack => "error-rolled-back",
            Self::Interrupted => "interrupted",
        }
    }

    /// Parse [`Outcome::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Succeeded,
            Self::Unchanged,
            Self::RolledBack,
            Self::RollbackFailed,
            Self::Failed,
            Self::Error,
            Self::ErrorRolledBack,
            Self::Interrupted,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
    }

    /// Whether the ring ended on this revision's manifests, healthy: what `rollback` goes back to.
    pub fn is_success(self) -> bool {
        matches!(self, Self::Succeeded | Self::Unchanged)
    }

    /// Whether the run was undone automatically and the ring is back on its earlier objects,
    /// healthy (after a failed gate or a failed apply call).
    pub fn is_rolled_back(self) -> bool {
        matches!(self, Self::RolledBack | Self::ErrorRolledBack)
    }
}

/// One health-gate evaluation: which phase, how it ended, how long it took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GateResult {
    /// `crds`, `gate`, `soak`, `rollback-gate`.
    pub phase: String,
    /// `passed`, `failed`, `timed-out`, `interrupted`.
    pub result: String,
    /// Seconds spent.
    pub seconds: f64,
    /// The objects that were not healthy at the end, with their health.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unhealthy: Vec<(ObjectRef, Health)>,
}

/// What the rollback did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackRecord {
    /// The steps, in the order they ran.
    pub steps: Vec<RollbackStep>,
    /// Errors of steps that failed (`restore apps/Deployment qa/web: …`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// The record of one ring run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    /// The ring.
    pub ring: String,
    /// 1, 2, 3, … per ring.
    pub number: u64,
    /// The git commit the manifests came from, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Who ran it: `user@host`, or the CI run.
    pub who: String,
    /// What started it: `apply`, `rollback --to 3`, `watch`.
    pub trigger: String,
    /// Start and end (RFC 3339, UTC).
    pub started: String,
    /// End time (RFC 3339, UTC).
    pub finished: String,
    /// How it ended.
    pub outcome: Outcome,
    /// A one-line explanation of the outcome.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Every gate evaluation, in order.
    #[serde(default)]
    pub gates: Vec<GateResult>,
    /// The diagnosis of the failure, when a gate failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnosis: Vec<Diagnosis>,
    /// The manifests this revision deploys (rendered, labelled): `rollback --to` re-applies them.
    pub manifests: Vec<Value>,
    /// The ring's inventory after this run (the objects `gitops` owns).
    pub inventory: Vec<ObjectRef>,
    /// The objects this run pruned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pruned: Vec<ObjectRef>,
    /// The state before the run of everything it changed.
    pub snapshot: Snapshot,
    /// The rollback, when one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackRecord>,
}

/// What `gitops history` shows of a revision (read from labels and annotations, without
/// decompressing the record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionSummary {
    /// The revision number.
    pub number: u64,
    /// Start time (RFC 3339, UTC).
    pub time: String,
    /// The git commit, when known.
    pub commit: Option<String>,
    /// Who ran it.
    pub who: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Seconds from start to end.
    pub duration_seconds: f64,
    /// What started it.
    pub trigger: String,
}

/// Seconds between two RFC 3339 times; 0 when either does not parse.
pub fn duration_seconds(start: &str, end: &str) -> f64 {
    match (
        chrono::DateTime::parse_from_rfc3339(start),
        chrono::DateTime::parse_from_rfc3339(end),
    ) {
        (Ok(s), Ok(e)) => (e - s).num_milliseconds() as f64 / 1000.0,
        _ => 0.0,
    }
}

/// The revision `gitops rollback` goes back to by default: the newest successful revision
/// before the one deployed now. What is deployed now is the newest revision, unless it was
/// rolled back automatically, in which case it is the newest success before it.
pub fn default_rollback_target(revisions: &[RevisionSummary]) -> Option<u64> {
    let mut sorted: Vec<&RevisionSummary> = revisions.iter().collect();
    sorted.sort_by_key(|r| std::cmp::Reverse(r.number));
    let latest = sorted.first()?;
    let successes_before = |n: u64| {
        sorted
            .iter()
            .filter(move |r| r.number < n && r.outcome.is_success())
            .map(|r| r.number)
    };
    let current = if latest.outcome.is_rolled_back() {
        successes_before(latest.number).next()?
    } else {
        latest.number
    };
    successes_before(current).next()
}

/// The revision numbers to delete so that only the `keep` newest remain.
pub fn expired(numbers: &[u64], keep: u32) -> Vec<u64> {
    let mut sorted = numbers.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.into_iter().skip(keep.max(1) as usize).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(number: u64, outcome: Outcome) -> RevisionSummary {
        RevisionSummary {
            number,
            time: String::new(),
            commit: None,
            who: "me@host".into(),
            outcome,
            duration_seconds: 0.0,
            trigger: "apply".into(),
        }
    }

    #[test]
    fn default_target_is_the_last_success_before_the_current() {
        let revs = [
            summary(1, Outcome::Succeeded),
            summary(2, Outcome::Succeeded),
            summary(3, Outcome::RolledBack),
            summary(4, Outcome::Succeeded),
        ];
        assert_eq!(default_rollback_target(&revs), Some(2));
        assert_eq!(default_rollback_target(&revs[..1]), None);
        // 3 was rolled back automatically: 2 is deployed, so the target is 1.
        assert_eq!(default_rollback_target(&revs[..3]), Some(1));
        let broken = [summary(1, Outcome::Succeeded), summary(2, Outcome::Failed)];
        assert_eq!(default_rollback_target(&broken), Some(1));
        // An apply call failed in 3 and was undone: 2 is deployed, as after a failed gate.
        let undone = [
            summary(1, Outcome::Succeeded),
            summary(2, Outcome::Succeeded),
            summary(3, Outcome::ErrorRolledBack),
        ];
        assert_eq!(default_rollback_target(&undone), Some(1));
        // Left half-applied (no rollback): 2 is the last good one.
        let half = [
            summary(1, Outcome::Succeeded),
            summary(2, Outcome::Succeeded),
            summary(3, Outcome::Error),
        ];
        assert_eq!(default_rollback_target(&half), Some(2));
    }

    #[test]
    fn keeps_the_newest() {
        assert_eq!(expired(&[1, 5, 3, 4, 2], 3), vec![2, 1]);
        assert!(expired(&[1, 2], 20).is_empty());
    }

    #[test]
    fn outcome_words_round_trip_and_durations_compute() {
        for o in [
            Outcome::Succeeded,
            Outcome::Unchanged,
            Outcome::RolledBack,
            Outcome::RollbackFailed,
            Outcome::Failed,
            Outcome::Error,
            Outcome::ErrorRolledBack,
            Outcome::Interrupted,
        ] {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(
            duration_seconds("2026-01-01T00:00:00Z", "2026-01-01T00:01:30.5Z"),
            90.5
        );
    }
}
