//! `Test`: run the real `gitops` binary in a scratch folder and check what a user would see.
//!
//! Modelled on casey/just's builder: write files, give arguments, say what stdout, stderr and
//! the exit code must be, then `run()`. Each test gets its own temporary folder.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// No `gitops` command in these tests should take more than this; a hang fails the test
/// instead of stalling CI.
const TIMEOUT: Duration = Duration::from_secs(120);

/// CI detection changes the output (DESIGN.md §2); tests opt in with `.env(..)`.
const CI_VARIABLES: [&str; 5] = [
    "TF_BUILD",
    "GITHUB_ACTIONS",
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "CI",
];

/// The folders and files that make up the project's own demo repo.
const DEMO_REPO: [&str; 4] = ["gitops.yaml", "base", "overlays", "environments"];

/// One run of `gitops`, described before it happens.
#[must_use = "a Test does nothing until `run()`"]
pub struct Test {
    dir: TempDir,
    cwd: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    status: i32,
    stdout: Option<String>,
    stdout_contains: Vec<String>,
    stderr: Option<String>,
    stderr_contains: Vec<String>,
}

/// What a run produced, kept with its folder so files it wrote can be checked.
pub struct Output {
    /// The scratch folder the command ran in (deleted when the `Output` is dropped).
    pub dir: TempDir,
    /// Everything the command printed on stdout.
    pub stdout: String,
    /// Everything the command printed on stderr.
    pub stderr: String,
}

impl Output {
    /// A path inside the scratch folder.
    pub fn path(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// The text of a file the command wrote, relative to the scratch folder.
    pub fn read(&self, relative: impl AsRef<Path>) -> String {
        let path = self.path(relative);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }
}

impl Default for Test {
    fn default() -> Self {
        Self::new()
    }
}

impl Test {
    /// An empty scratch folder; by default the command must exit 0.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("gitops-cli-")
            .tempdir()
            .expect("a temporary folder");
        Self {
            dir,
            cwd: PathBuf::new(),
            args: Vec::new(),
            env: Vec::new(),
            status: 0,
            stdout: None,
            stdout_contains: Vec::new(),
            stderr: None,
            stderr_contains: Vec::new(),
        }
    }

    /// A scratch folder holding a copy of the project's demo repo (`gitops.yaml`, `base/`,
    /// `overlays/`, `environments/`), free to be changed by the test.
    pub fn demo() -> Self {
        let test = Self::new();
        for entry in DEMO_REPO {
            copy(&project_root().join(entry), &test.dir.path().join(entry));
        }
        test
    }

    /// The scratch folder (before the run).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write a file (folders are created); `contents` is written as given.
    pub fn write(self, relative: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> Self {
        let path = self.dir.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create folders");
        }
        std::fs::write(&path, contents).expect("write file");
        self
    }

    /// Create an empty folder.
    pub fn create_dir(self, relative: impl AsRef<Path>) -> Self {
        std::fs::create_dir_all(self.dir.path().join(relative)).expect("create folder");
        self
    }

    /// Run in this folder (relative to the scratch folder) instead of its top.
    pub fn current_dir(mut self, relative: impl AsRef<Path>) -> Self {
        self.cwd = relative.as_ref().to_path_buf();
        self
    }

    /// One more argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// More arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// An environment variable for the command.
    #[allow(dead_code, reason = "for the tests of other commands")]
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The exit code the command must end with.
    pub fn status(mut self, code: i32) -> Self {
        self.status = code;
        self
    }

    /// stdout must be exactly this.
    pub fn stdout(mut self, expected: impl Into<String>) -> Self {
        self.stdout = Some(expected.into());
        self
    }

    /// stdout must contain this.
    #[allow(dead_code, reason = "for the tests of other commands")]
    pub fn stdout_contains(mut self, needle: impl Into<String>) -> Self {
        self.stdout_contains.push(needle.into());
        self
    }

    /// stderr must be exactly this.
    pub fn stderr(mut self, expected: impl Into<String>) -> Self {
        self.stderr = Some(expected.into());
        self
    }

    /// stderr must contain this.
    pub fn stderr_contains(mut self, needle: impl Into<String>) -> Self {
        self.stderr_contains.push(needle.into());
        self
    }

    /// Run `gitops`, check every expectation, and hand back what it printed.
    pub fn run(self) -> Output {
        let cwd = self.dir.path().join(&self.cwd);
        let mut command = Command::new(env!("CARGO_BIN_EXE_gitops"));
        command.args(&self.args).current_dir(&cwd);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for key in CI_VARIABLES {
            command.env_remove(key);
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        let shown = format!(
            "gitops {}",
            self.args
                .iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        );

        let (code, stdout, stderr) = run_bounded(command, &shown, TIMEOUT);
        let report = format!(
            "`{shown}` in {}\n--- exit code: {code:?}\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}",
            cwd.display()
        );
        assert_eq!(code, Some(self.status), "wrong exit code\n{report}");
        if let Some(expected) = &self.stdout {
            assert_eq!(&stdout, expected, "stdout differs\n{report}");
        }
        for needle in &self.stdout_contains {
            assert!(
                stdout.contains(needle.as_str()),
                "stdout lacks {needle:?}\n{report}"
            );
        }
        if let Some(expected) = &self.stderr {
            assert_eq!(&stderr, expected, "stderr differs\n{report}");
        }
        for needle in &self.stderr_contains {
            assert!(
                stderr.contains(needle.as_str()),
                "stderr lacks {needle:?}\n{report}"
            );
        }
        // Whatever failed, it must not have been a panic: bad input is an error, not a crash.
        assert!(
            !stderr.contains("panicked at"),
            "the command panicked\n{report}"
        );
        Output {
            dir: self.dir,
            stdout,
            stderr,
        }
    }
}

/// Run the command, draining its pipes on threads (so a chatty child cannot block on a full
/// pipe) and killing it when it outlives `timeout`.
pub(crate) fn run_bounded(
    mut command: Command,
    shown: &str,
    timeout: Duration,
) -> (Option<i32>, String, String) {
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{shown}`: {e}"));
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait().expect("wait for the command") {
            Some(status) => break status,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`{shown}` ran longer than {timeout:?} and was killed");
            }
            None => thread::sleep(Duration::from_millis(5)),
        }
    };
    let stdout = out.join().expect("stdout reader");
    let stderr = err.join().expect("stderr reader");
    (status.code(), stdout, stderr)
}

/// The project checkout (where the demo repo lives).
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copy a file or a folder tree.
pub fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("create folder");
        for entry in std::fs::read_dir(from).expect("read folder") {
            let entry = entry.expect("folder entry");
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
}
