//! `Loader`: file access on behalf of one kustomization, with kustomize's load restriction
//! (files a kustomization names must be in or below its folder) and the repository root.

use std::path::{Path, PathBuf};

use crate::error::RenderError;
use crate::fs::{FileSystem, FsError, join};

/// Reads on behalf of the kustomization in `dir`.
pub struct Loader<'a> {
    pub fs: &'a dyn FileSystem,
    /// The kustomization's folder (root-relative).
    pub dir: PathBuf,
    /// The kustomization file, for error messages.
    pub kfile: PathBuf,
}

/// Show a root-relative path the way the user wrote it.
pub fn shown(path: &Path) -> PathBuf {
    if path.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        path.to_path_buf()
    }
}

pub fn fs_error(path: &Path, e: &FsError) -> RenderError {
    RenderError::file(shown(path), e.to_string())
}

impl Loader<'_> {
    /// Resolve a path written in the kustomization; refused when it leaves the repository root.
    pub fn resolve(&self, rel: &str, field: &str) -> Result<PathBuf, RenderError> {
        join(&self.dir, rel).ok_or_else(|| {
            RenderError::field(
                &self.kfile,
                field,
                format!("`{rel}` is outside the repository root (refused)"),
            )
        })
    }

    /// Read a file that must lie in or below the kustomization's folder.
    pub fn read_local(&self, rel: &str, field: &str) -> Result<(PathBuf, Vec<u8>), RenderError> {
        let path = self.resolve(rel, field)?;
        if !path.starts_with(&self.dir) {
            return Err(RenderError::field(
                &self.kfile,
                field,
                format!(
                    "security: file `{}` is not in or below `{}`",
                    path.display(),
                    shown(&self.dir).display()
                ),
            ));
        }
        let bytes = self.fs.read(&path).map_err(|e| match e {
            FsError::NotFound => RenderError::field(
                &self.kfile,
                field,
                format!("`{}`: no such file", path.display()),
            ),
            e => fs_error(&path, &e),
        })?;
        Ok((path, bytes))
    }

    /// Read a file as UTF-8 text (see [`Loader::read_local`]).
    pub fn read_text(&self, rel: &str, field: &str) -> Result<(PathBuf, String), RenderError> {
        let (path, bytes) = self.read_local(rel, field)?;
        let text =
            String::from_utf8(bytes).map_err(|_| RenderError::file(&path, "not UTF-8 text"))?;
        Ok((path, text))
    }
}
