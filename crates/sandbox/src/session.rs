//! A running sandbox: the API (with fault injection), the controllers on a clock, and the state
//! file kept up to date. `gitops sandbox` serves one over HTTPS; the CLI's `--sandbox` mode opens
//! one in-process, lets simulated time catch up with the saved state, works, and closes it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::Layer as _;

use crate::clock::Clock;
use crate::controllers::Controllers;
use crate::faults::{FaultConfig, FaultHandle, FaultLayer, FaultService};
use crate::persist::{self, PersistError};
use crate::store::Store;
use crate::{Sandbox, SandboxService};

/// How a session starts.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// The state file: loaded if it exists, kept up to date, written at shutdown.
    pub state: Option<PathBuf>,
    /// How much faster than real time the controllers run (1: a pod is Ready after ~1 s).
    pub time_scale: f64,
    /// Faults to inject into API requests.
    pub faults: FaultConfig,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            state: None,
            time_scale: 1.0,
            faults: FaultConfig::none(),
        }
    }
}

/// A sandbox with its controllers and persistence running in background tasks.
#[derive(Debug)]
pub struct Session {
    sandbox: Sandbox,
    faults: FaultHandle,
    state: Option<PathBuf>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    // An error means the session was dropped: stop as well.
    let _ = stop.wait_for(|s| *s).await;
}

impl Session {
    /// Load the state (or make a fresh cluster), let simulated time catch up with it, and start
    /// the controllers and the autosave. Must be called inside a tokio runtime.
    pub fn start(options: SessionOptions) -> Result<Self, PersistError> {
        let store = match options
            .state
            .as_deref()
            .map(persist::load)
            .transpose()?
            .flatten()
        {
            Some(snapshot) => Store::from_snapshot(snapshot),
            None => Store::new(),
        };
        // A loaded state keeps what it has; missing system objects are added.
        if let Err(err) = crate::bootstrap::install(&store) {
            tracing::warn!(error = %err, "installing the fresh-cluster objects");
        }
        let sandbox = Sandbox::with_store(store.clone());
        let clock = Clock::real(options.time_scale);
        let mut controllers = Controllers::new(store.clone(), clock);
        // Objects carry wall-clock timestamps, so the first passes already see the time that
        // passed while the state was on disk.
        controllers.settle(Duration::ZERO);
        let (stop, watcher) = watch::channel(false);
        let mut tasks = vec![tokio::spawn(controllers.run(stopped(watcher.clone())))];
        if let Some(path) = &options.state {
            tasks.push(tokio::spawn(persist::autosave(
                store,
                path.clone(),
                stopped(watcher),
            )));
        }
        Ok(Self {
            sandbox,
            faults: FaultHandle::new(options.faults),
            state: options.state,
            stop,
            tasks,
        })
    }

    /// The sandbox (its store, its raw service).
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The API as a tower `Service`, with the session's fault injection:
    /// `kube::Client::new(session.service(), "default")`.
    pub fn service(&self) -> FaultService<SandboxService> {
        FaultLayer::new(self.faults.clone()).layer(self.sandbox.service())
    }

    /// The fault configuration, changeable while the session runs.
    pub fn faults(&self) -> &FaultHandle {
        &self.faults
    }

    /// The state file, if any.
    pub fn state_path(&self) -> Option<&Path> {
        self.state.as_deref()
    }

    /// Write the state file now.
    pub fn save(&self) -> Result<(), PersistError> {
        match &self.state {
            Some(path) => persist::save(self.sandbox.store(), path),
            None => Ok(()),
        }
    }

    /// Stop the controllers and the autosave, then write the state a last time.
    pub async fn shutdown(mut self) -> Result<(), PersistError> {
        let _ = self.stop.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
        self.save()
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, ListParams, PostParams};

    fn deployment() -> Deployment {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}}},
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn an_in_process_client_sees_pods_become_ready_and_the_state_survives_a_restart() {
        tokio::time::timeout(Duration::from_secs(30), async {
            let dir = tempfile::tempdir().unwrap();
            let state = dir.path().join("sandbox.json");
            let options = SessionOptions {
                state: Some(state.clone()),
                time_scale: 20.0,
                faults: FaultConfig::none(),
            };
            let session = Session::start(options.clone()).unwrap();
            let client = kube::Client::new(session.service(), "default");
            let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
            deployments
                .create(&PostParams::default(), &deployment())
                .await
                .unwrap();
            let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
            let ready = |pods: &[Pod]| {
                pods.len() == 2
                    && pods.iter().all(|p| {
                        p.status
                            .as_ref()
                            .and_then(|s| s.conditions.as_ref())
                            .is_some_and(|c| {
                                c.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                            })
                    })
            };
            loop {
                let list = pods
                    .list(&ListParams::default().labels("app=web"))
                    .await
                    .unwrap();
                if ready(&list.items) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            session.shutdown().await.unwrap();

            // A new session from the same file has the same pods, still Ready.
            let session = Session::start(options).unwrap();
            let client = kube::Client::new(session.service(), "default");
            let pods: Api<Pod> = Api::namespaced(client, "default");
            let list = pods
                .list(&ListParams::default().labels("app=web"))
                .await
                .unwrap();
            assert!(
                ready(&list.items),
                "{:?}",
                list.items.iter().map(|p| &p.status).collect::<Vec<_>>()
            );
            session.shutdown().await.unwrap();
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn injected_faults_reach_the_in_process_client() {
        tokio::time::timeout(Duration::from_secs(10), async {
            let session = Session::start(SessionOptions::default()).unwrap();
            let client = kube::Client::new(session.service(), "default");
            let pods: Api<Pod> = Api::namespaced(client, "default");
            session
                .faults()
                .set(FaultConfig::parse("verb=list,resource=pods,error=1,status=500").unwrap());
            let err = pods.list(&ListParams::default()).await.unwrap_err();
            assert!(
                matches!(err, kube::Error::Api(ref s) if s.code == 500),
                "{err:?}"
            );
            session.faults().set(FaultConfig::none());
            pods.list(&ListParams::default()).await.unwrap();
            session.shutdown().await.unwrap();
        })
        .await
        .unwrap();
    }
}
