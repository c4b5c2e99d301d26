//! What the `apply` CLI tests drive: a `gitops sandbox` process served over HTTPS, real
//! `kubectl` against it, and a git repo holding a copy of the demo with short soaks. Every wait
//! is bounded and polls; a failure prints what the commands said.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::harness::{copy, project_root, run_bounded};
use crate::served::{self, Served};

/// The longest a poll for a cluster condition may take (a loaded 2-core CI machine runs
/// several sandboxes and builds at once).
pub const WAIT: Duration = Duration::from_secs(90);
/// The longest one `gitops` or `kubectl` command may take before it is killed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(240);

/// The demo's four rings with short soaks and generous gate deadlines.
pub const FOUR_RINGS: &str = "\
rings:
  - name: dev
    wait: 120s
  - name: qa
    wait: 120s
  - name: prod-ring1
    approval: required
    wait: 120s
    soak: 1s
  - name: prod-ring2
    approval: required
    wait: 120s
    soak: 1s
history:
  namespace: gitops-system
  keep: 20
";

/// The frontend image of the demo.
pub const FRONTEND: &str = "myregistry.azurecr.io/frontend";

/// What one command printed and how it ended.
pub struct Run {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// stdout.
    pub stdout: String,
    /// stderr.
    pub stderr: String,
    shown: String,
}

impl Run {
    /// Both streams, for needles that may be on either.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Everything, for assertion messages.
    pub fn report(&self) -> String {
        format!(
            "`{}`\n--- exit code: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.shown, self.code, self.stdout, self.stderr
        )
    }

    /// Assert the exit code, and that nothing panicked; hand the run back.
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(self.code, Some(code), "wrong exit code\n{}", self.report());
        assert!(
            !self.stderr.contains("panicked at"),
            "the command panicked\n{}",
            self.report()
        );
        self
    }

    /// Assert that stdout or stderr holds `needle`.
    pub fn says(self, needle: &str) -> Self {
        assert!(
            self.all().contains(needle),
            "the output lacks {needle:?}\n{}",
            self.report()
        );
        self
    }
}

/// Run a command to its end, draining both pipes and killing it after [`COMMAND_TIMEOUT`].
fn run(mut command: Command, shown: String) -> Run {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (code, stdout, stderr) = run_bounded(command, &shown, COMMAND_TIMEOUT);
    Run {
        code,
        stdout,
        stderr,
        shown,
    }
}

/// `gitops` with the CI variables (which change the output) and `KUBECONFIG` removed, and a
/// known user for the `who` of the records.
pub fn gitops() -> Command {
    let mut c = served::gitops();
    c.env("USER", "ci-tester");
    c
}

/// A `gitops sandbox` served over HTTPS on a free port, killed on drop.
pub struct Sandbox {
    served: Served,
    /// Its kubeconfig (a CA, a bearer token, the address).
    pub kubeconfig: PathBuf,
}

impl Sandbox {
    /// Start one whose controllers run 20 times faster than real time (pods become ready, and
    /// crash, in tens of milliseconds); wait until it serves.
    pub fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[])
    }

    /// [`Sandbox::start`] with more arguments (`--state FILE`, `--faults SPEC`).
    pub fn start_with(dir: &Path, extra: &[&str]) -> Self {
        let kubeconfig = dir.join("kubeconfig");
        let served = Served::start(&kubeconfig, extra);
        Self { served, kubeconfig }
    }

    /// Stop it with SIGTERM, as an operator would, so it saves its `--state` file.
    pub fn stop(self) {
        self.served.stop();
    }

    /// Run `kubectl` against the sandbox.
    pub fn kubectl(&self, args: &[&str]) -> Run {
        let mut c = self.served.kubectl();
        c.args(args);
        run(c, format!("kubectl {}", args.join(" ")))
    }

    /// `kubectl get KIND NAME -n NS -o jsonpath=PATH`: `None` when the object does not exist.
    pub fn field(&self, kind: &str, name: &str, namespace: &str, path: &str) -> Option<String> {
        let jsonpath = format!("jsonpath={path}");
        let mut args = vec!["get", kind, name, "-o", &jsonpath];
        if !namespace.is_empty() {
            args.extend(["-n", namespace]);
        }
        let out = self.kubectl(&args);
        if out.code == Some(0) {
            return Some(out.stdout.trim().to_string());
        }
        assert!(
            out.stderr.contains("NotFound") || out.stderr.contains("not found"),
            "kubectl failed\n{}",
            out.report()
        );
        None
    }

    /// Whether an object exists.
    pub fn exists(&self, kind: &str, name: &str, namespace: &str) -> bool {
        self.field(kind, name, namespace, "{.metadata.name}")
            .is_some()
    }

    /// The image of the `frontend` container of a ring's frontend Deployment.
    pub fn frontend_image(&self, ring: &str) -> Option<String> {
        self.field(
            "deployment",
            &format!("frontend-{ring}"),
            &format!("shop-{ring}"),
            "{.spec.template.spec.containers[?(@.name==\"frontend\")].image}",
        )
    }

    /// Poll until `check` holds; fail after [`WAIT`] naming `what`.
    pub fn wait_for(&self, what: &str, mut check: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if check(self) {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!("waiting for {what}: timed out after {WAIT:?}");
    }

    /// Wait until a ring's Deployment runs `image` with every replica updated and available,
    /// as `kubectl rollout status` would report it.
    pub fn wait_rolled_out(&self, ring: &str, image: &str) {
        self.wait_for(&format!("frontend-{ring} rolled out with {image}"), |s| {
            let field = |path: &str| {
                s.field(
                    "deployment",
                    &format!("frontend-{ring}"),
                    &format!("shop-{ring}"),
                    path,
                )
                .unwrap_or_default()
            };
            s.frontend_image(ring).as_deref() == Some(image)
                && field("{.status.observedGeneration}") == field("{.metadata.generation}")
                && !field("{.spec.replicas}").is_empty()
                && field("{.status.updatedReplicas}") == field("{.spec.replicas}")
                && field("{.status.availableReplicas}") == field("{.spec.replicas}")
        });
    }

    /// The full record of revision `number` of `ring`, read the way an operator would: the
    /// Secret with `kubectl`, then base64 and gzip by hand (DESIGN.md §6).
    pub fn record(&self, ring: &str, number: u64) -> Value {
        let name = format!("gitops.{ring}.v{number}");
        let data = self
            .field("secret", &name, "gitops-system", "{.data.revision}")
            .unwrap_or_else(|| panic!("no history Secret {name}"));
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data)
            .expect("base64");
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut json)
            .expect("gzip");
        serde_json::from_slice(&json).expect("a JSON record")
    }
}

/// A git repo holding the demo's bases, overlays and environments with the given
/// `gitops.yaml`, committed; commands run against one sandbox.
pub struct Repo {
    /// The repo's folder.
    pub path: PathBuf,
    kubeconfig: PathBuf,
}

impl Repo {
    /// A committed copy of the demo in `dir/repo`, targeting `sandbox`.
    pub fn new(dir: &TempDir, sandbox: &Sandbox, gitops_yaml: &str) -> Self {
        let path = dir.path().join("repo");
        for entry in ["base", "overlays", "environments"] {
            copy(&project_root().join(entry), &path.join(entry));
        }
        std::fs::write(path.join("gitops.yaml"), gitops_yaml).expect("write gitops.yaml");
        let repo = Self {
            path,
            kubeconfig: sandbox.kubeconfig.clone(),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.commit("demo");
        repo
    }

    /// Run git in the repo; its trimmed stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let mut c = Command::new("git");
        c.args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(&self.path);
        let out = run(c, format!("git {}", args.join(" ")));
        assert_eq!(out.code, Some(0), "{}", out.report());
        out.stdout.trim().to_string()
    }

    /// Commit everything; the new commit id.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Set the frontend image tag of one ring's environment.
    pub fn set_frontend_tag(&self, ring: &str, tag: &str) {
        let file = self
            .path
            .join(format!("environments/{ring}/kustomization.yaml"));
        let text = std::fs::read_to_string(&file).expect("read kustomization");
        let mut out = String::new();
        let mut in_frontend = false;
        let mut done = false;
        for line in text.lines() {
            if line.contains(&format!("name: {FRONTEND}")) {
                in_frontend = true;
            } else if in_frontend && line.trim_start().starts_with("newTag:") {
                let indent = &line[..line.len() - line.trim_start().len()];
                out.push_str(&format!("{indent}newTag: {tag}\n"));
                in_frontend = false;
                done = true;
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        assert!(done, "no frontend newTag in {}", file.display());
        std::fs::write(&file, out).expect("write kustomization");
    }

    /// Run `gitops ARGS --repo REPO --kubeconfig SANDBOX` in the repo's folder.
    pub fn gitops(&self, args: &[&str]) -> Run {
        self.gitops_env(args, &[])
    }

    /// [`Repo::gitops`] with environment variables set (`Some`) or removed (`None`).
    pub fn gitops_env(&self, args: &[&str], env: &[(&str, Option<&str>)]) -> Run {
        let mut c = gitops();
        for (key, value) in env {
            match value {
                Some(v) => c.env(key, v),
                None => c.env_remove(key),
            };
        }
        c.args(args)
            .arg("--repo")
            .arg(&self.path)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .current_dir(&self.path);
        run(c, format!("gitops {}", args.join(" ")))
    }

    /// Start `gitops ARGS` without waiting for it (stdout and stderr to files in `dir`).
    pub fn spawn(&self, dir: &Path, args: &[&str]) -> Child {
        let mut c = gitops();
        c.args(args)
            .arg("--repo")
            .arg(&self.path)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .current_dir(&self.path)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("background.out")).expect("a file"))
            .stderr(std::fs::File::create(dir.join("background.err")).expect("a file"));
        c.spawn().expect("start gitops")
    }

    /// `gitops history RING --output json`: its revisions, oldest first.
    pub fn history(&self, ring: &str) -> Vec<Value> {
        let out = self
            .gitops(&["history", ring, "--output", "json"])
            .expect(0);
        let parsed: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("history is not JSON: {e}\n{}", out.report()));
        assert_eq!(parsed["ring"], ring, "{}", out.report());
        parsed["revisions"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("no revisions list\n{}", out.report()))
    }
}
