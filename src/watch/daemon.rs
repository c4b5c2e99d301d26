//! The watch loop: read the branch tip, check its files out, and walk the rings in
//! `gitops.yaml` order through the apply engine (`apply::release::run_ring`: lock, plan,
//! ordered apply, gates, diagnosis, rollback, record), exactly as `gitops apply` does. Between
//! commits it re-plans every interval to detect drift. Failures never stop the loop: a bad
//! commit is reported and skipped (the ring keeps its last good revision), outages back off.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::approval::approved_by;
use super::backoff::Backoff;
use super::leader::{self, Elector};
use super::source::{GitError, Head, Source};
use super::status::{Drift, Running, Shared, State, Waiting, now};
use crate::apply::cancel::Cancel;
use crate::apply::event::{Event, Sink};
use crate::apply::release::{Decision, PlanSource, RingRequest, RingResult, run_ring};
use crate::apply::ring::Options;
use crate::cluster::{Cluster, ClusterError};
use crate::config::{Approval, Config, Ring};
use crate::history::Outcome;
use crate::plan::pipeline::{plan_rendered, render};
use crate::plan::{ChangeOp, GitState, Masker, RingPlan};

/// A burst of file-system events (one commit writes many files) is one wake-up: wait this
/// long after the last event.
pub const DEBOUNCE: Duration = Duration::from_millis(150);
/// …but never longer than this after the first one.
const DEBOUNCE_MAX: Duration = Duration::from_secs(2);
/// How often a ring waiting for an approval looks for it.
const APPROVAL_POLL: Duration = Duration::from_secs(2);
/// How often a run that ended with an API error is retried for the same commit before the
/// commit is given up on (until the next commit).
const ERROR_ATTEMPTS: u32 = 3;

/// Where the daemon gets each ring's cluster (a kubeconfig context, the sandbox, in-cluster).
pub trait ClusterSource {
    /// The cluster of `ring` (connections may be cached).
    fn for_ring(&mut self, ring: &Ring) -> impl Future<Output = Result<Cluster, ClusterError>>;
}

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How often to fetch (URLs), re-plan for drift, and re-read (local repositories).
    pub interval: Duration,
    /// Correct drift by applying git again.
    pub self_heal: bool,
    /// The rings to handle (`--rings`); empty: all.
    pub rings: Vec<String>,
    /// Who runs (lock holder, revision records, approvals).
    pub who: String,
    /// Campaign for the leader Lease and run rings only while leading.
    pub leader_election: bool,
    /// A private folder for checkouts (removed at exit).
    pub work: PathBuf,
}

/// What the daemon remembers of a ring between ticks.
#[derive(Debug, Default)]
struct Memory {
    /// History was read once (so a restarted daemon does not redo or retry commits).
    seeded: bool,
    /// The commit running on the ring (applied successfully).
    applied: Option<String>,
    /// A commit that failed (render error, failed gate): not retried until the next commit.
    failed: Option<String>,
    /// API errors in a row for the current commit.
    errors: u32,
    /// When drift was last checked.
    drift_checked: Option<Instant>,
}

/// The files of one commit, checked out.
struct Checkout {
    commit: String,
    dir: PathBuf,
    /// `Err`: `gitops.yaml` of this commit is invalid (reported; waiting for the next commit).
    config: Result<Config, String>,
}

/// How a pass over the rings ended: what to wait for next.
enum Pass {
    /// Every ring is where it should be, or stopped at a failed commit: wait an interval.
    Settled,
    /// A ring waits for an approval: look again soon.
    Waiting,
    /// An outage or a lock held elsewhere: back off.
    Retry,
    /// SIGTERM/SIGINT.
    Interrupted,
}

/// The watch daemon.
pub struct Daemon<C> {
    source: Arc<Mutex<Source>>,
    clusters: C,
    settings: Settings,
    state: Shared,
    cancel: Cancel,
    wake: Option<mpsc::Receiver<()>>,
    checkout: Option<Checkout>,
    memory: BTreeMap<String, Memory>,
    git_backoff: Backoff,
    api_backoff: Backoff,
    elector: Option<Elector>,
}

/// A log line per engine event, tagged with the ring.
struct LogSink {
    ring: String,
}

impl Sink for LogSink {
    fn event(&self, event: Event) {
        let ring = &self.ring;
        match event {
            Event::Phase { phase, detail, .. } => tracing::info!(ring, phase, detail, "phase"),
            Event::Object { object, verb } => {
                tracing::info!(ring, object = %object, verb, "object")
            }
            Event::Waiting {
                seconds_left,
                objects,
            } => {
                tracing::debug!(
                    ring,
                    seconds_left,
                    waiting_on = objects.len(),
                    "gate waiting"
                )
            }
            Event::Rollback { step, error } => {
                tracing::warn!(ring, step = %format!("{} {}", step.verb(), step.object()), error = error.as_deref().unwrap_or(""), "rollback step")
            }
            Event::Note(note) => tracing::info!(ring, note, "note"),
        }
    }
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// Run a blocking git call on a blocking thread.
async fn git<T: Send + 'static>(
    source: &Arc<Mutex<Source>>,
    call: impl FnOnce(&mut Source) -> Result<T, GitError> + Send + 'static,
) -> Result<T, String> {
    let source = source.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = source
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        call(&mut guard).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| format!("the git task failed: {e}"))?
}

impl<C: ClusterSource> Daemon<C> {
    /// A daemon over `source`, woken early by `wake` (file-system events of a local repo).
    pub fn new(
        source: Source,
        clusters: C,
        settings: Settings,
        state: Shared,
        cancel: Cancel,
        wake: Option<mpsc::Receiver<()>>,
    ) -> Self {
        let cap = settings
            .interval
            .clamp(Duration::from_secs(30), Duration::from_secs(300));
        state.lock().repo = source.display();
        Self {
            source: Arc::new(Mutex::new(source)),
            clusters,
            settings,
            state,
            cancel,
            wake,
            checkout: None,
            memory: BTreeMap::new(),
            git_backoff: Backoff::new(Duration::from_secs(1), cap),
            api_backoff: Backoff::new(Duration::from_secs(1), cap),
            elector: None,
        }
    }

    /// Read the branch and check it out once, so a wrong URL, branch, credential or
    /// `gitops.yaml` is an error at start (exit 1) rather than a daemon that never works.
    pub async fn start(&mut self) -> Result<(), String> {
        let head = git(&self.source, Source::head).await?;
        self.seen(&head);
        self.check_out(&head).await?;
        if let Some(Checkout { config: Err(e), .. }) = &self.checkout {
            return Err(e.clone());
        }
        Ok(())
    }

    /// Loop until SIGTERM/SIGINT; then stop campaigning, remove the checkouts, and hand the
    /// clusters back (to close them).
    pub async fn run(mut self) -> C {
        while !self.cancel.is_cancelled() {
            let delay = self.tick().await;
            if self.wait(delay).await {
                break;
            }
        }
        tracing::info!("stopping");
        if let Some(elector) = self.elector.take()
            && let Err(e) = elector.resign().await
        {
            tracing::warn!(error = %e, "could not give up the leader Lease");
        }
        let _ = std::fs::remove_dir_all(&self.settings.work);
        self.clusters
    }

    fn seen(&self, head: &Head) {
        let mut state = self.state.lock();
        state.head = Some(head.commit.clone());
        state.branch = Some(head.branch.clone());
        state.last_fetch = Some(now());
    }

    /// Sleep for `delay`, or until the repository changes (debounced), the leadership
    /// changes, or a stop is asked for (`true`).
    async fn wait(&mut self, delay: Duration) -> bool {
        let wake = &mut self.wake;
        let woken = async {
            match wake {
                Some(rx) => {
                    if rx.recv().await.is_none() {
                        std::future::pending::<()>().await;
                    }
                    // Let the burst (objects, refs, logs of one commit) settle.
                    let first = Instant::now();
                    while first.elapsed() < DEBOUNCE_MAX {
                        match tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                            Ok(Some(())) => continue,
                            _ => break,
                        }
                    }
                }
                None => std::future::pending::<()>().await,
            }
        };
        let leadership = async {
            match &mut self.elector {
                Some(e) => e.changed().await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = self.cancel.cancelled() => true,
            () = tokio::time::sleep(delay) => false,
            () = woken => false,
            () = leadership => false,
        }
    }

    /// One round: read git, check out a new commit, lead (or not), reconcile the rings.
    /// Returns how long to wait before the next round.
    async fn tick(&mut self) -> Duration {
        let interval = self.settings.interval;
        let head = match git(&self.source, Source::head).await {
            Ok(head) => head,
            Err(e) => {
                let delay = self.git_backoff.next_delay();
                tracing::warn!(error = %e, retry_in = ?delay, "reading the repository failed");
                let mut state = self.state.lock();
                state.metrics.git_fetch_failures += 1;
                state.last_error = Some(e);
                return delay;
            }
        };
        self.git_backoff.reset();
        self.seen(&head);
        if let Err(e) = self.check_out(&head).await {
            tracing::warn!(error = %e, "checking the commit out failed");
            self.state.lock().last_error = Some(e);
            return self.git_backoff.next_delay();
        }
        let Some(checkout) = &self.checkout else {
            return interval;
        };
        let config = match &checkout.config {
            Ok(config) => config.clone(),
            Err(e) => {
                self.state.lock().last_error = Some(e.clone());
                return interval;
            }
        };
        let commit = checkout.commit.clone();
        let rings: Vec<Ring> = config
            .rings
            .iter()
            .filter(|r| self.settings.rings.is_empty() || self.settings.rings.contains(&r.name))
            .cloned()
            .collect();
        if self.settings.leader_election && !self.lead(&config, &rings).await {
            return interval.min(leader::RETRY);
        }
        let pass = self.reconcile(&config, &rings, &commit).await;
        match pass {
            Pass::Settled => {
                self.api_backoff.reset();
                let mut state = self.state.lock();
                state.ready = true;
                state.last_error = None;
                interval
            }
            Pass::Waiting => {
                self.api_backoff.reset();
                self.state.lock().ready = true;
                interval.min(APPROVAL_POLL)
            }
            Pass::Retry => self.api_backoff.next_delay(),
            Pass::Interrupted => Duration::ZERO,
        }
    }

    /// Whether this replica leads; starts campaigning on the first ring's cluster.
    async fn lead(&mut self, config: &Config, rings: &[Ring]) -> bool {
        if self.elector.is_none() {
            let Some(first) = rings.first() else {
                return false;
            };
            match self.clusters.for_ring(first).await {
                Ok(cluster) => {
                    self.elector = Some(Elector::spawn(
                        cluster,
                        config.history.namespace.clone(),
                        self.settings.who.clone(),
                    ));
                }
                Err(e) => {
                    self.state.lock().last_error = Some(format!("leader election: {e}"));
                    return false;
                }
            }
        }
        let leading = self.elector.as_ref().is_some_and(Elector::is_leader);
        let mut state = self.state.lock();
        state.leader = Some(leading);
        state.metrics.leader = Some(leading);
        // A standby replica is ready: it serves and takes over when the leader goes.
        state.ready = true;
        leading
    }

    /// Check out `head` when it is new; the previous checkout is removed.
    async fn check_out(&mut self, head: &Head) -> Result<(), String> {
        if self
            .checkout
            .as_ref()
            .is_some_and(|c| c.commit == head.commit)
        {
            return Ok(());
        }
        let dir = self.settings.work.join(short(&head.commit));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| format!("`{}`: {e}", dir.display()))?;
        }
        let commit = head.commit.clone();
        let target = dir.clone();
        let root = git(&self.source, move |s| s.checkout(&commit, &target)).await?;
        let config = Config::load(&root.join(crate::config::FILE_NAME))
            .map_err(|e| format!("commit {}: {e}", short(&head.commit)))
            .and_then(|c| {
                for name in &self.settings.rings {
                    if c.ring(name).is_none() {
                        return Err(format!(
                            "commit {}: `--rings {name}`: no such ring in `gitops.yaml`",
                            short(&head.commit)
                        ));
                    }
                }
                Ok(c)
            });
        if let Err(e) = &config {
            tracing::error!(commit = short(&head.commit), error = %e, "the commit's gitops.yaml is invalid; waiting for the next commit");
        } else {
            tracing::info!(commit = short(&head.commit), branch = %head.branch, "new commit");
        }
        if let Some(old) = self.checkout.take() {
            let _ = std::fs::remove_dir_all(&old.dir);
        }
        self.checkout = Some(Checkout {
            commit: head.commit.clone(),
            dir,
            config,
        });
        Ok(())
    }

    /// Read a ring's history once: the last successful commit runs on the ring; a commit
    /// whose last run failed is not retried.
    async fn seed(
        &mut self,
        cluster: &Cluster,
        config: &Config,
        ring: &str,
    ) -> Result<(), ClusterError> {
        if self.memory.get(ring).is_some_and(|m| m.seeded) {
            return Ok(());
        }
        let revisions =
            crate::history::store::list(cluster, &config.history.namespace, ring).await?;
        let memory = self.memory.entry(ring.to_string()).or_default();
        memory.seeded = true;
        if let Some(good) = revisions.iter().rev().find(|r| r.outcome.is_success()) {
            memory.applied = good.commit.clone();
            let mut state = self.state.lock();
            let status = state.ring(ring);
            status.commit = good.commit.clone();
            status.revision = Some(good.number);
            status.outcome = Some(good.outcome.as_str().to_string());
            if let Some(c) = &good.commit {
                state.metrics.applied.insert(ring.to_string(), c.clone());
            }
        }
        if let Some(last) = revisions.last()
            && matches!(
                last.outcome,
                Outcome::RolledBack | Outcome::RollbackFailed | Outcome::Failed
            )
        {
            memory.failed = last.commit.clone();
        }
        Ok(())
    }

    /// Walk the rings for `commit`; stop at the first that is not where git says.
    async fn reconcile(&mut self, config: &Config, rings: &[Ring], commit: &str) -> Pass {
        for ring in rings {
            let name = ring.name.as_str();
            self.state.lock().ring(name);
            let cluster = match self.clusters.for_ring(ring).await {
                Ok(c) => c,
                Err(e) => return self.api_error(name, &e.to_string()),
            };
            if let Err(e) = self.seed(&cluster, config, name).await {
                return self.api_error(name, &e.to_string());
            }
            let memory = self.memory.entry(name.to_string()).or_default();
            if memory.applied.as_deref() == Some(commit) {
                let due = memory
                    .drift_checked
                    .is_none_or(|t| t.elapsed() >= self.settings.interval);
                if due {
                    memory.drift_checked = Some(Instant::now());
                    if let Some(pass) = self.drift(&cluster, config, ring, commit).await {
                        return pass;
                    }
                }
                continue;
            }
            if memory.failed.as_deref() == Some(commit) {
                return Pass::Settled;
            }
            let objects = match render(config, ring) {
                Ok(objects) => objects,
                Err(failure) => {
                    let message = failure.to_string();
                    tracing::error!(ring = name, commit = short(commit), error = %message, "render failed; the ring keeps its last good revision");
                    self.memory.entry(name.to_string()).or_default().failed =
                        Some(commit.to_string());
                    let mut state = self.state.lock();
                    state.metrics.run(name, "render-error", 0.0);
                    let status = state.ring(name);
                    status.outcome = Some("render-error".into());
                    status.last_commit = Some(commit.to_string());
                    status.last_run = Some(now());
                    status.last_error = Some(message);
                    return Pass::Settled;
                }
            };
            if ring.approval == Approval::Required {
                match approved_by(&cluster, &config.history.namespace, name, commit).await {
                    Err(e) => return self.api_error(name, &e.to_string()),
                    Ok(None) => {
                        return self
                            .await_approval(&cluster, config, ring, commit, objects)
                            .await;
                    }
                    Ok(Some(who)) => {
                        tracing::info!(ring = name, commit = short(commit), approved_by = %who, "approved");
                        let mut state = self.state.lock();
                        state.metrics.waiting.remove(name);
                        state.ring(name).waiting_approval = None;
                    }
                }
            }
            match self
                .run_ring(
                    &cluster,
                    config,
                    ring,
                    commit,
                    PlanSource::Manifests(objects),
                    "watch",
                )
                .await
            {
                Some(pass) => return pass,
                None => continue,
            }
        }
        Pass::Settled
    }

    /// Plan a ring that needs an approval and report it as waiting (once per commit).
    async fn await_approval(
        &mut self,
        cluster: &Cluster,
        config: &Config,
        ring: &Ring,
        commit: &str,
        objects: Vec<serde_json::Value>,
    ) -> Pass {
        let name = ring.name.as_str();
        let already = self
            .state
            .lock()
            .ring(name)
            .waiting_approval
            .as_ref()
            .is_some_and(|w| w.commit == commit);
        if already {
            return Pass::Waiting;
        }
        let plan = match self.plan(cluster, config, ring, commit, objects).await {
            Ok(plan) => plan,
            Err(e) => return self.api_error(name, &e),
        };
        let approve_with = format!("gitops approve {name} {commit}");
        tracing::warn!(
            ring = name,
            commit = short(commit),
            create = plan.summary.create,
            update = plan.summary.update,
            delete = plan.summary.delete,
            approve_with,
            "waiting for approval"
        );
        let mut state = self.state.lock();
        state
            .metrics
            .waiting
            .insert(name.to_string(), commit.to_string());
        state.ring(name).waiting_approval = Some(Waiting {
            commit: commit.to_string(),
            create: plan.summary.create,
            update: plan.summary.update,
            delete: plan.summary.delete,
            approve_with,
        });
        Pass::Waiting
    }

    async fn plan(
        &self,
        cluster: &Cluster,
        config: &Config,
        ring: &Ring,
        commit: &str,
        objects: Vec<serde_json::Value>,
    ) -> Result<RingPlan, String> {
        let git = GitState {
            commit: Some(commit.to_string()),
            dirty: false,
        };
        plan_rendered(
            cluster,
            config,
            ring,
            objects,
            git,
            &Masker::random(),
            &|| {},
        )
        .await
        .map_err(|f| f.to_string())
    }

    /// Re-plan a ring that runs `commit`: report what differs; with `--self-heal`, apply again.
    async fn drift(
        &mut self,
        cluster: &Cluster,
        config: &Config,
        ring: &Ring,
        commit: &str,
    ) -> Option<Pass> {
        let name = ring.name.as_str();
        let objects = match render(config, ring) {
            Ok(o) => o,
            // It rendered when it was applied; the checkout is ours. Report, do not loop.
            Err(f) => return Some(self.api_error(name, &f.to_string())),
        };
        let plan = match self
            .plan(cluster, config, ring, commit, objects.clone())
            .await
        {
            Ok(plan) => plan,
            Err(e) => return Some(self.api_error(name, &e)),
        };
        let items: Vec<String> = plan
            .changes
            .iter()
            .filter(|c| c.op != ChangeOp::Unchanged)
            .map(|c| format!("{} {}", c.op.as_str(), c.object))
            .collect();
        let count = items.len();
        {
            let mut state = self.state.lock();
            state.metrics.drifted.insert(name.to_string(), count);
            state.ring(name).drift = Some(Drift {
                objects: count,
                items: items.clone(),
                checked_at: now(),
            });
        }
        if count == 0 {
            return None;
        }
        tracing::warn!(ring = name, objects = count, drifted = ?items, self_heal = self.settings.self_heal, "drift: the cluster differs from git");
        if !self.settings.self_heal {
            return None;
        }
        let pass = self
            .run_ring(
                cluster,
                config,
                ring,
                commit,
                PlanSource::Manifests(objects),
                "watch self-heal",
            )
            .await;
        if pass.is_none() {
            let mut state = self.state.lock();
            state.metrics.drifted.insert(name.to_string(), 0);
            state.ring(name).drift = Some(Drift {
                objects: 0,
                items: Vec::new(),
                checked_at: now(),
            });
        }
        pass
    }

    /// Run one ring through the engine. `None`: it succeeded, go on to the next ring.
    async fn run_ring(
        &mut self,
        cluster: &Cluster,
        config: &Config,
        ring: &Ring,
        commit: &str,
        plan: PlanSource<'_>,
        trigger: &str,
    ) -> Option<Pass> {
        let name = ring.name.as_str();
        tracing::info!(ring = name, commit = short(commit), trigger, "applying");
        self.state.lock().ring(name).running = Some(Running {
            commit: commit.to_string(),
            trigger: trigger.to_string(),
            since: now(),
        });
        let request = RingRequest {
            config,
            ring,
            cluster,
            plan,
            git: GitState {
                commit: Some(commit.to_string()),
                dirty: false,
            },
            // `approval: required` was checked against the stored approvals before.
            approved: true,
            options: Options {
                force: true,
                rollback: true,
                check_stale: false,
                trigger: trigger.to_string(),
                who: self.settings.who.clone(),
            },
        };
        let started = Instant::now();
        let sink = LogSink {
            ring: name.to_string(),
        };
        let confirm = |_: &RingPlan, _: bool| Some(Decision::Yes);
        let result = run_ring(request, &confirm, &sink, &self.cancel).await;
        self.state.lock().ring(name).running = None;
        let seconds = started.elapsed().as_secs_f64();
        let memory = self.memory.entry(name.to_string()).or_default();
        let mut state = self.state.lock();
        match result {
            RingResult::Ran {
                revision,
                record_error,
            } => {
                let outcome = revision.outcome;
                state.metrics.run(name, outcome.as_str(), seconds);
                let status = state.ring(name);
                status.outcome = Some(outcome.as_str().to_string());
                status.last_commit = Some(commit.to_string());
                status.last_run = Some(now());
                status.last_error = record_error.clone();
                if outcome.is_success() {
                    tracing::info!(
                        ring = name,
                        commit = short(commit),
                        outcome = outcome.as_str(),
                        revision = revision.number,
                        seconds,
                        "ring is at the commit"
                    );
                    status.commit = Some(commit.to_string());
                    status.revision = Some(revision.number);
                    memory.applied = Some(commit.to_string());
                    memory.failed = None;
                    memory.errors = 0;
                    memory.drift_checked = Some(Instant::now());
                    state
                        .metrics
                        .applied
                        .insert(name.to_string(), commit.to_string());
                    return None;
                }
                // The one-line message; the diagnosis (pod states, logs) is in the revision.
                let message = format!("{}: {}", outcome.as_str(), revision.message);
                status.last_error = Some(message.clone());
                match outcome {
                    Outcome::Interrupted => return Some(Pass::Interrupted),
                    Outcome::Error if memory.errors + 1 < ERROR_ATTEMPTS => {
                        memory.errors += 1;
                        tracing::warn!(ring = name, commit = short(commit), error = %message, "apply error; retrying");
                        return Some(Pass::Retry);
                    }
                    _ => {}
                }
                tracing::error!(ring = name, commit = short(commit), error = %message, "the ring failed and keeps its last good revision; waiting for the next commit");
                memory.failed = Some(commit.to_string());
                memory.errors = 0;
                Some(Pass::Settled)
            }
            // Blocked: another run holds the ring's lock (the ring's approval was checked
            // before). Error: the plan failed or the cluster could not be reached. Both leave
            // the ring untouched; try again after a backoff.
            RingResult::Blocked { reason } => {
                self.not_run(&mut state, name, commit, "blocked", reason, seconds)
            }
            RingResult::Error { reason } => {
                self.not_run(&mut state, name, commit, "error", reason, seconds)
            }
        }
    }

    fn not_run(
        &self,
        state: &mut State,
        ring: &str,
        commit: &str,
        outcome: &str,
        reason: String,
        seconds: f64,
    ) -> Option<Pass> {
        state.metrics.run(ring, outcome, seconds);
        tracing::warn!(ring, commit = short(commit), outcome, reason = %reason, "the ring did not run; retrying");
        let status = state.ring(ring);
        status.outcome = Some(outcome.to_string());
        status.last_error = Some(reason);
        if self.cancel.is_cancelled() {
            return Some(Pass::Interrupted);
        }
        Some(Pass::Retry)
    }

    fn api_error(&self, ring: &str, message: &str) -> Pass {
        tracing::warn!(ring, error = %message, "cluster unreachable or refused; backing off");
        self.state.lock().ring(ring).last_error = Some(message.to_string());
        Pass::Retry
    }
}
