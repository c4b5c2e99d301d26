//! CI integrations, detected from the environment: Azure DevOps (`TF_BUILD=True`) logging
//! commands and GitHub Actions workflow commands and files. Everything is computed as text first
//! (`CiReport`), then written, so tests can snapshot it.
//!
//! Azure DevOps: <https://learn.microsoft.com/azure/devops/pipelines/scripts/logging-commands>.
//! GitHub Actions: <https://docs.github.com/actions/reference/workflow-commands-for-github-actions>.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::plan::Plan;

/// The CI system a run is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ci {
    /// Azure Pipelines; the markdown summary is written under `summary_dir`.
    AzureDevOps {
        /// `AGENT_TEMPDIRECTORY` when set.
        summary_dir: Option<PathBuf>,
    },
    /// GitHub Actions.
    GitHubActions {
        /// `GITHUB_OUTPUT`: `name=value` lines for step outputs.
        output: Option<PathBuf>,
        /// `GITHUB_STEP_SUMMARY`: markdown shown on the run's page.
        summary: Option<PathBuf>,
    },
}

impl Ci {
    /// Detect the CI system from environment variables (`get` reads one).
    pub fn detect(get: impl Fn(&str) -> Option<String>) -> Option<Self> {
        if get("TF_BUILD").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Some(Self::AzureDevOps {
                summary_dir: get("AGENT_TEMPDIRECTORY").map(PathBuf::from),
            });
        }
        if get("GITHUB_ACTIONS").is_some_and(|v| v == "true") {
            return Some(Self::GitHubActions {
                output: get("GITHUB_OUTPUT").map(PathBuf::from),
                summary: get("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            });
        }
        None
    }

    /// Detect from the process environment.
    pub fn from_env() -> Option<Self> {
        Self::detect(|k| std::env::var(k).ok())
    }
}

/// An error to annotate: a message and, when known, the file (relative to the repo) and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// The file the error is about.
    pub file: Option<String>,
    /// Its 1-based line.
    pub line: Option<u64>,
    /// One line.
    pub message: String,
}

/// What to emit: lines for stdout and text to append to files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CiReport {
    /// Logging/workflow commands, one per line.
    pub stdout: String,
    /// (file, text to append).
    pub appends: Vec<(PathBuf, String)>,
}

impl CiReport {
    /// Print the commands and append to the files.
    pub fn emit(&self) -> std::io::Result<()> {
        use std::io::Write as _;
        for (path, text) in &self.appends {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            file.write_all(text.as_bytes())?;
        }
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(self.stdout.as_bytes())?;
        stdout.flush()
    }
}

/// Azure DevOps: escape a logging command's message.
fn azure_escape(text: &str) -> String {
    text.replace('%', "%AZP25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Azure DevOps: escape a logging command's property value.
fn azure_property(text: &str) -> String {
    azure_escape(text).replace(';', "%3B").replace(']', "%5D")
}

/// GitHub: escape a workflow command's message.
fn github_escape(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// GitHub: escape a workflow command's property value.
fn github_property(text: &str) -> String {
    github_escape(text).replace(':', "%3A").replace(',', "%2C")
}

/// The CI side of a plan: output variables (has changes, changed rings) and the markdown summary.
/// `markdown` is the markdown view of `plan`; `fallback_dir` holds the Azure summary file when
/// the agent gives no temp directory.
pub fn plan_report(ci: &Ci, plan: &Plan, markdown: &str, fallback_dir: &Path) -> CiReport {
    let has_changes = plan.has_changes();
    let rings = plan.changed_rings().join(",");
    let mut report = CiReport::default();
    match ci {
        Ci::AzureDevOps { summary_dir } => {
            let _ = writeln!(
                report.stdout,
                "##vso[task.setvariable variable=hasChanges;isOutput=true]{has_changes}"
            );
            let _ = writeln!(
                report.stdout,
                "##vso[task.setvariable variable=changedRings;isOutput=true]{}",
                azure_escape(&rings)
            );
            let dir = summary_dir
                .clone()
                .unwrap_or_else(|| fallback_dir.to_path_buf());
            let file = dir.join("gitops-plan.md");
            // `uploadsummary` reads the file when the step ends, so it is written, not appended.
            report.appends.push((file.clone(), markdown.to_string()));
            let _ = writeln!(
                report.stdout,
                "##vso[task.uploadsummary]{}",
                azure_escape(&file.display().to_string())
            );
        }
        Ci::GitHubActions { output, summary } => {
            if let Some(path) = output {
                report.appends.push((
                    path.clone(),
                    format!("has-changes={has_changes}\nchanged-rings={rings}\n"),
                ));
            }
            if let Some(path) = summary {
                report.appends.push((path.clone(), markdown.to_string()));
            }
        }
    }
    report
}

/// The CI annotations for errors (render errors, rejected objects, validation failures).
pub fn error_report(ci: &Ci, errors: &[Annotation]) -> CiReport {
    let mut report = CiReport::default();
    for e in errors {
        match ci {
            Ci::AzureDevOps { .. } => {
                let mut props = String::from("type=error");
                if let Some(file) = &e.file {
                    let _ = write!(props, ";sourcepath={}", azure_property(file));
                }
                if let Some(line) = e.line {
                    let _ = write!(props, ";linenumber={line}");
                }
                let _ = writeln!(
                    report.stdout,
                    "##vso[task.logissue {props}]{}",
                    azure_escape(&e.message)
                );
            }
            Ci::GitHubActions { .. } => {
                let mut props = Vec::new();
                if let Some(file) = &e.file {
                    props.push(format!("file={}", github_property(file)));
                }
                if let Some(line) = e.line {
                    props.push(format!("line={line}"));
                }
                let props = if props.is_empty() {
                    String::new()
                } else {
                    format!(" {}", props.join(","))
                };
                let _ = writeln!(
                    report.stdout,
                    "::error{props}::{}",
                    github_escape(&e.message)
                );
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_azure_first_then_github_then_nothing() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            Ci::detect(env(&[("TF_BUILD", "True")])),
            Some(Ci::AzureDevOps { summary_dir: None })
        );
        assert!(matches!(
            Ci::detect(env(&[("GITHUB_ACTIONS", "true"), ("GITHUB_OUTPUT", "/o")])),
            Some(Ci::GitHubActions {
                output: Some(_),
                summary: None
            })
        ));
        assert_eq!(Ci::detect(env(&[("TF_BUILD", "False")])), None);
        assert_eq!(Ci::detect(env(&[])), None);
    }

    #[test]
    fn error_annotations_escape_their_values() {
        let errors = [Annotation {
            file: Some("base/a;b].yaml".into()),
            line: Some(3),
            message: "100% wrong\nsecond line".into(),
        }];
        let azure = error_report(&Ci::AzureDevOps { summary_dir: None }, &errors).stdout;
        assert_eq!(
            azure,
            "##vso[task.logissue type=error;sourcepath=base/a%3Bb%5D.yaml;linenumber=3]100%AZP25 wrong%0Asecond line\n"
        );
        let github = error_report(
            &Ci::GitHubActions {
                output: None,
                summary: None,
            },
            &errors,
        )
        .stdout;
        assert_eq!(
            github,
            "::error file=base/a;b].yaml,line=3::100%25 wrong%0Asecond line\n"
        );
    }
}
