//! `gitops unlock RING`: remove a ring's lock left behind by a run that died.

use crate::cli::{GlobalArgs, UnlockArgs};
use crate::commands::apply::runtime;
use crate::commands::plan::Clusters;
use crate::config::Config;
use crate::exit::Exit;

pub fn run(global: &GlobalArgs, args: &UnlockArgs) -> anyhow::Result<Exit> {
    let config = Config::discover(global.repo.as_deref())?;
    let ring = config
        .select(std::slice::from_ref(&args.ring), false)?
        .remove(0);
    let runtime = runtime()?;
    let removed = runtime.block_on(async {
        let mut clusters = Clusters::new(global, &config.root)?;
        let cluster = clusters.for_ring(ring).await?;
        let removed = crate::lock::unlock(&cluster, &config.history.namespace, &ring.name).await?;
        clusters.close().await?;
        anyhow::Ok(removed)
    })?;
    let now = chrono::Utc::now();
    match removed {
        Some(holder) => println!(
            "removed the lock of ring `{}` held by {}",
            ring.name,
            holder.describe(now)
        ),
        None => println!("ring `{}` is not locked", ring.name),
    }
    Ok(Exit::Success)
}
