//! `replicas`: set the replica count of workloads by name.

use serde_json::Value;

use crate::fieldspec::{FieldSpec, Leaf, walk};
use crate::resmap::ResMap;

/// Set `count` on the objects named `name` (current or earlier name) of the kinds the
/// field specs cover; naming no such object is an error (message).
pub fn transform(
    res: &mut ResMap,
    name: &str,
    count: i64,
    specs: &[FieldSpec],
) -> Result<(), String> {
    let mut found = false;
    for spec in specs {
        let hits = res.matching_any_id(|id| {
            id.name == name && spec.gvk.selects(&id.group, &id.version, &id.kind)
        });
        for i in hits {
            found = true;
            if let Some(r) = res.get_mut(i) {
                let mut node = Value::Object(std::mem::take(&mut r.obj));
                let _ = walk(
                    &mut node,
                    &spec.segments,
                    spec.create.then_some(Leaf::Scalar),
                    &mut |n| {
                        *n = Value::from(count);
                        Ok(())
                    },
                );
                if let Value::Object(m) = node {
                    r.obj = m;
                }
            }
        }
    }
    if !found {
        let kinds: Vec<&str> = specs.iter().map(|s| s.gvk.kind.as_str()).collect();
        return Err(format!(
            "no object named `{name}` of kind {}",
            kinds.join(", ")
        ));
    }
    Ok(())
}
