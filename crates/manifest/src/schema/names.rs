//! Object names, namespaces and labels, checked as the API server's `ValidateObjectMeta` does.
//!
//! <https://kubernetes.io/docs/concepts/overview/working-with-objects/names/> and
//! <https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set>;
//! messages are apimachinery's (`k8s.io/apimachinery/pkg/util/validation`).

use serde_json::Value;

use super::{Issue, IssueKind};
use crate::merge_keys::Gvk;

/// Which rule a kind's names follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain, at most `max` characters (253 for most kinds, 52 for CronJobs).
    Subdomain {
        /// The longest name allowed.
        max: usize,
    },
    /// RFC 1123 label (Namespaces): at most 63 characters, no dots.
    Label,
    /// RFC 1035 label (Services): as a label, and starting with a letter.
    Dns1035Label,
    /// A path segment (RBAC objects): anything but `.`, `..`, `/` and `%`.
    PathSegment,
}

/// The name rule of a kind.
pub fn name_rule(gvk: &Gvk) -> NameRule {
    match (gvk.group.as_str(), gvk.kind.as_str()) {
        ("", "Namespace") => NameRule::Label,
        ("", "Service") => NameRule::Dns1035Label,
        ("batch", "CronJob") => NameRule::Subdomain { max: 52 },
        ("rbac.authorization.k8s.io", _) => NameRule::PathSegment,
        _ => NameRule::Subdomain { max: 253 },
    }
}

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const QUALIFIED_NAME_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn is_subdomain(s: &str) -> bool {
    s.split('.').all(is_label)
}

/// Alphanumerics, `-`, `_` and `.`, starting and ending alphanumeric (label values, name parts).
fn is_qualified_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// The problems of a name under a rule (empty when valid), in apimachinery's words.
pub(super) fn name_errors(name: &str, rule: NameRule) -> Vec<String> {
    let mut errors = Vec::new();
    match rule {
        NameRule::Subdomain { max } => {
            if name.len() > max {
                errors.push(format!("must be no more than {max} characters"));
            }
            if !is_subdomain(name) {
                errors.push(SUBDOMAIN_MSG.to_string());
            }
        }
        NameRule::Label | NameRule::Dns1035Label => {
            if name.len() > 63 {
                errors.push("must be no more than 63 characters".to_string());
            }
            let starts_alpha = name.as_bytes().first().is_some_and(u8::is_ascii_lowercase);
            if rule == NameRule::Label && !is_label(name) {
                errors.push(LABEL_MSG.to_string());
            } else if rule == NameRule::Dns1035Label && !(is_label(name) && starts_alpha) {
                errors.push(DNS1035_MSG.to_string());
            }
        }
        NameRule::PathSegment => {
            if name == "." || name == ".." {
                errors.push(format!("may not be '{name}'"));
            }
            for bad in ["/", "%"] {
                if name.contains(bad) {
                    errors.push(format!("may not contain '{bad}'"));
                }
            }
        }
    }
    errors
}

fn invalid(path: &str, value: &str, message: &str) -> Issue {
    Issue {
        kind: IssueKind::Invalid,
        path: path.to_string(),
        message: format!("Invalid value: {value:?}: {message}"),
    }
}

/// Check `metadata.name` (required unless `generateName` is set), `metadata.namespace` and the
/// label keys and values.
pub(super) fn check_metadata(object: &Value, gvk: Option<&Gvk>) -> Vec<Issue> {
    let mut issues = Vec::new();
    let meta = object.get("metadata");
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str);
    let generate = meta
        .and_then(|m| m.get("generateName"))
        .and_then(Value::as_str);
    match name {
        Some(name) if !name.is_empty() => {
            let rule = gvk
                .map(name_rule)
                .unwrap_or(NameRule::Subdomain { max: 253 });
            for message in name_errors(name, rule) {
                issues.push(invalid("metadata.name", name, &message));
            }
        }
        _ if generate.is_some_and(|g| !g.is_empty()) => {}
        _ => issues.push(Issue {
            kind: IssueKind::Required,
            path: "metadata.name".into(),
            message: "Required value: name or generateName is required".into(),
        }),
    }
    if let Some(namespace) = meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
        && !namespace.is_empty()
    {
        for message in name_errors(namespace, NameRule::Label) {
            issues.push(invalid("metadata.namespace", namespace, &message));
        }
    }
    if let Some(Value::Object(labels)) = meta.and_then(|m| m.get("labels")) {
        for (key, value) in labels {
            issues.extend(
                label_key_errors(key)
                    .into_iter()
                    .map(|m| invalid("metadata.labels", key, &m)),
            );
            match value {
                Value::String(v) => {
                    if v.len() > 63 {
                        issues.push(invalid(
                            "metadata.labels",
                            v,
                            "must be no more than 63 characters",
                        ));
                    }
                    if !v.is_empty() && !is_qualified_part(v) {
                        issues.push(invalid("metadata.labels", v, LABEL_VALUE_MSG));
                    }
                }
                Value::Null => {}
                other => issues.push(Issue {
                    kind: IssueKind::WrongType,
                    path: format!("metadata.labels.{key}"),
                    message: format!("invalid type: {other}, expected a string"),
                }),
            }
        }
    }
    issues
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name part of at most 63 characters.
fn label_key_errors(key: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && (prefix.is_empty() || prefix.len() > 253 || !is_subdomain(prefix))
    {
        errors.push(format!("prefix part {SUBDOMAIN_MSG}"));
    }
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errors.push("name part must be no more than 63 characters".to_string());
    } else if !is_qualified_part(name) {
        errors.push(QUALIFIED_NAME_MSG.to_string());
    }
    errors
}
