//! A unified diff of two object states, as YAML lines (`similar`), optionally coloured.

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const RESET: &str = "\x1b[0m";

fn yaml(value: Option<&Value>) -> String {
    match value {
        // The YAML door cannot fail on a JSON value; fall back to JSON rather than lose the diff.
        Some(v) => gitops_manifest::yaml::to_string(v)
            .unwrap_or_else(|_| serde_json::to_string_pretty(v).unwrap_or_default()),
        None => String::new(),
    }
}

/// The unified diff from `before` to `after` (`None`: absent), three lines of context, each
/// line prefixed with `indent`; coloured with ANSI codes when `colour`.
pub fn unified(
    before: Option<&Value>,
    after: Option<&Value>,
    indent: &str,
    colour: bool,
) -> String {
    let (old, new) = (yaml(before), yaml(after));
    let diff = TextDiff::from_lines(&old, &new);
    let mut out = String::new();
    let header = |label: &str, present: bool| {
        if present {
            label.to_string()
        } else {
            "/dev/null".to_string()
        }
    };
    let (old_label, new_label) = (
        header("live", before.is_some()),
        header("planned", after.is_some()),
    );
    out.push_str(&format!(
        "{indent}--- {old_label}\n{indent}+++ {new_label}\n"
    ));
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        let range = hunk.header().to_string();
        if colour {
            out.push_str(&format!("{indent}{CYAN}{range}{RESET}\n"));
        } else {
            out.push_str(&format!("{indent}{range}\n"));
        }
        for change in hunk.iter_changes() {
            let (sign, code) = match change.tag() {
                ChangeTag::Delete => ('-', RED),
                ChangeTag::Insert => ('+', GREEN),
                ChangeTag::Equal => (' ', ""),
            };
            let text = change.value().trim_end_matches('\n');
            if colour && !code.is_empty() {
                out.push_str(&format!("{indent}{code}{sign}{text}{RESET}\n"));
            } else {
                out.push_str(&format!("{indent}{sign}{text}\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shows_only_the_changed_line_with_context() {
        let before = json!({"data": {"a": "1", "b": "2"}, "kind": "ConfigMap"});
        let after = json!({"data": {"a": "1", "b": "3"}, "kind": "ConfigMap"});
        let text = unified(Some(&before), Some(&after), "", false);
        assert!(
            text.contains("-  b: '2'") || text.contains("-  b: \"2\""),
            "{text}"
        );
        assert!(
            text.contains("+  b: '3'") || text.contains("+  b: \"3\""),
            "{text}"
        );
        assert!(
            text.contains("   a: '1'") || text.contains("   a: \"1\""),
            "{text}"
        );
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn colour_only_when_asked() {
        let text = unified(None, Some(&json!({"a": 1})), "  ", true);
        assert!(text.contains("\x1b[32m+a: 1\x1b[0m"), "{text:?}");
        assert!(
            text.starts_with("  --- /dev/null\n  +++ planned\n"),
            "{text}"
        );
    }
}
