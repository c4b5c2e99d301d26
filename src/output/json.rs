//! The JSON view of a plan (schema: `docs/plan-json.md`): the plan without the unmasked
//! rendered objects, which only plan files carry.

use crate::plan::Plan;

/// The plan as pretty-printed JSON, secrets masked.
pub fn render(plan: &Plan) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(&plan.without_rendered())?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use gitops_manifest::ObjectRef;
    use serde_json::{Value, json};

    use super::*;
    use crate::plan::change::{ChangeOp, LiveVersion, ObjectChange, Prediction};
    use crate::plan::inventory::{Inventory, parent_ref};
    use crate::plan::managers::Takeover;
    use crate::plan::{ClusterInfo, GitState, RingPlan, SCHEMA_VERSION, Summary};

    /// The documented fields: `path` → first word of the type column.
    fn documented() -> BTreeMap<String, String> {
        include_str!("../../docs/plan-json.md")
            .lines()
            .filter_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let path = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
                let kind = cells.get(2)?.split([',', ' ']).next()?;
                Some((path.to_string(), kind.to_string()))
            })
            .collect()
    }

    /// Fields whose values are whole Kubernetes objects: not part of the schema's structure.
    const FREE_FORM: &[&str] = &[
        "rings[].changes[].before",
        "rings[].changes[].after",
        "rings[].rendered",
    ];

    fn walk(value: &Value, path: &str, out: &mut BTreeMap<String, String>) {
        let kind = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        // Array elements are described by their fields (or by `array of …` on the array).
        if !path.is_empty() && !path.ends_with("[]") {
            out.insert(path.to_string(), kind.to_string());
        }
        if FREE_FORM.contains(&path) {
            return;
        }
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let child = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(v, &child, out);
                }
            }
            Value::Array(items) => {
                for item in items {
                    walk(item, &format!("{path}[]"), out);
                }
            }
            _ => {}
        }
    }

    fn full_plan() -> Plan {
        let id = ObjectRef::new(
            "apps",
            Some("v1".into()),
            "Deployment",
            Some("qa".into()),
            "web",
        );
        let pruned = ObjectRef::new("", Some("v1".into()), "Service", Some("qa".into()), "old");
        let change = ObjectChange {
            object: id.clone(),
            op: ChangeOp::Update,
            source: Some("base/web/deployment.yaml".into()),
            before: Some(json!({"spec": {"replicas": 5}})),
            after: Some(json!({"spec": {"replicas": 2}})),
            taken_from: vec![Takeover {
                manager: "kubectl-edit".into(),
                fields: vec![".spec.replicas".into()],
            }],
            live: Some(LiveVersion {
                uid: "u".into(),
                resource_version: "7".into(),
            }),
            prediction: Prediction::Server,
            note: Some("a note".into()),
        };
        let changes = vec![change];
        let ring = RingPlan {
            ring: "qa".into(),
            git: GitState {
                commit: Some("abc".into()),
                dirty: true,
            },
            cluster: ClusterInfo {
                server: "https://k".into(),
                context: Some("aks-qa".into()),
            },
            summary: Summary::of(&changes),
            changes,
            prune: vec![pruned],
            inventory: Inventory::for_members(parent_ref("qa", "gitops-system"), [&id]),
            rendered: Some(vec![json!({"kind": "Deployment"})]),
        };
        Plan {
            schema_version: SCHEMA_VERSION,
            generated_at: "2026-11-26T18:00:00Z".into(),
            rings: vec![ring],
        }
    }

    #[test]
    fn every_field_written_is_documented_with_its_type_and_every_documented_field_exists() {
        let doc = documented();
        let plan = full_plan();
        let mut seen = BTreeMap::new();
        walk(&serde_json::to_value(&plan).unwrap(), "", &mut seen);
        for (path, kind) in &seen {
            let documented = doc
                .get(path)
                .unwrap_or_else(|| panic!("`{path}` is written but not documented"));
            assert_eq!(
                documented, kind,
                "`{path}`: documented as {documented}, written as {kind}"
            );
        }
        for path in doc.keys() {
            assert!(
                seen.contains_key(path),
                "`{path}` is documented but never written"
            );
        }
    }

    #[test]
    fn the_json_view_has_no_rendered_objects_and_reads_back() {
        let text = render(&full_plan()).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["schemaVersion"], 1);
        assert!(value["rings"][0].get("rendered").is_none());
        let back: Plan = serde_json::from_str(&text).unwrap();
        assert_eq!(back, full_plan().without_rendered());
    }
}
