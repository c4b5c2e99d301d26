//! `--state FILE`: the whole cluster as one JSON file, loaded at start, written (debounced)
//! after changes and once more at shutdown. Writes go to a temporary file renamed over the old
//! one, so a crash mid-write never leaves half a state.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::store::{Snapshot, Store};

/// The state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// Reading or writing the file failed.
    #[error("sandbox state `{path}`: {source}")]
    Io {
        /// The state file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a sandbox state.
    #[error("sandbox state `{path}`: not a sandbox state file: {source}")]
    Parse {
        /// The state file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}

/// Read a state file; `None` when it does not exist yet (a first start).
pub fn load(path: &Path) -> Result<Option<Snapshot>, PersistError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PersistError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| PersistError::Parse {
            path: path.to_owned(),
            source,
        })
}

/// Write the store's state to `path` (atomically: temporary file, then rename).
pub fn save(store: &Store, path: &Path) -> Result<(), PersistError> {
    let io = |source| PersistError::Io {
        path: path.to_owned(),
        source,
    };
    let snapshot = store.snapshot();
    let bytes = serde_json::to_vec(&snapshot).map_err(|source| PersistError::Parse {
        path: path.to_owned(),
        source,
    })?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// How long after a change the state is written: a burst of writes is saved once.
pub const DEBOUNCE: Duration = Duration::from_millis(250);

/// Save after every burst of changes until `shutdown`, then once more.
pub async fn autosave(
    store: Store,
    path: PathBuf,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut changes = store.subscribe();
    let mut saved_at = store.resource_version();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            changed = changes.recv() => {
                if let Err(tokio::sync::broadcast::error::RecvError::Closed) = changed {
                    break;
                }
                tokio::time::sleep(DEBOUNCE).await;
                while changes.try_recv().is_ok() {}
                if store.resource_version() != saved_at {
                    saved_at = store.resource_version();
                    if let Err(err) = save(&store, &path) {
                        tracing::warn!(error = %err, "saving the sandbox state");
                    }
                }
            }
        }
    }
    if let Err(err) = save(&store, &path) {
        tracing::warn!(error = %err, "saving the sandbox state at shutdown");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ResourceKey;
    use serde_json::json;

    #[test]
    fn a_saved_state_loads_back_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/sandbox.json");
        assert!(
            load(&path).unwrap().is_none(),
            "a missing file is a first start"
        );
        let store = Store::new();
        crate::bootstrap::install(&store).unwrap();
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "default"}, "data": {"k": "v"}});
        store.create(&ResourceKey::core("configmaps"), cm).unwrap();
        store.append_log("default", "p", "c", "hello");
        save(&store, &path).unwrap();
        let loaded = Store::from_snapshot(load(&path).unwrap().unwrap());
        assert_eq!(
            loaded
                .get(&ResourceKey::core("configmaps"), Some("default"), "a")
                .unwrap()["data"]["k"],
            "v"
        );
        assert_eq!(loaded.resource_version(), store.resource_version());
        assert_eq!(
            loaded.container_log("default", "p", "c").unwrap().current,
            vec!["hello"]
        );

        std::fs::write(&path, "not json").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "sandbox state `{}`: not a sandbox state file:",
                path.display()
            )),
            "{err}"
        );
    }

    #[tokio::test]
    async fn changes_are_saved_after_a_burst_and_at_shutdown() {
        tokio::time::timeout(Duration::from_secs(10), async {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.json");
            let store = Store::new();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(autosave(store.clone(), path.clone(), async {
                let _ = stopped.await;
            }));
            tokio::task::yield_now().await;
            let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}});
            store.create(&ResourceKey::core("namespaces"), ns).unwrap();
            tokio::time::sleep(DEBOUNCE * 3).await;
            let saved = load(&path).unwrap().unwrap();
            assert_eq!(saved.objects.len(), 1);
            let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "y"}});
            store.create(&ResourceKey::core("namespaces"), ns).unwrap();
            stop.send(()).unwrap();
            task.await.unwrap();
            assert_eq!(
                load(&path).unwrap().unwrap().objects.len(),
                2,
                "saved at shutdown"
            );
        })
        .await
        .unwrap();
    }
}
