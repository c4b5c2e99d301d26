//! The human view of a plan: per ring a summary, then a unified diff per changed object in
//! apply order. It prints; it never decides.

use std::fmt::Write as _;

use crate::plan::{ChangeOp, ObjectChange, Plan, RingPlan, Summary};

use super::diff::write_unified;

/// How the text view is dressed.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextStyle {
    /// ANSI colour (on a TTY only).
    pub colour: bool,
    /// Wrap each diff in Azure DevOps `##[group]`/`##[endgroup]` markers.
    pub azure_groups: bool,
}

fn sign(op: ChangeOp) -> &'static str {
    match op {
        ChangeOp::Create => "+",
        ChangeOp::Update => "~",
        ChangeOp::Delete => "-",
        ChangeOp::Unchanged => "=",
    }
}

/// `create 2, update 1, delete 0, unchanged 7`
pub fn summary_line(s: &Summary) -> String {
    format!(
        "create {}, update {}, delete {}, unchanged {}",
        s.create, s.update, s.delete, s.unchanged
    )
}

/// The header of one ring: name, cluster and commit.
pub fn ring_header(ring: &RingPlan) -> String {
    let mut where_ = ring.cluster.server.clone();
    if let Some(ctx) = &ring.cluster.context {
        where_ = format!("context `{ctx}`, {where_}");
    }
    let commit = match &ring.git.commit {
        Some(c) => format!(
            " at {}{}",
            &c[..c.len().min(12)],
            if ring.git.dirty { " (dirty)" } else { "" }
        ),
        None if ring.git.dirty => " (uncommitted)".to_string(),
        None => String::new(),
    };
    format!("ring `{}` ({where_}){commit}", ring.ring)
}

/// The title of one object's change: `~ update apps/Deployment qa/web (from base/web/deployment.yaml)`.
pub fn change_title(change: &ObjectChange) -> String {
    let mut title = format!(
        "{} {} {}",
        sign(change.op),
        change.op.as_str(),
        change.object
    );
    if let Some(source) = &change.source {
        let _ = write!(title, " (from {source})");
    }
    title
}

fn render_change(out: &mut String, change: &ObjectChange, style: TextStyle) {
    let title = change_title(change);
    if style.azure_groups {
        let _ = writeln!(out, "##[group]{title}");
    } else {
        let _ = writeln!(out, "{title}");
    }
    if let Some(note) = &change.note {
        let _ = writeln!(out, "    note: {note}");
    }
    for takeover in &change.taken_from {
        let _ = writeln!(
            out,
            "    takes back from field manager `{}`: {}",
            takeover.manager,
            takeover.fields.join(", ")
        );
    }
    write_unified(
        out,
        change.before.as_ref(),
        change.after.as_ref(),
        "    ",
        style.colour,
    );
    if style.azure_groups {
        out.push_str("##[endgroup]\n");
    }
}

/// Changed objects below this many are formatted on one thread.
const PARALLEL_FROM: usize = 256;

/// The changes' text, in order. With thousands of changes their YAML and diffs are most of the
/// output's cost, and it comes after the cluster has answered: it is shared out over the cores.
fn render_changes(changes: &[&ObjectChange], style: TextStyle) -> String {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let one_part = |part: &[&ObjectChange]| {
        let mut out = String::new();
        for change in part {
            render_change(&mut out, change, style);
        }
        out
    };
    if cores < 2 || changes.len() < PARALLEL_FROM {
        return one_part(changes);
    }
    let size = changes.len().div_ceil(cores);
    std::thread::scope(|scope| {
        let parts: Vec<_> = changes
            .chunks(size)
            .map(|part| scope.spawn(move || one_part(part)))
            .collect();
        let mut out = String::new();
        for part in parts {
            match part.join() {
                Ok(text) => out.push_str(&text),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

/// The whole plan as text.
pub fn render(plan: &Plan, style: TextStyle) -> String {
    let mut out = String::new();
    for (i, ring) in plan.rings.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{}", ring_header(ring));
        let _ = writeln!(out, "  {}", summary_line(&ring.summary));
        let changed: Vec<&ObjectChange> = ring
            .changes
            .iter()
            .filter(|c| c.op != ChangeOp::Unchanged)
            .collect();
        if changed.is_empty() {
            let _ = writeln!(out, "  no changes");
            continue;
        }
        out.push('\n');
        out.push_str(&render_changes(&changed, style));
    }
    let total = plan.rings.iter().fold(Summary::default(), |mut t, r| {
        t.create += r.summary.create;
        t.update += r.summary.update;
        t.delete += r.summary.delete;
        t.unchanged += r.summary.unchanged;
        t
    });
    let _ = writeln!(
        out,
        "\nPlan: {} to create, {} to update, {} to delete, {} unchanged.",
        total.create, total.update, total.delete, total.unchanged
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::mask::Masker;
    use serde_json::json;

    /// Deletions of `n` ConfigMaps, each with its own data.
    fn deletions(n: usize) -> Vec<ObjectChange> {
        let masker = Masker::random();
        (0..n)
            .map(|i| {
                let live = json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": format!("cm-{i}"), "namespace": "shop"},
                    "data": {"index": i.to_string()},
                });
                let id = gitops_manifest::ObjectRef::from_value(&live).expect("an object id");
                crate::plan::compute::deletion(&id, &live, &masker)
            })
            .collect()
    }

    #[test]
    fn many_changes_are_printed_in_order_as_one_thread_would() {
        let changes = deletions(PARALLEL_FROM * 3 + 7);
        let refs: Vec<&ObjectChange> = changes.iter().collect();
        let style = TextStyle::default();
        let mut expected = String::new();
        for change in &refs {
            render_change(&mut expected, change, style);
        }
        let printed = render_changes(&refs, style);
        assert_eq!(printed, expected);
        let first = printed.find("cm-0\n").expect("the first change");
        let last = printed
            .find(&format!("cm-{}", changes.len() - 1))
            .expect("the last change");
        assert!(first < last, "changes out of order");
    }
}
