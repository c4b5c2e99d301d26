//! Label selectors (equality- and set-based) and field selectors, parsed and matched.
//!
//! https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
//! https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/

use serde_json::Value;

use super::status::ApiError;

/// One requirement of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// `key` (exists).
    Exists(String),
    /// `!key`.
    NotExists(String),
    /// `key=v`, `key==v`, `key in (v1,v2)`.
    In(String, Vec<String>),
    /// `key!=v`, `key notin (v1,v2)` (true also when the key is absent).
    NotIn(String, Vec<String>),
    /// `key>n`.
    Gt(String, i64),
    /// `key<n`.
    Lt(String, i64),
}

/// A parsed label selector: all requirements must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector(pub Vec<Requirement>);

/// Splits on commas outside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn values_in_parens(text: &str, whole: &str) -> Result<Vec<String>, ApiError> {
    let inner = text
        .trim()
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| parse_error(whole, "expected a set of values in parentheses"))?;
    Ok(inner.split(',').map(|v| v.trim().to_owned()).collect())
}

fn parse_error(selector: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!(
        "unable to parse requirement: {why} in selector {selector:?}"
    ))
}

fn parse_requirement(part: &str, whole: &str) -> Result<Requirement, ApiError> {
    let part = part.trim();
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::NotExists(key.trim().to_owned()));
    }
    // Set-based: `key in (...)`, `key notin (...)`.
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if let [key, rest] = words.as_slice() {
        let rest = rest.trim_start();
        if let Some(set) = rest.strip_prefix("notin") {
            return Ok(Requirement::NotIn(
                (*key).to_owned(),
                values_in_parens(set, whole)?,
            ));
        }
        if let Some(set) = rest.strip_prefix("in") {
            return Ok(Requirement::In(
                (*key).to_owned(),
                values_in_parens(set, whole)?,
            ));
        }
    }
    for (op, make) in [
        (
            "!=",
            (|k, v| Requirement::NotIn(k, vec![v])) as fn(String, String) -> Requirement,
        ),
        ("==", |k, v| Requirement::In(k, vec![v])),
        ("=", |k, v| Requirement::In(k, vec![v])),
    ] {
        if let Some((key, value)) = part.split_once(op) {
            return Ok(make(key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    for (op, gt) in [(">", true), ("<", false)] {
        if let Some((key, value)) = part.split_once(op) {
            let n: i64 = value.trim().parse().map_err(|_| {
                parse_error(
                    whole,
                    "for 'Gt', 'Lt' operators, the value must be an integer",
                )
            })?;
            let key = key.trim().to_owned();
            return Ok(if gt {
                Requirement::Gt(key, n)
            } else {
                Requirement::Lt(key, n)
            });
        }
    }
    if part.is_empty() || part.contains(char::is_whitespace) {
        return Err(parse_error(whole, "found unexpected token"));
    }
    Ok(Requirement::Exists(part.to_owned()))
}

impl LabelSelector {
    /// Parses `app=web,tier in (a,b),!canary`.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        split_top_level(text)
            .into_iter()
            .map(|part| parse_requirement(part, text))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether an object's labels satisfy every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        self.0.iter().all(|req| match req {
            Requirement::Exists(k) => label(k).is_some(),
            Requirement::NotExists(k) => label(k).is_none(),
            Requirement::In(k, values) => label(k).is_some_and(|v| values.iter().any(|x| x == v)),
            Requirement::NotIn(k, values) => {
                label(k).is_none_or(|v| !values.iter().any(|x| x == v))
            }
            Requirement::Gt(k, n) => label(k)
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v > *n),
            Requirement::Lt(k, n) => label(k)
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v < *n),
        })
    }
}

/// One term of a field selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldTerm {
    /// The field path (`status.phase`).
    pub field: String,
    /// The value compared with.
    pub value: String,
    /// `!=` rather than `=`/`==`.
    pub negated: bool,
}

/// A parsed field selector: all terms must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector(pub Vec<FieldTerm>);

/// The fields a built-in resource can be selected by, beyond `metadata.name` and `metadata.namespace`.
/// https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/#list-of-supported-fields
fn supported_fields(group: &str, plural: &str) -> &'static [&'static str] {
    match (group, plural) {
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("events.k8s.io", "events") => &[
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "reason",
            "type",
        ],
        ("", "secrets") => &["type"],
        ("", "namespaces") => &["status.phase"],
        ("", "nodes") => &["spec.unschedulable"],
        ("", "replicationcontrollers") | ("apps", "replicasets") => &["status.replicas"],
        ("batch", "jobs") => &["status.successful"],
        ("certificates.k8s.io", "certificatesigningrequests") => &["spec.signerName"],
        _ => &[],
    }
}

impl FieldSelector {
    /// Parses `status.phase=Running,spec.nodeName!=n1` for a resource; unsupported fields are a
    /// 400 as on a real server (`field label not supported: <field>`).
    pub fn parse(text: &str, group: &str, plural: &str) -> Result<Self, ApiError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let mut terms = Vec::new();
        for part in text.split(',') {
            let (field, value, negated) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, v, false)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{text}'; can't understand '{part}'"
                )));
            };
            let field = field.trim();
            if !matches!(field, "metadata.name" | "metadata.namespace")
                && !supported_fields(group, plural).contains(&field)
            {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            terms.push(FieldTerm {
                field: field.to_owned(),
                value: value.trim().to_owned(),
                negated,
            });
        }
        Ok(Self(terms))
    }

    /// Whether an object satisfies every term; absent fields compare as `""`.
    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|term| {
            let pointer = format!("/{}", term.field.replace('.', "/"));
            let actual = match object.pointer(&pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (actual == term.value) != term.negated
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(labels: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "default", "labels": labels}, "status": {"phase": "Running"}})
    }

    #[test]
    fn set_based_and_equality_requirements() {
        let selector = LabelSelector::parse("app=web,tier in (front, back),!canary,env!=prod")
            .unwrap_or_default();
        assert!(selector.matches(&pod(json!({"app": "web", "tier": "back"}))));
        assert!(!selector.matches(&pod(json!({"app": "web", "tier": "db"}))));
        assert!(!selector.matches(&pod(json!({"app": "web", "tier": "back", "canary": "1"}))));
        assert!(!selector.matches(&pod(json!({"app": "web", "tier": "back", "env": "prod"}))));
        let notin = LabelSelector::parse("env notin (prod)").unwrap_or_default();
        assert!(
            notin.matches(&pod(json!({}))),
            "notin holds when the key is absent"
        );
        assert!(LabelSelector::parse("tier in front").is_err());
    }

    #[test]
    fn field_selectors_know_their_fields() {
        let selector = FieldSelector::parse("status.phase=Running,metadata.name!=q", "", "pods")
            .unwrap_or_default();
        assert!(selector.matches(&pod(json!({}))));
        let err = FieldSelector::parse("spec.replicas=1", "apps", "deployments").err();
        assert_eq!(
            err.map(|e| e.message),
            Some("field label not supported: spec.replicas".to_owned())
        );
    }
}
