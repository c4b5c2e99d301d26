//! `gitops plan [RING…] [--all] [--out FILE] [--output FORMAT] [--detailed-exitcode]`.

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::path::Path;

use anyhow::Context as _;

use crate::cli::{GlobalArgs, PlanArgs, PlanFormat};
use crate::cluster::sandbox::SandboxSession;
use crate::cluster::{Cluster, KubeconfigTarget};
use crate::config::{Config, Ring};
use crate::exit::Exit;
use crate::output::ci::{self, Annotation, Ci};
use crate::output::progress::Progress;
use crate::output::{json, markdown, text};
use crate::plan::pipeline::{RingFailure, git_state, plan_scanned, render_with_sources};
use crate::plan::sources::Sources;
use crate::plan::{GitState, Masker, Plan, SCHEMA_VERSION};

/// Where rings are planned: one sandbox, or a kubeconfig context per ring (connections reused).
pub(crate) enum Clusters {
    Sandbox(SandboxSession),
    Kubeconfig {
        base: KubeconfigTarget,
        open: BTreeMap<Option<String>, Cluster>,
    },
}

impl Clusters {
    /// Must be called inside a tokio runtime (the sandbox starts its controllers).
    pub(crate) fn new(
        global: &GlobalArgs,
        root: &Path,
    ) -> Result<Self, crate::cluster::ClusterError> {
        Ok(if global.sandbox {
            Self::Sandbox(SandboxSession::open(root)?)
        } else {
            Self::Kubeconfig {
                base: KubeconfigTarget {
                    path: global.kubeconfig.clone(),
                    context: global.context.clone(),
                },
                open: BTreeMap::new(),
            }
        })
    }

    /// Release the connections; the sandbox writes its state.
    pub(crate) async fn close(self) -> Result<(), crate::cluster::ClusterError> {
        match self {
            Self::Sandbox(session) => session.close().await,
            Self::Kubeconfig { .. } => Ok(()),
        }
    }

    /// The cluster of `ring`: `--context`, else the ring's `context`, else the current context.
    pub(crate) async fn for_ring(
        &mut self,
        ring: &Ring,
    ) -> Result<Cluster, crate::cluster::ClusterError> {
        match self {
            Self::Sandbox(session) => Ok(session.cluster()),
            Self::Kubeconfig { base, open } => {
                let context = base.context.clone().or_else(|| ring.context.clone());
                if let Some(cluster) = open.get(&context) {
                    return Ok(cluster.clone());
                }
                let target = KubeconfigTarget {
                    path: base.path.clone(),
                    context: context.clone(),
                };
                let cluster = Cluster::from_kubeconfig(&target).await?;
                open.insert(context, cluster.clone());
                Ok(cluster)
            }
        }
    }
}

pub fn run(global: &GlobalArgs, args: &PlanArgs) -> anyhow::Result<Exit> {
    let config = Config::discover(global.repo.as_deref())?;
    let rings = config.select(&args.select.rings, args.select.all)?;
    let ci = Ci::from_env();
    // One thread drives every request: the plan's work per answer is small, and a
    // multi-threaded scheduler spends more CPU handing 32 connections between its workers
    // (wake-ups, context switches) than it gains (measured at N=500: about a fifth of the
    // plan's CPU). The in-process sandbox serves on the same runtime and gets the workers.
    let runtime = if global.sandbox {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    }
    .enable_all()
    .build()
    .context("cannot start the async runtime")?;
    let masker = Masker::random();
    let guard = runtime.enter();
    let mut clusters = Clusters::new(global, &config.root)?;
    drop(guard);
    let mut planned = Vec::with_capacity(rings.len());
    let mut failed = None;
    std::thread::scope(|scope| {
        // The git state needs only the repository: it is read on a thread of its own while
        // the first ring renders and the cluster is connected.
        let mut repo = GitRead::Running(scope.spawn(|| git_state(&config.root)));
        for ring in &rings {
            // Rendering (CPU only) runs on its own thread while the cluster is connected. The
            // renderer also says where each object was declared (for errors and annotations).
            let (tx, rx) = tokio::sync::oneshot::channel();
            let renderer = scope.spawn(|| {
                let _ = tx.send(render_with_sources(&config, ring));
            });
            let ready = runtime.block_on(render_and_connect(&mut clusters, ring, rx));
            let ((objects, sources), cluster) = match ready {
                Some(Ok(ready)) => ready,
                Some(Err(failure)) => {
                    failed = Some(failure);
                    break;
                }
                // The renderer sent nothing: it panicked; carry its panic on.
                None => match renderer.join() {
                    Err(panic) => std::panic::resume_unwind(panic),
                    Ok(()) => anyhow::bail!("rendering ring `{}` gave no result", ring.name),
                },
            };
            let git = repo.get()?;
            let result = runtime.block_on(async {
                let progress = Progress::start(&ring.name, objects.len());
                let tick = || progress.tick();
                let result = plan_scanned(
                    &cluster,
                    &config,
                    ring,
                    objects,
                    &sources,
                    git.clone(),
                    &masker,
                    &tick,
                )
                .await;
                progress.finish();
                result
            });
            match result {
                Ok(plan) => planned.push(plan),
                Err(failure) => {
                    failed = Some(failure);
                    break;
                }
            }
        }
        Ok::<_, anyhow::Error>(())
    })?;
    runtime.block_on(clusters.close())?;
    if let Some(failure) = failed {
        return fail(ci.as_ref(), &failure);
    }
    let plan = Plan {
        schema_version: SCHEMA_VERSION,
        generated_at: now(),
        rings: planned,
    };
    if let Some(path) = &args.out {
        write_plan_file(path, &plan)?;
    }
    print(&plan, args.output, ci.as_ref(), &config.root)?;
    let exit = exit_for(&plan, args.detailed_exitcode);
    // The process ends here: freeing thousands of objects one by one would only delay the exit
    // (about 5 % of the plan's CPU at N=500); the operating system takes the memory back at once.
    std::mem::forget(plan);
    Ok(exit)
}

/// The repository's git state: being read, or read.
enum GitRead<'scope> {
    Running(std::thread::ScopedJoinHandle<'scope, GitState>),
    Done(GitState),
    Taken,
}

impl GitRead<'_> {
    /// Wait for the read (once) and lend its result.
    fn get(&mut self) -> anyhow::Result<&GitState> {
        if let Self::Running(_) = self {
            let Self::Running(handle) = std::mem::replace(self, Self::Taken) else {
                anyhow::bail!("the git state read was lost");
            };
            let git = match handle.join() {
                Ok(done) => done,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            *self = Self::Done(git);
        }
        match self {
            Self::Done(git) => Ok(git),
            _ => anyhow::bail!("the git state read was lost"),
        }
    }
}

/// A ring's rendered objects and where they were declared.
type Rendered = (Vec<serde_json::Value>, Sources);

/// Wait for the ring's render (from `rendered`) while connecting to its cluster. A render
/// error is reported before a connection error, as when the two ran one after the other, and
/// without waiting for a slow connection. `None` when the renderer sent nothing (it panicked).
async fn render_and_connect(
    clusters: &mut Clusters,
    ring: &Ring,
    rendered: tokio::sync::oneshot::Receiver<Result<Rendered, RingFailure>>,
) -> Option<Result<(Rendered, Cluster), RingFailure>> {
    use futures::future::Either;
    let connect_failure = |e: crate::cluster::ClusterError| RingFailure {
        ring: ring.name.clone(),
        errors: vec![Annotation {
            file: None,
            line: None,
            message: e.to_string(),
        }],
    };
    let connecting = std::pin::pin!(clusters.for_ring(ring));
    let (objects, connected) = match futures::future::select(rendered, connecting).await {
        Either::Left((objects, connecting)) => match objects.ok()? {
            Err(failure) => return Some(Err(failure)),
            Ok(objects) => (objects, connecting.await),
        },
        Either::Right((connected, rendered)) => match rendered.await.ok()? {
            Err(failure) => return Some(Err(failure)),
            Ok(objects) => (objects, connected),
        },
    };
    Some(
        connected
            .map(|cluster| (objects, cluster))
            .map_err(connect_failure),
    )
}

/// 0 without changes or without `--detailed-exitcode`; 2 with both.
pub(crate) fn exit_for(plan: &Plan, detailed: bool) -> Exit {
    if detailed && plan.has_changes() {
        Exit::Changes
    } else {
        Exit::Success
    }
}

/// Report a ring failure (with CI annotations) and end with exit 1.
pub(crate) fn fail(ci: Option<&Ci>, failure: &RingFailure) -> anyhow::Result<Exit> {
    if let Some(ci) = ci {
        ci::error_report(ci, &failure.errors)
            .emit()
            .context("cannot write CI annotations")?;
    }
    eprintln!("error: {failure}");
    Ok(Exit::Error)
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Print a plan in the chosen format, plus the CI outputs when in CI.
pub(crate) fn print(
    plan: &Plan,
    format: PlanFormat,
    ci: Option<&Ci>,
    root: &Path,
) -> anyhow::Result<()> {
    let body = match format {
        PlanFormat::Text => text::render(
            plan,
            text::TextStyle {
                colour: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
                azure_groups: matches!(ci, Some(Ci::AzureDevOps { .. })),
            },
        ),
        PlanFormat::Json => json::render(plan).context("cannot write the plan as JSON")?,
        PlanFormat::Markdown => markdown::render(plan),
    };
    write_stdout(&body)?;
    if let Some(ci) = ci {
        let md = markdown::render(plan);
        ci::plan_report(ci, plan, &md, &root.join(".gitops"))
            .emit()
            .context("cannot write CI outputs")?;
    }
    Ok(())
}

/// Write to stdout; a closed pipe (`| head`) is not an error.
fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to stdout"),
    }
}

/// Write a plan file with mode 0600 (it holds the unmasked rendered objects).
pub(crate) fn write_plan_file(path: &Path, plan: &Plan) -> anyhow::Result<()> {
    let text = serde_json::to_vec_pretty(plan).context("cannot write the plan as JSON")?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("`{}`: cannot write the plan file", path.display()))?;
    // An existing file keeps its mode on open; make sure it is private whatever it was.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| {
                format!(
                    "`{}`: cannot restrict the plan file to its owner",
                    path.display()
                )
            })?;
    }
    file.write_all(&text)
        .with_context(|| format!("`{}`: cannot write the plan file", path.display()))?;
    Ok(())
}
