//! `gitops apply [RING…] [--all] [--approve RING…|all] [--yes] [--no-rollback] [--no-force] [--plan FILE]`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::Context as _;

use crate::apply::cancel;
use crate::apply::release::{Decision, PlanSource, RingRequest, RingResult, run_ring};
use crate::apply::ring::Options;
use crate::apply::view::{self, Live, RingReport};
use crate::cli::{ApplyArgs, GateArgs, GlobalArgs, ReportFormat};
use crate::commands::plan::Clusters;
use crate::config::{Config, Ring};
use crate::exit::Exit;
use crate::plan::pipeline::git_state;
use crate::plan::{GitState, Plan, RingPlan, SCHEMA_VERSION};

pub fn run(global: &GlobalArgs, args: &ApplyArgs) -> anyhow::Result<Exit> {
    let config = Config::discover(global.repo.as_deref())?;
    let saved: Option<Plan> = match &args.plan {
        Some(path) => Some(read_plan(path)?),
        None => None,
    };
    let rings: Vec<&Ring> = match &saved {
        // A saved plan names its rings; a selection narrows them.
        Some(plan) if args.select.rings.is_empty() && !args.select.all => {
            let names: Vec<String> = plan.rings.iter().map(|r| r.ring.clone()).collect();
            config.select(&names, false)?
        }
        _ => config.select(&args.select.rings, args.select.all)?,
    };
    check_approvals(&config, &args.gate.approve)?;
    let runtime = runtime()?;
    let git = git_state(&config.root);
    let options = options(&args.gate, saved.is_some(), "apply".into());
    let work: Vec<(&Ring, PlanSource<'_>)> = rings
        .into_iter()
        .map(|ring| {
            let source = match &saved {
                Some(plan) => match plan.rings.iter().find(|r| r.ring == ring.name) {
                    Some(p) => Ok(PlanSource::Saved(p)),
                    None => Err(anyhow::anyhow!(
                        "ring `{}` is not in the plan file `{}`",
                        ring.name,
                        args.plan
                            .as_deref()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default()
                    )),
                },
                None => Ok(PlanSource::Fresh),
            };
            source.map(|s| (ring, s))
        })
        .collect::<anyhow::Result<_>>()?;
    let reports = runtime.block_on(async {
        let mut clusters = Clusters::new(global, &config.root)?;
        let reports = release(&config, &mut clusters, work, &args.gate, &options, git).await;
        // The sandbox writes its state here; a failure to do so is an error of the run.
        clusters.close().await?;
        anyhow::Ok(reports)
    })?;
    finish(&reports, args.gate.output)
}

/// Run rings in order; the first that does not succeed stops the release.
pub(crate) async fn release(
    config: &Config,
    clusters: &mut Clusters,
    work: Vec<(&Ring, PlanSource<'_>)>,
    gate: &GateArgs,
    options: &Options,
    git: GitState,
) -> Vec<(RingReport, Exit)> {
    let (trigger, cancel) = cancel::pair();
    cancel::on_signals(trigger);
    let live = Live::new();
    let confirm = confirmer(gate.yes, gate.output);
    let mut reports = Vec::new();
    let mut stopped: Option<String> = None;
    for (ring, source) in work {
        if let Some(because) = &stopped {
            reports.push((view::not_run(&ring.name, because), Exit::Success));
            continue;
        }
        let result = match clusters.for_ring(ring).await {
            Err(e) => RingResult::Error {
                reason: format!("ring `{}`: {e}", ring.name),
            },
            Ok(cluster) => {
                let request = RingRequest {
                    config,
                    ring,
                    cluster: &cluster,
                    plan: source,
                    git: git.clone(),
                    approved: approved(&gate.approve, &ring.name),
                    options: options.clone(),
                };
                run_ring(request, &confirm, &live, &cancel).await
            }
        };
        if !result.succeeded() {
            stopped = Some(format!("ring `{}` did not succeed", ring.name));
        }
        let exit = result.exit();
        reports.push((view::report(&ring.name, &result), exit));
    }
    live.finish();
    reports
}

/// Print the report and pick the exit code: the first ring that did not succeed decides.
pub(crate) fn finish(reports: &[(RingReport, Exit)], format: ReportFormat) -> anyhow::Result<Exit> {
    let list: Vec<&RingReport> = reports.iter().map(|(r, _)| r).collect();
    let body = match format {
        ReportFormat::Text => view::text(list.iter().copied()),
        ReportFormat::Json => {
            let mut text = serde_json::to_string_pretty(&serde_json::json!({ "rings": list }))
                .context("cannot write the report as JSON")?;
            text.push('\n');
            text
        }
    };
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(body.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.context("cannot write to stdout")?,
    }
    Ok(reports
        .iter()
        .map(|(_, e)| *e)
        .find(|e| *e != Exit::Success)
        .unwrap_or(Exit::Success))
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub(crate) fn options(gate: &GateArgs, check_stale: bool, trigger: String) -> Options {
    Options {
        force: !gate.no_force,
        rollback: !gate.no_rollback,
        check_stale,
        trigger,
        who: crate::lock::holder_identity(),
    }
}

/// `--approve` names must be rings (or `all`): a typo must not silently leave a ring blocked.
pub(crate) fn check_approvals(config: &Config, approve: &[String]) -> anyhow::Result<()> {
    for name in approve {
        if name != "all" && config.ring(name).is_none() {
            let names: Vec<&str> = config.rings.iter().map(|r| r.name.as_str()).collect();
            anyhow::bail!(
                "`--approve {name}`: no such ring in `{}` (rings: {})",
                config.file.display(),
                names.join(", ")
            );
        }
    }
    Ok(())
}

fn approved(approve: &[String], ring: &str) -> bool {
    approve.iter().any(|a| a == "all" || a == ring)
}

/// The prompt: on a terminal, show the ring's plan and ask; elsewhere nobody can be asked
/// (an approval-required ring is then blocked, with its plan printed).
fn confirmer(
    yes: bool,
    format: ReportFormat,
) -> impl Fn(&RingPlan, bool) -> Option<Decision> + Sync {
    let interactive = std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
        && format == ReportFormat::Text;
    move |plan: &RingPlan, required: bool| {
        if !required && (yes || !plan.summary.has_changes()) {
            return Some(Decision::Yes);
        }
        let text = plan_text(plan);
        if !interactive {
            if required {
                // Blocked: the plan is what the approver needs to see.
                let _ = std::io::stdout().lock().write_all(text.as_bytes());
                return None;
            }
            return Some(Decision::Yes);
        }
        tokio::task::block_in_place(|| {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(text.as_bytes());
            let what = if required {
                "requires approval. Apply it"
            } else {
                "Apply it"
            };
            let _ = write!(err, "ring `{}` {what}? [y/N] ", plan.ring);
            let _ = err.flush();
            let mut answer = String::new();
            let _ = std::io::stdin().lock().read_line(&mut answer);
            match answer.trim().to_ascii_lowercase().as_str() {
                "y" | "yes" => Some(Decision::Yes),
                _ => Some(Decision::No),
            }
        })
    }
}

fn plan_text(plan: &RingPlan) -> String {
    let whole = Plan {
        schema_version: SCHEMA_VERSION,
        generated_at: String::new(),
        rings: vec![plan.clone()],
    }
    .without_rendered();
    crate::output::text::render(
        &whole,
        crate::output::text::TextStyle {
            colour: false,
            azure_groups: false,
        },
    )
}

fn read_plan(path: &std::path::Path) -> anyhow::Result<Plan> {
    let text = std::fs::read(path)
        .with_context(|| format!("`{}`: cannot read the plan file", path.display()))?;
    let plan: Plan = serde_json::from_slice(&text).with_context(|| {
        format!(
            "`{}`: not a plan file written by `gitops plan --out`",
            path.display()
        )
    })?;
    if plan.schema_version != SCHEMA_VERSION {
        anyhow::bail!(
            "`{}`: plan schema version {} is not supported by this build (expected {SCHEMA_VERSION})",
            path.display(),
            plan.schema_version
        );
    }
    Ok(plan)
}
