//! The command-line surface: clap definitions only, no behaviour.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A declarative GitOps diff-and-apply engine for Kubernetes.
#[derive(Debug, Parser)]
#[command(name = "gitops", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The repository root (the folder holding `gitops.yaml`); default: searched upward from here.
    #[arg(long, global = true, value_name = "PATH")]
    pub repo: Option<PathBuf>,

    /// The kubeconfig file; default: `KUBECONFIG`, then `~/.kube/config`.
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "sandbox")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context for every ring; default: the ring's `context`, then the current one.
    #[arg(long, global = true, value_name = "NAME", conflicts_with = "sandbox")]
    pub context: Option<String>,

    /// Target the embedded Kubernetes API emulator (state under `.gitops/sandbox/`) instead of a cluster.
    #[arg(long, global = true)]
    pub sandbox: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build one kustomize directory to stdout as multi-document YAML.
    Build(BuildArgs),
    /// Build the named rings (or all) of `gitops.yaml`.
    Render(RenderArgs),
    /// Diff the rings against the live cluster (server-side dry-run); optionally save the plan.
    Plan(PlanArgs),
    /// Print a saved plan file.
    Show(ShowArgs),
    /// Validate the rendered objects against the Kubernetes schemas, offline (no cluster).
    Validate(ValidateArgs),
    /// Apply rings in `gitops.yaml` order: lock, approval, ordered server-side apply, health
    /// gate, automatic rollback on failure, soak, revision record.
    Apply(ApplyArgs),
    /// List the revisions of a ring (newest last).
    History(HistoryArgs),
    /// Re-deploy an earlier revision of a ring as a new revision, through the same gates.
    Rollback(RollbackArgs),
    /// Remove a ring's lock left behind by a run that died.
    Unlock(UnlockArgs),
    /// Serve the Kubernetes API emulator over HTTPS for kubectl (writes a kubeconfig; the global
    /// `--kubeconfig FILE` says where, default `.gitops/sandbox/kubeconfig`).
    Sandbox(SandboxArgs),
    /// Keep the rings in step with a git branch: a daemon that applies each new commit ring by
    /// ring (same gates and rollback as `apply`), reports drift, and serves health, metrics and
    /// status. `--repo` takes a folder or a URL (https, ssh, file://).
    Watch(WatchArgs),
    /// Approve a commit for a ring with `approval: required`, for the watch daemon.
    Approve(ApproveArgs),
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The directory holding `kustomization.yaml`.
    pub dir: PathBuf,
}

/// Which rings of `gitops.yaml` a command works on (shared by render, plan, validate, apply).
#[derive(Debug, Args)]
pub struct RingSelection {
    /// Rings by name; they are always handled in the order of `gitops.yaml`.
    #[arg(value_name = "RING", conflicts_with = "all")]
    pub rings: Vec<String>,

    /// Every ring of `gitops.yaml`.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub select: RingSelection,

    /// Write one file per ring, `DIR/<ring>.yaml`, instead of printing to stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// How a plan is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PlanFormat {
    /// Summary and coloured unified diffs.
    #[default]
    Text,
    /// The versioned JSON schema of `docs/plan-json.md`.
    Json,
    /// Markdown, for a pull-request comment or a pipeline summary.
    Markdown,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub select: RingSelection,

    /// Save the plan (for `gitops show` and `gitops apply --plan`); written with mode 0600.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text, value_name = "FORMAT")]
    pub output: PlanFormat,

    /// Exit 2 when there are changes (0: none, 1: error).
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The plan file written by `gitops plan --out`.
    pub file: PathBuf,

    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text, value_name = "FORMAT")]
    pub output: PlanFormat,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub select: RingSelection,
}

/// How `apply`, `rollback` and `history` print their result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ReportFormat {
    /// Human text.
    #[default]
    Text,
    /// JSON.
    Json,
}

/// Flags shared by `apply` and `rollback`: how rings are gated and approved.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// Approve rings with `approval: required` (names, comma-separated or repeated, or `all`).
    #[arg(long, value_name = "RING", value_delimiter = ',', num_args = 1..)]
    pub approve: Vec<String>,

    /// Do not ask for confirmation of rings that need no approval.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// On a failed gate, leave the ring as it is instead of rolling it back.
    #[arg(long)]
    pub no_rollback: bool,

    /// Fail on fields owned by another field manager instead of taking them over.
    #[arg(long)]
    pub no_force: bool,

    /// How to print the result (progress always goes to stderr).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text, value_name = "FORMAT")]
    pub output: ReportFormat,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub select: RingSelection,

    #[command(flatten)]
    pub gate: GateArgs,

    /// Apply exactly this saved plan (`gitops plan --out`); refused when the cluster moved since.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The ring.
    pub ring: String,

    /// How to print the revisions.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text, value_name = "FORMAT")]
    pub output: ReportFormat,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The ring.
    pub ring: String,

    /// The revision to re-deploy; default: the last successful one before the current.
    #[arg(long, value_name = "N")]
    pub to: Option<u64>,

    #[command(flatten)]
    pub gate: GateArgs,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The ring whose lock to remove.
    pub ring: String,
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// The loopback address to serve on; port 0 picks a free port (printed at start).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:6443")]
    pub listen: std::net::SocketAddr,

    /// Load the cluster from this file at start and keep it there (written after changes and at
    /// exit); without it the cluster lives in memory only.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// How much faster than real time the simulated controllers run (1: a pod is Ready about a
    /// second after it is created).
    #[arg(long, value_name = "N", default_value = "1")]
    pub time_scale: String,

    /// Faults to inject: e.g. `verb=patch,resource=deployments,error=0.2;latency=50ms`, or
    /// `@FILE` for a YAML file (see docs/sandbox.md); default: `GITOPS_SANDBOX_FAULTS`.
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<String>,
}

/// How the daemon writes its log lines (stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The branch to follow; default: the checked-out branch of a folder, the default branch of a URL.
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,

    /// How often to fetch a URL and to re-plan for drift (a folder is also watched for commits).
    #[arg(long, value_name = "DURATION", default_value = "1m")]
    pub interval: crate::duration::Duration,

    /// Serve `/healthz`, `/readyz`, `/metrics` and `/status` on this address.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<std::net::SocketAddr>,

    /// Correct drift by applying git again (default: only report it).
    #[arg(long)]
    pub self_heal: bool,

    /// Only these rings (names, comma-separated or repeated); default: all.
    #[arg(long, value_name = "RING", value_delimiter = ',', num_args = 1..)]
    pub rings: Vec<String>,

    /// How log lines are written.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub log_format: LogFormat,

    /// Where a URL is cloned; default: `$XDG_CACHE_HOME/gitops/watch` (or `~/.cache/...`).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Run rings only while holding the leader Lease (for several replicas in a cluster).
    #[arg(long)]
    pub leader_elect: bool,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The ring waiting for an approval.
    pub ring: String,

    /// The commit to approve (full id, or a prefix of at least 7 characters).
    pub commit: String,
}
