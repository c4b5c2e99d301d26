//! `gitops build DIR`: a kustomize-compatible build of one directory.

use crate::cli::BuildArgs;
use crate::exit::Exit;

pub fn run(args: &BuildArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("`{}`: the renderer is not wired in yet", args.dir.display())
}
