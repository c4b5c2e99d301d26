//! `gitops history RING [--output json]`: the revisions of a ring, oldest first.

use std::io::Write as _;

use anyhow::Context as _;

use crate::cli::{GlobalArgs, HistoryArgs, ReportFormat};
use crate::commands::apply::runtime;
use crate::commands::plan::Clusters;
use crate::config::Config;
use crate::exit::Exit;
use crate::history::RevisionSummary;

pub fn run(global: &GlobalArgs, args: &HistoryArgs) -> anyhow::Result<Exit> {
    let config = Config::discover(global.repo.as_deref())?;
    let ring = config
        .select(std::slice::from_ref(&args.ring), false)?
        .remove(0);
    let runtime = runtime()?;
    let revisions = runtime.block_on(async {
        let mut clusters = Clusters::new(global, &config.root)?;
        let cluster = clusters.for_ring(ring).await?;
        let list =
            crate::history::store::list(&cluster, &config.history.namespace, &ring.name).await?;
        clusters.close().await?;
        anyhow::Ok(list)
    })?;
    let body = match args.output {
        ReportFormat::Json => {
            let mut text = serde_json::to_string_pretty(&serde_json::json!({
                "ring": ring.name,
                "revisions": revisions,
            }))
            .context("cannot write the history as JSON")?;
            text.push('\n');
            text
        }
        ReportFormat::Text => table(&ring.name, &revisions),
    };
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(body.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.context("cannot write to stdout")?,
    }
    Ok(Exit::Success)
}

/// The text table, `helm history`-like.
pub fn table(ring: &str, revisions: &[RevisionSummary]) -> String {
    if revisions.is_empty() {
        return format!("ring `{ring}` has no revisions yet\n");
    }
    let rows: Vec<[String; 7]> = revisions
        .iter()
        .map(|r| {
            [
                r.number.to_string(),
                r.time.clone(),
                r.commit
                    .as_deref()
                    .map(|c| c.chars().take(12).collect())
                    .unwrap_or_else(|| "-".into()),
                r.who.clone(),
                r.outcome.as_str().to_string(),
                format!("{:.1}s", r.duration_seconds),
                r.trigger.clone(),
            ]
        })
        .collect();
    let header = [
        "REVISION", "TIME", "COMMIT", "WHO", "OUTCOME", "DURATION", "TRIGGER",
    ]
    .map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows.iter()) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
