//! The markdown view of a plan, for a pull-request comment or a pipeline summary.

use std::fmt::Write as _;

use crate::plan::{ChangeOp, Plan};

use super::diff::unified;
use super::text::{change_title, ring_header};

/// Fence a diff so that backticks inside the objects cannot close it early.
fn fence(body: &str) -> String {
    let longest = body
        .lines()
        .map(|l| l.chars().take_while(|c| *c == '`').count())
        .max()
        .unwrap_or(0);
    "`".repeat((longest + 1).max(3))
}

/// The whole plan as markdown: a summary table, then one collapsible diff per changed object.
pub fn render(plan: &Plan) -> String {
    let mut out = String::from(
        "## gitops plan\n\n| ring | create | update | delete | unchanged |\n| --- | ---: | ---: | ---: | ---: |\n",
    );
    for ring in &plan.rings {
        let s = &ring.summary;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            ring.ring, s.create, s.update, s.delete, s.unchanged
        );
    }
    for ring in &plan.rings {
        let _ = writeln!(out, "\n### {}\n", ring_header(ring));
        let changed: Vec<_> = ring
            .changes
            .iter()
            .filter(|c| c.op != ChangeOp::Unchanged)
            .collect();
        if changed.is_empty() {
            out.push_str("No changes.\n");
            continue;
        }
        for change in changed {
            let body = unified(change.before.as_ref(), change.after.as_ref(), "", false);
            let fence = fence(&body);
            let _ = writeln!(
                out,
                "<details><summary><code>{}</code></summary>\n",
                html_escape(&change_title(change))
            );
            if let Some(note) = &change.note {
                let _ = writeln!(out, "_{note}_\n");
            }
            for t in &change.taken_from {
                let _ = writeln!(
                    out,
                    "Takes back from field manager `{}`: `{}`\n",
                    t.manager,
                    t.fields.join("`, `")
                );
            }
            let _ = writeln!(out, "{fence}diff\n{body}{fence}\n</details>\n");
        }
    }
    out
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
