//! The progress display while a plan talks to the cluster: a bar on a TTY, nothing otherwise
//! (plain logs in CI stay plain).

use std::io::IsTerminal as _;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar on stderr when it is a terminal; a no-op otherwise.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Start a bar for `total` objects of `ring`, when stderr is a TTY.
    pub fn start(ring: &str, total: usize) -> Self {
        if !std::io::stderr().is_terminal() || total == 0 {
            return Self { bar: None };
        }
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        let style =
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} objects {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(format!("planning `{ring}`"));
        Self { bar: Some(bar) }
    }

    /// One more object done.
    pub fn tick(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// Remove the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
