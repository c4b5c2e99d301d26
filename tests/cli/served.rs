//! `Served`: a `gitops sandbox` process serving HTTPS on a free loopback port, the cluster that
//! the apply, watch, kubeconfig and in-cluster tests talk to (with `gitops` and real `kubectl`).
//! One start-up procedure for all of them; each test module wraps it with its own helpers.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a sandbox may take to start serving, or to stop after SIGTERM, on a loaded machine.
const STARTUP: Duration = Duration::from_secs(90);

/// The environment of the developer running the tests that would change what `gitops` does:
/// CI detection (DESIGN.md §2), the kubeconfig, git credentials and trust, and proxies (the
/// tests' servers are local; a proxy of the machine must not be in the way).
const FOREIGN_ENV: [&str; 23] = [
    "TF_BUILD",
    "GITHUB_ACTIONS",
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "CI",
    "KUBECONFIG",
    "GITOPS_GIT_TOKEN",
    "GITOPS_GIT_TOKEN_FILE",
    "GITOPS_GIT_USERNAME",
    "GITOPS_SSH_KEY",
    "GITOPS_SSH_KEY_PASSPHRASE",
    "SSH_AUTH_SOCK",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "GIT_SSL_CAINFO",
    "https_proxy",
    "HTTPS_PROXY",
    "http_proxy",
    "HTTP_PROXY",
    "no_proxy",
    "NO_PROXY",
    "all_proxy",
    "ALL_PROXY",
];

/// The `gitops` binary under test, with none of [`FOREIGN_ENV`] inherited.
pub(crate) fn gitops() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gitops"));
    for key in FOREIGN_ENV {
        command.env_remove(key);
    }
    command
}

/// A running `gitops sandbox --listen 127.0.0.1:0`, killed on drop.
pub(crate) struct Served {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub(crate) addr: String,
    /// The kubeconfig it wrote (a CA, a bearer token, the address).
    pub(crate) kubeconfig: PathBuf,
}

impl Served {
    /// Start one that writes its kubeconfig to `kubeconfig`, with simulated time 20 times
    /// faster than real time (pods become ready, and crash, in tens of milliseconds) and
    /// `extra` arguments (`--state FILE`, `--faults SPEC`); wait until it serves.
    pub(crate) fn start(kubeconfig: &Path, extra: &[&str]) -> Self {
        Self::start_with(kubeconfig, extra, |_| {})
    }

    /// [`Served::start`] with the command changed by `adjust` first (its environment).
    pub(crate) fn start_with(
        kubeconfig: &Path,
        extra: &[&str],
        adjust: impl FnOnce(&mut Command),
    ) -> Self {
        let mut command = gitops();
        adjust(&mut command);
        let mut child = command
            .args(["sandbox", "--listen", "127.0.0.1:0", "--time-scale", "20"])
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gitops sandbox");
        let stdout = child.stdout.take().expect("sandbox stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("sandbox: serving https://") {
                    let _ = tx.send(addr.trim_end_matches('/').to_string());
                }
            }
        });
        let addr = match rx.recv_timeout(STARTUP) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the sandbox did not start serving within {STARTUP:?}");
            }
        };
        Self {
            child,
            addr,
            kubeconfig: kubeconfig.to_path_buf(),
        }
    }

    /// The process id of the server.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stop it with SIGTERM, as an operator would, so it saves its `--state` file; it must
    /// exit 0.
    pub(crate) fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + STARTUP;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "the sandbox stopped with {status}");
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        panic!("the sandbox did not stop within {STARTUP:?} of SIGTERM");
    }

    /// `kubectl` with this sandbox's kubeconfig and no proxy of the machine.
    pub(crate) fn kubectl(&self) -> Command {
        let mut command = Command::new("kubectl");
        for key in FOREIGN_ENV {
            command.env_remove(key);
        }
        command.arg("--kubeconfig").arg(&self.kubeconfig);
        command
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
