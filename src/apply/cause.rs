//! What made a ring run fail, and the outcome it records: a health gate (exit 3) or an apply
//! call (exit 1), each either left as it is or rolled back (DESIGN.md §2, §6; docs/apply.md).

use crate::history::Outcome;

/// What failed. DESIGN.md §2 keeps exit 3 for "a health gate failed"; an apply call that the
/// API refused (or a cluster that could not be reached mid-run) is an error, exit 1, even when
/// the automatic rollback undid it. The outcome must say which, so `history` tells the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The health gate, the CRD wait or the soak found the ring unhealthy.
    Gate,
    /// A call that writes the ring (apply, prune, the ApplySet parent) or the gate's reads failed.
    Apply,
}

impl Cause {
    /// The outcome when the ring is left as the failure left it: `--no-rollback`
    /// (`rollback_failed` false), or a rollback that did not bring it back healthy.
    pub fn left(self, rollback_failed: bool) -> Outcome {
        match (self, rollback_failed) {
            (Self::Gate, false) => Outcome::Failed,
            (Self::Gate, true) => Outcome::RollbackFailed,
            // The message and the rollback record say whether a rollback was tried.
            (Self::Apply, _) => Outcome::Error,
        }
    }

    /// The outcome when the rollback restored the earlier objects and they passed the gate.
    pub fn rolled_back(self) -> Outcome {
        match self {
            Self::Gate => Outcome::RolledBack,
            Self::Apply => Outcome::ErrorRolledBack,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::release::RingResult;
    use crate::exit::Exit;
    use crate::history::Revision;

    fn ran(outcome: Outcome) -> RingResult {
        RingResult::Ran {
            revision: Box::new(Revision {
                ring: "qa".into(),
                number: 2,
                commit: None,
                who: "ana@box (pid 1)".into(),
                trigger: "apply".into(),
                started: String::new(),
                finished: String::new(),
                outcome,
                message: String::new(),
                gates: Vec::new(),
                diagnosis: Vec::new(),
                manifests: Vec::new(),
                inventory: Vec::new(),
                pruned: Vec::new(),
                snapshot: Default::default(),
                rollback: None,
            }),
            record_error: None,
        }
    }

    #[test]
    fn a_failed_apply_call_that_was_rolled_back_is_an_error_not_a_failed_gate() {
        let undone = Cause::Apply.rolled_back();
        assert_eq!(undone, Outcome::ErrorRolledBack);
        assert_eq!(undone.as_str(), "error-rolled-back");
        assert!(undone.is_rolled_back() && !undone.is_success());
        assert_eq!(ran(undone).exit(), Exit::Error);
        assert!(!ran(undone).succeeded(), "the release stops at this ring");
        // Left as it is: with --no-rollback, or a rollback that failed.
        assert_eq!(ran(Cause::Apply.left(false)).exit(), Exit::Error);
        assert_eq!(ran(Cause::Apply.left(true)).exit(), Exit::Error);
    }

    #[test]
    fn a_failed_gate_is_exit_3_rolled_back_or_not() {
        assert_eq!(Cause::Gate.rolled_back(), Outcome::RolledBack);
        assert_eq!(Cause::Gate.left(false), Outcome::Failed);
        assert_eq!(Cause::Gate.left(true), Outcome::RollbackFailed);
        for o in [
            Cause::Gate.rolled_back(),
            Cause::Gate.left(false),
            Cause::Gate.left(true),
        ] {
            assert_eq!(ran(o).exit(), Exit::GateFailed, "{o:?}");
        }
    }
}
