//! Gathering a diagnosis from the cluster: events and the logs of the failing containers of
//! the objects a gate found unhealthy (the pure model is in `diagnosis`).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::apply::diagnosis::{Diagnosis, LOG_LINES, LogSource, log_source, pod_diagnosis, tail};
use crate::apply::gate::Observation;
use crate::cluster::Cluster;
use crate::cluster::apply_calls::event_kind;

/// Diagnose every unhealthy object of `obs` that has pods (and the others by their health
/// alone). Failures to read events or logs are written into the diagnosis, never fatal: a
/// diagnosis is best effort on a cluster that is already in trouble.
pub async fn diagnose(cluster: &Cluster, obs: &Observation) -> Vec<Diagnosis> {
    let mut events_by_ns: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut out = Vec::new();
    for (id, health) in obs.unhealthy() {
        let pods = obs.pods.get(&id).cloned().unwrap_or_default();
        let ns = id.namespace.clone().unwrap_or_default();
        if !pods.is_empty() && !events_by_ns.contains_key(&ns) {
            let events = cluster
                .list_all(&event_kind(), Some(&ns), None)
                .await
                .unwrap_or_default();
            events_by_ns.insert(ns.clone(), events);
        }
        let events = events_by_ns.get(&ns).cloned().unwrap_or_default();
        let mut pod_list = Vec::new();
        for pod in &pods {
            let mut d = pod_diagnosis(pod, &events);
            for c in d.containers.iter_mut().filter(|c| c.failing) {
                let source = log_source(c);
                let previous = source == LogSource::Previous;
                match cluster
                    .pod_log(&ns, &d.name, &c.name, previous, LOG_LINES as i64)
                    .await
                {
                    Ok(log) => {
                        c.logs = tail(&log, LOG_LINES);
                        c.log_source = Some(source.as_str().to_string());
                    }
                    Err(e) => {
                        c.logs = vec![format!("(log unavailable: {e})")];
                        c.log_source = Some(source.as_str().to_string());
                    }
                }
            }
            pod_list.push(d);
        }
        out.push(Diagnosis {
            object: id.clone(),
            health,
            pods: pod_list,
        });
    }
    out
}
