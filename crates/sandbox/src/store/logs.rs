//! Container logs: what the simulated kubelet wrote, per pod and container, for `pods/{name}/log`.
//!
//! https://kubernetes.io/docs/concepts/cluster-administration/logging/#basic-logging-in-kubernetes

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The log lines of one container: the running instance and the one before the last restart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerLog {
    /// Lines of the current instance, oldest first, without trailing newlines.
    pub current: Vec<String>,
    /// Lines of the previous (terminated) instance, if the container has restarted.
    pub previous: Option<Vec<String>>,
}

/// The key of one container's log.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LogKey {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The container's name (init containers included).
    pub container: String,
}

/// Every container's log.
#[derive(Clone, Debug, Default)]
pub(crate) struct Logs {
    pub(crate) entries: BTreeMap<LogKey, ContainerLog>,
}

impl Logs {
    pub(crate) fn append(&mut self, key: LogKey, line: String) {
        self.entries.entry(key).or_default().current.push(line);
    }

    /// The container restarted: what it wrote becomes the previous log, the new instance starts empty.
    pub(crate) fn restart(&mut self, key: LogKey) {
        let log = self.entries.entry(key).or_default();
        log.previous = Some(std::mem::take(&mut log.current));
    }

    pub(crate) fn get(&self, key: &LogKey) -> Option<&ContainerLog> {
        self.entries.get(key)
    }

    /// Logs go away with their pod.
    pub(crate) fn remove_pod(&mut self, namespace: &str, pod: &str) {
        self.entries
            .retain(|k, _| !(k.namespace == namespace && k.pod == pod));
    }
}
