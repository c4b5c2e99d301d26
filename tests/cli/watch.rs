//! `gitops watch` as a real process against `gitops sandbox` over HTTPS, driven the way an
//! operator would: commits with `git`, drift with `kubectl`, state through `/status`,
//! `/metrics` and `gitops history`. Every wait is bounded; a timeout prints the daemon's log.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::harness::{copy, project_root};
use crate::served::Served;

/// The longest any single wait in these tests may take.
pub(crate) const WAIT: Duration = Duration::from_secs(60);

pub(crate) use crate::served::gitops;

/// A `gitops sandbox` served over HTTPS on a free port, killed on drop.
pub(crate) struct Sandbox {
    served: Served,
}

impl Sandbox {
    pub(crate) fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[])
    }

    fn start_with(dir: &Path, extra: &[&str]) -> Self {
        Self {
            served: Served::start(&dir.join("kubeconfig"), extra),
        }
    }

    /// The kubeconfig it wrote.
    pub(crate) fn kubeconfig(&self) -> &Path {
        &self.served.kubeconfig
    }

    fn kubectl(&self, args: &[&str]) -> (bool, String) {
        let out = self
            .served
            .kubectl()
            .args(args)
            .output()
            .expect("run kubectl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }

    /// The image of the frontend container of ring `dev` (empty when not deployed). Only
    /// stdout: with faults injected, kubectl logs its retried discovery errors on stderr. A read
    /// that an injected fault broke (any failure but NotFound) is tried again, up to ten times.
    pub(crate) fn image(&self) -> String {
        let mut last_error = String::new();
        for _ in 0..10 {
            let out = self
                .served
                .kubectl()
                .args([
                    "get",
                    "deployment",
                    "frontend-dev",
                    "-n",
                    "shop-dev",
                    "-o",
                    "jsonpath={.spec.template.spec.containers[?(@.name==\"frontend\")].image}",
                ])
                .output()
                .expect("run kubectl");
            if out.status.success() {
                return String::from_utf8_lossy(&out.stdout).trim().to_string();
            }
            last_error = String::from_utf8_lossy(&out.stderr).to_string();
            if last_error.contains("NotFound") || last_error.contains("not found") {
                return String::new();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("kubectl get deployment frontend-dev kept failing: {last_error}");
    }
}

/// A `gitops watch` process; its log goes to a file, shown when a wait fails.
pub(crate) struct Daemon {
    pub(crate) child: Child,
    pub(crate) port: u16,
    pub(crate) log: PathBuf,
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl Daemon {
    fn start(dir: &Path, name: &str, repo: &str, sandbox: &Sandbox, extra: &[&str]) -> Self {
        Self::start_with_env(dir, name, repo, sandbox, extra, &[])
    }

    /// [`Daemon::start`] with variables added to the daemon's environment (credentials).
    pub(crate) fn start_with_env(
        dir: &Path,
        name: &str,
        repo: &str,
        sandbox: &Sandbox,
        extra: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Self {
        let port = free_port();
        let log = dir.join(format!("{name}.log"));
        let child = gitops()
            .args([
                "watch",
                "--repo",
                repo,
                "--interval",
                "1s",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--kubeconfig",
            ])
            .arg(sandbox.kubeconfig())
            .arg("--cache-dir")
            .arg(dir.join(format!("{name}-cache")))
            .args(extra)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start gitops watch");
        let mut daemon = Self { child, port, log };
        daemon.wait_for("the daemon serves /healthz", |d| {
            d.get("/healthz").is_some_and(|(code, _)| code == 200)
        });
        daemon
    }

    pub(crate) fn get(&mut self, path: &str) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).ok()?;
        let code = text.split_whitespace().nth(1)?.parse().ok()?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Some((code, body))
    }

    pub(crate) fn status(&mut self) -> Value {
        self.get("/status")
            .and_then(|(_, body)| serde_json::from_str(&body).ok())
            .unwrap_or(Value::Null)
    }

    pub(crate) fn ring(&mut self, ring: &str) -> Value {
        let status = self.status();
        status["rings"]
            .as_array()
            .and_then(|rings| rings.iter().find(|r| r["ring"] == ring).cloned())
            .unwrap_or(Value::Null)
    }

    pub(crate) fn metrics(&mut self) -> String {
        self.get("/metrics")
            .map(|(_, body)| body)
            .unwrap_or_default()
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Poll `check` every 50 ms until it holds; fail with the daemon's log after [`WAIT`].
    pub(crate) fn wait_for(&mut self, what: &str, mut check: impl FnMut(&mut Self) -> bool) {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if check(self) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "waiting for {what}: the daemon exited with {status}\n--- log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "waiting for {what}: timed out after {WAIT:?}\n--- status: {}\n--- log:\n{}",
            self.status(),
            self.log()
        );
    }

    /// Send SIGTERM and wait (bounded) for the exit code.
    pub(crate) fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "the daemon did not stop within {WAIT:?} of SIGTERM\n--- log:\n{}",
            self.log()
        );
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A git repository holding the demo's bases and environments with a one-ring (or given)
/// `gitops.yaml`, committed.
pub(crate) struct Repo {
    pub(crate) path: PathBuf,
}

pub(crate) const ONE_RING: &str =
    "rings:\n  - name: dev\n    wait: 60s\n    soak: 0s\nhistory:\n  namespace: gitops-system\n";

impl Repo {
    pub(crate) fn new(dir: &Path, gitops_yaml: &str) -> Self {
        let path = dir.join("repo");
        for entry in ["base", "overlays", "environments"] {
            copy(&project_root().join(entry), &path.join(entry));
        }
        std::fs::write(path.join("gitops.yaml"), gitops_yaml).expect("write gitops.yaml");
        let repo = Self { path };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.commit("demo");
        repo
    }

    pub(crate) fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=Test",
                "-c",
                "user.email=test@example.com",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(&self.path)
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A bare clone next to the repo (a server's copy), added as its `origin`.
    pub(crate) fn publish(&self, dir: &Path) -> PathBuf {
        let bare = dir.join("origin.git");
        let out = Command::new("git")
            .args(["clone", "-q", "--bare"])
            .arg(&self.path)
            .arg(&bare)
            .output()
            .expect("run git clone");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.git(&["remote", "add", "origin", &bare.display().to_string()]);
        bare
    }

    pub(crate) fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Set the frontend image tag of ring `dev`.
    pub(crate) fn set_tag(&self, tag: &str) {
        let file = self.path.join("environments/dev/kustomization.yaml");
        let text = std::fs::read_to_string(&file).expect("read kustomization");
        let mut out = String::new();
        let mut in_frontend = false;
        for line in text.lines() {
            if line.contains("name: myregistry.azurecr.io/frontend") {
                in_frontend = true;
            } else if in_frontend && line.trim_start().starts_with("newTag:") {
                out.push_str(&format!("    newTag: {tag}\n"));
                in_frontend = false;
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        std::fs::write(&file, out).expect("write kustomization");
    }

    fn write(&self, relative: &str, text: &str) {
        std::fs::write(self.path.join(relative), text).expect("write");
    }

    fn spec(&self) -> String {
        self.path.display().to_string()
    }
}

pub(crate) const IMAGE: &str = "myregistry.azurecr.io/frontend";

pub(crate) fn applied(d: &mut Daemon, commit: &str) -> bool {
    let ring = d.ring("dev");
    ring["commit"] == commit
        && ring["outcome"]
            .as_str()
            .is_some_and(|o| o == "succeeded" || o == "unchanged")
}

#[test]
fn a_local_commit_is_applied_within_two_seconds_and_a_render_error_keeps_the_last_good_one() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    let repo = Repo::new(dir.path(), ONE_RING);
    let first = repo.git(&["rev-parse", "HEAD"]);
    let mut d = Daemon::start(dir.path(), "watch", &repo.spec(), &sandbox, &[]);
    d.wait_for("the first commit applied", |d| applied(d, &first));
    assert_eq!(sandbox.image(), format!("{IMAGE}:1.5.0-ci.412"));

    // A commit shows on the cluster within 2 s (notify wakes the daemon, no polling wait).
    repo.set_tag("1.6.0");
    let second = repo.commit("frontend 1.6.0");
    let committed = Instant::now();
    d.wait_for("the new image on the cluster", |_| {
        sandbox.image() == format!("{IMAGE}:1.6.0")
    });
    let took = committed.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "applied {took:?} after the commit"
    );
    d.wait_for("the second commit recorded", |d| applied(d, &second));

    // A commit that does not render: reported, and the cluster keeps the last good revision.
    repo.write(
        "environments/dev/kustomization.yaml",
        &std::fs::read_to_string(repo.path.join("environments/dev/kustomization.yaml"))
            .unwrap()
            .replace("namespace.yaml", "missing.yaml"),
    );
    let broken = repo.commit("broken");
    d.wait_for("the render error in /status", |d| {
        d.ring("dev")["outcome"] == "render-error"
    });
    let ring = d.ring("dev");
    assert_eq!(ring["lastCommit"], broken.as_str());
    assert_eq!(ring["commit"], second.as_str(), "{ring}");
    assert!(
        ring["lastError"]
            .as_str()
            .unwrap_or("")
            .contains("missing.yaml"),
        "{ring}"
    );
    let metrics = d.metrics();
    assert!(
        metrics.contains("gitops_watch_runs_total{ring=\"dev\",outcome=\"render-error\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "gitops_watch_applied_commit_info{{ring=\"dev\",commit=\"{second}\"}} 1"
        )),
        "{metrics}"
    );
    assert_eq!(sandbox.image(), format!("{IMAGE}:1.6.0"));

    // The daemon kept watching: the fix is applied.
    repo.git(&["revert", "--no-edit", "HEAD"]);
    repo.set_tag("1.7.0");
    let fixed = repo.commit("frontend 1.7.0");
    d.wait_for("the fixed commit applied", |d| applied(d, &fixed));
    assert_eq!(sandbox.image(), format!("{IMAGE}:1.7.0"));
    assert_eq!(d.terminate(), Some(0));
}

#[test]
fn a_bare_repository_over_file_url_is_fetched_and_applied() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    let repo = Repo::new(dir.path(), ONE_RING);
    let bare = repo.publish(dir.path());
    let first = repo.git(&["rev-parse", "HEAD"]);
    let url = format!("file://{}", bare.display());
    let mut d = Daemon::start(dir.path(), "watch", &url, &sandbox, &[]);
    d.wait_for("the first commit applied", |d| applied(d, &first));
    assert_eq!(d.status()["repo"], url.as_str());
    assert_eq!(d.status()["branch"], "main");

    repo.set_tag("2.0.0");
    let second = repo.commit("frontend 2.0.0");
    repo.git(&["push", "-q", "origin", "main"]);
    let pushed = Instant::now();
    d.wait_for("the pushed image on the cluster", |_| {
        sandbox.image() == format!("{IMAGE}:2.0.0")
    });
    // One fetch interval (1 s) plus the apply.
    assert!(
        pushed.elapsed() < Duration::from_secs(3),
        "applied {:?} after the push",
        pushed.elapsed()
    );
    d.wait_for("the pushed commit recorded", |d| applied(d, &second));
    assert!(
        d.metrics()
            .contains("gitops_watch_git_fetch_failures_total 0")
    );
}

#[test]
fn a_crash_looping_image_is_rolled_back_and_the_next_good_commit_applies() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    let repo = Repo::new(dir.path(), ONE_RING);
    let first = repo.git(&["rev-parse", "HEAD"]);
    let mut d = Daemon::start(dir.path(), "watch", &repo.spec(), &sandbox, &[]);
    d.wait_for("the first commit applied", |d| applied(d, &first));

    repo.set_tag("9.9.9-crashloop");
    let bad = repo.commit("a crash-looping frontend");
    d.wait_for("the rollback", |d| {
        d.ring("dev")["outcome"] == "rolled-back"
    });
    let ring = d.ring("dev");
    assert_eq!(ring["lastCommit"], bad.as_str());
    assert_eq!(ring["commit"], first.as_str());
    assert!(
        d.metrics()
            .contains("gitops_watch_runs_total{ring=\"dev\",outcome=\"rolled-back\"} 1")
    );
    assert_eq!(sandbox.image(), format!("{IMAGE}:1.5.0-ci.412"));

    repo.set_tag("1.6.1");
    let good = repo.commit("a good frontend");
    d.wait_for("the next good commit applied", |d| applied(d, &good));
    assert_eq!(sandbox.image(), format!("{IMAGE}:1.6.1"));
}

fn drifted(d: &mut Daemon) -> Option<u64> {
    let metrics = d.metrics();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("gitops_watch_drifted_objects{ring=\"dev\"} "))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn drift_made_with_kubectl_is_reported_and_healed_only_with_self_heal() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    let repo = Repo::new(dir.path(), ONE_RING);
    let first = repo.git(&["rev-parse", "HEAD"]);
    let mut d = Daemon::start(dir.path(), "watch", &repo.spec(), &sandbox, &[]);
    d.wait_for("the first commit applied", |d| applied(d, &first));
    d.wait_for("a clean drift check", |d| drifted(d) == Some(0));

    let (ok, out) = sandbox.kubectl(&[
        "set",
        "image",
        "deployment/frontend-dev",
        "-n",
        "shop-dev",
        "frontend=hand/edited:1",
    ]);
    assert!(ok, "{out}");
    d.wait_for("the drift in /metrics", |d| drifted(d) == Some(1));
    let drift = &d.ring("dev")["drift"];
    assert!(
        drift["items"][0]
            .as_str()
            .unwrap_or("")
            .contains("frontend-dev"),
        "{drift}"
    );
    // Reported, not corrected: several intervals later the hand edit is still there.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(sandbox.image(), "hand/edited:1");
    assert_eq!(d.terminate(), Some(0));

    let mut healer = Daemon::start(
        dir.path(),
        "healer",
        &repo.spec(),
        &sandbox,
        &["--self-heal"],
    );
    healer.wait_for("the drift healed", |_| {
        sandbox.image() == format!("{IMAGE}:1.5.0-ci.412")
    });
    healer.wait_for("a clean drift check after healing", |d| {
        drifted(d) == Some(0)
    });
    assert!(
        healer
            .metrics()
            .contains("gitops_watch_runs_total{ring=\"dev\",outcome=\"succeeded\"} 1"),
        "{}",
        healer.metrics()
    );
}

#[test]
fn sigterm_mid_run_releases_the_lock_and_records_the_run_as_interrupted() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    // A long soak keeps the ring's run (and its lock) going.
    let repo = Repo::new(
        dir.path(),
        "rings:\n  - name: dev\n    wait: 60s\n    soak: 5m\n",
    );
    let mut d = Daemon::start(dir.path(), "watch", &repo.spec(), &sandbox, &[]);
    d.wait_for("the ring lock taken", |_| {
        sandbox
            .kubectl(&["get", "lease", "gitops-lock-dev", "-n", "gitops-system"])
            .0
    });
    d.wait_for("the objects applied", |_| !sandbox.image().is_empty());
    // /status shows the run in progress (the soak).
    d.wait_for("the run in /status", |d| {
        d.ring("dev")["running"]["trigger"] == "watch"
    });
    let started = Instant::now();
    assert_eq!(d.terminate(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "stopping took {:?}",
        started.elapsed()
    );
    let (held, out) = sandbox.kubectl(&["get", "lease", "gitops-lock-dev", "-n", "gitops-system"]);
    assert!(!held, "the lock is still there: {out}");
    let history = gitops()
        .args(["history", "dev", "--output", "json", "--repo"])
        .arg(&repo.path)
        .arg("--kubeconfig")
        .arg(sandbox.kubeconfig())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&history.stdout);
    assert!(
        text.contains("interrupted"),
        "{text}\n{}",
        String::from_utf8_lossy(&history.stderr)
    );
}

#[test]
fn two_daemons_on_one_ring_never_apply_at_the_same_time() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    let repo = Repo::new(
        dir.path(),
        "rings:\n  - name: dev\n    wait: 60s\n    soak: 1s\n",
    );
    let mut a = Daemon::start(dir.path(), "a", &repo.spec(), &sandbox, &[]);
    let mut b = Daemon::start(dir.path(), "b", &repo.spec(), &sandbox, &[]);
    let mut last = repo.git(&["rev-parse", "HEAD"]);
    for tag in ["3.0.1", "3.0.2", "3.0.3"] {
        repo.set_tag(tag);
        last = repo.commit(tag);
        std::thread::sleep(Duration::from_millis(700));
    }
    a.wait_for("daemon a at the last commit", |d| applied(d, &last));
    b.wait_for("daemon b at the last commit", |d| applied(d, &last));
    let history = gitops()
        .args(["history", "dev", "--output", "json", "--repo"])
        .arg(&repo.path)
        .arg("--kubeconfig")
        .arg(sandbox.kubeconfig())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&history.stdout).into_owned();
    let parsed: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let revisions = parsed
        .as_array()
        .cloned()
        .or_else(|| parsed["revisions"].as_array().cloned())
        .unwrap_or_default();
    assert!(revisions.len() >= 2, "{text}");
    // Both daemons ran the ring (each reached the last commit itself), so the spans below
    // interleave runs of two processes.
    let who: std::collections::BTreeSet<&str> =
        revisions.iter().filter_map(|r| r["who"].as_str()).collect();
    assert_eq!(who.len(), 2, "{text}");
    // Revisions are numbered in the order they were recorded; under the ring lock each run
    // ends before the next starts.
    let spans: Vec<(chrono_like::T, chrono_like::T)> = revisions
        .iter()
        .map(|r| {
            let start = r["time"]
                .as_str()
                .or(r["started"].as_str())
                .unwrap_or("")
                .to_string();
            let seconds = r["durationSeconds"].as_f64().unwrap_or(0.0);
            (
                chrono_like::parse(&start),
                chrono_like::parse(&start) + seconds,
            )
        })
        .collect();
    for pair in spans.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0 + 0.001,
            "two runs overlapped: {pair:?}\n{text}"
        );
    }
}

/// RFC 3339 times as seconds, enough to compare spans (the test crate has no date library).
mod chrono_like {
    pub type T = f64;

    pub fn parse(text: &str) -> T {
        // 2026-11-26T18:40:12.345Z or 2026-11-26T18:40:12Z
        let (date, time) = text
            .split_once('T')
            .unwrap_or_else(|| panic!("not a time: {text:?}"));
        let day: f64 = date
            .split('-')
            .nth(2)
            .and_then(|d| d.parse().ok())
            .unwrap_or(0.0);
        let time = time.trim_end_matches('Z');
        let mut parts = time.split(':');
        let h: f64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0.0);
        let m: f64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0.0);
        let s: f64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0.0);
        day * 86_400.0 + h * 3600.0 + m * 60.0 + s
    }
}

#[test]
fn a_ring_that_requires_approval_waits_for_gitops_approve() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    let repo = Repo::new(
        dir.path(),
        "rings:\n  - name: dev\n    wait: 60s\n  - name: prod\n    path: environments/qa\n    approval: required\n    wait: 60s\n",
    );
    let first = repo.git(&["rev-parse", "HEAD"]);
    let mut d = Daemon::start(dir.path(), "watch", &repo.spec(), &sandbox, &[]);
    d.wait_for("dev applied", |d| applied(d, &first));
    d.wait_for("prod waiting for an approval", |d| {
        d.ring("prod")["waitingApproval"]["commit"] == first.as_str()
    });
    let waiting = d.ring("prod")["waitingApproval"].clone();
    assert!(waiting["create"].as_u64().unwrap_or(0) > 0, "{waiting}");
    assert_eq!(
        waiting["approveWith"],
        format!("gitops approve prod {first}")
    );
    assert!(d.metrics().contains(&format!(
        "gitops_watch_waiting_approval_info{{ring=\"prod\",commit=\"{first}\"}} 1"
    )));
    // Nothing of prod is applied yet.
    assert!(
        !sandbox
            .kubectl(&["get", "deployment", "frontend-qa", "-n", "shop-qa"])
            .0
    );

    let out = gitops()
        .args(["approve", "prod", &first[..10], "--repo"])
        .arg(&repo.path)
        .arg("--kubeconfig")
        .arg(sandbox.kubeconfig())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("ConfigMap `gitops-system/gitops-approval-prod`")
    );
    d.wait_for("prod applied after the approval", |d| {
        let ring = d.ring("prod");
        ring["commit"] == first.as_str() && ring["waitingApproval"].is_null()
    });
    assert!(
        sandbox
            .kubectl(&["get", "deployment", "frontend-qa", "-n", "shop-qa"])
            .0
    );
}

#[test]
fn approve_refuses_rings_without_approval_and_non_commits() {
    crate::harness::Test::demo()
        .args(["approve", "dev", "abcdef1"])
        .status(1)
        .stderr_contains("ring `dev` does not require approval")
        .run();
    crate::harness::Test::demo()
        .args(["approve", "prod-ring1", "main"])
        .status(1)
        .stderr_contains("`main`: not a commit id")
        .run();
    crate::harness::Test::demo()
        .args(["approve", "nope", "abcdef1"])
        .status(1)
        .stderr_contains("`nope`: no such ring")
        .run();
}

#[test]
fn bad_watch_input_is_one_clear_error() {
    let dir = TempDir::new().unwrap();
    let repo = Repo::new(dir.path(), ONE_RING);
    let run = |args: &[&str]| {
        let out = gitops().args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, err) = run(&["watch", "--repo", &repo.spec(), "--listen", &addr]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("`--listen {addr}`: the address is already in use")),
        "{err}"
    );

    let (code, err) = run(&["watch", "--repo", &repo.spec(), "--branch", "nope"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("branch `nope` does not exist"), "{err}");

    let missing = format!("file://{}/no-such.git", dir.path().display());
    let cache = dir.path().join("cache");
    let (code, err) = run(&[
        "watch",
        "--repo",
        &missing,
        "--cache-dir",
        cache.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("fetch failed"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn api_faults_are_survived() {
    let dir = TempDir::new().unwrap();
    // One request in ten answers 5xx and one in twenty loses its connection, on every verb.
    let sandbox = Sandbox::start_with(dir.path(), &["--faults", "error=0.1,drop=0.05"]);
    let repo = Repo::new(dir.path(), ONE_RING);
    let first = repo.git(&["rev-parse", "HEAD"]);
    let mut d = Daemon::start(dir.path(), "watch", &repo.spec(), &sandbox, &[]);
    d.wait_for("the first commit applied through the faults", |d| {
        applied(d, &first)
    });
    repo.set_tag("4.0.0");
    let second = repo.commit("frontend 4.0.0");
    d.wait_for("the second commit applied through the faults", |d| {
        applied(d, &second)
    });
    assert_eq!(sandbox.image(), format!("{IMAGE}:4.0.0"));
    assert_eq!(d.terminate(), Some(0));
}

fn leads(d: &mut Daemon) -> Option<bool> {
    let metrics = d.metrics();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("gitops_watch_leader "))
        .map(|v| v.trim() == "1")
}

#[test]
fn with_leader_election_only_the_leader_applies_and_a_standby_takes_over() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    let repo = Repo::new(dir.path(), ONE_RING);
    let first = repo.git(&["rev-parse", "HEAD"]);
    let mut a = Daemon::start(dir.path(), "a", &repo.spec(), &sandbox, &["--leader-elect"]);
    a.wait_for("a leads", |d| leads(d) == Some(true));
    let mut b = Daemon::start(dir.path(), "b", &repo.spec(), &sandbox, &["--leader-elect"]);
    b.wait_for("b is a standby", |d| leads(d) == Some(false));
    a.wait_for("the first commit applied by the leader", |d| {
        applied(d, &first)
    });
    assert_eq!(b.status()["leader"], false);
    assert!(
        b.ring("dev")["outcome"].is_null(),
        "the standby ran the ring: {}",
        b.status()
    );
    assert_eq!(
        b.get("/readyz").map(|(code, _)| code),
        Some(200),
        "a standby is ready"
    );

    // The leader stops (gives the Lease up); the standby takes over and applies the next commit.
    assert_eq!(a.terminate(), Some(0));
    b.wait_for("b leads", |d| leads(d) == Some(true));
    repo.set_tag("5.0.0");
    let second = repo.commit("frontend 5.0.0");
    b.wait_for("the next commit applied by the new leader", |d| {
        applied(d, &second)
    });
    let (ok, holder) = sandbox.kubectl(&[
        "get",
        "lease",
        "gitops-watch-leader",
        "-n",
        "gitops-system",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    assert!(ok, "{holder}");
    assert!(
        holder.contains(&format!("pid {}", b.child.id())),
        "{holder}"
    );
}

pub(crate) fn fetch_failures(d: &mut Daemon) -> u64 {
    d.metrics()
        .lines()
        .find_map(|l| l.strip_prefix("gitops_watch_git_fetch_failures_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_git_outage_is_reported_and_recovered_from() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    let repo = Repo::new(dir.path(), ONE_RING);
    let bare = repo.publish(dir.path());
    let first = repo.git(&["rev-parse", "HEAD"]);
    let mut d = Daemon::start(
        dir.path(),
        "watch",
        &format!("file://{}", bare.display()),
        &sandbox,
        &[],
    );
    d.wait_for("the first commit applied", |d| applied(d, &first));

    // The server goes away: fetches fail, are counted and reported, the daemon stays up.
    let away = dir.path().join("origin.away");
    std::fs::rename(&bare, &away).unwrap();
    d.wait_for("failed fetches counted", |d| fetch_failures(d) >= 2);
    let status = d.status();
    assert!(
        status["lastError"]
            .as_str()
            .unwrap_or("")
            .contains("fetch failed"),
        "{status}"
    );
    assert_eq!(d.get("/healthz").map(|(c, _)| c), Some(200));

    // It comes back with a new commit: applied without a restart.
    std::fs::rename(&away, &bare).unwrap();
    repo.set_tag("6.0.0");
    let second = repo.commit("frontend 6.0.0");
    repo.git(&["push", "-q", "origin", "main"]);
    d.wait_for("the commit after the outage applied", |d| {
        applied(d, &second)
    });
    assert_eq!(sandbox.image(), format!("{IMAGE}:6.0.0"));
}
