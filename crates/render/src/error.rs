//! `RenderError`: every way a build can fail, each naming the file it is about.

use std::path::PathBuf;

/// A build failed. Every variant names the file (a kustomization, a resource, a patch, a
/// generator source) so the one-line message points the user at what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// A file or folder is missing, unreadable, too large, or outside the allowed root.
    #[error("`{}`: {message}", path.display())]
    File {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A YAML text could not be parsed.
    #[error("`{}`{}: invalid YAML: {message}", path.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Yaml {
        /// The file holding the YAML.
        path: PathBuf,
        /// The 1-based line of the problem, when the parser knows it.
        line: Option<u64>,
        /// The parser's message.
        message: String,
    },
    /// A field of a kustomization (or of an object it names) is wrong or unsupported.
    #[error("`{}`: `{field}`: {message}", path.display())]
    Field {
        /// The kustomization (or resource) file.
        path: PathBuf,
        /// The field, e.g. `patches[1].target` or `configMapGenerator[0].files`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl RenderError {
    pub(crate) fn file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::File {
            path: path.into(),
            message: message.into(),
        }
    }

    pub(crate) fn field(
        path: impl Into<PathBuf>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Field {
            path: path.into(),
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn yaml(path: impl Into<PathBuf>, err: &gitops_manifest::YamlError) -> Self {
        Self::Yaml {
            path: path.into(),
            line: err.line,
            message: err.message.clone(),
        }
    }
}
