//! `gitops watch` cloning over the network as it does in production, as a real process against
//! real git hosts run by the test: HTTPS with a token (`git http-backend` behind TLS with a
//! private CA, token authentication as GitHub and Azure Repos do it) and SSH with a key
//! (OpenSSH's `sshd` with a host key checked against `known_hosts`). Bad credentials and
//! untrusted servers are refused with a clear error and never show a secret.

use std::ffi::OsStr;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::git_https::GitHttps;
use crate::git_sshd::{SshAgent, Sshd, current_user, keygen, sshd_binary};
use crate::http_proxy::ConnectProxy;
use crate::watch::{Daemon, IMAGE, ONE_RING, Repo, Sandbox, WAIT, applied, fetch_failures, gitops};

/// A token with a shape no log line would contain by chance.
const TOKEN: &str = "gho_t0ken-Th4t-mUst-n3ver-sh0w";
const ROTATED: &str = "gho_r0tated-t0ken-als0-n3ver-sh0wn";

/// Run `gitops ARGS` with `env`, expecting it to stop by itself (within [`WAIT`]); returns
/// the exit code and stderr.
fn run_to_exit(args: &[&str], env: &[(&str, &OsStr)]) -> (Option<i32>, String) {
    let dir = TempDir::new().expect("temp dir");
    let err_file = dir.path().join("stderr");
    let mut child = gitops()
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_file).expect("stderr file"))
        .spawn()
        .expect("start gitops");
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for gitops") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`gitops {}` still runs after {WAIT:?}:\n{}",
                args.join(" "),
                std::fs::read_to_string(&err_file).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status.code(),
        std::fs::read_to_string(&err_file).unwrap_or_default(),
    )
}

/// The daemon's error line (`error: …`), asserting there is exactly one.
fn error_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "one error line expected:\n{stderr}");
    lines[0].to_string()
}

/// No file under `dir` holds `secret` (the cache must not keep a credential).
fn assert_not_on_disk(dir: &Path, secret: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            assert_not_on_disk(&path, secret);
        } else if let Ok(bytes) = std::fs::read(&path) {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "the token is written in {}",
                path.display()
            );
        }
    }
}

fn assert_hidden(d: &mut Daemon, secrets: &[&str]) {
    let (log, status, metrics) = (d.log(), d.status().to_string(), d.metrics());
    for secret in secrets {
        assert!(!log.contains(secret), "a token in the log:\n{log}");
        assert!(!status.contains(secret), "a token in /status: {status}");
        assert!(!metrics.contains(secret), "a token in /metrics:\n{metrics}");
    }
}

#[test]
fn https_with_a_token_is_cloned_applied_and_followed_without_showing_the_token() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    let repo = Repo::new(dir.path(), ONE_RING);
    repo.publish(dir.path());
    let first = repo.git(&["rev-parse", "HEAD"]);
    let server = GitHttps::start(dir.path(), TOKEN, dir.path());
    let url = server.url("origin.git");
    let mut d = Daemon::start_with_env(
        dir.path(),
        "watch",
        &url,
        &sandbox,
        &[],
        &[
            ("GITOPS_GIT_TOKEN", OsStr::new(TOKEN)),
            ("SSL_CERT_FILE", server.ca_file.as_os_str()),
        ],
    );
    d.wait_for("the first commit applied", |d| applied(d, &first));
    assert_eq!(sandbox.image(), format!("{IMAGE}:1.5.0-ci.412"));
    assert_eq!(d.status()["repo"], url.as_str());
    assert!(server.served() > 0);

    repo.set_tag("7.0.0");
    let second = repo.commit("frontend 7.0.0");
    repo.git(&["push", "-q", "origin", "main"]);
    d.wait_for("the pushed commit applied", |d| applied(d, &second));
    assert_eq!(sandbox.image(), format!("{IMAGE}:7.0.0"));
    assert_eq!(fetch_failures(&mut d), 0, "{}", d.log());

    assert_hidden(&mut d, &[TOKEN]);
    assert_not_on_disk(&dir.path().join("watch-cache"), TOKEN);
    assert_eq!(d.terminate(), Some(0));
    assert!(!d.log().contains(TOKEN));
}

#[test]
fn a_revoked_token_is_reported_and_a_rotated_token_file_recovers_without_a_restart() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    let repo = Repo::new(dir.path(), ONE_RING);
    repo.publish(dir.path());
    let first = repo.git(&["rev-parse", "HEAD"]);
    let server = GitHttps::start(dir.path(), TOKEN, dir.path());
    let url = server.url("origin.git");
    // A token file as a Kubernetes Secret mounted in the Pod: a trailing newline included.
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let mut d = Daemon::start_with_env(
        dir.path(),
        "watch",
        &url,
        &sandbox,
        &[],
        &[
            ("GITOPS_GIT_TOKEN_FILE", token_file.as_os_str()),
            ("SSL_CERT_FILE", server.ca_file.as_os_str()),
        ],
    );
    d.wait_for("the first commit applied", |d| applied(d, &first));

    // The token is revoked on the git host: every fetch is refused, counted and reported;
    // the daemon stays up and the cluster keeps what it runs.
    server.accept(Some(ROTATED));
    d.wait_for("refused fetches counted", |d| fetch_failures(d) >= 2);
    let status = d.status();
    let error = status["lastError"].as_str().unwrap_or_default().to_string();
    assert!(
        error.contains(&format!("`{url}`: fetch failed")),
        "{status}"
    );
    assert!(error.contains("was refused"), "{status}");
    assert!(error.contains("GITOPS_GIT_TOKEN_FILE"), "{status}");
    assert!(d.log().contains("was refused"), "{}", d.log());
    assert!(server.refused() >= 2);
    assert_eq!(d.get("/healthz").map(|(c, _)| c), Some(200));
    assert_eq!(d.ring("dev")["commit"], first.as_str());
    assert_eq!(sandbox.image(), format!("{IMAGE}:1.5.0-ci.412"));

    // The Secret is rotated (the mounted file changes): the next fetch uses the new token,
    // and a commit pushed meanwhile is applied, without restarting the daemon.
    repo.set_tag("8.0.0");
    let second = repo.commit("frontend 8.0.0");
    repo.git(&["push", "-q", "origin", "main"]);
    std::fs::write(&token_file, format!("{ROTATED}\n")).unwrap();
    d.wait_for("the commit after the rotation applied", |d| {
        applied(d, &second)
    });
    assert_eq!(sandbox.image(), format!("{IMAGE}:8.0.0"));
    d.wait_for("the error cleared", |d| d.status()["lastError"].is_null());
    assert_hidden(&mut d, &[TOKEN, ROTATED]);
    assert_eq!(d.terminate(), Some(0));
}

#[test]
fn bad_https_credentials_or_an_untrusted_server_stop_the_start_with_one_clear_error() {
    let dir = TempDir::new().unwrap();
    let repo = Repo::new(dir.path(), ONE_RING);
    repo.publish(dir.path());
    let server = GitHttps::start(dir.path(), TOKEN, dir.path());
    let url = server.url("origin.git");
    let cache = dir.path().join("cache");
    let args = [
        "watch",
        "--repo",
        &url,
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    let ca = ("SSL_CERT_FILE", server.ca_file.as_os_str());

    // A wrong token: refused, named as such, never shown.
    let wrong = "gho_wr0ng-t0ken-n0t-t0-be-sh0wn";
    let (code, err) = run_to_exit(&args, &[("GITOPS_GIT_TOKEN", OsStr::new(wrong)), ca]);
    assert_eq!(code, Some(1), "{err}");
    let line = error_line(&err);
    assert!(line.contains(&format!("`{url}`: fetch failed")), "{err}");
    assert!(
        line.contains("the token in `GITOPS_GIT_TOKEN` was refused"),
        "{err}"
    );
    assert!(!err.contains(wrong), "{err}");
    assert!(server.refused() >= 1);

    // No token at all: the variable to set is named.
    let (code, err) = run_to_exit(&args, &[ca]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        error_line(&err).contains("the server asks for credentials: set `GITOPS_GIT_TOKEN`"),
        "{err}"
    );

    // Credentials in the URL are never shown, neither is the token.
    let with_userinfo = url.replace("https://", "https://bob:url-s3cret@");
    let (code, err) = run_to_exit(
        &[
            "watch",
            "--repo",
            &with_userinfo,
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        &[ca],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(error_line(&err).contains("https://***@127.0.0.1"), "{err}");
    assert!(!err.contains("url-s3cret") && !err.contains("bob"), "{err}");

    // A server whose certificate no trusted CA signed: refused before any token is sent.
    let refused_before = server.refused();
    let served_before = server.served();
    let (code, err) = run_to_exit(&args, &[("GITOPS_GIT_TOKEN", OsStr::new(TOKEN))]);
    assert_eq!(code, Some(1), "{err}");
    let line = error_line(&err);
    assert!(line.contains("certificate"), "{err}");
    assert!(line.contains("GIT_SSL_CAINFO"), "{err}");
    assert!(!err.contains(TOKEN), "{err}");
    // Nor with extra CAs that did not sign it.
    let other = GitHttps::start(
        &dir.path().join("nothing"),
        TOKEN,
        &dir.path().join("other"),
    );
    let (code, err) = run_to_exit(
        &args,
        &[
            ("GITOPS_GIT_TOKEN", OsStr::new(TOKEN)),
            ("GIT_SSL_CAINFO", other.ca_file.as_os_str()),
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(error_line(&err).contains("certificate"), "{err}");
    assert_eq!(server.refused(), refused_before);
    assert_eq!(server.served(), served_before);
    // A CA file that is not there: named.
    let missing = dir.path().join("no-such-ca.pem");
    let (code, err) = run_to_exit(
        &args,
        &[
            ("GITOPS_GIT_TOKEN", OsStr::new(TOKEN)),
            ("GIT_SSL_CAINFO", missing.as_os_str()),
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    let line = error_line(&err);
    assert!(
        line.contains(&format!(
            "`GIT_SSL_CAINFO`: cannot read `{}`",
            missing.display()
        )),
        "{err}"
    );

    // A host over plain http that asks for credentials: the token is not sent in the clear.
    let (plain, sent_credentials) = plain_http_challenger();
    let (code, err) = run_to_exit(
        &[
            "watch",
            "--repo",
            &plain,
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        &[("GITOPS_GIT_TOKEN", OsStr::new(TOKEN))],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        error_line(&err).contains("refusing to send the token over plain `http://`"),
        "{err}"
    );
    assert!(!sent_credentials.load(Ordering::SeqCst));
}

/// A git host over plain http that answers every request with a Basic challenge; the flag
/// tells whether any request carried credentials.
fn plain_http_challenger() -> (String, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://127.0.0.1:{}/origin.git",
        listener.local_addr().expect("addr").port()
    );
    let sent = Arc::new(AtomicBool::new(false));
    let flag = sent.clone();
    // Runs until the test binary exits: it only ever answers 401.
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line.trim() != "" {
                if line.to_ascii_lowercase().starts_with("authorization:") {
                    flag.store(true, Ordering::SeqCst);
                }
                line.clear();
            }
            let _ = stream.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n\
                  Content-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (url, sent)
}

/// An `sshd`, a client key it accepts, and a `HOME` whose `~/.ssh/known_hosts` holds
/// `known_hosts` (a function of the server's host key). `None` when `sshd` is not installed.
struct SshHost {
    sshd: Sshd,
    key: std::path::PathBuf,
    url: String,
}

fn ssh_host(dir: &Path, bare: &Path) -> Option<SshHost> {
    let Some(binary) = sshd_binary() else {
        eprintln!(
            "skipped: `sshd` is not installed (apt-get install openssh-server; .ci/run installs it)"
        );
        return None;
    };
    let key = dir.join("client_key");
    let public = keygen(&key);
    let sshd = Sshd::start(&binary, dir, &public);
    let url = format!(
        "ssh://{}@127.0.0.1:{}{}",
        current_user(),
        sshd.port,
        bare.display()
    );
    Some(SshHost { sshd, key, url })
}

/// A `HOME` folder named `name` whose `.ssh/known_hosts` is `known_hosts`.
fn home(dir: &Path, name: &str, known_hosts: &str) -> std::path::PathBuf {
    let home = dir.join(name);
    std::fs::create_dir_all(home.join(".ssh")).expect("HOME/.ssh");
    std::fs::write(home.join(".ssh/known_hosts"), known_hosts).expect("write known_hosts");
    home
}

#[test]
fn ssh_with_a_key_or_an_agent_is_cloned_applied_and_followed() {
    let dir = TempDir::new().unwrap();
    let repo = Repo::new(dir.path(), ONE_RING);
    let bare = repo.publish(dir.path());
    let Some(host) = ssh_host(dir.path(), &bare) else {
        return;
    };
    let sandbox = Sandbox::start(dir.path());
    let first = repo.git(&["rev-parse", "HEAD"]);
    let key_home = home(
        dir.path(),
        "home",
        &host.sshd.known_hosts_line(&host.sshd.host_key),
    );
    let mut d = Daemon::start_with_env(
        dir.path(),
        "watch",
        &host.url,
        &sandbox,
        &[],
        &[
            ("HOME", key_home.as_os_str()),
            ("GITOPS_SSH_KEY", host.key.as_os_str()),
        ],
    );
    d.wait_for("the first commit applied", |d| applied(d, &first));
    assert!(
        host.sshd.log().contains("Accepted publickey"),
        "{}",
        host.sshd.log()
    );
    // The user name is not shown (it is part of the credentials in a URL).
    let shown = d.status()["repo"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        shown,
        format!("ssh://***@127.0.0.1:{}{}", host.sshd.port, bare.display())
    );

    repo.set_tag("9.0.0");
    let second = repo.commit("frontend 9.0.0");
    repo.git(&["push", "-q", "origin", "main"]);
    d.wait_for("the pushed commit applied", |d| applied(d, &second));
    assert_eq!(sandbox.image(), format!("{IMAGE}:9.0.0"));
    assert_eq!(fetch_failures(&mut d), 0, "{}", d.log());
    assert_eq!(d.terminate(), Some(0));

    // The same through an SSH agent (the key only in the agent, no key file): a fresh clone
    // finds the ring at the commit already.
    let logins = host.sshd.log().matches("Accepted publickey").count();
    let agent = SshAgent::start(dir.path(), &host.key);
    let empty_home = home(
        dir.path(),
        "agent-home",
        &host.sshd.known_hosts_line(&host.sshd.host_key),
    );
    let mut d = Daemon::start_with_env(
        dir.path(),
        "agent",
        &host.url,
        &sandbox,
        &[],
        &[
            ("HOME", empty_home.as_os_str()),
            ("SSH_AUTH_SOCK", agent.socket.as_os_str()),
        ],
    );
    d.wait_for("the commit read through the agent", |d| applied(d, &second));
    assert!(host.sshd.log().matches("Accepted publickey").count() > logins);
    assert_eq!(d.terminate(), Some(0));
}

#[test]
fn an_unknown_or_changed_ssh_host_key_and_a_refused_key_stop_the_start_with_one_clear_error() {
    let dir = TempDir::new().unwrap();
    let repo = Repo::new(dir.path(), ONE_RING);
    let bare = repo.publish(dir.path());
    let Some(host) = ssh_host(dir.path(), &bare) else {
        return;
    };
    let cache = dir.path().join("cache");
    let args = [
        "watch",
        "--repo",
        &host.url,
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    let logins = |sshd: &Sshd| sshd.log().matches("Accepted publickey").count();

    // A host key that is not the one `known_hosts` holds for this host and port (another
    // server answering at that address): refused before the client key is offered.
    let impostor = keygen(&dir.path().join("other_host_key"));
    let changed = home(
        dir.path(),
        "changed",
        &host.sshd.known_hosts_line(&impostor),
    );
    let (code, err) = run_to_exit(
        &args,
        &[
            ("HOME", changed.as_os_str()),
            ("GITOPS_SSH_KEY", host.key.as_os_str()),
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    let line = error_line(&err);
    assert!(line.contains("fetch failed"), "{err}");
    assert!(line.contains("hostkey"), "{err}");
    assert!(line.contains("known_hosts"), "{err}");
    assert_eq!(logins(&host.sshd), 0, "{}", host.sshd.log());

    // A host that is not in `known_hosts` at all: refused too (no trust on first use).
    let unknown = home(dir.path(), "unknown", "");
    let (code, err) = run_to_exit(
        &args,
        &[
            ("HOME", unknown.as_os_str()),
            ("GITOPS_SSH_KEY", host.key.as_os_str()),
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(error_line(&err).contains("known_hosts"), "{err}");
    assert_eq!(logins(&host.sshd), 0, "{}", host.sshd.log());

    // The right host, a key it does not accept: the key is named, not its content.
    let known = home(
        dir.path(),
        "known",
        &host.sshd.known_hosts_line(&host.sshd.host_key),
    );
    let stranger = dir.path().join("stranger_key");
    keygen(&stranger);
    let (code, err) = run_to_exit(
        &args,
        &[
            ("HOME", known.as_os_str()),
            ("GITOPS_SSH_KEY", stranger.as_os_str()),
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    let line = error_line(&err);
    assert!(line.contains("ssh authentication failed"), "{err}");
    assert!(
        line.contains(&stranger.display().to_string()),
        "the refused key is named: {err}"
    );
    let private = std::fs::read_to_string(&stranger).unwrap();
    let body = private.lines().nth(1).unwrap_or("never");
    assert!(!err.contains(body), "{err}");
    assert_eq!(logins(&host.sshd), 0, "{}", host.sshd.log());
}

#[test]
fn credentials_in_the_url_work_but_are_never_stored_or_shown() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    let repo = Repo::new(dir.path(), ONE_RING);
    repo.publish(dir.path());
    let first = repo.git(&["rev-parse", "HEAD"]);
    let server = GitHttps::start(dir.path(), TOKEN, dir.path());
    let url = server.url("origin.git");
    let with_token = url.replace("https://", &format!("https://x-access-token:{TOKEN}@"));
    let mut d = Daemon::start_with_env(
        dir.path(),
        "watch",
        &with_token,
        &sandbox,
        &[],
        // git's variable for a private CA (the other tests use OpenSSL's `SSL_CERT_FILE`).
        &[("GIT_SSL_CAINFO", server.ca_file.as_os_str())],
    );
    d.wait_for("the first commit applied", |d| applied(d, &first));
    assert_eq!(
        d.status()["repo"],
        url.replace("https://", "https://***@").as_str()
    );
    assert_hidden(&mut d, &[TOKEN]);
    // Not in the cache either (libgit2 writes the URL it fetched from into `FETCH_HEAD`).
    assert_not_on_disk(&dir.path().join("watch-cache"), TOKEN);
    assert_eq!(d.terminate(), Some(0));
}

#[test]
fn https_goes_through_the_proxy_of_the_environment_which_never_sees_the_token() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    let repo = Repo::new(dir.path(), ONE_RING);
    repo.publish(dir.path());
    let first = repo.git(&["rev-parse", "HEAD"]);
    let server = GitHttps::start(dir.path(), TOKEN, dir.path());
    let proxy = ConnectProxy::start();
    let proxy_url = proxy.url();
    let mut d = Daemon::start_with_env(
        dir.path(),
        "watch",
        &server.url("origin.git"),
        &sandbox,
        &[],
        &[
            ("GITOPS_GIT_TOKEN", OsStr::new(TOKEN)),
            ("GIT_SSL_CAINFO", server.ca_file.as_os_str()),
            ("https_proxy", OsStr::new(&proxy_url)),
        ],
    );
    d.wait_for("the first commit applied", |d| applied(d, &first));
    // The git fetches went through it (the daemon's Kubernetes client, which honours
    // `https_proxy` too, opens tunnels of its own to the sandbox).
    let connect = format!("CONNECT {} ", server.authority());
    assert!(proxy.saw(&connect), "no `{connect}` through the proxy");
    assert!(proxy.tunnels() >= 1);
    // TLS runs through the tunnel: the proxy carried the token without reading it.
    assert!(!proxy.saw(TOKEN));
    assert_eq!(d.terminate(), Some(0));
}
