//! Where a rendered object was declared, so errors and CI annotations can point at a file
//! and line. Exact when built from the renderer's origins ([`Sources::rendered`]): the file
//! each object was read from, or that declared its generator. Otherwise ([`Sources::scan`],
//! for objects that were not rendered here, such as stored manifests) a best-effort index of
//! the repository's manifest files by kind and name: the renderer transforms names
//! (prefixes, suffixes, generator hashes), so a rendered name is matched to the longest
//! declared name of the same kind that it contains.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use gitops_manifest::ObjectRef;
use serde_json::Value;

/// Folders never scanned: VCS data, build output, our own state.
const SKIPPED_DIRS: &[&str] = &[".git", ".gitops", "target", "node_modules"];
/// Files larger than this are not manifests anyone wants pointed at.
const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// A bound on the scan of a very large repository.
const MAX_FILES: usize = 20_000;

/// A file (relative to the repo root) and the line of the object's `name:` in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The file, relative to the repo root.
    pub file: String,
    /// The 1-based line of `name: <name>`, when found.
    pub line: Option<u64>,
}

/// (group, kind, namespace, name) of a rendered object.
type RenderedKey = (String, String, Option<String>, String);

fn rendered_key(id: &ObjectRef) -> RenderedKey {
    (
        id.group.clone(),
        id.kind.clone(),
        id.namespace.clone(),
        id.name.clone(),
    )
}

/// Declared objects by (kind, name), or the rendered objects' own origins.
#[derive(Debug, Default)]
pub struct Sources {
    by_kind: BTreeMap<String, BTreeMap<String, Vec<Source>>>,
    /// Built from a render's origins: only these are known, nothing is guessed.
    rendered: Option<HashMap<RenderedKey, Source>>,
}

impl Sources {
    /// The sources of a render's objects from the renderer's origins (`objects` as the
    /// render returned them, each with its origin). Exact: an object is found by its
    /// rendered identity, whatever the build did to its name.
    pub fn rendered<'a>(
        objects: impl IntoIterator<Item = (&'a Value, Option<&'a gitops_render::Origin>)>,
    ) -> Self {
        let mut rendered = HashMap::new();
        for (object, origin) in objects {
            let (Some(origin), Ok(id)) = (origin, ObjectRef::from_value(object)) else {
                continue;
            };
            rendered.insert(
                rendered_key(&id),
                Source {
                    file: origin.file.display().to_string(),
                    line: origin.line,
                },
            );
        }
        Self {
            by_kind: BTreeMap::new(),
            rendered: Some(rendered),
        }
    }

    /// Index the manifest files under `root`. Unreadable or invalid files are skipped: this is
    /// a hint for messages; the renderer reports real errors.
    pub fn scan(root: &Path) -> Self {
        let mut files = Vec::new();
        collect_files(root, &mut files);
        let mut sources = Self::default();
        for path in files {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            sources.add_text(&relative, &text);
        }
        sources
    }

    /// Index one file's text.
    pub fn add_text(&mut self, file: &str, text: &str) {
        let Ok(docs) = gitops_manifest::yaml::parse_documents(text) else {
            return;
        };
        for doc in docs {
            let (Some(kind), Some(name)) = (
                doc.get("kind").and_then(Value::as_str),
                doc.pointer("/metadata/name").and_then(Value::as_str),
            ) else {
                continue;
            };
            let line = name_line(text, name);
            self.by_kind
                .entry(kind.to_string())
                .or_default()
                .entry(name.to_string())
                .or_default()
                .push(Source {
                    file: file.to_string(),
                    line,
                });
        }
    }

    /// The declaration of a rendered object: its origin when built from a render; from a
    /// scan, an exact name, else the longest declared name of
    /// the same kind contained in the rendered one (`prod-web-7f9c` ← `web`). Ambiguous
    /// matches (several files) give no answer rather than a wrong one.
    pub fn find(&self, id: &ObjectRef) -> Option<Source> {
        if let Some(rendered) = &self.rendered {
            return rendered.get(&rendered_key(id)).cloned();
        }
        let names = self.by_kind.get(&id.kind)?;
        let candidates = match names.get(&id.name) {
            Some(c) => c,
            None => {
                names
                    .iter()
                    .filter(|(name, _)| id.name.contains(name.as_str()))
                    .max_by_key(|(name, _)| name.len())?
                    .1
            }
        };
        match candidates.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        }
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if out.len() >= MAX_FILES {
            return;
        }
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let name = entry.file_name().to_string_lossy().to_string();
        if kind.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_str()) {
                collect_files(&path, out);
            }
        } else if kind.is_file()
            && (name.ends_with(".yaml") || name.ends_with(".yml"))
            && entry.metadata().is_ok_and(|m| m.len() <= MAX_FILE_BYTES)
        {
            out.push(path);
        }
    }
}

/// The line of `name: <name>` (quoted or not) in `text`.
fn name_line(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .position(|l| {
            let l = l.trim();
            l.strip_prefix("name:")
                .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\''))
                .is_some_and(|v| v == name)
        })
        .map(|i| i as u64 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exact_and_transformed_names_with_their_line() {
        let mut s = Sources::default();
        s.add_text(
            "base/web/deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec: {}\n",
        );
        s.add_text(
            "base/web/cm.yaml",
            "kind: ConfigMap\nmetadata:\n  name: \"web-settings\"\n",
        );
        let dep = ObjectRef::new("apps", None, "Deployment", Some("qa".into()), "web");
        assert_eq!(
            s.find(&dep),
            Some(Source {
                file: "base/web/deployment.yaml".into(),
                line: Some(4)
            })
        );
        let prefixed = ObjectRef::new(
            "",
            None,
            "ConfigMap",
            Some("qa".into()),
            "qa-web-settings-5h2k",
        );
        assert_eq!(
            s.find(&prefixed).map(|s| s.file),
            Some("base/web/cm.yaml".into())
        );
        let other = ObjectRef::new("", None, "Service", Some("qa".into()), "web");
        assert_eq!(s.find(&other), None);
    }

    #[test]
    fn ambiguous_declarations_give_no_answer() {
        let mut s = Sources::default();
        s.add_text("a.yaml", "kind: Service\nmetadata:\n  name: web\n");
        s.add_text("b.yaml", "kind: Service\nmetadata:\n  name: web\n");
        assert_eq!(
            s.find(&ObjectRef::new("", None, "Service", None, "web")),
            None
        );
    }
}
