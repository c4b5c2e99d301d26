//! How an apply looks: live progress (a spinner on a TTY, plain lines otherwise) and the
//! final report as text or JSON. A view prints; it never decides.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Mutex;

use gitops_manifest::ObjectRef;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::apply::diagnosis::Diagnosis;
use crate::apply::event::{Event, Sink};
use crate::apply::release::RingResult;
use crate::history::GateResult;

/// How many waited-on objects a progress line names before `and N more`.
const SHOWN: usize = 5;

/// Live progress on stderr.
pub struct Live {
    bar: Option<ProgressBar>,
    lock: Mutex<()>,
}

impl Live {
    /// A spinner on a terminal, plain lines otherwise.
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        Self {
            bar,
            lock: Mutex::new(()),
        }
    }

    fn line(&self, text: String) {
        let _guard = self.lock.lock();
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{text}");
            }
        }
    }

    /// Remove the spinner.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}

/// `waiting for 3 objects: apps/Deployment qa/web (1 of 2 updated replicas available), …`
pub fn waiting_line(seconds_left: u64, objects: &[(ObjectRef, crate::health::Health)]) -> String {
    let mut parts: Vec<String> = objects
        .iter()
        .take(SHOWN)
        .map(|(id, h)| match h {
            crate::health::Health::Progressing(r) | crate::health::Health::Failed(r) => {
                format!("{id} ({r})")
            }
            crate::health::Health::Healthy => id.to_string(),
        })
        .collect();
    if objects.len() > SHOWN {
        parts.push(format!("and {} more", objects.len() - SHOWN));
    }
    format!(
        "waiting for {} objects ({seconds_left}s left): {}",
        objects.len(),
        parts.join(", ")
    )
}

impl Sink for Live {
    fn event(&self, event: Event) {
        match event {
            Event::Phase {
                ring,
                phase,
                detail,
            } => {
                let detail = if detail.is_empty() {
                    String::new()
                } else {
                    format!(": {detail}")
                };
                self.line(format!("{ring}: {phase}{detail}"));
            }
            Event::Object { object, verb } => self.line(format!("  {verb} {object}")),
            Event::Waiting {
                seconds_left,
                objects,
            } => {
                let text = waiting_line(seconds_left, &objects);
                match &self.bar {
                    Some(bar) => bar.set_message(text),
                    None => self.line(format!("  {text}")),
                }
            }
            Event::Rollback { step, error } => match error {
                None => self.line(format!("  rollback: {} {}", step.verb(), step.object())),
                Some(e) => self.line(format!(
                    "  rollback: {} {} FAILED: {e}",
                    step.verb(),
                    step.object()
                )),
            },
            Event::Note(text) => self.line(format!("  {text}")),
        }
    }
}

/// What the report shows of one ring (never the manifests or the snapshot: they hold Secret data).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RingReport {
    /// The ring.
    pub ring: String,
    /// `succeeded`, `unchanged`, `rolled-back`, `rollback-failed`, `failed`, `error`,
    /// `error-rolled-back`,
    /// `interrupted`, `blocked`, `not-run`.
    pub status: String,
    /// The revision recorded, when the ring ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    /// One line on what happened.
    pub message: String,
    /// The git commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Start (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    /// End (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// Gate results.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<GateResult>,
    /// The diagnosis of a failed gate.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnosis: Vec<Diagnosis>,
    /// Rollback steps as `verb object`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rollback: Vec<String>,
    /// Rollback errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rollback_errors: Vec<String>,
    /// Objects pruned.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pruned: Vec<ObjectRef>,
}

/// The report of one ring's result.
pub fn report(ring: &str, result: &RingResult) -> RingReport {
    let mut r = RingReport {
        ring: ring.to_string(),
        status: String::new(),
        revision: None,
        message: String::new(),
        commit: None,
        started: None,
        finished: None,
        gates: Vec::new(),
        diagnosis: Vec::new(),
        rollback: Vec::new(),
        rollback_errors: Vec::new(),
        pruned: Vec::new(),
    };
    match result {
        RingResult::Blocked { reason } => {
            r.status = "blocked".into();
            r.message = reason.clone();
        }
        RingResult::Error { reason } => {
            r.status = "error".into();
            r.message = reason.clone();
        }
        RingResult::Ran {
            revision,
            record_error,
        } => {
            r.status = revision.outcome.as_str().into();
            r.revision = (revision.number > 0 && record_error.is_none()).then_some(revision.number);
            r.message = match record_error {
                Some(e) if revision.message.is_empty() => e.clone(),
                Some(e) => format!("{}; {e}", revision.message),
                None => revision.message.clone(),
            };
            r.commit = revision.commit.clone();
            r.started = Some(revision.started.clone());
            r.finished = Some(revision.finished.clone());
            r.gates = revision.gates.clone();
            r.diagnosis = revision.diagnosis.clone();
            r.pruned = revision.pruned.clone();
            if let Some(rb) = &revision.rollback {
                r.rollback = rb
                    .steps
                    .iter()
                    .map(|s| format!("{} {}", s.verb(), s.object()))
                    .collect();
                r.rollback_errors = rb.errors.clone();
            }
        }
    }
    r
}

/// A ring the release did not reach.
pub fn not_run(ring: &str, because: &str) -> RingReport {
    let mut r = report(
        ring,
        &RingResult::Blocked {
            reason: String::new(),
        },
    );
    r.status = "not-run".into();
    r.message = format!("not run: {because}");
    r
}

/// The whole report as text.
pub fn text<'a>(reports: impl IntoIterator<Item = &'a RingReport>) -> String {
    let mut out = String::new();
    for r in reports {
        let revision = r
            .revision
            .map(|n| format!(" (revision {n})"))
            .unwrap_or_default();
        let mark = match r.status.as_str() {
            "succeeded" | "unchanged" => "✓",
            "not-run" => "-",
            _ => "✗",
        };
        out.push_str(&format!("{mark} {}: {}{revision}", r.ring, r.status));
        if !r.message.is_empty() {
            out.push_str(&format!(": {}", r.message));
        }
        out.push('\n');
        for gate in &r.gates {
            out.push_str(&format!(
                "    {} {} in {:.1}s\n",
                gate.phase, gate.result, gate.seconds
            ));
        }
        if !r.diagnosis.is_empty() {
            out.push_str("  diagnosis:\n");
            for d in &r.diagnosis {
                for line in d.lines() {
                    out.push_str(&format!("    {line}\n"));
                }
            }
        }
        if !r.rollback.is_empty() {
            out.push_str("  rollback:\n");
            for step in &r.rollback {
                out.push_str(&format!("    {step}\n"));
            }
            for e in &r.rollback_errors {
                out.push_str(&format!("    error: {e}\n"));
            }
        }
    }
    out
}
