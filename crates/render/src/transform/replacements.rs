//! `replacements`: copy a field of one object into fields of others (kustomize's
//! replacement filter), with delimiter/index refinement and optional creation.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::kustomization::Selector;
use crate::resmap::ResMap;
use crate::resource::{ResId, effective_ns};
use crate::selector::LabelSelector;

/// One replacement.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Replacement {
    pub source: Option<Source>,
    pub targets: Vec<Target>,
}

/// Where the value comes from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Source {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub field_path: String,
    pub options: Option<FieldOptions>,
}

/// Where the value goes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Target {
    pub select: Option<Selector>,
    pub reject: Vec<Selector>,
    pub field_paths: Vec<String>,
    pub options: Option<FieldOptions>,
}

/// `options` of a source or target.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FieldOptions {
    pub delimiter: String,
    pub index: i64,
    pub create: bool,
}

fn selected_by(id: &ResId, s: &Selector) -> bool {
    (s.name.is_empty() || s.name == id.name)
        && (s.namespace.is_empty() || effective_ns(&s.namespace) == effective_ns(&id.namespace))
        && (s.group.is_empty() || s.group == id.group)
        && (s.version.is_empty() || s.version == id.version)
        && (s.kind.is_empty() || s.kind == id.kind)
}

fn id_is_empty(s: &Selector) -> bool {
    s.name.is_empty()
        && s.namespace.is_empty()
        && s.group.is_empty()
        && s.version.is_empty()
        && s.kind.is_empty()
}

/// Split a field path on dots outside brackets (kustomize's `SmarterPathSplitter`).
pub fn split_field_path(p: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for c in p.chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth -= 1;
                cur.push(c);
            }
            '.' if depth == 0 => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.retain(|s| !s.is_empty());
    out
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Look a path up without creating anything (for sources).
fn lookup<'a>(node: &'a Value, segs: &[String]) -> Option<&'a Value> {
    let Some((first, rest)) = segs.split_first() else {
        return Some(node);
    };
    match node {
        Value::Object(m) => lookup(m.get(map_key(first))?, rest),
        Value::Array(items) => {
            if let Some((k, v)) = bracket(first) {
                let item = items.iter().find(|i| item_matches(i, &k, &v))?;
                lookup(item, rest)
            } else if let Ok(n) = first.parse::<usize>() {
                lookup(items.get(n)?, rest)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// A map key written in brackets (`[topology.example.com/region]`) is the text inside.
fn map_key(seg: &str) -> &str {
    match seg.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        Some(inner) if !inner.contains('=') => inner,
        _ => seg,
    }
}

/// `[key=value]` → (key, value).
fn bracket(seg: &str) -> Option<(String, String)> {
    let inner = seg.strip_prefix('[')?.strip_suffix(']')?;
    let (k, v) = inner.split_once('=')?;
    Some((k.to_string(), v.to_string()))
}

fn item_matches(item: &Value, k: &str, v: &str) -> bool {
    if k.is_empty() {
        return scalar_text(item).as_deref() == Some(v);
    }
    item.get(k).and_then(scalar_text).as_deref() == Some(v)
}

/// Visit every node a target path leads to, creating missing fields when `create` is set.
fn visit(node: &mut Value, segs: &[String], create: bool, f: &mut dyn FnMut(&mut Value)) -> usize {
    let Some((first, rest)) = segs.split_first() else {
        f(node);
        return 1;
    };
    match node {
        Value::Object(m) => {
            if first == "*" {
                return m.values_mut().map(|v| visit(v, rest, create, f)).sum();
            }
            if !m.contains_key(map_key(first)) {
                if !create {
                    return 0;
                }
                let fresh = if rest.is_empty() {
                    Value::Null
                } else if rest[0].starts_with('[') {
                    Value::Array(Vec::new())
                } else {
                    Value::Object(Map::new())
                };
                m.insert(map_key(first).to_string(), fresh);
            }
            match m.get_mut(map_key(first)) {
                Some(child) => {
                    if child.is_null() && create && !rest.is_empty() {
                        *child = Value::Object(Map::new());
                    }
                    visit(child, rest, create, f)
                }
                None => 0,
            }
        }
        Value::Array(items) => {
            if first == "*" {
                return items.iter_mut().map(|v| visit(v, rest, create, f)).sum();
            }
            if let Some((k, v)) = bracket(first) {
                let mut n = 0;
                let mut any = false;
                for item in items.iter_mut() {
                    if item_matches(item, &k, &v) {
                        any = true;
                        n += visit(item, rest, create, f);
                    }
                }
                if !any && create && !k.is_empty() {
                    let mut m = Map::new();
                    m.insert(k, Value::String(v));
                    items.push(Value::Object(m));
                    if let Some(last) = items.last_mut() {
                        n += visit(last, rest, create, f);
                    }
                }
                n
            } else if let Ok(i) = first.parse::<usize>() {
                items
                    .get_mut(i)
                    .map(|item| visit(item, rest, create, f))
                    .unwrap_or(0)
            } else {
                0
            }
        }
        Value::Null if create => {
            *node = Value::Object(Map::new());
            visit(node, segs, create, f)
        }
        _ => 0,
    }
}

/// Read a YAML scalar's text back as the type YAML would give it (for typed targets).
fn typed_like(target: &Value, text: &str) -> Value {
    match target {
        Value::Number(_) => {
            if let Ok(i) = text.parse::<i64>() {
                return Value::from(i);
            }
            if let Ok(f) = text.parse::<f64>()
                && let Some(n) = serde_json::Number::from_f64(f)
            {
                return Value::Number(n);
            }
            Value::String(text.to_string())
        }
        Value::Bool(_) => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text.to_string()),
        },
        _ => Value::String(text.to_string()),
    }
}

fn refine_source(opts: Option<&FieldOptions>, v: Value, field: &str) -> Result<Value, String> {
    let Some(o) = opts.filter(|o| !o.delimiter.is_empty()) else {
        return Ok(v);
    };
    let text = scalar_text(&v).ok_or("delimiter option can only be used with scalar nodes")?;
    let parts: Vec<&str> = text.split(o.delimiter.as_str()).collect();
    let idx = usize::try_from(o.index)
        .ok()
        .filter(|&i| i < parts.len())
        .ok_or_else(|| {
            format!(
                "options.index {} is out of bounds for value {text} of {field}",
                o.index
            )
        })?;
    Ok(Value::String(parts[idx].to_string()))
}

fn set_target(node: &mut Value, value: &Value, opts: Option<&FieldOptions>) -> Result<(), String> {
    let mut value = value.clone();
    if let Some(o) = opts.filter(|o| !o.delimiter.is_empty()) {
        let cur = scalar_text(node).ok_or("delimiter option can only be used with scalar nodes")?;
        let mut parts: Vec<String> = cur
            .split(o.delimiter.as_str())
            .map(str::to_string)
            .collect();
        let v = scalar_text(&value).unwrap_or_default();
        if o.index < 0 {
            parts.insert(0, v);
        } else if o.index as usize >= parts.len() {
            parts.push(v);
        } else {
            parts[o.index as usize] = v;
        }
        value = Value::String(parts.join(&o.delimiter));
    }
    match (&*node, scalar_text(&value)) {
        (Value::String(_) | Value::Number(_) | Value::Bool(_), Some(text)) => {
            *node = typed_like(node, &text)
        }
        _ => *node = value,
    }
    Ok(())
}

/// Run one replacement over the objects. Errors are messages.
pub fn apply(res: &mut ResMap, rep: &Replacement) -> Result<(), String> {
    let src = rep
        .source
        .as_ref()
        .ok_or("a replacement needs a `source`")?;
    let sel = Selector {
        group: src.group.clone(),
        version: src.version.clone(),
        kind: src.kind.clone(),
        name: src.name.clone(),
        namespace: src.namespace.clone(),
        ..Selector::default()
    };
    let src_desc = format!(
        "{}{}/{}{}",
        if src.group.is_empty() {
            String::new()
        } else {
            format!("{}/", src.group)
        },
        if src.kind.is_empty() { "*" } else { &src.kind },
        src.name,
        if src.namespace.is_empty() {
            String::new()
        } else {
            format!(" in {}", src.namespace)
        }
    );
    let hits = res.matching_any_id(|id| selected_by(id, &sel));
    let i = match hits.as_slice() {
        [i] => *i,
        [] => return Err(format!("nothing selected by replacement source {src_desc}")),
        _ => {
            return Err(format!(
                "more than one object matches replacement source {src_desc}"
            ));
        }
    };
    let field_path = if src.field_path.is_empty() {
        "metadata.name"
    } else {
        &src.field_path
    };
    let obj = res
        .get(i)
        .map(|r| Value::Object(r.obj.clone()))
        .unwrap_or(Value::Null);
    let value = lookup(&obj, &split_field_path(field_path))
        .filter(|v| !v.is_null())
        .cloned()
        .ok_or_else(|| {
            format!("fieldPath `{field_path}` is missing for replacement source {src_desc}")
        })?;
    let value = refine_source(src.options.as_ref(), value, field_path)?;

    for t in &rep.targets {
        let select = t
            .select
            .as_ref()
            .ok_or("a replacement target must specify resources to `select`")?;
        let select_labels = parse_opt(&select.label_selector)?;
        let select_annos = parse_opt(&select.annotation_selector)?;
        let paths: Vec<String> = if t.field_paths.is_empty() {
            vec!["metadata.name".into()]
        } else {
            t.field_paths.clone()
        };
        let create = t.options.as_ref().is_some_and(|o| o.create);
        for r in res.iter_mut() {
            let labels = r.meta_map("labels");
            let annos = r.meta_map("annotations");
            if select_labels.as_ref().is_some_and(|s| !s.matches(&labels))
                || select_annos.as_ref().is_some_and(|s| !s.matches(&annos))
            {
                continue;
            }
            let mut rejected = false;
            for rej in &t.reject {
                let l = parse_opt(&rej.label_selector)?;
                let a = parse_opt(&rej.annotation_selector)?;
                if (l.is_some() || a.is_some())
                    && l.as_ref().is_none_or(|s| s.matches(&labels))
                    && a.as_ref().is_none_or(|s| s.matches(&annos))
                {
                    rejected = true;
                }
            }
            let ids = r.all_ids();
            if rejected
                || t.reject
                    .iter()
                    .any(|rej| !id_is_empty(rej) && ids.iter().any(|id| selected_by(id, rej)))
            {
                continue;
            }
            if !ids.iter().any(|id| selected_by(id, select)) {
                continue;
            }
            let desc = r.cur_id().to_string();
            let mut node = Value::Object(std::mem::take(&mut r.obj));
            let mut result = Ok(());
            for p in &paths {
                let mut err = None;
                let n = visit(&mut node, &split_field_path(p), create, &mut |n| {
                    if let Err(e) = set_target(n, &value, t.options.as_ref()) {
                        err = Some(e);
                    }
                });
                if let Some(e) = err {
                    result = Err(e);
                    break;
                }
                if n == 0 {
                    result = Err(format!(
                        "unable to find field `{p}` in replacement target {desc}"
                    ));
                    break;
                }
            }
            if let Value::Object(m) = node {
                r.obj = m;
            }
            result?;
        }
    }
    Ok(())
}

fn parse_opt(s: &str) -> Result<Option<LabelSelector>, String> {
    if s.is_empty() {
        Ok(None)
    } else {
        LabelSelector::parse(s).map(Some)
    }
}
