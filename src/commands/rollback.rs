//! `gitops rollback RING [--to N]`: re-deploy revision N's manifests (default: the last
//! successful one before the current) as a new revision, through the same lock, approval,
//! gates and automatic rollback as `apply`.

use crate::apply::release::PlanSource;
use crate::cli::{GlobalArgs, RollbackArgs};
use crate::commands::apply::{check_approvals, finish, options, release, runtime};
use crate::commands::plan::Clusters;
use crate::config::Config;
use crate::exit::Exit;
use crate::history::revision::default_rollback_target;
use crate::plan::GitState;

pub fn run(global: &GlobalArgs, args: &RollbackArgs) -> anyhow::Result<Exit> {
    let config = Config::discover(global.repo.as_deref())?;
    let ring = config
        .select(std::slice::from_ref(&args.ring), false)?
        .remove(0);
    check_approvals(&config, &args.gate.approve)?;
    let runtime = runtime()?;
    let namespace = config.history.namespace.clone();
    let reports = runtime.block_on(async {
        let mut clusters = Clusters::new(global, &config.root)?;
        let cluster = clusters.for_ring(ring).await?;
        let list = crate::history::store::list(&cluster, &namespace, &ring.name).await?;
        let number = match args.to {
            Some(n) => n,
            None => default_rollback_target(&list).ok_or_else(|| {
                anyhow::anyhow!(
                    "ring `{}` has no successful revision before the current one to roll back to (see `gitops history {}`)",
                    ring.name,
                    ring.name
                )
            })?,
        };
        let revision = crate::history::store::get(&cluster, &namespace, &ring.name, number).await?;
        let trigger = format!("rollback --to {}", revision.number);
        let git = GitState { commit: revision.commit.clone(), dirty: false };
        let work = vec![(ring, PlanSource::Manifests(revision.manifests))];
        let options = options(&args.gate, false, trigger);
        let reports = release(&config, &mut clusters, work, &args.gate, &options, git).await;
        clusters.close().await?;
        anyhow::Ok(reports)
    })?;
    finish(&reports, args.gate.output)
}
