//! `Source`: where the daemon reads commits. A local repository is read in place (the
//! committed `HEAD` of the branch, never the work tree, so half-saved files are never
//! deployed); a URL is cloned once into a cache folder and fetched on every interval.
//! Everything here blocks (libgit2): callers run it on a blocking thread.

use std::path::{Path, PathBuf};

use git2::{
    AutotagOption, BranchType, Direction, ErrorClass, ErrorCode, FetchOptions, Oid, ProxyOptions,
    Repository,
};
use sha2::{Digest as _, Sha256};

use super::credentials::{callbacks, redact};

/// Why a commit could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The local path is not inside a git repository.
    #[error("`{path}`: not inside a git repository ({message})")]
    NotARepo {
        /// The path given.
        path: PathBuf,
        /// libgit2's words.
        message: String,
    },
    /// The branch is not there.
    #[error("`{repo}`: branch `{branch}` does not exist")]
    NoBranch {
        /// The repository (redacted URL or path).
        repo: String,
        /// The branch.
        branch: String,
    },
    /// The repository has no commit to deploy yet.
    #[error("`{repo}`: no commit yet ({message})")]
    NoCommit {
        /// The repository.
        repo: String,
        /// libgit2's words.
        message: String,
    },
    /// Fetching failed (network, credentials, no such repository).
    #[error("`{repo}`: fetch failed: {message}")]
    Fetch {
        /// The redacted URL.
        repo: String,
        /// libgit2's words (never a credential).
        message: String,
    },
    /// Any other failure reading the repository or writing the checkout.
    #[error("`{repo}`: {message}")]
    Other {
        /// The repository or path.
        repo: String,
        /// What failed.
        message: String,
    },
}

/// A commit the daemon may deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The full commit id.
    pub commit: String,
    /// The branch it is the tip of.
    pub branch: String,
}

enum Location {
    /// A repository on this machine: its top folder and the repo root (`gitops.yaml`) inside.
    Local {
        top: PathBuf,
        git_dir: PathBuf,
        subdir: PathBuf,
    },
    /// A remote repository and its cache folder (a bare clone).
    Remote { url: String, cache: PathBuf },
}

/// Where commits come from.
pub struct Source {
    location: Location,
    branch: Option<String>,
}

/// Whether `spec` names a remote repository rather than a folder: `scheme://…` or the
/// scp-like `user@host:path`.
pub fn is_url(spec: &str) -> bool {
    if spec.contains("://") {
        return true;
    }
    match spec.split_once(':') {
        Some((left, _)) => left.contains('@') && !left.contains('/'),
        None => false,
    }
}

fn other(repo: &str, e: impl std::fmt::Display) -> GitError {
    GitError::Other {
        repo: repo.to_string(),
        message: e.to_string(),
    }
}

impl Source {
    /// A local repository holding (or above) `path`.
    pub fn local(path: &Path, branch: Option<String>) -> Result<Self, GitError> {
        let not_repo = |e: git2::Error| GitError::NotARepo {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        };
        let repo = Repository::discover(path).map_err(not_repo)?;
        let top = repo
            .workdir()
            .ok_or_else(|| GitError::NotARepo {
                path: path.to_path_buf(),
                message: "a bare repository: pass it as `file://` URL".into(),
            })?
            .to_path_buf();
        let top = top
            .canonicalize()
            .map_err(|e| other(&path.display().to_string(), e))?;
        let full = path
            .canonicalize()
            .map_err(|e| other(&path.display().to_string(), e))?;
        let subdir = full
            .strip_prefix(&top)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Ok(Self {
            location: Location::Local {
                top,
                git_dir: repo.path().to_path_buf(),
                subdir,
            },
            branch,
        })
    }

    /// A remote repository, cached under `cache_root` (one folder per URL).
    pub fn remote(url: &str, branch: Option<String>, cache_root: &Path) -> Self {
        let name = format!("{:x}", Sha256::digest(redact(url).as_bytes()));
        let cache = cache_root.join(&name[..16]);
        Self {
            location: Location::Remote {
                url: url.to_string(),
                cache,
            },
            branch,
        }
    }

    /// The repository as it may be shown (URL without credentials, or path).
    pub fn display(&self) -> String {
        match &self.location {
            Location::Local { top, subdir, .. } if subdir.as_os_str().is_empty() => {
                top.display().to_string()
            }
            Location::Local { top, subdir, .. } => top.join(subdir).display().to_string(),
            Location::Remote { url, .. } => redact(url),
        }
    }

    /// The git folder to watch for new commits (local repositories only).
    pub fn git_dir(&self) -> Option<&Path> {
        match &self.location {
            Location::Local { git_dir, .. } => Some(git_dir),
            Location::Remote { .. } => None,
        }
    }

    /// The tip of the branch: read in place for a local repository, fetched first for a URL.
    pub fn head(&mut self) -> Result<Head, GitError> {
        let shown = self.display();
        match &self.location {
            Location::Local { top, .. } => {
                let repo = Repository::open(top).map_err(|e| other(&shown, e.message()))?;
                let (branch, oid) = local_tip(&repo, self.branch.as_deref(), &shown)?;
                Ok(Head {
                    commit: oid.to_string(),
                    branch,
                })
            }
            Location::Remote { url, cache } => {
                let (url, cache) = (url.clone(), cache.clone());
                let head = match fetch(&url, &cache, self.branch.as_deref()) {
                    Err(FetchFailure::Corrupt(first)) => {
                        // A damaged cache (interrupted clone, disk trouble): start it again.
                        tracing::warn!(cache = %cache.display(), error = %first, "the git cache is damaged, cloning again");
                        std::fs::remove_dir_all(&cache)
                            .map_err(|e| other(&cache.display().to_string(), e))?;
                        fetch(&url, &cache, self.branch.as_deref())
                            .map_err(FetchFailure::into_error)?
                    }
                    other => other.map_err(FetchFailure::into_error)?,
                };
                self.branch = Some(head.branch.clone());
                Ok(head)
            }
        }
    }

    /// Write the files of `commit` into `dest` (created; must not exist) and return the repo
    /// root inside it (where `gitops.yaml` is).
    pub fn checkout(&self, commit: &str, dest: &Path) -> Result<PathBuf, GitError> {
        let shown = self.display();
        let (repo, subdir) = match &self.location {
            Location::Local { top, subdir, .. } => (Repository::open(top), subdir.clone()),
            Location::Remote { cache, .. } => (Repository::open_bare(cache), PathBuf::new()),
        };
        let repo = repo.map_err(|e| other(&shown, e.message()))?;
        let oid = Oid::from_str(commit).map_err(|e| other(&shown, e.message()))?;
        let tree = repo
            .find_commit(oid)
            .and_then(|c| c.tree())
            .map_err(|e| other(&shown, e.message()))?;
        super::checkout::write_tree(&repo, &tree, dest).map_err(|e| other(&shown, e))?;
        Ok(dest.join(subdir))
    }
}

fn local_tip(
    repo: &Repository,
    branch: Option<&str>,
    shown: &str,
) -> Result<(String, Oid), GitError> {
    let no_commit = |e: git2::Error| GitError::NoCommit {
        repo: shown.to_string(),
        message: e.message().to_string(),
    };
    match branch {
        Some(b) => {
            let found = repo.find_branch(b, BranchType::Local).map_err(|e| {
                if e.code() == git2::ErrorCode::NotFound {
                    GitError::NoBranch {
                        repo: shown.to_string(),
                        branch: b.to_string(),
                    }
                } else {
                    other(shown, e.message())
                }
            })?;
            let commit = found.get().peel_to_commit().map_err(no_commit)?;
            Ok((b.to_string(), commit.id()))
        }
        None => {
            let head = repo.head().map_err(no_commit)?;
            let name = head.shorthand().unwrap_or("HEAD").to_string();
            let commit = head.peel_to_commit().map_err(no_commit)?;
            Ok((name, commit.id()))
        }
    }
}

enum FetchFailure {
    /// The cache is damaged: remove it and clone again.
    Corrupt(String),
    /// Anything else (network, credentials, a missing branch): report and back off.
    Error(GitError),
}

impl FetchFailure {
    fn into_error(self) -> GitError {
        match self {
            Self::Corrupt(message) => GitError::Other {
                repo: "the git cache".into(),
                message,
            },
            Self::Error(e) => e,
        }
    }
}

/// Classes of libgit2 errors that mean the local cache, not the remote, is broken.
fn is_local_damage(e: &git2::Error) -> bool {
    matches!(
        e.class(),
        ErrorClass::Odb
            | ErrorClass::Repository
            | ErrorClass::Reference
            | ErrorClass::Object
            | ErrorClass::Index
            | ErrorClass::Zlib
            | ErrorClass::Filesystem
            | ErrorClass::Config
    )
}

/// libgit2's words for a failed fetch, completed with the fix where there is one: its TLS and
/// SSH host-key messages do not say which trust store was used, and a few of its errors come
/// without any message.
fn explain(e: &git2::Error) -> String {
    let message = e.message();
    if e.class() == ErrorClass::Ssh
        && (e.code() == ErrorCode::Certificate || message.contains("hostkey"))
    {
        format!(
            "{message} (the server's host key is checked against `~/.ssh/known_hosts`, as `ssh` does: \
             add the key there after checking its fingerprint, for example with \
             `ssh-keyscan -p PORT HOST`)"
        )
    } else if e.code() == ErrorCode::Certificate || e.class() == ErrorClass::Ssl {
        format!(
            "{message} (the server's certificate is checked against the system's CAs; for a \
             private CA set `GIT_SSL_CAINFO` to a PEM file holding it)"
        )
    } else if message.is_empty() || message == "no error" {
        format!(
            "libgit2 failed ({:?}, {:?}) without saying why",
            e.class(),
            e.code()
        )
    } else {
        message.to_string()
    }
}

/// The proxy as git finds it: `http.proxy` in git's configuration, else `https_proxy` /
/// `http_proxy` (upper case too), minus the hosts of `no_proxy`. A jump host often reaches
/// its git server only through one.
fn proxy() -> ProxyOptions<'static> {
    let mut proxy = ProxyOptions::new();
    proxy.auto();
    proxy
}

fn fetch(url: &str, cache: &Path, branch: Option<&str>) -> Result<Head, FetchFailure> {
    let shown = redact(url);
    let fail = |e: git2::Error| {
        FetchFailure::Error(GitError::Fetch {
            repo: shown.clone(),
            message: explain(&e),
        })
    };
    let repo = if cache.exists() {
        Repository::open_bare(cache).map_err(|e| FetchFailure::Corrupt(e.message().to_string()))?
    } else {
        if let Some(parent) = cache.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| FetchFailure::Error(other(&cache.display().to_string(), e)))?;
        }
        Repository::init_bare(cache)
            .map_err(|e| FetchFailure::Error(other(&cache.display().to_string(), e.message())))?
    };
    // An anonymous remote: the URL (which may carry credentials) is never written to disk.
    let mut remote = repo.remote_anonymous(url).map_err(fail)?;
    // Ask the remote what it has first (one round trip): a missing branch is then named as
    // such, and without `--branch` the remote's default branch is followed.
    let (branch, heads) = {
        let connection = remote
            .connect_auth(Direction::Fetch, Some(callbacks()), Some(proxy()))
            .map_err(fail)?;
        let heads: Vec<String> = connection
            .list()
            .map_err(fail)?
            .iter()
            .map(|h| h.name().to_string())
            .collect();
        let branch = match branch {
            Some(b) => b.to_string(),
            None => {
                // libgit2 says NotFound without a message when the remote's `HEAD` names a
                // branch that does not exist (a bare repository created empty, pushed to
                // under another name).
                let default = connection.default_branch().map_err(|e| {
                    if e.code() == ErrorCode::NotFound {
                        FetchFailure::Error(GitError::Fetch {
                            repo: shown.clone(),
                            message:
                                "the remote's `HEAD` names no existing branch: pass `--branch`"
                                    .into(),
                        })
                    } else {
                        fail(e)
                    }
                })?;
                let name = default.as_str().unwrap_or("refs/heads/main");
                name.strip_prefix("refs/heads/").unwrap_or(name).to_string()
            }
        };
        (branch, heads)
    };
    if !heads.iter().any(|h| *h == format!("refs/heads/{branch}")) {
        return Err(FetchFailure::Error(GitError::NoBranch {
            repo: shown,
            branch,
        }));
    }
    let mut options = FetchOptions::new();
    options.remote_callbacks(callbacks());
    options.download_tags(AutotagOption::None);
    options.proxy_options(proxy());
    let refspec = format!("+refs/heads/{branch}:refs/remotes/origin/{branch}");
    remote
        .fetch(&[refspec.as_str()], Some(&mut options), None)
        .map_err(|e| {
            if is_local_damage(&e) {
                FetchFailure::Corrupt(e.message().to_string())
            } else {
                fail(e)
            }
        })?;
    let reference = repo
        .find_reference(&format!("refs/remotes/origin/{branch}"))
        .map_err(|e| {
            if e.code() == git2::ErrorCode::NotFound {
                FetchFailure::Error(GitError::NoBranch {
                    repo: shown.clone(),
                    branch: branch.clone(),
                })
            } else {
                FetchFailure::Corrupt(e.message().to_string())
            }
        })?;
    let commit = reference
        .peel_to_commit()
        .map_err(|e| FetchFailure::Corrupt(e.message().to_string()))?;
    Ok(Head {
        commit: commit.id().to_string(),
        branch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths() {
        assert!(is_url("https://dev.azure.com/o/p/_git/r"));
        assert!(is_url("file:///srv/r.git"));
        assert!(is_url("git@github.com:o/r.git"));
        assert!(!is_url("./repo"));
        assert!(!is_url("/srv/repo"));
        assert!(!is_url("C:/repo"));
    }

    fn origin(dir: &Path) -> (String, String) {
        let mut options = git2::RepositoryInitOptions::new();
        options.initial_head("main");
        let repo = Repository::init_opts(dir.join("origin"), &options).unwrap();
        std::fs::write(dir.join("origin/gitops.yaml"), "rings:\n  - name: dev\n").unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("gitops.yaml")).unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let id = repo
            .commit(Some("HEAD"), &sig, &sig, "one", &tree, &[])
            .unwrap();
        (
            format!("file://{}", dir.join("origin").display()),
            id.to_string(),
        )
    }

    #[test]
    fn a_url_is_cloned_fetched_and_a_damaged_cache_cloned_again() {
        let dir = tempfile::tempdir().unwrap();
        let (url, commit) = origin(dir.path());
        let cache_root = dir.path().join("cache");
        let mut source = Source::remote(&url, None, &cache_root);
        let head = source.head().unwrap();
        assert_eq!(
            head,
            Head {
                commit: commit.clone(),
                branch: "main".into()
            }
        );
        let root = source.checkout(&commit, &dir.path().join("co")).unwrap();
        assert!(root.join("gitops.yaml").is_file());

        let cache = std::fs::read_dir(&cache_root)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        std::fs::write(cache.join("HEAD"), "garbage").unwrap();
        std::fs::remove_dir_all(cache.join("objects")).unwrap();
        assert_eq!(source.head().unwrap().commit, commit);

        let mut wrong = Source::remote(&url, Some("nope".into()), &dir.path().join("cache2"));
        let err = wrong.head().unwrap_err().to_string();
        assert!(err.contains("branch `nope` does not exist"), "{err}");
        // A remote whose `HEAD` names a branch that does not exist: say so, not "no error".
        Repository::open(dir.path().join("origin"))
            .unwrap()
            .set_head("refs/heads/gone")
            .unwrap();
        let mut headless = Source::remote(&url, None, &dir.path().join("cache4"));
        let err = headless.head().unwrap_err().to_string();
        assert!(err.contains("pass `--branch`"), "{err}");
        let mut missing = Source::remote(
            "file:///nonexistent/repo.git",
            None,
            &dir.path().join("cache3"),
        );
        assert!(
            missing
                .head()
                .unwrap_err()
                .to_string()
                .contains("fetch failed")
        );
    }
}
