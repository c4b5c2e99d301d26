//! `gitops approve RING COMMIT`: store an approval the watch daemon acts on.

use anyhow::Context as _;

use crate::cli::{ApproveArgs, GlobalArgs};
use crate::commands::plan::Clusters;
use crate::config::{Approval, Config};
use crate::exit::Exit;
use crate::watch::approval::{approval_ref, approve, is_commit_id};

pub fn run(global: &GlobalArgs, args: &ApproveArgs) -> anyhow::Result<Exit> {
    let config = Config::discover(global.repo.as_deref())?;
    let Some(ring) = config.ring(&args.ring) else {
        let names: Vec<&str> = config.rings.iter().map(|r| r.name.as_str()).collect();
        anyhow::bail!(
            "`{}`: no such ring in `{}` (rings: {})",
            args.ring,
            config.file.display(),
            names.join(", ")
        );
    };
    if ring.approval != Approval::Required {
        anyhow::bail!(
            "ring `{}` does not require approval (`approval: none` in `{}`): the daemon applies it without one",
            ring.name,
            config.file.display()
        );
    }
    if !is_commit_id(&args.commit) {
        anyhow::bail!(
            "`{}`: not a commit id (7 to 40 hexadecimal characters, as `git log --oneline` shows)",
            args.commit
        );
    }
    let runtime = super::apply::runtime()?;
    let namespace = config.history.namespace.clone();
    runtime.block_on(async {
        let mut clusters = Clusters::new(global, &config.root)?;
        let cluster = clusters.for_ring(ring).await?;
        let who = crate::lock::holder_identity();
        let stored = approve(&cluster, &namespace, &ring.name, &args.commit, &who)
            .await
            .with_context(|| format!("ring `{}`: storing the approval", ring.name));
        clusters.close().await?;
        stored
    })?;
    println!(
        "approved commit {} for ring `{}` (ConfigMap `{namespace}/{}`)",
        args.commit.to_ascii_lowercase(),
        ring.name,
        approval_ref(&namespace, &ring.name).name
    );
    Ok(Exit::Success)
}
