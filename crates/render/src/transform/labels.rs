//! `labels`, `commonLabels` and `commonAnnotations`: add key/value pairs to the maps the
//! field specs point at (metadata, selectors, pod templates), creating them where allowed.

use serde_json::{Map, Value};

use crate::fieldspec::{FieldSpec, Leaf, walk};
use crate::resmap::ResMap;

/// Add `pairs` at every field spec that selects each object. Errors are messages.
pub fn transform(
    res: &mut ResMap,
    pairs: &Map<String, Value>,
    specs: &[FieldSpec],
) -> Result<(), String> {
    if pairs.is_empty() {
        return Ok(());
    }
    for r in res.iter_mut() {
        let (group, version) = r.group_version();
        let (group, version) = (group.to_string(), version.to_string());
        let kind = r.kind().to_string();
        let mut node = Value::Object(std::mem::take(&mut r.obj));
        let mut result = Ok(());
        for spec in specs
            .iter()
            .filter(|s| s.gvk.selects(&group, &version, &kind))
        {
            result = walk(
                &mut node,
                &spec.segments,
                spec.create.then_some(Leaf::Map),
                &mut |n| {
                    if n.is_null() {
                        *n = Value::Object(Map::new());
                    }
                    match n {
                        Value::Object(m) => {
                            for (k, v) in pairs {
                                m.insert(k.clone(), v.clone());
                            }
                            Ok(())
                        }
                        _ => Err(format!("`{}` is not a map", spec.path)),
                    }
                },
            );
            if result.is_err() {
                break;
            }
        }
        if let Value::Object(m) = node {
            r.obj = m;
        }
        result.map_err(|e| format!("{}: {e}", r.cur_id()))?;
    }
    Ok(())
}
