//! `gitops validate [RING…] [--all]`: offline schema validation of the rendered objects.

use crate::cli::{GlobalArgs, ValidateArgs};
use crate::config::Config;
use crate::exit::Exit;
use crate::output::ci::{self, Annotation, Ci};
use crate::plan::pipeline::{RingFailure, render_with_sources};
use crate::validate::{annotation, validate_objects};
use anyhow::Context as _;

pub fn run(global: &GlobalArgs, args: &ValidateArgs) -> anyhow::Result<Exit> {
    let config = Config::discover(global.repo.as_deref())?;
    let rings = config.select(&args.select.rings, args.select.all)?;
    let ci = Ci::from_env();
    let mut failures = Vec::new();
    for ring in &rings {
        match render_with_sources(&config, ring) {
            Err(failure) => failures.push(failure),
            Ok((objects, sources)) => {
                let errors: Vec<Annotation> = validate_objects(&objects)
                    .into_iter()
                    .map(|p| annotation(&sources, &p.object, &p.issue))
                    .collect();
                if errors.is_empty() {
                    println!("ring `{}`: {} objects valid", ring.name, objects.len());
                } else {
                    failures.push(RingFailure {
                        ring: ring.name.clone(),
                        errors,
                    });
                }
            }
        }
    }
    if failures.is_empty() {
        return Ok(Exit::Success);
    }
    for failure in &failures {
        if let Some(ci) = &ci {
            ci::error_report(ci, &failure.errors)
                .emit()
                .context("cannot write CI annotations")?;
        }
        eprintln!("error: {failure}");
    }
    Ok(Exit::Error)
}
