//! Patches: strategic merge (through `gitops_manifest::strategic_merge`) and JSON 6902,
//! applied to the objects a target selects or, without a target, to the object the patch names.

use gitops_manifest::merge_keys::Gvk;
use serde_json::Value;

use crate::resmap::ResMap;
use crate::resource::{ResId, Resource};
use crate::selector::TargetMatcher;

/// The parsed content of a patch.
#[derive(Debug, Clone)]
pub enum PatchBody {
    /// One or more strategic merge patches (objects).
    Strategic(Vec<Value>),
    /// A JSON 6902 operation list.
    Json(json_patch::Patch),
}

/// Options of a `patches` entry.
#[derive(Debug, Clone, Copy, Default)]
pub struct PatchOptions {
    pub allow_name_change: bool,
    pub allow_kind_change: bool,
}

/// Read patch documents: a single sequence is a JSON 6902 patch, mappings are strategic merge
/// patches; anything else is an error (message).
pub fn parse_body(docs: Vec<Value>) -> Result<PatchBody, String> {
    if docs.len() == 1 && docs[0].is_array() {
        let ops: json_patch::Patch = serde_json::from_value(docs[0].clone())
            .map_err(|e| format!("invalid JSON 6902 patch: {e}"))?;
        return Ok(PatchBody::Json(ops));
    }
    if docs.is_empty() {
        return Err("the patch is empty".into());
    }
    if docs.iter().any(|d| !d.is_object()) {
        return Err(
            "a patch must be a strategic merge patch (a mapping) or a JSON 6902 patch (a list)"
                .into(),
        );
    }
    Ok(PatchBody::Strategic(docs))
}

fn patch_id(p: &Value) -> Result<ResId, String> {
    let api_version = p.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = p.get("kind").and_then(Value::as_str).unwrap_or("");
    let meta = p.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if kind.is_empty() || name.is_empty() {
        return Err(
            "a strategic merge patch without a target must have `kind` and `metadata.name`".into(),
        );
    }
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    Ok(ResId {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        namespace: meta
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .into(),
        name: name.into(),
    })
}

/// Apply one strategic merge patch to one object; `false` when the patch deleted it.
pub fn smp_one(r: &mut Resource, patch: &Value, opts: PatchOptions) -> Result<bool, String> {
    let (name, ns, kind) = (
        r.name().to_string(),
        r.namespace().to_string(),
        r.kind().to_string(),
    );
    if opts.allow_name_change || opts.allow_kind_change {
        r.store_prev_id();
    }
    let (g, v) = r.group_version();
    let gvk = Gvk::new(g, v, &kind);
    let Value::Object(pm) = patch else {
        return Err("a strategic merge patch must be a mapping".into());
    };
    // kustomize merges a copy of the patch given the target's apiVersion (and kind, unless
    // the kind may change).
    let mut pm = pm.clone();
    pm.insert(
        "apiVersion".into(),
        Value::String(r.api_version().to_string()),
    );
    if !opts.allow_kind_change {
        pm.insert("kind".into(), Value::String(kind.clone()));
    }
    let pm = &pm;
    match super::kyaml_merge::merge(&r.obj, pm, &gvk)? {
        Some(m) if !m.is_empty() => r.obj = m,
        _ => return Ok(false),
    }
    if !opts.allow_kind_change {
        r.obj.insert("kind".into(), Value::String(kind));
    }
    if !opts.allow_name_change {
        r.set_name(&name);
    }
    r.set_namespace(&ns);
    Ok(true)
}

/// Apply a JSON 6902 patch to one object.
pub fn json_one(r: &mut Resource, ops: &json_patch::Patch) -> Result<(), String> {
    // While kustomize builds, every object carries internal annotations, so a patch may
    // `add /metadata/annotations/x` to an object that has none in its file (but not
    // `/metadata/labels/x`: labels get no such help). An empty map is dropped again after.
    if let Some(Value::Object(meta)) = r.obj.get_mut("metadata") {
        meta.entry("annotations")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
    let mut doc = Value::Object(std::mem::take(&mut r.obj));
    let mut res = Ok(());
    for op in ops.iter() {
        let one = json_patch::Patch(vec![op.clone()]);
        if let Err(e) = json_patch::patch(&mut doc, &one) {
            // kustomize's JSON patch library lets `replace` create a missing object key.
            if let json_patch::PatchOperation::Replace(rep) = op {
                let add = json_patch::PatchOperation::Add(json_patch::AddOperation {
                    path: rep.path.clone(),
                    value: rep.value.clone(),
                });
                if json_patch::patch(&mut doc, &json_patch::Patch(vec![add])).is_ok() {
                    continue;
                }
            }
            res = Err(e.to_string());
            break;
        }
    }
    if let Value::Object(m) = doc {
        r.obj = m;
    }
    crate::build::drop_empty_annotations(&mut r.obj);
    res
}

/// Apply a patch to the objects `target` selects (none selected: nothing happens) or, without
/// a target, to the one object a strategic merge patch names (none: an error).
pub fn apply(
    res: &mut ResMap,
    body: &PatchBody,
    target: Option<&TargetMatcher>,
    opts: PatchOptions,
) -> Result<(), String> {
    match (body, target) {
        (PatchBody::Json(_), None) => Err("a JSON 6902 patch must have a `target`".into()),
        (PatchBody::Json(ops), Some(t)) => {
            for r in res.iter_mut() {
                if t.matches(r) {
                    json_one(r, ops).map_err(|e| format!("{}: {e}", r.cur_id()))?;
                }
            }
            Ok(())
        }
        (PatchBody::Strategic(patches), Some(t)) => {
            for p in patches {
                let selected: Vec<bool> = res.iter().map(|r| t.matches(r)).collect();
                let mut deleted = vec![false; selected.len()];
                for (i, r) in res.iter_mut().enumerate() {
                    if selected[i] {
                        deleted[i] =
                            !smp_one(r, p, opts).map_err(|e| format!("{}: {e}", r.cur_id()))?;
                    }
                }
                let mut i = 0;
                res.retain(|_| {
                    i += 1;
                    !deleted[i - 1]
                });
            }
            Ok(())
        }
        (PatchBody::Strategic(patches), None) => {
            for p in patches {
                let id = patch_id(p)?;
                let hits = res.matching_any_id(|x| x.same(&id));
                let i = match hits.as_slice() {
                    [i] => *i,
                    [] => return Err(format!("no resource matches strategic merge patch {id}")),
                    _ => {
                        return Err(format!(
                            "multiple resources match strategic merge patch {id}"
                        ));
                    }
                };
                let keep = match res.get_mut(i) {
                    Some(r) => smp_one(r, p, opts).map_err(|e| format!("{id}: {e}"))?,
                    None => true,
                };
                if !keep {
                    let mut j = 0;
                    res.retain(|_| {
                        j += 1;
                        j - 1 != i
                    });
                }
            }
            Ok(())
        }
    }
}
