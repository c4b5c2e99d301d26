//! `Config`: `gitops.yaml`, the rings of a repo and their settings (DESIGN.md §1).

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use gitops_manifest::YamlError;
use gitops_manifest::yaml::{self, MAX_INPUT_BYTES};
use serde::Deserialize;

use crate::duration::Duration;

/// The file that marks a repo root.
pub const FILE_NAME: &str = "gitops.yaml";

/// A repo's `gitops.yaml`, read, defaulted and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The folder holding `gitops.yaml`; ring paths are relative to it.
    pub root: PathBuf,
    /// The `gitops.yaml` file itself, for messages.
    pub file: PathBuf,
    /// The rings, in release order.
    pub rings: Vec<Ring>,
    /// Where revisions, snapshots and locks live.
    pub history: History,
}

/// One ring (environment) of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ring {
    /// The ring's name, a DNS label (it names locks and revisions in the cluster).
    pub name: String,
    /// The ring's kustomize directory, relative to the repo root.
    pub path: PathBuf,
    /// The kubeconfig context; `None` means the current context.
    pub context: Option<String>,
    /// The health-gate deadline for the whole ring.
    pub wait: Duration,
    /// How long the ring must stay healthy before the next ring starts.
    pub soak: Duration,
    /// Whether applying the ring needs an explicit approval.
    pub approval: Approval,
    /// Whether objects no longer rendered are deleted.
    pub prune: bool,
}

/// Whether a ring may be applied without a person saying yes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    /// Applied as soon as the ring before it is done.
    #[default]
    None,
    /// Applied only with `--approve RING`, a yes on a terminal, or `gitops approve`.
    Required,
}

/// The `history` section: where the engine keeps its records in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct History {
    /// The namespace of revisions, snapshots and locks (created if missing).
    pub namespace: String,
    /// How many revisions per ring are kept.
    pub keep: u32,
}

impl Default for History {
    fn default() -> Self {
        Self {
            namespace: "gitops-system".to_string(),
            keep: 20,
        }
    }
}

/// `gitops.yaml` could not be found, read or accepted, or names no such ring.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No `gitops.yaml` in the start folder or any folder above it.
    #[error("no `{FILE_NAME}` in `{}` or any folder above it (run inside a repo or pass `--repo PATH`)", start.display())]
    NotFound {
        /// Where the search started.
        start: PathBuf,
    },
    /// The file exists (or should) but cannot be read.
    #[error("`{}`: cannot read", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML or does not have the shape of a `gitops.yaml`.
    #[error("`{}`", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the YAML reader said (with the line when it knows it).
        #[source]
        source: YamlError,
    },
    /// The file parses but a value is not acceptable.
    #[error("`{}`: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the ring or key.
        message: String,
    },
    /// A ring named on the command line that the file does not declare.
    #[error("`{}` has no ring `{ring}` (its rings: {known})", path.display())]
    UnknownRing {
        /// The file.
        path: PathBuf,
        /// The name given.
        ring: String,
        /// The declared rings, for the message.
        known: String,
    },
    /// Neither a ring nor `--all` was given.
    #[error("name the rings to use (`{}` has: {known}) or pass `--all`", path.display())]
    NoRingSelected {
        /// The file.
        path: PathBuf,
        /// The declared rings, for the message.
        known: String,
    },
}

/// The file as written; every key but `rings[].name` may be left out.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    rings: Vec<RawRing>,
    #[serde(default)]
    history: History,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRing {
    name: String,
    path: Option<PathBuf>,
    context: Option<String>,
    wait: Option<Duration>,
    soak: Option<Duration>,
    #[serde(default)]
    approval: Approval,
    prune: Option<bool>,
}

/// A ring's health-gate deadline when `wait` is not given.
pub const DEFAULT_WAIT: Duration = Duration::from_mins(5);

impl Config {
    /// Find and read `gitops.yaml`: in `repo` when given, else in the current folder or the
    /// nearest folder above it that has one.
    pub fn discover(repo: Option<&Path>) -> Result<Self, ConfigError> {
        match repo {
            Some(root) => Self::load(&root.join(FILE_NAME)),
            None => {
                let start = std::env::current_dir().map_err(|source| ConfigError::Read {
                    path: PathBuf::from("."),
                    source,
                })?;
                let file = start
                    .ancestors()
                    .map(|dir| dir.join(FILE_NAME))
                    .find(|file| file.is_file())
                    .ok_or(ConfigError::NotFound {
                        start: start.clone(),
                    })?;
                Self::load(&file)
            }
        }
    }

    /// Read the given `gitops.yaml`; its folder is the repo root.
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        let read_error = |source| ConfigError::Read {
            path: file.to_path_buf(),
            source,
        };
        let handle = std::fs::File::open(file).map_err(read_error)?;
        let size = handle.metadata().map_err(read_error)?.len();
        if size > MAX_INPUT_BYTES as u64 {
            return Err(ConfigError::Invalid {
                path: file.to_path_buf(),
                message: format!(
                    "the file is {size} bytes, over the limit of {MAX_INPUT_BYTES} bytes"
                ),
            });
        }
        // Read one byte past the limit, so a file that grows (or a pipe) is still refused by
        // the YAML door without ever holding more than that in memory.
        let mut text = String::new();
        handle
            .take(MAX_INPUT_BYTES as u64 + 1)
            .read_to_string(&mut text)
            .map_err(read_error)?;
        Self::parse(&text, file)
    }

    /// Read `gitops.yaml` text that came from `file`.
    pub fn parse(text: &str, file: &Path) -> Result<Self, ConfigError> {
        let path = file.to_path_buf();
        let raw: RawConfig = yaml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.clone(),
            source,
        })?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.clone(),
            message,
        };
        if raw.rings.is_empty() {
            return Err(invalid(
                "`rings` is empty: declare at least one ring".to_string(),
            ));
        }
        check_dns_label(&raw.history.namespace).map_err(|why| {
            invalid(format!(
                "`history.namespace` `{}` {why}",
                raw.history.namespace
            ))
        })?;
        if raw.history.keep == 0 {
            return Err(invalid(
                "`history.keep` is 0: keep at least one revision".to_string(),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut rings = Vec::with_capacity(raw.rings.len());
        for ring in raw.rings {
            check_dns_label(&ring.name)
                .map_err(|why| invalid(format!("ring name `{}` {why}", ring.name)))?;
            if !seen.insert(ring.name.clone()) {
                return Err(invalid(format!("ring `{}` is declared twice", ring.name)));
            }
            let path = ring
                .path
                .unwrap_or_else(|| Path::new("environments").join(&ring.name));
            check_inside(&path).map_err(|why| {
                invalid(format!(
                    "ring `{}`: path `{}` {why}",
                    ring.name,
                    path.display()
                ))
            })?;
            rings.push(Ring {
                name: ring.name,
                path,
                context: ring.context,
                wait: ring.wait.unwrap_or(DEFAULT_WAIT),
                soak: ring.soak.unwrap_or(Duration::ZERO),
                approval: ring.approval,
                prune: ring.prune.unwrap_or(true),
            });
        }
        let root = match file.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok(Self {
            root,
            file: path,
            rings,
            history: raw.history,
        })
    }

    /// The ring called `name`, if declared.
    pub fn ring(&self, name: &str) -> Option<&Ring> {
        self.rings.iter().find(|ring| ring.name == name)
    }

    /// The rings a command works on: every ring with `all`, else the named ones; always in
    /// release order and each once, however the names were given.
    pub fn select(&self, names: &[String], all: bool) -> Result<Vec<&Ring>, ConfigError> {
        if all {
            return Ok(self.rings.iter().collect());
        }
        if names.is_empty() {
            return Err(ConfigError::NoRingSelected {
                path: self.file.clone(),
                known: self.known(),
            });
        }
        if let Some(missing) = names.iter().find(|name| self.ring(name).is_none()) {
            return Err(ConfigError::UnknownRing {
                path: self.file.clone(),
                ring: missing.clone(),
                known: self.known(),
            });
        }
        Ok(self
            .rings
            .iter()
            .filter(|ring| names.contains(&ring.name))
            .collect())
    }

    fn known(&self) -> String {
        let names: Vec<String> = self
            .rings
            .iter()
            .map(|ring| format!("`{}`", ring.name))
            .collect();
        names.join(", ")
    }
}

/// Ring names and the history namespace end up as Kubernetes object names and label values,
/// so they follow RFC 1123 labels.
/// <https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#dns-label-names>
fn check_dns_label(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("is empty");
    }
    if name.len() > 63 {
        return Err("is longer than 63 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err("may hold only lowercase letters, digits and `-`");
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("must start and end with a letter or digit");
    }
    Ok(())
}

/// A ring path must stay inside the repo: relative, and without `..`.
fn check_inside(path: &Path) -> Result<(), &'static str> {
    if path.as_os_str().is_empty() {
        return Err("is empty");
    }
    for component in path.components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return Err("leaves the repo root (`..`)"),
            Component::RootDir | Component::Prefix(_) => {
                return Err("is absolute: write it relative to the repo root");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/repo/gitops.yaml"))
    }

    fn message(text: &str) -> String {
        let err = parse(text).unwrap_err();
        format!("{:#}", anyhow::Error::from(err))
    }

    #[test]
    fn fills_the_defaults_of_design_section_1() {
        let config = parse("rings:\n  - name: dev\n").unwrap();
        assert_eq!(config.root, Path::new("/repo"));
        assert_eq!(
            config.history,
            History {
                namespace: "gitops-system".into(),
                keep: 20
            }
        );
        let dev = &config.rings[0];
        assert_eq!(dev.path, Path::new("environments/dev"));
        assert_eq!(dev.context, None);
        assert_eq!(dev.wait.to_string(), "5m");
        assert_eq!(dev.soak.to_string(), "0s");
        assert_eq!(dev.approval, Approval::None);
        assert!(dev.prune);
        assert_eq!(
            config.root.join(&dev.path),
            Path::new("/repo/environments/dev")
        );
    }

    #[test]
    fn reads_every_key() {
        let config = parse(
            "rings:\n- name: prod-ring1\n  path: deploy/prod\n  context: aks-prod\n  wait: 10m\n  soak: 1h\n  \
             approval: required\n  prune: false\nhistory:\n  namespace: ops\n  keep: 5\n",
        )
        .unwrap();
        let ring = &config.rings[0];
        assert_eq!(ring.path, Path::new("deploy/prod"));
        assert_eq!(ring.context.as_deref(), Some("aks-prod"));
        assert_eq!(ring.wait.get().as_secs(), 600);
        assert_eq!(ring.soak.get().as_secs(), 3_600);
        assert_eq!(ring.approval, Approval::Required);
        assert!(!ring.prune);
        assert_eq!(
            config.history,
            History {
                namespace: "ops".into(),
                keep: 5
            }
        );
    }

    #[test]
    fn an_unknown_key_is_named_with_the_file() {
        let msg = message("rings:\n  - name: dev\n    aproval: required\n");
        assert!(
            msg.contains("/repo/gitops.yaml") && msg.contains("`aproval`"),
            "{msg}"
        );
        let msg = message("rings:\n  - name: dev\nhistroy: {}\n");
        assert!(msg.contains("`histroy`"), "{msg}");
        let msg = message("rings:\n  - name: dev\nhistory:\n  kept: 3\n");
        assert!(msg.contains("`kept`"), "{msg}");
    }

    #[test]
    fn refuses_bad_values_naming_them() {
        for (text, needle) in [
            ("rings:\n  - name: dev\n    wait: soon\n", "`soon`"),
            ("rings:\n  - name: dev\n    approval: maybe\n", "maybe"),
            (
                "rings:\n  - name: dev\n  - name: dev\n",
                "ring `dev` is declared twice",
            ),
            ("rings:\n  - name: Dev\n", "ring name `Dev`"),
            ("rings:\n  - name: ../x\n", "ring name `../x`"),
            (
                "rings:\n  - name: dev\n    path: ../elsewhere\n",
                "leaves the repo root",
            ),
            ("rings:\n  - name: dev\n    path: /etc\n", "is absolute"),
            ("rings: []\n", "`rings` is empty"),
            ("history:\n  keep: 3\n", "rings"),
            ("rings:\n  - path: x\n", "name"),
            (
                "rings:\n  - name: dev\nhistory:\n  keep: 0\n",
                "`history.keep` is 0",
            ),
            ("rings: [unclosed\n", "line"),
        ] {
            let msg = message(text);
            assert!(msg.starts_with("`/repo/gitops.yaml`"), "{text:?}: {msg}");
            assert!(msg.contains(needle), "{text:?}: {msg}");
        }
    }

    #[test]
    fn selects_rings_in_release_order() {
        let config = parse("rings:\n- name: dev\n- name: qa\n- name: prod\n").unwrap();
        let names = |rings: Vec<&Ring>| rings.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        let picked = config
            .select(&["prod".into(), "dev".into(), "prod".into()], false)
            .unwrap();
        assert_eq!(names(picked), ["dev", "prod"]);
        assert_eq!(
            names(config.select(&[], true).unwrap()),
            ["dev", "qa", "prod"]
        );
        let err = config
            .select(&["staging".into()], false)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "`/repo/gitops.yaml` has no ring `staging` (its rings: `dev`, `qa`, `prod`)"
        );
        let err = config.select(&[], false).unwrap_err().to_string();
        assert!(err.contains("--all"), "{err}");
    }

    #[test]
    fn reads_the_demo_repo() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(FILE_NAME);
        let config = Config::load(&file).unwrap();
        let names: Vec<&str> = config.rings.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["dev", "qa", "prod-ring1", "prod-ring2"]);
        for ring in &config.rings[2..] {
            assert_eq!(ring.approval, Approval::Required, "{}", ring.name);
            assert!(ring.soak > Duration::ZERO, "{}", ring.name);
        }
        for ring in &config.rings {
            assert!(
                config
                    .root
                    .join(&ring.path)
                    .join("kustomization.yaml")
                    .is_file(),
                "{}",
                ring.name
            );
        }
    }
}
