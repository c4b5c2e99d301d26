//! `gitops show FILE [--output FORMAT]`: print a saved plan as `plan` did.

use anyhow::Context as _;

use crate::cli::ShowArgs;
use crate::exit::Exit;
use crate::plan::{Plan, SCHEMA_VERSION};

pub fn run(args: &ShowArgs) -> anyhow::Result<Exit> {
    let plan = read_plan_file(&args.file)?;
    let root = std::env::current_dir().context("cannot read the current directory")?;
    // `show` prints; CI outputs belong to the `plan` step that made the file.
    super::plan::print(&plan, args.output, None, &root)?;
    Ok(Exit::Success)
}

/// Read a plan file, refusing other schema versions by name.
pub fn read_plan_file(path: &std::path::Path) -> anyhow::Result<Plan> {
    let text = std::fs::read(path)
        .with_context(|| format!("`{}`: cannot read the plan file", path.display()))?;
    let value: serde_json::Value = serde_json::from_slice(&text)
        .with_context(|| format!("`{}`: not a plan file (invalid JSON)", path.display()))?;
    match value
        .get("schemaVersion")
        .and_then(serde_json::Value::as_u64)
    {
        Some(v) if v == u64::from(SCHEMA_VERSION) => {}
        Some(v) => anyhow::bail!(
            "`{}`: plan schema version {v} is not supported by this gitops (it reads version {SCHEMA_VERSION})",
            path.display()
        ),
        None => anyhow::bail!("`{}`: not a plan file (no `schemaVersion`)", path.display()),
    }
    serde_json::from_value(value)
        .with_context(|| format!("`{}`: not a valid plan file", path.display()))
}
