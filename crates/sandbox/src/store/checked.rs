//! Field-validation verdicts remembered per stored version: a server-side apply that changes
//! nothing hands the decoder an object equal to the stored version, and decoding it through its
//! typed schema again (the costliest step of such a request) would give the same answer.
//!
//! A verdict is kept for a stored version (an `Arc` the store never changes) and a validation
//! mode; it holds the warnings of an accepted object that needed no pruning. The entry holds a
//! `Weak` of the version, so its address is not reused while the entry exists, and a version no
//! longer stored anywhere simply stops matching.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use serde_json::Value;

/// Entries beyond which dead versions are dropped (and, if that is not enough, all of them).
const MAX_ENTRIES: usize = 16_384;

/// The remembered verdicts.
#[derive(Default)]
pub(super) struct Checked {
    entries: HashMap<(usize, u8), (Weak<Value>, Vec<String>)>,
}

impl Checked {
    /// The warnings remembered for `version` under the mode `mode`, if any.
    pub(super) fn get(&self, version: &Arc<Value>, mode: u8) -> Option<Vec<String>> {
        let (weak, warnings) = self.entries.get(&(key(version), mode))?;
        let same = weak
            .upgrade()
            .is_some_and(|stored| Arc::ptr_eq(&stored, version));
        same.then(|| warnings.clone())
    }

    /// Remembers that `version` was accepted under `mode` with `warnings` and nothing pruned.
    pub(super) fn insert(&mut self, version: &Arc<Value>, mode: u8, warnings: Vec<String>) {
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.retain(|_, (weak, _)| weak.strong_count() > 0);
            if self.entries.len() >= MAX_ENTRIES {
                self.entries.clear();
            }
        }
        self.entries
            .insert((key(version), mode), (Arc::downgrade(version), warnings));
    }
}

fn key(version: &Arc<Value>) -> usize {
    Arc::as_ptr(version) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_verdict_matches_only_its_version_and_mode() {
        let mut checked = Checked::default();
        let version = Arc::new(json!({"kind": "ConfigMap"}));
        let equal_copy = Arc::new(json!({"kind": "ConfigMap"}));
        checked.insert(&version, 1, vec!["w".into()]);
        assert_eq!(checked.get(&version, 1), Some(vec!["w".to_string()]));
        assert_eq!(checked.get(&version, 2), None);
        assert_eq!(checked.get(&equal_copy, 1), None);
    }
}
