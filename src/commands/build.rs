//! `gitops build DIR`: a kustomize-compatible build of one directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use gitops_render::DiskFs;

use crate::cli::{BuildArgs, GlobalArgs};
use crate::exit::Exit;

/// The root reads are confined to: `--repo`, else the nearest folder upward holding
/// `gitops.yaml`, else the nearest holding `.git`, else the file-system root (kustomize's own
/// per-kustomization load restriction still applies).
fn root_for(dir: &Path, repo: Option<&Path>) -> PathBuf {
    if let Some(r) = repo {
        return r.to_path_buf();
    }
    for marker in ["gitops.yaml", ".git"] {
        if let Some(found) = dir.ancestors().find(|a| a.join(marker).exists()) {
            return found.to_path_buf();
        }
    }
    dir.ancestors()
        .last()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"))
}

pub fn run(global: &GlobalArgs, args: &BuildArgs) -> anyhow::Result<Exit> {
    let dir = args
        .dir
        .canonicalize()
        .with_context(|| format!("`{}`: no such directory", args.dir.display()))?;
    let root = root_for(&dir, global.repo.as_deref());
    let fs = DiskFs::new(&root)
        .with_context(|| format!("`{}`: cannot open the repository root", root.display()))?;
    let rel = dir.strip_prefix(fs.root()).map_err(|_| {
        anyhow::anyhow!(
            "`{}` is outside the repository root `{}` (refused)",
            args.dir.display(),
            root.display()
        )
    })?;
    let text = gitops_render::build_yaml(&fs, rel)?;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A closed pipe (`gitops build … | head`) is not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(Exit::Success),
    }
}
