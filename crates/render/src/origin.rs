//! `Origin`: where an object of a build was declared — the file it was read from (for
//! generator output, the kustomization or plugin configuration that declared the generator)
//! and the line of its declared `name:` there. kustomize records the same as the
//! `config.kubernetes.io/origin` annotation under `buildMetadata: [originAnnotations]`
//! (https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/buildmetadata/);
//! here it is kept beside the object, so the build's output never changes.

use std::path::PathBuf;

use serde_json::Value;

/// Where an object of a build was declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file, relative to the file system's root: the resource file the object was read
    /// from, or for generator output the file that declared the generator.
    pub file: PathBuf,
    /// The 1-based line of the object's declared `name:` in that file, when found.
    pub line: Option<u64>,
}

/// One object of a build and where it was declared.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    /// The object, exactly as [`crate::build`] returns it.
    pub object: Value,
    /// Its origin; `None` only for an object the build made up from nothing the user wrote.
    pub origin: Option<Origin>,
}

/// The lines of a YAML file, cut into its documents, to find where each object is named.
pub(crate) struct NameLines<'t> {
    lines: Vec<&'t str>,
    /// (first line, end line) of each non-empty document, when they are as many as the
    /// documents the parser read; otherwise the whole text is searched.
    documents: Option<Vec<(usize, usize)>>,
    /// Per document, where the search for its next object starts (List items come in order).
    cursors: Vec<usize>,
}

impl<'t> NameLines<'t> {
    /// `parsed` is the number of (non-empty) documents the YAML reader found in `text`.
    pub(crate) fn new(text: &'t str, parsed: usize) -> Self {
        let lines: Vec<&str> = text.lines().collect();
        let mut documents = Vec::new();
        let mut start = 0;
        let mut content = false;
        for (i, line) in lines.iter().enumerate() {
            if is_document_start(line) {
                if content {
                    documents.push((start, i));
                }
                start = i + 1;
                // `--- value` starts a document with content on the marker line itself.
                content = line.get(3..).is_some_and(has_content);
                if content {
                    start = i;
                }
            } else if has_content(line) && line.trim() != "..." {
                content = true;
            }
        }
        if content {
            documents.push((start, lines.len()));
        }
        let documents = (documents.len() == parsed).then_some(documents);
        let cursors = documents
            .as_ref()
            .map(|d| d.iter().map(|(start, _)| *start).collect())
            .unwrap_or_default();
        Self {
            lines,
            documents,
            cursors,
        }
    }

    /// The line of `name: <name>` for the next object of document `doc` (0-based, in the
    /// order the reader returned the documents).
    pub(crate) fn resource(&mut self, doc: usize, name: &str) -> Option<u64> {
        let range = self.documents.as_ref().and_then(|d| d.get(doc)).copied();
        if let Some((_, end)) = range {
            let from = self.cursors.get(doc).copied().unwrap_or(0);
            if let Some(i) = find_name(&self.lines, from, end, name, false) {
                if let Some(cursor) = self.cursors.get_mut(doc) {
                    *cursor = i + 1;
                }
                return Some(i as u64 + 1);
            }
        }
        find_name(&self.lines, 0, self.lines.len(), name, false).map(|i| i as u64 + 1)
    }
}

/// The line of a generator's `name: <name>` (also as a list item, `- name: <name>`) in the
/// file that declares it: the first after the line of `section:` (`configMapGenerator`,
/// `secretGenerator`) when there is one, else the first in the file.
pub(crate) fn generator_line(text: &str, section: Option<&str>, name: &str) -> Option<u64> {
    let lines: Vec<&str> = text.lines().collect();
    let after = section.and_then(|section| {
        lines.iter().position(|l| {
            l.strip_prefix(section)
                .and_then(|rest| rest.strip_prefix(':'))
                .is_some_and(|rest| !has_content(rest) || rest.trim_start().starts_with('['))
        })
    });
    after
        .and_then(|start| find_name(&lines, start + 1, lines.len(), name, true))
        .or_else(|| find_name(&lines, 0, lines.len(), name, true))
        .map(|i| i as u64 + 1)
}

fn is_document_start(line: &str) -> bool {
    line.strip_prefix("---")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

/// Whether a line holds anything but blanks and a comment.
fn has_content(line: &str) -> bool {
    let line = line.trim();
    !line.is_empty() && !line.starts_with('#')
}

/// The index of the first line in `from..end` that says `name: <name>` (quoted or not,
/// with a trailing comment or not); `- name: <name>` too when `item`.
fn find_name(lines: &[&str], from: usize, end: usize, name: &str, item: bool) -> Option<usize> {
    let end = end.min(lines.len());
    (from.min(end)..end).find(|&i| names(lines[i], name, item))
}

fn names(line: &str, name: &str, item: bool) -> bool {
    let mut line = line.trim();
    if item && let Some(rest) = line.strip_prefix("- ") {
        line = rest.trim_start();
    }
    let Some(value) = line.strip_prefix("name:") else {
        return false;
    };
    let value = value.trim();
    let value = match value.as_bytes().first() {
        Some(q @ (b'"' | b'\'')) => value[1..]
            .find(char::from(*q))
            .map_or(value, |end| &value[1..=end]),
        _ => value.split(" #").next().unwrap_or(value).trim_end(),
    };
    value == name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_document_name_in_its_own_document() {
        let text = "\
# leading comment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      volumes:
      - configMap:
          name: api
---
---
apiVersion: v1
kind: Service
metadata:
  name: web
---
kind: ConfigMap
metadata:
  name: \"api\"  # quoted
";
        let mut lines = NameLines::new(text, 3);
        assert_eq!(lines.resource(0, "web"), Some(5));
        assert_eq!(lines.resource(1, "web"), Some(17));
        assert_eq!(lines.resource(2, "api"), Some(21));
    }

    #[test]
    fn list_items_are_found_in_order() {
        let text = "kind: List\nitems:\n- kind: Service\n  metadata:\n    name: a\n- kind: ConfigMap\n  metadata:\n    name: a\n";
        let mut lines = NameLines::new(text, 1);
        assert_eq!(lines.resource(0, "a"), Some(5));
        assert_eq!(lines.resource(0, "a"), Some(8));
    }

    #[test]
    fn an_unexpected_document_count_searches_the_whole_text() {
        let mut lines = NameLines::new("a: 1\n---\nmetadata:\n  name: x\n", 1);
        assert_eq!(lines.resource(0, "x"), Some(4));
        assert_eq!(lines.resource(0, "y"), None);
    }

    #[test]
    fn a_generator_is_found_in_its_section() {
        let text = "\
resources:
- web.yaml
replacements:
- source:
    name: settings
configMapGenerator:
- name: other
- files: [a.json]
  name: settings
secretGenerator:
- name: settings
";
        assert_eq!(
            generator_line(text, Some("configMapGenerator"), "settings"),
            Some(9)
        );
        assert_eq!(
            generator_line(text, Some("secretGenerator"), "settings"),
            Some(11)
        );
        assert_eq!(generator_line(text, None, "other"), Some(7));
        assert_eq!(generator_line(text, Some("secretGenerator"), "nope"), None);
    }
}
