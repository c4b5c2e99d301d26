//! The file-system door: every read of the renderer goes through `FileSystem`, confined to a root.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use gitops_manifest::yaml::MAX_INPUT_BYTES;

/// Why a path could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FsError {
    /// Nothing exists at the path.
    #[error("no such file or directory")]
    NotFound,
    /// The path is a directory where a file was expected.
    #[error("is a directory, not a file")]
    IsDir,
    /// The path (or a symbolic link on the way) leads outside the root.
    #[error("is outside the repository root")]
    Escapes,
    /// The file is larger than the renderer accepts.
    #[error("is {0} bytes, over the limit of {MAX_INPUT_BYTES} bytes")]
    TooLarge(u64),
    /// Any other I/O failure.
    #[error("{0}")]
    Io(String),
}

/// Read-only access to a tree of files. Paths are relative to the tree's root, already
/// normalised by [`join`] (no `..`, no leading `/`).
pub trait FileSystem: Send + Sync {
    /// The bytes of a file; refuses directories, missing files and files over
    /// [`MAX_INPUT_BYTES`].
    fn read(&self, path: &Path) -> Result<Vec<u8>, FsError>;
    /// Whether a directory exists at `path`.
    fn is_dir(&self, path: &Path) -> bool;
    /// Whether a regular file exists at `path`.
    fn is_file(&self, path: &Path) -> bool;
}

/// Join `relative` onto the root-relative directory `base` and normalise the result
/// lexically; `None` when the result would leave the root (too many `..` or an absolute path).
pub fn join(base: &Path, relative: &str) -> Option<PathBuf> {
    let rel = Path::new(relative);
    if rel.is_absolute() {
        return None;
    }
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in base.components().chain(rel.components()) {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.iter().collect())
}

/// The real disk, confined to a root folder: symbolic links that lead out of it are refused.
#[derive(Debug, Clone)]
pub struct DiskFs {
    root: PathBuf,
}

impl DiskFs {
    /// A door onto the folder `root` (resolved to its canonical path).
    pub fn new(root: &Path) -> Result<Self, FsError> {
        let root = root.canonicalize().map_err(|e| io_error(&e))?;
        Ok(Self { root })
    }

    /// The canonical root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolve a root-relative path on disk, following symbolic links, and refuse
    /// anything that ends up outside the root.
    fn resolve(&self, path: &Path) -> Result<PathBuf, FsError> {
        let full = self.root.join(path);
        let real = full.canonicalize().map_err(|e| io_error(&e))?;
        if !real.starts_with(&self.root) {
            return Err(FsError::Escapes);
        }
        Ok(real)
    }
}

fn io_error(e: &std::io::Error) -> FsError {
    match e.kind() {
        std::io::ErrorKind::NotFound => FsError::NotFound,
        _ => FsError::Io(e.to_string()),
    }
}

impl FileSystem for DiskFs {
    fn read(&self, path: &Path) -> Result<Vec<u8>, FsError> {
        use std::io::Read as _;
        let real = self.resolve(path)?;
        // The size and kind come from the open file: one path lookup fewer per file.
        let mut file = std::fs::File::open(&real).map_err(|e| io_error(&e))?;
        let meta = file.metadata().map_err(|e| io_error(&e))?;
        if meta.is_dir() {
            return Err(FsError::IsDir);
        }
        if meta.len() > MAX_INPUT_BYTES as u64 {
            return Err(FsError::TooLarge(meta.len()));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0) + 1);
        file.read_to_end(&mut bytes).map_err(|e| io_error(&e))?;
        Ok(bytes)
    }

    // Existence checks follow links without resolving them (cheap); every read resolves
    // and refuses a path that ends outside the root, so a link cannot leak content.
    fn is_dir(&self, path: &Path) -> bool {
        self.root.join(path).is_dir()
    }

    fn is_file(&self, path: &Path) -> bool {
        self.root.join(path).is_file()
    }
}

/// An in-memory tree for tests: files by root-relative path; folders are implied.
#[derive(Debug, Clone, Default)]
pub struct MemFs {
    files: BTreeMap<PathBuf, Vec<u8>>,
}

impl MemFs {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add (or replace) a file; returns `self` for chaining.
    pub fn with(mut self, path: &str, content: impl Into<Vec<u8>>) -> Self {
        self.insert(path, content);
        self
    }

    /// Add (or replace) a file.
    pub fn insert(&mut self, path: &str, content: impl Into<Vec<u8>>) {
        let key = join(Path::new(""), path).unwrap_or_else(|| PathBuf::from(path));
        self.files.insert(key, content.into());
    }
}

impl FileSystem for MemFs {
    fn read(&self, path: &Path) -> Result<Vec<u8>, FsError> {
        match self.files.get(path) {
            Some(bytes) if bytes.len() > MAX_INPUT_BYTES => {
                Err(FsError::TooLarge(bytes.len() as u64))
            }
            Some(bytes) => Ok(bytes.clone()),
            None if self.is_dir(path) => Err(FsError::IsDir),
            None => Err(FsError::NotFound),
        }
    }

    fn is_dir(&self, path: &Path) -> bool {
        if path.as_os_str().is_empty() {
            return true;
        }
        self.files.keys().any(|k| k != path && k.starts_with(path))
    }

    fn is_file(&self, path: &Path) -> bool {
        self.files.contains_key(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_normalises_and_refuses_escapes() {
        assert_eq!(
            join(Path::new("a/b"), "../c/./d.yaml"),
            Some(PathBuf::from("a/c/d.yaml"))
        );
        assert_eq!(join(Path::new("a"), "../../x"), None);
        assert_eq!(join(Path::new("a"), "/etc/passwd"), None);
    }

    #[test]
    fn memfs_knows_files_and_implied_folders() {
        let fs = MemFs::new().with("app/kustomization.yaml", "resources: []");
        assert!(fs.is_dir(Path::new("app")));
        assert!(fs.is_file(Path::new("app/kustomization.yaml")));
        assert_eq!(fs.read(Path::new("app")), Err(FsError::IsDir));
        assert_eq!(fs.read(Path::new("nope")), Err(FsError::NotFound));
    }

    #[test]
    fn diskfs_refuses_symlinks_out_of_the_root() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "x").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), root.path().join("link"))
            .unwrap();
        let fs = DiskFs::new(root.path()).unwrap();
        assert_eq!(fs.read(Path::new("link")), Err(FsError::Escapes));
    }
}
