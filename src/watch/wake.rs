//! Waking the daemon when a local repository gets a commit: `notify` watches the git folder
//! (refs, `HEAD`, packed refs, objects), and the daemon debounces the burst one commit makes.

use std::path::Path;

use notify::{RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

/// The watcher (dropping it stops the events) and the wake-ups it sends.
pub struct Wake {
    _watcher: notify::RecommendedWatcher,
}

/// Watch `git_dir`; every event becomes a wake-up on the returned channel (coalesced: a
/// full channel already means "look again").
pub fn watch(git_dir: &Path) -> Result<(Wake, mpsc::Receiver<()>), notify::Error> {
    let (tx, rx) = mpsc::channel(1);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !event.kind.is_access()
        {
            let _ = tx.try_send(());
        }
    })?;
    watcher.watch(git_dir, RecursiveMode::Recursive)?;
    Ok((Wake { _watcher: watcher }, rx))
}
