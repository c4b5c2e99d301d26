//! `Health`: the three-valued readiness of one object (kapp's done/successful/message).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where an object stands on its way to ready.
///
/// Three values, not a bool, after kapp's `DoneApplyState` and `kubectl rollout status`:
/// an object can still be moving (`Progressing`), be there (`Healthy`), or be known never to
/// get there without a change (`Failed`), which is what lets a gate fail fast instead of
/// waiting out its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum Health {
    /// Not there yet; the reason says what is being waited for.
    Progressing(String),
    /// Ready.
    Healthy,
    /// Will not become ready by waiting; the reason says why.
    Failed(String),
}

impl Health {
    /// A `Progressing` health with a reason.
    pub fn progressing(reason: impl Into<String>) -> Self {
        Self::Progressing(reason.into())
    }

    /// A `Failed` health with a reason.
    pub fn failed(reason: impl Into<String>) -> Self {
        Self::Failed(reason.into())
    }

    /// True for `Healthy`.
    pub fn is_healthy(&self) -> bool {
        matches!(self, Self::Healthy)
    }

    /// True for `Failed`.
    pub fn is_failed(&self) -> bool {
        matches!(self, Self::Failed(_))
    }
}

/// `healthy`, `progressing: 1 of 2 updated replicas are available`, `failed: …`.
impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Healthy => f.write_str("healthy"),
            Self::Progressing(reason) => write!(f, "progressing: {reason}"),
            Self::Failed(reason) => write!(f, "failed: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_state_and_reason() {
        assert_eq!(Health::failed("x").to_string(), "failed: x");
        assert_eq!(Health::Healthy.to_string(), "healthy");
    }
}
