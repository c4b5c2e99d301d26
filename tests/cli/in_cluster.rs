//! In-cluster mode for real: the `deploy/` manifests applied with real `kubectl` to
//! `gitops sandbox` over HTTPS and brought to Available by its controllers, and `gitops watch`
//! started the way a Pod starts it (no kubeconfig, the API server's Service in the environment,
//! the ServiceAccount's token and CA at their fixed paths), applying a commit.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::harness::project_root;
use crate::watch::{Daemon, IMAGE, ONE_RING, Repo, Sandbox, WAIT, applied, free_port, gitops};

/// Real `kubectl` against the sandbox's kubeconfig (written at `dir/kubeconfig`).
fn kubectl(dir: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(dir.join("kubeconfig"))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kubectl");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("kubectl stdin");
        pipe.write_all(text.as_bytes())
            .expect("write kubectl stdin");
    }
    let out = child.wait_with_output().expect("kubectl output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `kubectl get` that must succeed (retried a few times: a loaded machine may be slow).
fn get(dir: &Path, args: &[&str]) -> String {
    let mut last = String::new();
    for _ in 0..10 {
        let (ok, out, err) = kubectl(dir, args, None);
        if ok {
            return out;
        }
        last = err;
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("kubectl {args:?}: {last}");
}

/// Poll `check` every 200 ms until it holds, or fail after [`WAIT`] with `what` and the last
/// value seen.
fn poll(what: &str, mut check: impl FnMut() -> (bool, String)) {
    let deadline = Instant::now() + WAIT;
    let mut last = String::new();
    while Instant::now() < deadline {
        let (done, seen) = check();
        if done {
            return;
        }
        last = seen;
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("waiting for {what}: timed out after {WAIT:?}; last seen: {last}");
}

#[test]
fn the_deploy_manifests_apply_strictly_and_the_daemon_deployment_becomes_available() {
    let dir = TempDir::new().unwrap();
    let _sandbox = Sandbox::start(dir.path());
    let deploy = project_root().join("deploy");
    let rendered = Command::new("kubectl")
        .arg("kustomize")
        .arg(&deploy)
        .output()
        .expect("run kubectl kustomize");
    assert!(
        rendered.status.success(),
        "kubectl kustomize deploy/: {}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let rendered = String::from_utf8_lossy(&rendered.stdout).into_owned();

    // Server-side apply validates fields strictly by default: an unknown or misplaced field in
    // deploy/ is an error, not silently dropped.
    // https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation
    let (ok, out, err) = kubectl(
        dir.path(),
        &[
            "apply",
            "--server-side",
            "--field-manager",
            "test",
            "-f",
            "-",
        ],
        Some(&rendered),
    );
    assert!(ok, "kubectl apply --server-side deploy/: {out}\n{err}");

    // The token Secret the Deployment reads, as deploy/kustomization.yaml tells the user to
    // create (a container whose secretKeyRef is missing does not start).
    let (ok, out, err) = kubectl(
        dir.path(),
        &[
            "-n",
            "gitops-system",
            "create",
            "secret",
            "generic",
            "gitops-git",
            "--from-literal=token=not-a-real-token",
        ],
        None,
    );
    assert!(ok, "create the gitops-git Secret: {out}\n{err}");

    let ns = ["-n", "gitops-system"];
    let names = |kind: &str, namespaced: bool| {
        let mut args = vec!["get", kind, "-o", "name"];
        if namespaced {
            args.extend(ns);
        }
        get(dir.path(), &args)
    };
    assert!(
        names("serviceaccount", true).contains("serviceaccount/gitops-watch"),
        "ServiceAccount"
    );
    assert!(
        names("role.rbac.authorization.k8s.io", true)
            .contains("role.rbac.authorization.k8s.io/gitops-watch-history"),
        "Role"
    );
    let binding = get(
        dir.path(),
        &[
            "-n",
            "gitops-system",
            "get",
            "rolebinding",
            "gitops-watch-history",
            "-o",
            "jsonpath={.roleRef.kind}/{.roleRef.name} {.subjects[0].kind}/{.subjects[0].namespace}/{.subjects[0].name}",
        ],
    );
    assert_eq!(
        binding,
        "Role/gitops-watch-history ServiceAccount/gitops-system/gitops-watch"
    );
    assert!(
        names("clusterrole.rbac.authorization.k8s.io", false)
            .contains("clusterrole.rbac.authorization.k8s.io/gitops-watch"),
        "ClusterRole"
    );
    let binding = get(
        dir.path(),
        &[
            "get",
            "clusterrolebinding",
            "gitops-watch",
            "-o",
            "jsonpath={.roleRef.kind}/{.roleRef.name} {.subjects[0].kind}/{.subjects[0].namespace}/{.subjects[0].name}",
        ],
    );
    assert_eq!(
        binding,
        "ClusterRole/gitops-watch ServiceAccount/gitops-system/gitops-watch"
    );
    let service_account = get(
        dir.path(),
        &[
            "-n",
            "gitops-system",
            "get",
            "deployment",
            "gitops-watch",
            "-o",
            "jsonpath={.spec.template.spec.serviceAccountName}",
        ],
    );
    assert_eq!(service_account, "gitops-watch");

    // The replicas deploy/deployment.yaml asks for, Available through the sandbox's
    // Deployment, ReplicaSet and kubelet controllers.
    let replicas = std::fs::read_to_string(deploy.join("deployment.yaml"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("replicas:")
                .map(|r| r.trim().to_string())
        })
        .expect("replicas in deploy/deployment.yaml");
    poll("the gitops-watch Deployment Available", || {
        let (_, seen, _) = kubectl(
            dir.path(),
            &[
                "-n",
                "gitops-system",
                "get",
                "deployment",
                "gitops-watch",
                "-o",
                "jsonpath={.status.availableReplicas} {.status.conditions[?(@.type==\"Available\")].status}",
            ],
            None,
        );
        (seen == format!("{replicas} True"), seen)
    });
    // Its Pods run under the ServiceAccount.
    let pods = get(
        dir.path(),
        &[
            "-n",
            "gitops-system",
            "get",
            "pods",
            "-l",
            "app.kubernetes.io/name=gitops",
            "-o",
            "jsonpath={range .items[*]}{.spec.serviceAccountName}{\"\\n\"}{end}",
        ],
    );
    let accounts: Vec<&str> = pods.lines().collect();
    assert!(
        accounts.len() >= replicas.parse::<usize>().unwrap()
            && accounts.iter().all(|a| *a == "gitops-watch"),
        "{pods}"
    );
}

/// Where `kube::Config::incluster()` (as client-go's `InClusterConfig`) reads the Pod's
/// ServiceAccount; fixed, so tests that write it take [`ServiceAccountFiles::install`]'s lock.
/// https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/#directly-accessing-the-rest-api
const SERVICE_ACCOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The sandbox's token, CA and a namespace written at [`SERVICE_ACCOUNT`], under an exclusive
/// file lock (other threads and other test processes); what was there before is put back on
/// drop.
struct ServiceAccountFiles {
    _lock: File,
    saved: Vec<(PathBuf, Option<Vec<u8>>)>,
    created: Option<PathBuf>,
}

impl ServiceAccountFiles {
    /// `None` (with the reason printed) when the folder cannot be written (not root).
    fn install(token: &str, ca_pem: &str) -> Option<Self> {
        let folder = Path::new(SERVICE_ACCOUNT);
        let lock_path = std::env::temp_dir().join("gitops-test-serviceaccount.lock");
        let lock = File::create(&lock_path).expect("create the lock file");
        lock.lock().expect("lock the ServiceAccount folder");
        // The first missing ancestor, removed again at the end.
        let created = folder
            .ancestors()
            .take_while(|p| !p.exists())
            .last()
            .map(Path::to_path_buf);
        if let Err(e) = std::fs::create_dir_all(folder) {
            println!("skipped: cannot create {SERVICE_ACCOUNT} ({e}); run as root");
            return None;
        }
        let mut files = Self {
            _lock: lock,
            saved: Vec::new(),
            created,
        };
        for (name, text) in [
            ("token", token),
            ("ca.crt", ca_pem),
            ("namespace", "default"),
        ] {
            let path = folder.join(name);
            files.saved.push((path.clone(), std::fs::read(&path).ok()));
            if let Err(e) = std::fs::write(&path, text) {
                println!(
                    "skipped: cannot write {} ({e}); run as root",
                    path.display()
                );
                return None;
            }
        }
        Some(files)
    }
}

impl Drop for ServiceAccountFiles {
    fn drop(&mut self) {
        for (path, before) in &self.saved {
            let _ = match before {
                Some(bytes) => std::fs::write(path, bytes),
                None => std::fs::remove_file(path),
            };
        }
        if let Some(dir) = &self.created {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A field of the sandbox's kubeconfig (`kubectl config view --raw`).
fn kubeconfig_field(dir: &Path, jsonpath: &str) -> String {
    get(
        dir,
        &[
            "config",
            "view",
            "--raw",
            "--minify",
            "-o",
            &format!("jsonpath={jsonpath}"),
        ],
    )
}

#[test]
fn without_a_kubeconfig_in_a_pod_the_daemon_uses_the_service_account_and_applies_a_commit() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    let token = kubeconfig_field(dir.path(), "{.users[0].user.token}");
    let ca_b64 = kubeconfig_field(
        dir.path(),
        "{.clusters[0].cluster.certificate-authority-data}",
    );
    let server = kubeconfig_field(dir.path(), "{.clusters[0].cluster.server}");
    let port = server
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse::<u16>().ok())
        .unwrap_or_else(|| panic!("no port in the sandbox's server {server}"));
    let ca_pem = {
        let out = Command::new("base64")
            .arg("-d")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin
                    .take()
                    .expect("stdin")
                    .write_all(ca_b64.as_bytes())?;
                c.wait_with_output()
            })
            .expect("base64 -d");
        String::from_utf8(out.stdout).expect("PEM")
    };
    assert!(!token.is_empty() && ca_pem.contains("BEGIN CERTIFICATE"));
    let Some(_files) = ServiceAccountFiles::install(&token, &ca_pem) else {
        return;
    };

    let repo = Repo::new(dir.path(), ONE_RING);
    let first = repo.git(&["rev-parse", "HEAD"]);
    let mut d = start_in_pod(dir.path(), "in-cluster", &repo, port);
    d.wait_for("the first commit applied in-cluster", |d| {
        applied(d, &first)
    });
    assert_eq!(sandbox.image(), format!("{IMAGE}:1.5.0-ci.412"));
    assert!(
        d.log().contains("in-cluster"),
        "the log does not say in-cluster:\n{}",
        d.log()
    );
    // The token is a secret: never in the log.
    assert!(!d.log().contains(&token), "the token is in the log");

    repo.set_tag("1.6.0");
    let second = repo.commit("frontend 1.6.0");
    d.wait_for("the second commit applied in-cluster", |d| {
        applied(d, &second)
    });
    assert_eq!(sandbox.image(), format!("{IMAGE}:1.6.0"));
    assert_eq!(d.terminate(), Some(0));

    // A token the API server refuses: one clear line naming the ServiceAccount token (there is
    // no `az aks get-credentials` in a Pod), and the daemon keeps running and retrying.
    std::fs::write(Path::new(SERVICE_ACCOUNT).join("token"), "not-the-token").unwrap();
    let mut d = start_in_pod(dir.path(), "refused", &repo, port);
    d.wait_for("the refused ServiceAccount token in the log", |d| {
        d.log()
            .contains("refused the credentials of the in-cluster ServiceAccount (401)")
    });
    let log = d.log();
    assert!(log.contains("ServiceAccount token"), "{log}");
    assert!(!log.contains("az aks"), "{log}");
    assert_eq!(d.terminate(), Some(0));
}

/// `gitops watch` started as in a Pod: no `--kubeconfig`, no `KUBECONFIG` ([`gitops`] removes
/// it), a `HOME` without `~/.kube/config`, and the API server's Service in the environment.
fn start_in_pod(dir: &Path, name: &str, repo: &Repo, api_port: u16) -> Daemon {
    let home = dir.join(format!("{name}-home"));
    std::fs::create_dir_all(&home).expect("create HOME");
    let listen = free_port();
    let log = dir.join(format!("{name}.log"));
    let child = gitops()
        .args([
            "watch",
            "--repo",
            &repo.path.display().to_string(),
            "--interval",
            "1s",
            "--listen",
            &format!("127.0.0.1:{listen}"),
        ])
        .arg("--cache-dir")
        .arg(dir.join(format!("{name}-cache")))
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        .env("KUBERNETES_SERVICE_PORT", api_port.to_string())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&log).expect("log file"))
        .spawn()
        .expect("start gitops watch");
    let mut daemon = Daemon {
        child,
        port: listen,
        log,
    };
    daemon.wait_for("the daemon serves /healthz", |d| {
        d.get("/healthz").is_some_and(|(code, _)| code == 200)
    });
    daemon
}
