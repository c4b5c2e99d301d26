//! A git host over SSH for the watch tests: an unprivileged-port OpenSSH `sshd` run by the
//! test (`-D -e`, its own config, host key and `authorized_keys` in a temporary folder), so
//! `ssh://USER@127.0.0.1:PORT/abs/path/repo.git` runs `git-upload-pack` exactly as a git host
//! reached over SSH does. Killed on drop.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};

use crate::watch::{WAIT, free_port};

/// The `sshd` binary: on `PATH`, or where Debian's openssh-server puts it.
pub(crate) fn sshd_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("sshd"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        ["/usr/sbin/sshd", "/usr/local/sbin/sshd"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    })
}

/// Make an ed25519 key pair without a passphrase at `path` (and `path.pub`); returns the
/// public key line (`ssh-ed25519 AAAA… comment`).
pub(crate) fn keygen(path: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "gitops-test", "-f"])
        .arg(path)
        .output()
        .expect("run ssh-keygen");
    assert!(
        out.status.success(),
        "ssh-keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(path.with_extension("pub"))
        .expect("read the public key")
        .trim()
        .to_string()
}

/// The user the test runs as: the one `sshd` lets in with the authorized key.
pub(crate) fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A running `sshd`.
pub(crate) struct Sshd {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub(crate) port: u16,
    /// The server's public host key (`ssh-ed25519 AAAA…`), for a `known_hosts` line.
    pub(crate) host_key: String,
    log: Arc<Mutex<String>>,
}

impl Sshd {
    /// Start `sshd` (at `binary`) with state in `dir`, letting in the holder of the private key
    /// whose public key line is `authorized`.
    pub(crate) fn start(binary: &Path, dir: &Path, authorized: &str) -> Self {
        let dir = dir.join("sshd");
        std::fs::create_dir_all(&dir).expect("sshd folder");
        let host_key = keygen(&dir.join("host_key"));
        std::fs::write(dir.join("authorized_keys"), format!("{authorized}\n"))
            .expect("write authorized_keys");
        // OpenSSH insists on its privilege separation folder even when not root; as root (CI)
        // it can be made here, as the package's service unit would.
        let _ = std::fs::create_dir_all("/run/sshd");
        // The free port may be taken again before sshd binds it: then try another.
        let mut failures = String::new();
        for _ in 0..3 {
            match Self::spawn(binary, &dir) {
                Ok((child, port, log)) => {
                    return Self {
                        child,
                        port,
                        host_key,
                        log,
                    };
                }
                Err(log) => failures.push_str(&log),
            }
        }
        panic!("sshd did not start:\n{failures}");
    }

    /// One attempt on a fresh port: the process, its port and its log once it listens, or
    /// what it said before it stopped.
    fn spawn(binary: &Path, dir: &Path) -> Result<(Child, u16, Arc<Mutex<String>>), String> {
        let port = free_port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\n\
                 ListenAddress 127.0.0.1\n\
                 HostKey {host}\n\
                 AuthorizedKeysFile {keys}\n\
                 PidFile {pid}\n\
                 StrictModes no\n\
                 UsePAM no\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\n\
                 PermitRootLogin prohibit-password\n",
                host = dir.join("host_key").display(),
                keys = dir.join("authorized_keys").display(),
                pid = dir.join("sshd.pid").display(),
            ),
        )
        .expect("write sshd_config");
        let mut child = Command::new(binary)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sshd");
        let stderr = child.stderr.take().expect("sshd stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.starts_with("Server listening on") {
                    let _ = tx.send(true);
                }
                if let Ok(mut log) = lines.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
            // sshd stopped (or closed its stderr) without listening.
            let _ = tx.send(false);
        });
        let listening = rx.recv_timeout(WAIT).unwrap_or(false);
        if listening {
            return Ok((child, port, log));
        }
        let _ = child.kill();
        let _ = child.wait();
        let said = log.lock().map(|l| l.clone()).unwrap_or_default();
        Err(format!("port {port}:\n{said}"))
    }

    /// The `known_hosts` line for this server (`[127.0.0.1]:PORT` as `ssh` writes it for a
    /// port other than 22) with `key`.
    pub(crate) fn known_hosts_line(&self, key: &str) -> String {
        let key: Vec<&str> = key.split_whitespace().take(2).collect();
        format!("[127.0.0.1]:{} {}\n", self.port, key.join(" "))
    }

    /// What `sshd` logged so far (accepted and refused logins).
    pub(crate) fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An `ssh-agent` holding one key, on its own socket; killed on drop.
pub(crate) struct SshAgent {
    child: Child,
    /// The socket, for `SSH_AUTH_SOCK`.
    pub(crate) socket: PathBuf,
}

impl SshAgent {
    /// Start an agent with its socket in `dir` and add the private key `key` to it.
    pub(crate) fn start(dir: &Path, key: &Path) -> Self {
        let socket = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ssh-agent");
        let agent = Self { child, socket };
        let deadline = std::time::Instant::now() + WAIT;
        while !agent.socket.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "ssh-agent made no socket"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let out = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &agent.socket)
            .output()
            .expect("run ssh-add");
        assert!(
            out.status.success(),
            "ssh-add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        agent
    }
}

impl Drop for SshAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
