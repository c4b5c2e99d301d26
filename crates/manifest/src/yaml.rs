//! The one place YAML is read and written (serde-saphyr, already in the tree through kube).
//!
//! Reading is bounded: an oversized input or an alias bomb is refused before it can
//! exhaust memory. Writing follows kustomize's layout: block style, two-space indent,
//! sequences not indented under their key, map keys sorted.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The largest YAML text accepted, in bytes. A Kubernetes object is at most 1.5 MiB in etcd;
/// a single manifest file several times that is a mistake or an attack.
pub const MAX_INPUT_BYTES: usize = 8 * 1024 * 1024;

/// A YAML text could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct YamlError {
    /// 1-based line of the problem, when the parser knows it.
    pub line: Option<u64>,
    /// 1-based column of the problem, when the parser knows it.
    pub column: Option<u64>,
    /// What is wrong, in one line.
    pub message: String,
}

impl YamlError {
    fn plain(message: impl Into<String>) -> Self {
        Self {
            line: None,
            column: None,
            message: message.into(),
        }
    }

    fn from_de(err: &serde_saphyr::Error) -> Self {
        let location = err.location();
        let message = err.to_string();
        // The library's display can span lines (a snippet); keep the first, which says what.
        let first = message
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("invalid YAML");
        let first = first.trim();
        // The library names a breached budget with its internal counter (`budget breached:
        // Events { events: 1000001 } ...`); say what it means for the file.
        let message = match first.strip_prefix("budget breached: ") {
            Some(detail) => format!(
                "refused: the YAML expands beyond the reader's limits (an alias bomb or a \
                 runaway document): {detail}"
            ),
            None => first.to_string(),
        };
        Self {
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            message,
        }
    }
}

fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_reader_input_bytes = Some(MAX_INPUT_BYTES);
    budget.max_aliases = 1_000;
    budget.max_documents = 100_000;
    budget.max_nodes = 2_000_000;
    budget.max_depth = 128;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.with_snippet = false;
    // kustomize (through Go's YAML libraries) accepts a repeated key and keeps the last value.
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    // kustomize reads YAML with go-yaml v3, which knows only the YAML 1.2 booleans: `yes`, `on`,
    // `y` stay strings there, and so here.
    options.strict_booleans = true;
    options
}

fn check_size(text: &str) -> Result<(), YamlError> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(YamlError::plain(format!(
            "the text is {} bytes, over the limit of {MAX_INPUT_BYTES} bytes",
            text.len()
        )));
    }
    Ok(())
}

/// Read a multi-document YAML text; empty documents (`---` alone, comments only) are dropped.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, YamlError> {
    check_size(text)?;
    let docs: Vec<Value> = serde_saphyr::from_multiple_with_options(text, options())
        .map_err(|e| YamlError::from_de(&e))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Read one YAML document into a typed value (unknown keys are the type's business).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    check_size(text)?;
    serde_saphyr::from_str_with_options(text, options()).map_err(|e| YamlError::from_de(&e))
}

fn serializer_options() -> serde_saphyr::SerializerOptions {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.indent_step = 2;
    options.compact_list_indent = true;
    options
}

/// Write one value as a YAML document (no leading `---`).
pub fn to_string<T: Serialize>(value: &T) -> Result<String, YamlError> {
    serde_saphyr::to_string_with_options(value, serializer_options())
        .map_err(|e| YamlError::plain(e.to_string()))
}

/// Write values as a multi-document YAML stream, documents separated by `---`.
pub fn to_documents<T: Serialize>(values: &[T]) -> Result<String, YamlError> {
    let mut out = String::new();
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        let doc = to_string(value)?;
        out.push_str(&doc);
        if !doc.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_documents_and_drops_empty_ones() {
        let docs = parse_documents("---\na: 1\n---\n# only a comment\n---\nb: [x]\n").unwrap();
        assert_eq!(docs, vec![json!({"a": 1}), json!({"b": ["x"]})]);
    }

    #[test]
    fn reports_the_line_of_a_syntax_error() {
        let err = parse_documents("a: 1\nb: [unclosed\nc: 3\n").unwrap_err();
        assert!(err.line.is_some(), "{err:?}");
    }

    #[test]
    fn reads_yaml_1_1_booleans_as_strings_like_kustomize() {
        let docs = parse_documents("a: yes\nb: on\nc: y\nd: true\ne: False\n").unwrap();
        assert_eq!(
            docs,
            vec![json!({"a": "yes", "b": "on", "c": "y", "d": true, "e": false})]
        );
    }

    #[test]
    fn refuses_an_alias_bomb() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = parse_documents(&text).unwrap_err();
        assert!(
            err.message
                .starts_with("refused: the YAML expands beyond the reader's limits"),
            "{err}"
        );
    }

    #[test]
    fn writes_kustomize_style_and_quotes_ambiguous_strings() {
        let text = to_string(&json!({"b": ["1", "true", "x"], "a": {"n": 1}})).unwrap();
        let back = parse_documents(&text).unwrap();
        assert_eq!(back, vec![json!({"b": ["1", "true", "x"], "a": {"n": 1}})]);
        assert!(text.starts_with("a:\n"), "{text}");
    }

    #[test]
    fn yaml_1_1_ambiguous_strings_stay_strings_for_any_reader() {
        // kustomize quotes these (YAML 1.1 readers such as PyYAML and Go's yaml.v2 would
        // read them as booleans, numbers, nulls or dates); a build must print them quoted.
        let words = [
            "yes",
            "no",
            "on",
            "off",
            "y",
            "n",
            "Y",
            "N",
            "True",
            "NO",
            "1.0",
            "0x1F",
            "1e3",
            "~",
            "null",
            "",
            "012",
            "1_000",
            ".inf",
            "2024-01-01",
            "-",
            ": x",
            "#x",
            "0o17",
            "+1",
            ".5",
            "1:20",
        ];
        let mut data = serde_json::Map::new();
        for w in words {
            data.insert(format!("k{w}"), json!(w));
            data.insert(w.to_string(), json!("v"));
        }
        let value = json!({ "data": data });
        let text = to_string(&value).unwrap();
        for w in [
            "yes",
            "on",
            "off",
            "y",
            "n",
            "1.0",
            "0x1F",
            "null",
            "~",
            "2024-01-01",
            "1:20",
        ] {
            assert!(
                text.contains(&format!("\"{w}\"")) || text.contains(&format!("'{w}'")),
                "`{w}` must be quoted:\n{text}"
            );
        }
        assert_eq!(parse_documents(&text).unwrap(), vec![value]);
    }
}
