//! Selecting objects: patch targets (regular-expression names, label and annotation
//! selectors) and replacement sources/targets (exact ids).

use regex::Regex;
use serde_json::{Map, Value};

use crate::kustomization::Selector;
use crate::resource::{Resource, effective_ns};

/// A compiled `target` of a patch (kustomize's `SelectorRegex`).
pub struct TargetMatcher {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Option<LabelSelector>,
    annotations: Option<LabelSelector>,
}

fn anchored(p: &str) -> Result<Option<Regex>, String> {
    if p.is_empty() {
        return Ok(None);
    }
    Regex::new(&format!("^(?:{p})$"))
        .map(Some)
        .map_err(|e| format!("invalid regular expression `{p}`: {e}"))
}

fn is_match(r: &Option<Regex>, s: &str) -> bool {
    r.as_ref().is_none_or(|r| r.is_match(s))
}

impl TargetMatcher {
    pub fn new(s: &Selector) -> Result<Self, String> {
        Ok(Self {
            group: anchored(&s.group)?,
            version: anchored(&s.version)?,
            kind: anchored(&s.kind)?,
            name: anchored(&s.name)?,
            namespace: anchored(&s.namespace)?,
            labels: if s.label_selector.is_empty() {
                None
            } else {
                Some(LabelSelector::parse(&s.label_selector)?)
            },
            annotations: if s.annotation_selector.is_empty() {
                None
            } else {
                Some(LabelSelector::parse(&s.annotation_selector)?)
            },
        })
    }

    /// kustomize's `ResMap.Select`: namespace and name match the original or the current id.
    pub fn matches(&self, r: &Resource) -> bool {
        let cur = r.cur_id();
        let org = r.org_id();
        if !is_match(&self.namespace, effective_ns(&org.namespace))
            && !is_match(&self.namespace, effective_ns(&cur.namespace))
        {
            return false;
        }
        if !is_match(&self.name, &org.name) && !is_match(&self.name, &cur.name) {
            return false;
        }
        if !is_match(&self.group, &cur.group)
            || !is_match(&self.version, &cur.version)
            || !is_match(&self.kind, &cur.kind)
        {
            return false;
        }
        if let Some(ls) = &self.labels
            && !ls.matches(&r.meta_map("labels"))
        {
            return false;
        }
        if let Some(ls) = &self.annotations
            && !ls.matches(&r.meta_map("annotations"))
        {
            return false;
        }
        true
    }
}

/// One requirement of a Kubernetes label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Req {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A label selector in the string form (`app=web,tier!=db,env in (qa,prod),!canary`).
/// https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSelector {
    reqs: Vec<Req>,
}

/// Split on commas outside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn set_values(rest: &str, whole: &str) -> Result<Vec<String>, String> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("invalid label selector `{whole}`"))?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

impl LabelSelector {
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let p = part.trim();
            if p.is_empty() {
                continue;
            }
            let req = if let Some(k) = p.strip_prefix('!') {
                Req::NotExists(k.trim().to_string())
            } else if let Some((k, v)) = p.split_once("!=") {
                Req::NotEq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = p.split_once("==") {
                Req::Eq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = p.split_once('=') {
                Req::Eq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, rest)) = p.split_once(" notin ") {
                Req::NotIn(k.trim().to_string(), set_values(rest, s)?)
            } else if let Some((k, rest)) = p.split_once(" in ") {
                Req::In(k.trim().to_string(), set_values(rest, s)?)
            } else if p
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
            {
                Req::Exists(p.to_string())
            } else {
                return Err(format!("invalid label selector `{s}`"));
            };
            reqs.push(req);
        }
        Ok(Self { reqs })
    }

    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.reqs.iter().all(|r| match r {
            Req::Eq(k, v) => get(k) == Some(v.as_str()),
            Req::NotEq(k, v) => get(k) != Some(v.as_str()),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Req::Exists(k) => labels.contains_key(k),
            Req::NotExists(k) => !labels.contains_key(k),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selectors_follow_kubernetes_syntax() {
        let labels = json!({"app": "web", "env": "qa"});
        let m = labels.as_object().unwrap();
        assert!(LabelSelector::parse("app=web").unwrap().matches(m));
        assert!(
            LabelSelector::parse("app=web,env in (qa, prod)")
                .unwrap()
                .matches(m)
        );
        assert!(!LabelSelector::parse("app!=web").unwrap().matches(m));
        assert!(LabelSelector::parse("!canary,env").unwrap().matches(m));
        assert!(!LabelSelector::parse("env notin (qa)").unwrap().matches(m));
    }
}
