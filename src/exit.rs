//! The exit-code table (DESIGN.md §2), in one place.

use std::process::ExitCode;

/// Every way `gitops` can end, and the code the shell sees for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success, or a plan with no changes.
    Success = 0,
    /// Bad input, an unreachable cluster, a stale plan, a failed validation.
    Error = 1,
    /// `plan --detailed-exitcode` found changes.
    Changes = 2,
    /// A health gate failed (the ring was rolled back unless `--no-rollback`).
    GateFailed = 3,
    /// Blocked: an approval was required and not given, or the ring is locked.
    Blocked = 4,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}
