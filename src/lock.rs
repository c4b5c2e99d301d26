//! Ring locks: one `coordination.k8s.io/v1` Lease per ring in the history namespace, so two
//! runs (a laptop and a pipeline, or two pipelines) never apply the same ring at once.
//!
//! A Lease is the object Kubernetes itself uses for leader election
//! (<https://kubernetes.io/docs/concepts/architecture/leases/>): `holderIdentity`,
//! `acquireTime`, `renewTime` and `leaseDurationSeconds`. The holder renews it while it runs;
//! one that stopped renewing for longer than the duration (a killed process) has expired and
//! may be taken over, as leader election does; a live one blocks (exit 4) until it is released
//! or removed with `gitops unlock`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use gitops_manifest::ObjectRef;
use serde_json::{Value, json};

use crate::cluster::apply_calls::lease_kind;
use crate::cluster::{Cluster, ClusterError};

/// How long a lease stays valid without renewal.
pub const LEASE_SECONDS: i64 = 60;
/// How often a running apply renews its leases (well inside [`LEASE_SECONDS`]).
pub const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// The Lease name of a ring's lock.
pub fn lease_name(ring: &str) -> String {
    format!("gitops-lock-{ring}")
}

/// Who is applying: the CI run when in a pipeline, else `user@host`, with the process id so
/// two terminals of one user are told apart.
pub fn holder_identity() -> String {
    identity_from(
        &|k: &str| std::env::var(k).ok(),
        &hostname(),
        std::process::id(),
    )
}

/// [`holder_identity`] over a given environment, host and process id.
///
/// The user is `USER` (POSIX login shells set it), else `LOGNAME` (what POSIX requires login
/// to set, and what cron, `su -` and some containers set without `USER`), else `USERNAME`
/// (Windows), else `unknown`: a record always says who, never an empty name.
/// <https://pubs.opengroup.org/onlinepubs/9799919799/basedefs/V1_chap08.html>
pub fn identity_from(lookup: &dyn Fn(&str) -> Option<String>, host: &str, pid: u32) -> String {
    let env = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
    if env("TF_BUILD").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        // https://learn.microsoft.com/en-us/azure/devops/pipelines/build/variables
        return format!(
            "azure-devops {} run {} ({})",
            env("BUILD_DEFINITIONNAME").unwrap_or_else(|| "pipeline".into()),
            env("BUILD_BUILDNUMBER")
                .or_else(|| env("BUILD_BUILDID"))
                .unwrap_or_else(|| "?".into()),
            env("AGENT_NAME").unwrap_or_else(|| "agent".into()),
        );
    }
    if env("GITHUB_ACTIONS").is_some_and(|v| v == "true") {
        // https://docs.github.com/en/actions/reference/variables-reference
        return format!(
            "github-actions {} run {}",
            env("GITHUB_REPOSITORY").unwrap_or_else(|| "repo".into()),
            env("GITHUB_RUN_ID").unwrap_or_else(|| "?".into()),
        );
    }
    let user = env("USER")
        .or_else(|| env("LOGNAME"))
        .or_else(|| env("USERNAME"))
        .unwrap_or_else(|| "unknown".into());
    format!("{user}@{host} (pid {pid})")
}

/// The machine's name, without a crate for it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .or_else(|| std::env::var("COMPUTERNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown-host".into())
}

/// Lease timestamps are `MicroTime`: RFC 3339 with microseconds
/// (<https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/lease-v1/>).
pub fn micro_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A new Lease held by `holder`.
pub fn lease_object(ring: &str, namespace: &str, holder: &str, now: DateTime<Utc>) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": lease_name(ring),
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "gitops", "gitops.dev/ring": ring},
        },
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": LEASE_SECONDS,
            "acquireTime": micro_time(now),
            "renewTime": micro_time(now),
        }
    })
}

/// Who holds a lease and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// `holderIdentity`; empty when released.
    pub identity: String,
    /// `acquireTime`.
    pub acquired: Option<DateTime<Utc>>,
    /// `renewTime`.
    pub renewed: Option<DateTime<Utc>>,
    /// `leaseDurationSeconds`.
    pub duration_seconds: i64,
}

/// What a live Lease means for someone who wants the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseState {
    /// Nobody holds it (released).
    Free,
    /// We hold it already (a re-entrant take).
    Ours,
    /// Someone else stopped renewing it more than its duration ago: it may be taken over.
    Expired(Holder),
    /// Someone else holds it.
    Held(Holder),
}

fn time(v: &Value, pointer: &str) -> Option<DateTime<Utc>> {
    let s = v.pointer(pointer)?.as_str()?;
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The holder recorded in a Lease.
pub fn holder_of(lease: &Value) -> Holder {
    Holder {
        identity: lease
            .pointer("/spec/holderIdentity")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        acquired: time(lease, "/spec/acquireTime"),
        renewed: time(lease, "/spec/renewTime"),
        duration_seconds: lease
            .pointer("/spec/leaseDurationSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(LEASE_SECONDS),
    }
}

/// Decide what a Lease means for `me` at `now`.
pub fn lease_state(lease: &Value, me: &str, now: DateTime<Utc>) -> LeaseState {
    let holder = holder_of(lease);
    if holder.identity.is_empty() {
        return LeaseState::Free;
    }
    if holder.identity == me {
        return LeaseState::Ours;
    }
    let last = holder.renewed.or(holder.acquired);
    match last {
        Some(t) if (now - t).num_seconds() > holder.duration_seconds => LeaseState::Expired(holder),
        // Without any timestamp nobody can tell whether the holder is alive: treat it as held.
        _ => LeaseState::Held(holder),
    }
}

/// `3m12s`, `2h5m`, `40s`.
pub fn human_age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..86400 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
    }
}

impl Holder {
    /// `ana@laptop (pid 7), for 3m12s, last renewed 5s ago`.
    pub fn describe(&self, now: DateTime<Utc>) -> String {
        let mut text = self.identity.clone();
        if let Some(a) = self.acquired {
            text.push_str(&format!(", for {}", human_age((now - a).num_seconds())));
        }
        if let Some(r) = self.renewed {
            text.push_str(&format!(
                ", last renewed {} ago",
                human_age((now - r).num_seconds())
            ));
        }
        text
    }
}

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Someone else holds it.
    #[error(
        "ring `{ring}` is locked by {holder}; wait for it to finish, or if it is stale run `gitops unlock {ring}`"
    )]
    Held {
        /// The ring.
        ring: String,
        /// Holder and age, in words.
        holder: String,
    },
    /// The cluster refused or could not be reached.
    #[error("ring `{ring}`: taking the lock: {source}")]
    Cluster {
        /// The ring.
        ring: String,
        /// Cause.
        #[source]
        source: ClusterError,
    },
}

/// A held ring lock, renewed in the background until released.
pub struct LockGuard {
    cluster: Cluster,
    id: ObjectRef,
    me: String,
    renewer: tokio::task::JoinHandle<()>,
    lost: Arc<AtomicBool>,
    /// Set when an expired lock of someone else was taken over (for the report).
    pub took_over: Option<String>,
}

fn lease_ref(namespace: &str, ring: &str) -> ObjectRef {
    ObjectRef::new(
        "coordination.k8s.io",
        Some("v1".into()),
        "Lease",
        Some(namespace.into()),
        lease_name(ring),
    )
}

/// Take a ring's lock for `me`, creating the Lease (and the namespace) when missing.
pub async fn acquire(
    cluster: &Cluster,
    namespace: &str,
    ring: &str,
    me: &str,
) -> Result<LockGuard, LockError> {
    let err = |source| LockError::Cluster {
        ring: ring.to_string(),
        source,
    };
    crate::history::store::ensure_namespace(cluster, namespace)
        .await
        .map_err(err)?;
    let id = lease_ref(namespace, ring);
    let kind = lease_kind();
    for _ in 0..5 {
        let now = Utc::now();
        let fresh = lease_object(ring, namespace, me, now);
        if cluster
            .create_new(&kind, &id, &fresh)
            .await
            .map_err(err)?
            .is_some()
        {
            return Ok(LockGuard::start(cluster, id, me, None));
        }
        let Some(live) = cluster.read(&kind, &id).await.map_err(err)? else {
            continue;
        };
        let took_over = match lease_state(&live, me, now) {
            LeaseState::Ours => return Ok(LockGuard::start(cluster, id, me, None)),
            LeaseState::Held(holder) => {
                return Err(LockError::Held {
                    ring: ring.to_string(),
                    holder: holder.describe(now),
                });
            }
            LeaseState::Expired(holder) => Some(holder.describe(now)),
            LeaseState::Free => None,
        };
        let mut taken = live.clone();
        let transitions = live
            .pointer("/spec/leaseTransitions")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        taken["spec"] = fresh["spec"].clone();
        taken["spec"]["leaseTransitions"] = json!(transitions + 1);
        if cluster
            .replace_if(&kind, &id, &taken)
            .await
            .map_err(err)?
            .is_some()
        {
            return Ok(LockGuard::start(cluster, id, me, took_over));
        }
    }
    Err(err(ClusterError::Api {
        what: format!("taking the lock of ring `{ring}`"),
        message: "the Lease kept changing under us".into(),
    }))
}

impl LockGuard {
    fn start(cluster: &Cluster, id: ObjectRef, me: &str, took_over: Option<String>) -> Self {
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = tokio::spawn(renew_loop(
            cluster.clone(),
            id.clone(),
            me.to_string(),
            lost.clone(),
        ));
        Self {
            cluster: cluster.clone(),
            id,
            me: me.to_string(),
            renewer,
            lost,
            took_over,
        }
    }

    /// Whether someone took the lock away (it expired while we were stalled).
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Stop renewing and delete the Lease if it is still ours.
    pub async fn release(self) -> Result<(), ClusterError> {
        self.renewer.abort();
        let kind = lease_kind();
        if let Some(live) = self.cluster.read(&kind, &self.id).await?
            && holder_of(&live).identity == self.me
        {
            self.cluster.delete(&kind, &self.id).await?;
        }
        Ok(())
    }
}

async fn renew_loop(cluster: Cluster, id: ObjectRef, me: String, lost: Arc<AtomicBool>) {
    let kind = lease_kind();
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let Ok(Some(mut live)) = cluster.read(&kind, &id).await else {
            continue;
        };
        if holder_of(&live).identity != me {
            lost.store(true, Ordering::SeqCst);
            return;
        }
        live["spec"]["renewTime"] = json!(micro_time(Utc::now()));
        // A conflict means someone wrote in between: read again on the next tick.
        let _ = cluster.replace_if(&kind, &id, &live).await;
    }
}

/// Remove a ring's lock whoever holds it; returns who held it (`None`: it was not locked).
pub async fn unlock(
    cluster: &Cluster,
    namespace: &str,
    ring: &str,
) -> Result<Option<Holder>, ClusterError> {
    let kind = lease_kind();
    let id = lease_ref(namespace, ring);
    let Some(live) = cluster.read(&kind, &id).await? else {
        return Ok(None);
    };
    cluster.delete(&kind, &id).await?;
    let holder = holder_of(&live);
    Ok((!holder.identity.is_empty()).then_some(holder))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn held_expired_ours_and_free() {
        let t0 = at("2026-01-01T10:00:00Z");
        let lease = lease_object("qa", "gitops-system", "bob@ci (pid 1)", t0);
        assert_eq!(lease["spec"]["renewTime"], "2026-01-01T10:00:00.000000Z");
        assert_eq!(lease_state(&lease, "bob@ci (pid 1)", t0), LeaseState::Ours);
        let LeaseState::Held(holder) =
            lease_state(&lease, "ana@laptop", at("2026-01-01T10:00:30Z"))
        else {
            panic!("held");
        };
        assert_eq!(
            holder.describe(at("2026-01-01T10:00:30Z")),
            "bob@ci (pid 1), for 30s, last renewed 30s ago"
        );
        assert!(matches!(
            lease_state(&lease, "ana@laptop", at("2026-01-01T10:05:00Z")),
            LeaseState::Expired(_)
        ));
        let mut released = lease.clone();
        released["spec"]["holderIdentity"] = json!("");
        assert_eq!(lease_state(&released, "ana@laptop", t0), LeaseState::Free);
    }

    #[test]
    fn the_user_is_user_then_logname_then_unknown() {
        let who = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            identity_from(
                &move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
                "box",
                7,
            )
        };
        assert_eq!(
            who(&[("USER", "ana"), ("LOGNAME", "root")]),
            "ana@box (pid 7)"
        );
        // cron and `su -` environments may carry only LOGNAME.
        assert_eq!(who(&[("LOGNAME", "bob")]), "bob@box (pid 7)");
        // An empty USER is as good as none.
        assert_eq!(who(&[("USER", " "), ("LOGNAME", "bob")]), "bob@box (pid 7)");
        assert_eq!(who(&[]), "unknown@box (pid 7)");
        assert_eq!(
            who(&[
                ("TF_BUILD", "True"),
                ("BUILD_BUILDNUMBER", "20261126.3"),
                ("USER", "ana")
            ]),
            "azure-devops pipeline run 20261126.3 (agent)"
        );
    }

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(human_age(5), "5s");
        assert_eq!(human_age(192), "3m12s");
        assert_eq!(human_age(7500), "2h5m");
        assert_eq!(human_age(90000), "1d1h");
    }
}
