//! Simulated controllers: what kube-controller-manager, the scheduler, the kubelets and the
//! cloud provider would do to the objects in the store, over simulated time.
//!
//! Every pass reads the store, writes only what changed (the store drops writes that change
//! nothing) and says when the next timed change is due; [`Controllers::run`] repeats passes on
//! store changes and at those times, [`Controllers::settle`] moves a clock forward until the
//! cluster is quiet (for tests and for catching up a loaded state).

mod daemonset;
mod deployment;
pub mod events;
mod job;
pub mod kubelet;
pub mod meta;
mod pods;
mod replicaset;
mod services;
mod statefulset;
mod volumes;

use std::collections::HashMap;
use std::time::Duration;

use crate::clock::{Clock, SimTime};
use crate::store::Store;

pub use kubelet::Timing;
pub use pods::SELECTED_NODE;

/// What the controllers remember between passes (timers the objects do not carry).
#[derive(Debug, Default)]
pub(crate) struct Memory {
    pods: HashMap<String, pods::PodMemory>,
    deployments: HashMap<String, deployment::DeploymentMemory>,
}

/// What one pass of a controller works with.
pub(crate) struct Context<'a> {
    store: &'a Store,
    clock: &'a Clock,
    timing: &'a Timing,
    memory: &'a mut Memory,
}

/// The earlier of two optional times.
pub(crate) fn next_of(a: Option<SimTime>, b: Option<SimTime>) -> Option<SimTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// All simulated controllers over one store and clock.
#[derive(Debug)]
pub struct Controllers {
    store: Store,
    clock: Clock,
    timing: Timing,
    memory: Memory,
}

impl Controllers {
    /// Controllers with the default timing (a pod is Ready about a second after it is created).
    pub fn new(store: Store, clock: Clock) -> Self {
        Self::with_timing(store, clock, Timing::default())
    }

    /// Controllers with their own timing.
    pub fn with_timing(store: Store, clock: Clock, timing: Timing) -> Self {
        Self {
            store,
            clock,
            timing,
            memory: Memory::default(),
        }
    }

    /// The clock the controllers run on.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// One pass of every controller, in the order their outputs feed each other. Returns the
    /// simulated time of the next timed change, if any.
    pub fn reconcile(&mut self) -> Option<SimTime> {
        let mut ctx = Context {
            store: &self.store,
            clock: &self.clock,
            timing: &self.timing,
            memory: &mut self.memory,
        };
        let mut next = None;
        next = next_of(next, deployment::reconcile(&mut ctx));
        replicaset::reconcile(&mut ctx);
        statefulset::reconcile(&mut ctx);
        daemonset::reconcile(&mut ctx);
        job::reconcile(&mut ctx);
        volumes::reconcile(&mut ctx);
        next = next_of(next, pods::reconcile(&mut ctx));
        next = next_of(next, services::reconcile(&mut ctx));
        next
    }

    /// Run passes until nothing changes any more, moving a manual clock to each timed change,
    /// for at most `horizon` of simulated time. Used by tests and to let a loaded state catch up.
    pub fn settle(&mut self, horizon: Duration) {
        let until = self.clock.now() + horizon;
        // Several passes at one time: one controller's writes are the next one's input.
        for _ in 0..10_000 {
            let before = self.store.resource_version();
            let next = self.reconcile();
            if self.store.resource_version() != before {
                continue;
            }
            match next {
                Some(at) if at <= until => {
                    let now = self.clock.now();
                    if at > now {
                        self.clock.advance(at - now);
                    }
                }
                _ => {
                    let now = self.clock.now();
                    if until > now && !self.clock.is_real() {
                        self.clock.advance(until - now);
                        self.reconcile();
                    }
                    return;
                }
            }
        }
    }

    /// Run for ever (until `shutdown`): a pass after every burst of store changes and at every
    /// timed change.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        let mut changes = self.store.subscribe();
        tokio::pin!(shutdown);
        loop {
            let next = self.reconcile();
            let wait = next
                .and_then(|at| self.clock.real_until(at))
                .unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(wait) => {}
                changed = changes.recv() => {
                    if let Err(tokio::sync::broadcast::error::RecvError::Closed) = changed {
                        return;
                    }
                    // Let a burst of writes (an apply of many objects) land before the pass.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    while changes.try_recv().is_ok() {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
