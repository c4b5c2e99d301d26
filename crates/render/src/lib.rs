//! A kustomize-compatible renderer: a directory tree in, the objects of a build out.
//!
//! The renderer is pure: every read goes through a [`FileSystem`] door confined to a root
//! (the repository), so tests run on an in-memory tree ([`MemFs`]) and the CLI on the disk
//! ([`DiskFs`]). Paths that leave the root are refused.
//!
//! ```
//! use std::path::Path;
//! use gitops_render::{build, MemFs};
//!
//! let fs = MemFs::new()
//!     .with("app/kustomization.yaml", "namePrefix: dev-\nresources: [cm.yaml]\n")
//!     .with("app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n");
//! let objects = build(&fs, Path::new("app")).unwrap();
//! assert_eq!(objects[0]["metadata"]["name"], "dev-settings");
//! ```
//!
//! What is supported, faithful to kustomize v5.5 (`kubectl kustomize`): `resources` (files,
//! folders, nested kustomizations; `bases`), `components`, `namespace`, `namePrefix` /
//! `nameSuffix` with name references rewritten, `labels` / `commonLabels`,
//! `commonAnnotations`, `images`, `replicas`, `patches` (strategic merge and JSON 6902,
//! inline or from files, all target selectors), `patchesStrategicMerge`, `patchesJson6902`,
//! `configMapGenerator` / `secretGenerator` (with behaviours, `generatorOptions` and the
//! content-hash suffix), `replacements`, `configurations`, `sortOptions`, and the built-in plugins under
//! `generators` / `transformers` (`apiVersion: builtin`). Other plugins, Helm,
//! `vars`, `openapi`, `crds`, remote resources and `buildMetadata` are refused with an
//! error naming the field.

mod build;
mod config;
mod error;
mod fieldspec;
mod fs;
mod generator;
mod hash;
mod kustomization;
mod loader;
mod origin;
mod plugins;
mod resmap;
mod resource;
mod selector;
mod sort;
mod transform;

use std::path::Path;

use serde_json::Value;

pub use error::RenderError;
pub use fs::{DiskFs, FileSystem, FsError, MemFs};
pub use origin::{Built, Origin};

/// Build the kustomization in `dir` (a path relative to the file system's root) and return
/// its objects in kustomize's output order. Errors name the file (and line or field).
pub fn build(fs: &dyn FileSystem, dir: &Path) -> Result<Vec<Value>, RenderError> {
    let dir = fs::join(Path::new(""), &dir.to_string_lossy())
        .ok_or_else(|| RenderError::file(dir, "is outside the repository root (refused)"))?;
    build::Builder::new(fs).build(&dir)
}

/// [`build`], each object with its [`Origin`]: the file it was declared in (for generator
/// output, the file declaring the generator) and the line of its `name:` there. The objects
/// are exactly those of [`build`], in the same order.
pub fn build_with_origins(fs: &dyn FileSystem, dir: &Path) -> Result<Vec<Built>, RenderError> {
    let dir = fs::join(Path::new(""), &dir.to_string_lossy())
        .ok_or_else(|| RenderError::file(dir, "is outside the repository root (refused)"))?;
    build::Builder::with_origins(fs).build_with_origins(&dir)
}

/// Build and print as multi-document YAML (what `gitops build` writes).
pub fn build_yaml(fs: &dyn FileSystem, dir: &Path) -> Result<String, RenderError> {
    let objects = build(fs, dir)?;
    gitops_manifest::yaml::to_documents(&objects).map_err(|e| RenderError::yaml(dir, &e))
}
