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
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build one kustomize directory to stdout as multi-document YAML.
    Build(BuildArgs),
    /// Build the named rings (or all) of `gitops.yaml`.
    Render(RenderArgs),
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
