//! The JSON view of a plan (schema: `docs/plan-json.md`): the plan without the unmasked
//! rendered objects, which only plan files carry.

use crate::plan::Plan;

/// The plan as pretty-printed JSON, secrets masked.
pub fn render(plan: &Plan) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(&plan.without_rendered())?;
    text.push('\n');
    Ok(text)
}
