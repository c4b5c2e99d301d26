//! `--sandbox`: the embedded Kubernetes API emulator behind an ordinary `kube::Client`, with no
//! socket in between; its state persists under `.gitops/sandbox/` between runs, so a plan after
//! an apply sees what the apply did.

use std::path::{Path, PathBuf};

use super::{Cluster, ClusterError};
use crate::plan::ClusterInfo;

/// What a sandbox-backed cluster reports as its server.
pub const SANDBOX_SERVER: &str = "in-process sandbox";

/// The state file of the sandbox of the repo at `root`.
pub fn state_file(root: &Path) -> PathBuf {
    root.join(".gitops").join("sandbox").join("state.json")
}

/// A running in-process sandbox (controllers and autosave in background tasks).
pub struct SandboxSession {
    session: gitops_sandbox::session::Session,
}

impl SandboxSession {
    /// Load the sandbox of the repo at `root` (a fresh cluster the first time) and start it.
    /// Must be called inside a tokio runtime.
    pub fn open(root: &Path) -> Result<Self, ClusterError> {
        let state = state_file(root);
        if let Some(dir) = state.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| ClusterError::Sandbox(format!("`{}`: {e}", dir.display())))?;
        }
        let options = gitops_sandbox::session::SessionOptions {
            state: Some(state),
            ..Default::default()
        };
        let session = gitops_sandbox::session::Session::start(options)
            .map_err(|e| ClusterError::Sandbox(e.to_string()))?;
        Ok(Self { session })
    }

    /// A cluster talking to this sandbox in-process.
    pub fn cluster(&self) -> Cluster {
        let client = kube::Client::new(self.session.service(), "default");
        Cluster::from_client(
            client,
            ClusterInfo {
                server: SANDBOX_SERVER.to_string(),
                context: None,
            },
            "the sandbox",
        )
    }

    /// Stop the sandbox and write its state.
    pub async fn close(self) -> Result<(), ClusterError> {
        self.session
            .shutdown()
            .await
            .map_err(|e| ClusterError::Sandbox(e.to_string()))
    }
}
