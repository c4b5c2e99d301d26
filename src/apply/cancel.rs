//! Cancellation: Ctrl-C or SIGTERM asks the run to stop at the next safe point (between
//! groups, between polls), so the object in flight finishes, the lock is released and the
//! revision is recorded as interrupted.

use std::time::Duration;

use tokio::sync::watch;

/// A cheap, cloneable "stop now?" flag that can also be awaited.
#[derive(Debug, Clone)]
pub struct Cancel {
    rx: watch::Receiver<bool>,
}

/// The side that fires a [`Cancel`].
#[derive(Debug)]
pub struct Trigger {
    tx: watch::Sender<bool>,
}

/// A new, not yet fired, cancellation pair.
pub fn pair() -> (Trigger, Cancel) {
    let (tx, rx) = watch::channel(false);
    (Trigger { tx }, Cancel { rx })
}

impl Trigger {
    /// Ask every holder of the [`Cancel`] to stop.
    pub fn fire(&self) {
        let _ = self.tx.send(true);
    }
}

impl Cancel {
    /// A flag that never fires.
    #[cfg(test)]
    pub fn never() -> Self {
        let (tx, rx) = watch::channel(false);
        // Keep the sender alive for the program's life so `changed()` never resolves.
        std::mem::forget(tx);
        Self { rx }
    }

    /// Whether a stop was asked for.
    pub fn is_cancelled(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolve when a stop is asked for.
    pub async fn cancelled(&self) {
        let mut rx = self.rx.clone();
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                // The trigger is gone without firing: never resolve.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Sleep for `d`; `true` when cancelled meanwhile.
    pub async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(d) => self.is_cancelled(),
            () = self.cancelled() => true,
        }
    }
}

/// Fire `trigger` on Ctrl-C or SIGTERM (the daemon and CI agents stop with SIGTERM).
pub fn on_signals(trigger: Trigger) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                        trigger.fire();
                        return;
                    }
                };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        trigger.fire();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleep_ends_early_when_fired() {
        let (trigger, cancel) = pair();
        let waiter = tokio::spawn({
            let cancel = cancel.clone();
            async move { cancel.sleep(Duration::from_secs(30)).await }
        });
        trigger.fire();
        let fired = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert!(fired);
        assert!(cancel.is_cancelled());
        assert!(!Cancel::never().is_cancelled());
    }
}
