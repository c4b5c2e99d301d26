//! `gitops render [RING…] [--all] [--out DIR]`: build rings of `gitops.yaml`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use gitops_render::DiskFs;
use serde_json::Value;

use crate::cli::{GlobalArgs, RenderArgs};
use crate::config::{Config, Ring};
use crate::exit::Exit;

pub fn run(global: &GlobalArgs, args: &RenderArgs) -> anyhow::Result<Exit> {
    let config = Config::discover(global.repo.as_deref())?;
    let rings = config.select(&args.select.rings, args.select.all)?;
    let fs = DiskFs::new(&config.root)
        .with_context(|| format!("`{}`: cannot open the repo root", config.root.display()))?;
    // Every ring is built before anything is written, so a broken ring leaves no partial output.
    let mut rendered = Vec::with_capacity(rings.len());
    for ring in rings {
        let objects = build(&fs, ring)?;
        let text = gitops_manifest::yaml::to_documents(&objects)
            .with_context(|| format!("ring `{}`: cannot write the objects as YAML", ring.name))?;
        rendered.push(Rendered {
            ring,
            objects: objects.len(),
            text,
        });
    }
    match &args.out {
        Some(dir) => write_files(dir, &rendered)?,
        None => print(&rendered)?,
    }
    Ok(Exit::Success)
}

/// One ring, built and written as YAML.
struct Rendered<'a> {
    ring: &'a Ring,
    objects: usize,
    text: String,
}

/// Build one ring through the renderer, reading only inside the repo root.
fn build(fs: &DiskFs, ring: &Ring) -> anyhow::Result<Vec<Value>> {
    gitops_render::build(fs, &ring.path).with_context(|| format!("ring `{}`", ring.name))
}

/// One stream per ring on stdout, separated by `---`. A closed pipe (`| head`) is not an error.
fn print(rendered: &[Rendered]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    for (i, Rendered { text, .. }) in rendered.iter().enumerate() {
        let separator = if i > 0 { "---\n" } else { "" };
        let written = stdout
            .write_all(separator.as_bytes())
            .and_then(|()| stdout.write_all(text.as_bytes()));
        match written {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            other => other.context("cannot write to stdout")?,
        }
    }
    match stdout.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to stdout"),
    }
}

/// `DIR/<ring>.yaml` per ring; the folder is created when missing.
fn write_files(dir: &Path, rendered: &[Rendered]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("`{}`: cannot create the folder", dir.display()))?;
    for Rendered {
        ring,
        objects,
        text,
    } in rendered
    {
        let file = dir.join(format!("{}.yaml", ring.name));
        std::fs::write(&file, text)
            .with_context(|| format!("`{}`: cannot write", file.display()))?;
        eprintln!(
            "rendered `{}`: {objects} objects to `{}`",
            ring.name,
            file.display()
        );
    }
    Ok(())
}
