//! `namePrefix` / `nameSuffix`: rename objects (not CRDs, APIServices or Namespaces),
//! remembering the old names so references can follow.

use serde_json::Value;

use crate::fieldspec::{FieldSpec, walk};
use crate::resmap::ResMap;

/// Add `prefix` and `suffix` to the names the field specs point at.
pub fn transform(
    res: &mut ResMap,
    prefix: &str,
    suffix: &str,
    prefix_specs: &[FieldSpec],
    suffix_specs: &[FieldSpec],
) {
    for (affix, is_prefix, specs) in [(prefix, true, prefix_specs), (suffix, false, suffix_specs)] {
        if affix.is_empty() {
            continue;
        }
        for r in res.iter_mut() {
            let (group, version) = r.group_version();
            let (group, version) = (group.to_string(), version.to_string());
            let kind = r.kind().to_string();
            let skipped = kind == "CustomResourceDefinition"
                || (group == "apiregistration.k8s.io" && kind == "APIService")
                || kind == "Namespace";
            if skipped {
                continue;
            }
            r.store_prev_id();
            if is_prefix {
                r.prefixes.push(affix.to_string());
            } else {
                r.suffixes.push(affix.to_string());
            }
            let mut node = Value::Object(std::mem::take(&mut r.obj));
            for spec in specs
                .iter()
                .filter(|s| s.gvk.selects(&group, &version, &kind))
            {
                // Only strings change; anything else at the path is left alone, as in kustomize.
                let _ = walk(&mut node, &spec.segments, None, &mut |n| {
                    if let Value::String(s) = n {
                        *s = if is_prefix {
                            format!("{affix}{s}")
                        } else {
                            format!("{s}{affix}")
                        };
                    }
                    Ok(())
                });
            }
            if let Value::Object(m) = node {
                r.obj = m;
            }
        }
    }
}
