//! A unified diff of two object states, as YAML lines (`similar`), optionally coloured.

use std::fmt::Write as _;

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
    let mut out = String::new();
    write_unified(&mut out, before, after, indent, colour);
    out
}

/// [`unified`], appended to `out`.
pub fn write_unified(
    out: &mut String,
    before: Option<&Value>,
    after: Option<&Value>,
    indent: &str,
    colour: bool,
) {
    let (old, new) = (yaml(before), yaml(after));
    let label = |name: &'static str, present: bool| if present { name } else { "/dev/null" };
    out.push_str(indent);
    out.push_str("--- ");
    out.push_str(label("live", before.is_some()));
    out.push('\n');
    out.push_str(indent);
    out.push_str("+++ ");
    out.push_str(label("planned", after.is_some()));
    out.push('\n');
    hunks(out, &old, &new, indent, colour);
}

/// The hunks from text `old` to text `new`.
fn hunks(out: &mut String, old: &str, new: &str, indent: &str, colour: bool) {
    // A create or a deletion is one hunk of added or removed lines: no diff to compute. The
    // lines, the hunk header and the colours are exactly what `similar` gives for an empty side.
    if old.is_empty() {
        one_sided(out, new, ChangeTag::Insert, indent, colour);
    } else if new.is_empty() {
        one_sided(out, old, ChangeTag::Delete, indent, colour);
    } else {
        diffed_hunks(out, old, new, indent, colour);
    }
}

/// The hunks `similar` finds.
fn diffed_hunks(out: &mut String, old: &str, new: &str, indent: &str, colour: bool) {
    let diff = TextDiff::from_lines(old, new);
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        hunk_header(out, &hunk.header(), indent, colour);
        for change in hunk.iter_changes() {
            line(out, change.tag(), change.value(), indent, colour);
        }
    }
}

fn hunk_header(out: &mut String, header: &dyn std::fmt::Display, indent: &str, colour: bool) {
    if colour {
        let _ = writeln!(out, "{indent}{CYAN}{header}{RESET}");
    } else {
        let _ = writeln!(out, "{indent}{header}");
    }
}

/// One line of a hunk; `text` is the line as `similar` splits it (its newline included).
fn line(out: &mut String, tag: ChangeTag, text: &str, indent: &str, colour: bool) {
    let (sign, code) = match tag {
        ChangeTag::Delete => ('-', RED),
        ChangeTag::Insert => ('+', GREEN),
        ChangeTag::Equal => (' ', ""),
    };
    let text = text.trim_end_matches('\n');
    out.push_str(indent);
    if colour && !code.is_empty() {
        out.push_str(code);
        out.push(sign);
        out.push_str(text);
        out.push_str(RESET);
    } else {
        out.push(sign);
        out.push_str(text);
    }
    out.push('\n');
}

/// The hunk of a diff against an empty text: every line of `text` inserted (or deleted).
fn one_sided(out: &mut String, text: &str, tag: ChangeTag, indent: &str, colour: bool) {
    let lines = split_lines(text);
    if lines.is_empty() {
        return;
    }
    // `similar`'s ranges: an empty one is written `0,0`, one line `1`, more `1,N`.
    let full = if lines.len() == 1 {
        "1".to_string()
    } else {
        format!("1,{}", lines.len())
    };
    let header = match tag {
        ChangeTag::Delete => format!("@@ -{full} +0,0 @@"),
        _ => format!("@@ -0,0 +{full} @@"),
    };
    hunk_header(out, &header, indent, colour);
    for text in lines {
        line(out, tag, text, indent, colour);
    }
}

/// Lines as `similar::TextDiff::from_lines` splits them: after each `\n`, `\r\n` or lone `\r`,
/// the line break kept with its line.
fn split_lines(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let end = match bytes[i] {
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => i + 2,
            b'\r' | b'\n' => i + 1,
            _ => {
                i += 1;
                continue;
            }
        };
        lines.push(&text[start..end]);
        start = end;
        i = end;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
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
    fn a_create_or_a_deletion_is_what_similar_gives_for_an_empty_side() {
        let texts = [
            "",
            "a\n",
            "a",
            "a\nb\n",
            "a\nb",
            "a\r\nb\rc\n\nd",
            "\n\n",
            "kind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: |\n    one\n    two\n",
        ];
        for text in texts {
            for colour in [false, true] {
                for (old, new) in [("", text), (text, "")] {
                    let mut fast = String::new();
                    hunks(&mut fast, old, new, "  ", colour);
                    let mut diffed = String::new();
                    diffed_hunks(&mut diffed, old, new, "  ", colour);
                    assert_eq!(fast, diffed, "{old:?} -> {new:?}");
                }
            }
        }
        let created = unified(None, Some(&json!({"a": 1, "b": [1, 2]})), "", false);
        assert_eq!(
            created,
            "--- /dev/null\n+++ planned\n@@ -0,0 +1,4 @@\n+a: 1\n+b:\n+- 1\n+- 2\n"
        );
        let deleted = unified(Some(&json!({"a": 1})), None, "", false);
        assert_eq!(deleted, "--- live\n+++ /dev/null\n@@ -1 +0,0 @@\n-a: 1\n");
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
