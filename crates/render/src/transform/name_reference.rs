//! Name references: after renames (prefix, suffix, namespace, hash), rewrite the fields
//! that refer to renamed objects (kustomize's nameReference transformer), using an index
//! by earlier name so the pass stays linear in the number of objects.

use std::collections::HashMap;

use serde_json::Value;

use crate::config::{NameBackRef, TransformerConfig};
use crate::fieldspec::{FieldSpec, GvkSel, walk};
use crate::resmap::ResMap;
use crate::resource::{ResId, Resource, effective_ns};

/// What the pass needs to know about a possible referral target.
struct Cand {
    cur: ResId,
    prev: Vec<ResId>,
    org_ns: String,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

fn cand(r: &Resource) -> Cand {
    Cand {
        cur: r.cur_id(),
        prev: r.prev.clone(),
        org_ns: r.org_id().namespace,
        prefixes: r.prefixes.clone(),
        suffixes: r.suffixes.clone(),
    }
}

/// kustomize's `SameEndingSubSlice`.
fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    // An object never renamed by a prefix (or suffix) is compatible with any referrer.
    if short.is_empty() {
        return true;
    }
    long.ends_with(short)
}

struct Referrer<'a> {
    cur: ResId,
    prefixes: &'a [String],
    suffixes: &'a [String],
    /// Namespaces of ServiceAccount subjects of a RoleBinding: objects there can be referred to.
    binding_namespaces: Vec<String>,
    role_ref: Option<GvkSel>,
}

struct Pass<'a> {
    cands: &'a [Cand],
    by_prev_name: &'a HashMap<String, Vec<usize>>,
}

impl Pass<'_> {
    /// kustomize's `SubsetThatCouldBeReferencedByResource`.
    fn could_refer(&self, who: &Referrer<'_>, c: &Cand) -> bool {
        if who.cur.is_cluster_scoped() || c.cur.is_cluster_scoped() || who.cur.ns_equals(&c.cur) {
            return true;
        }
        who.binding_namespaces.contains(&c.cur.namespace)
    }

    /// kustomize's `selectReferral`.
    fn select(
        &self,
        who: &Referrer<'_>,
        target: &GvkSel,
        spec: &FieldSpec,
        old: &str,
        ns_filter: Option<&str>,
    ) -> Result<Option<usize>, String> {
        let Some(list) = self.by_prev_name.get(old) else {
            return Ok(None);
        };
        let mut found: Vec<usize> = list
            .iter()
            .copied()
            .filter(|&i| {
                let c = &self.cands[i];
                self.could_refer(who, c)
                    && c.prev
                        .iter()
                        .any(|id| target.selects(&id.group, &id.version, &id.kind))
            })
            .collect();
        if let Some(ns) = ns_filter {
            // kustomize groups the referrer's candidates by original namespace and falls back
            // to the current namespace only when no candidate started in `ns`.
            let ns = effective_ns(ns);
            let any_org = self
                .cands
                .iter()
                .any(|c| effective_ns(&c.org_ns) == ns && self.could_refer(who, c));
            if any_org {
                found.retain(|&i| effective_ns(&self.cands[i].org_ns) == ns);
            } else {
                found.retain(|&i| effective_ns(&self.cands[i].cur.namespace) == ns);
            }
        }
        if spec.path.ends_with("roleRef/name")
            && let Some(rr) = &who.role_ref
        {
            found.retain(|&i| {
                self.cands[i]
                    .prev
                    .iter()
                    .any(|id| rr.selects(&id.group, &id.version, &id.kind))
            });
        }
        if !who.cur.is_cluster_scoped() {
            found.retain(|&i| {
                let c = &self.cands[i];
                c.cur.is_cluster_scoped()
                    || c.cur.kind == "ServiceAccount"
                    || who.cur.ns_equals(&c.cur)
            });
        }
        if found.len() == 1 {
            return Ok(found.first().copied());
        }
        found.retain(|&i| {
            same_ending(&self.cands[i].prefixes, who.prefixes)
                && same_ending(&self.cands[i].suffixes, who.suffixes)
        });
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            [first, rest @ ..] => {
                let same = |i: usize| {
                    let (a, b) = (&self.cands[i].cur, &self.cands[*first].cur);
                    a.name == b.name && a.namespace == b.namespace
                };
                if rest.iter().all(|&i| same(i)) {
                    Ok(Some(*first))
                } else {
                    let ids: Vec<String> = found
                        .iter()
                        .map(|&i| self.cands[i].cur.to_string())
                        .collect();
                    Err(format!(
                        "found multiple possible referrals: {}",
                        ids.join(", ")
                    ))
                }
            }
        }
    }

    fn set(
        &self,
        who: &Referrer<'_>,
        br: &NameBackRef,
        spec: &FieldSpec,
        node: &mut Value,
    ) -> Result<(), String> {
        match node {
            Value::String(old) => {
                if let Some(i) = self.select(who, &br.gvk, spec, old, None)? {
                    *old = self.cands[i].cur.name.clone();
                }
                Ok(())
            }
            Value::Object(map) => {
                let Some(old) = map.get("name").and_then(Value::as_str).map(str::to_string) else {
                    return Err(format!(
                        "path config error; no 'name' field in `{}`",
                        spec.path
                    ));
                };
                let ns = map
                    .get("namespace")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                if let Some(i) = self.select(who, &br.gvk, spec, &old, ns.as_deref())? {
                    let c = &self.cands[i].cur;
                    if c.name == old && c.namespace.is_empty() {
                        return Ok(());
                    }
                    map.insert("name".into(), Value::String(c.name.clone()));
                    if !c.namespace.is_empty() {
                        map.insert("namespace".into(), Value::String(c.namespace.clone()));
                    }
                }
                Ok(())
            }
            Value::Array(items) => {
                for item in items {
                    if item.is_string() || item.is_object() {
                        self.set(who, br, spec, item)?;
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn binding_namespaces(r: &Resource) -> Result<Vec<String>, String> {
    if r.kind() != "RoleBinding" {
        return Ok(Vec::new());
    }
    let Some(Value::Array(subjects)) = r.obj.get("subjects") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for s in subjects {
        let (Some(ns), Some(kind)) = (s.get("namespace"), s.get("kind").and_then(Value::as_str))
        else {
            continue;
        };
        if kind != "ServiceAccount" {
            continue;
        }
        match ns.as_str() {
            Some(n) => out.push(n.to_string()),
            None => {
                return Err(format!(
                    "invalid input: namespace is blank for resource {}",
                    r.cur_id()
                ));
            }
        }
    }
    Ok(out)
}

fn role_ref(r: &Resource) -> Option<GvkSel> {
    let rr = r.obj.get("roleRef")?;
    let group = rr.get("apiGroup")?.as_str()?;
    let kind = rr.get("kind")?.as_str()?;
    Some(GvkSel::new(group, "", kind))
}

/// Rewrite every name reference to a renamed object. Errors are messages naming the referrer.
pub fn fix(res: &mut ResMap, config: &TransformerConfig) -> Result<(), String> {
    let cands: Vec<Cand> = res.iter().map(cand).collect();
    let mut by_prev_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, c) in cands.iter().enumerate() {
        let mut names: Vec<&str> = c.prev.iter().map(|id| id.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        for n in names {
            by_prev_name.entry(n.to_string()).or_default().push(i);
        }
    }
    let pass = Pass {
        cands: &cands,
        by_prev_name: &by_prev_name,
    };
    for r in res.iter_mut() {
        let org = r.org_id();
        let specs: Vec<(&NameBackRef, &FieldSpec)> = config
            .name_reference
            .iter()
            .flat_map(|br| br.referrers.iter().map(move |s| (br, s)))
            .filter(|(_, s)| s.gvk.selects(&org.group, &org.version, &org.kind))
            .collect();
        if specs.is_empty() {
            continue;
        }
        let prefixes = r.prefixes.clone();
        let suffixes = r.suffixes.clone();
        let who = Referrer {
            cur: r.cur_id(),
            prefixes: &prefixes,
            suffixes: &suffixes,
            binding_namespaces: binding_namespaces(r)?,
            role_ref: role_ref(r),
        };
        let mut node = Value::Object(std::mem::take(&mut r.obj));
        let mut result = Ok(());
        for (br, spec) in specs {
            result = walk(&mut node, &spec.segments, None, &mut |n| {
                pass.set(&who, br, spec, n)
            });
            if result.is_err() {
                break;
            }
        }
        if let Value::Object(m) = node {
            r.obj = m;
        }
        result.map_err(|e| format!("updating name reference in `{}`: {e}", who.cur))?;
    }
    Ok(())
}
