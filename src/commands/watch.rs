//! `gitops watch [--repo PATH|URL] [--branch B] [--interval 1m] [--listen ADDR] [--self-heal]
//! [--rings R…] [--log-format text|json] [--cache-dir DIR] [--leader-elect]`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::apply::cancel;
use crate::cli::{GlobalArgs, LogFormat, WatchArgs};
use crate::cluster::in_cluster::in_pod;
use crate::cluster::{Cluster, ClusterError};
use crate::commands::plan::Clusters;
use crate::config::{Config, Ring};
use crate::exit::Exit;
use crate::watch::daemon::{ClusterSource, Daemon, Settings};
use crate::watch::source::{Source, is_url};
use crate::watch::status::Shared;
use crate::watch::{http, wake};

/// The daemon's clusters: a kubeconfig context per ring or the sandbox (as `apply`), or the
/// Pod's ServiceAccount when it runs in a cluster without a kubeconfig.
enum WatchClusters {
    Plan(Clusters),
    InCluster(Option<Cluster>),
}

impl ClusterSource for WatchClusters {
    async fn for_ring(&mut self, ring: &Ring) -> Result<Cluster, ClusterError> {
        match self {
            Self::Plan(clusters) => clusters.for_ring(ring).await,
            Self::InCluster(Some(cluster)) => Ok(cluster.clone()),
            Self::InCluster(slot) => {
                let cluster = Cluster::in_cluster().await?;
                *slot = Some(cluster.clone());
                Ok(cluster)
            }
        }
    }
}

/// No `--kubeconfig`, no `KUBECONFIG`, no `~/.kube/config`, and a Pod's environment.
fn use_in_cluster(global: &GlobalArgs) -> bool {
    let home_config = std::env::var_os("HOME").map(|h| Path::new(&h).join(".kube").join("config"));
    !global.sandbox
        && global.kubeconfig.is_none()
        && std::env::var_os("KUBECONFIG").is_none_or(|v| v.is_empty())
        && !home_config.is_some_and(|p| p.exists())
        && in_pod()
}

fn cache_root(args: &WatchArgs) -> PathBuf {
    if let Some(dir) = &args.cache_dir {
        return dir.clone();
    }
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("XDG_CACHE_HOME")
        .or_else(|| env("HOME").map(|h| h.join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("gitops")
        .join("watch")
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // kube logs every failed attempt of a call it retries at ERROR; the daemon reports
        // what still fails after the retries itself.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("info,kube_client::client::builder=off")
        });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation cannot happen in one process; ignore rather than panic.
    let _ = match format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

pub fn run(global: &GlobalArgs, args: &WatchArgs) -> anyhow::Result<Exit> {
    init_logging(args.log_format);
    if args.interval.get().is_zero() {
        anyhow::bail!("`--interval 0`: the interval must be longer than zero");
    }
    let runtime = super::apply::runtime()?;
    runtime.block_on(async {
        // Bind first: a port in use is an error before anything else happens.
        let listener = match args.listen {
            Some(addr) => Some(http::bind(addr).await?),
            None => None,
        };
        let spec = global
            .repo
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned());
        let (source, root) = match spec {
            Some(url) if is_url(&url) => {
                let cache = cache_root(args);
                (Source::remote(&url, args.branch.clone(), &cache), cache)
            }
            Some(path) => {
                let source = Source::local(Path::new(&path), args.branch.clone())?;
                (source, PathBuf::from(path))
            }
            None => {
                let config = Config::discover(None)?;
                (
                    Source::local(&config.root, args.branch.clone())?,
                    config.root,
                )
            }
        };
        let clusters = if use_in_cluster(global) {
            tracing::info!(
                mode = "in-cluster",
                "no kubeconfig in a Pod: connecting in-cluster with its ServiceAccount"
            );
            WatchClusters::InCluster(None)
        } else {
            WatchClusters::Plan(Clusters::new(global, &root)?)
        };
        let (trigger, cancel) = cancel::pair();
        cancel::on_signals(trigger);
        let (_wake_guard, wake) = match source.git_dir() {
            Some(dir) => {
                let (guard, rx) = wake::watch(dir)
                    .with_context(|| format!("`{}`: cannot watch for commits", dir.display()))?;
                (Some(guard), Some(rx))
            }
            None => (None, None),
        };
        let settings = Settings {
            interval: args.interval.get(),
            self_heal: args.self_heal,
            rings: args.rings.clone(),
            who: format!("watch {}", crate::lock::holder_identity()),
            leader_election: args.leader_elect,
            work: std::env::temp_dir().join(format!("gitops-watch-{}", std::process::id())),
        };
        let state = Shared::default();
        let mut daemon = Daemon::new(source, clusters, settings, state.clone(), cancel, wake);
        daemon.start().await.map_err(anyhow::Error::msg)?;
        let server = match listener {
            Some(listener) => {
                let addr = listener
                    .local_addr()
                    .context("reading the listen address")?;
                tracing::info!(%addr, "serving /healthz /readyz /metrics /status");
                Some(tokio::spawn(http::serve(listener, state.clone())))
            }
            None => None,
        };
        let clusters = daemon.run().await;
        if let Some(server) = server {
            server.abort();
        }
        if let WatchClusters::Plan(clusters) = clusters {
            clusters.close().await?;
        }
        tracing::info!("stopped");
        Ok(Exit::Success)
    })
}
