//! `Metrics`: the daemon's counters and gauges, and their Prometheus text exposition
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format>). Labels
//! carry ring names, outcomes and commit ids only: never a value from a manifest.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Upper bounds (seconds) of the run-duration histogram: a quiet ring takes about a second,
/// a ring with a 10m soak ten minutes.
pub const BUCKETS: [f64; 10] = [0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0];

/// One histogram: cumulative counts per bucket, the sum and the count.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    /// Record one observation.
    pub fn observe(&mut self, seconds: f64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }
}

/// Everything `/metrics` shows.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// Ring runs by (ring, outcome).
    pub runs: BTreeMap<(String, String), u64>,
    /// Run durations per ring.
    pub durations: BTreeMap<String, Histogram>,
    /// Objects that differ from git per ring, at the last drift check.
    pub drifted: BTreeMap<String, usize>,
    /// The last commit applied successfully per ring.
    pub applied: BTreeMap<String, String>,
    /// The commit each ring waits on an approval for.
    pub waiting: BTreeMap<String, String>,
    /// Failed reads of the git repository (fetches for a URL).
    pub git_fetch_failures: u64,
    /// Whether this replica leads (`None`: no leader election).
    pub leader: Option<bool>,
}

/// Escape a label value: backslash, double quote and newline.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Count one ring run.
    pub fn run(&mut self, ring: &str, outcome: &str, seconds: f64) {
        *self
            .runs
            .entry((ring.to_string(), outcome.to_string()))
            .or_default() += 1;
        self.durations
            .entry(ring.to_string())
            .or_default()
            .observe(seconds);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let o = &mut out;
        let name = header(
            o,
            "gitops_watch_runs_total",
            "counter",
            "Ring runs by outcome.",
        );
        for ((ring, outcome), n) in &self.runs {
            let _ = writeln!(
                o,
                "{name}{{ring=\"{}\",outcome=\"{}\"}} {n}",
                label(ring),
                label(outcome)
            );
        }
        let name = header(
            o,
            "gitops_watch_run_duration_seconds",
            "histogram",
            "How long ring runs took.",
        );
        for (ring, h) in &self.durations {
            let ring = label(ring);
            for (bound, count) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(o, "{name}_bucket{{ring=\"{ring}\",le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(
                o,
                "{name}_bucket{{ring=\"{ring}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(o, "{name}_sum{{ring=\"{ring}\"}} {}", h.sum);
            let _ = writeln!(o, "{name}_count{{ring=\"{ring}\"}} {}", h.count);
        }
        let name = header(
            o,
            "gitops_watch_drifted_objects",
            "gauge",
            "Objects that differ from git, at the last drift check.",
        );
        for (ring, n) in &self.drifted {
            let _ = writeln!(o, "{name}{{ring=\"{}\"}} {n}", label(ring));
        }
        let name = header(
            o,
            "gitops_watch_applied_commit_info",
            "gauge",
            "The last commit applied successfully to a ring.",
        );
        for (ring, commit) in &self.applied {
            let _ = writeln!(
                o,
                "{name}{{ring=\"{}\",commit=\"{}\"}} 1",
                label(ring),
                label(commit)
            );
        }
        let name = header(
            o,
            "gitops_watch_waiting_approval_info",
            "gauge",
            "A commit a ring waits on `gitops approve` for.",
        );
        for (ring, commit) in &self.waiting {
            let _ = writeln!(
                o,
                "{name}{{ring=\"{}\",commit=\"{}\"}} 1",
                label(ring),
                label(commit)
            );
        }
        let name = header(
            o,
            "gitops_watch_git_fetch_failures_total",
            "counter",
            "Failed reads or fetches of the git repository.",
        );
        let _ = writeln!(o, "{name} {}", self.git_fetch_failures);
        if let Some(leader) = self.leader {
            let name = header(
                o,
                "gitops_watch_leader",
                "gauge",
                "1 when this replica holds the leader Lease.",
            );
            let _ = writeln!(o, "{name} {}", u8::from(leader));
        }
        out
    }
}

fn header<'n>(out: &mut String, name: &'n str, kind: &str, help: &str) -> &'n str {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_is_prometheus_text() {
        let mut m = Metrics::default();
        m.run("dev", "succeeded", 1.5);
        m.run("dev", "succeeded", 0.2);
        m.run("dev", "render-error", 0.0);
        m.drifted.insert("dev".into(), 2);
        m.applied.insert("dev".into(), "abc123".into());
        m.git_fetch_failures = 3;
        let text = m.render();
        assert!(
            text.contains("# TYPE gitops_watch_runs_total counter\n"),
            "{text}"
        );
        assert!(text.contains("gitops_watch_runs_total{ring=\"dev\",outcome=\"succeeded\"} 2\n"));
        assert!(
            text.contains("gitops_watch_runs_total{ring=\"dev\",outcome=\"render-error\"} 1\n")
        );
        assert!(
            text.contains("gitops_watch_run_duration_seconds_bucket{ring=\"dev\",le=\"0.5\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("gitops_watch_run_duration_seconds_bucket{ring=\"dev\",le=\"2.5\"} 3\n")
        );
        assert!(
            text.contains("gitops_watch_run_duration_seconds_bucket{ring=\"dev\",le=\"+Inf\"} 3\n")
        );
        assert!(text.contains("gitops_watch_run_duration_seconds_count{ring=\"dev\"} 3\n"));
        assert!(text.contains("gitops_watch_drifted_objects{ring=\"dev\"} 2\n"));
        assert!(
            text.contains("gitops_watch_applied_commit_info{ring=\"dev\",commit=\"abc123\"} 1\n")
        );
        assert!(text.contains("gitops_watch_git_fetch_failures_total 3\n"));
        assert!(!text.contains("gitops_watch_leader"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
