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
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The directory holding `kustomization.yaml`.
    pub dir: PathBuf,
}
