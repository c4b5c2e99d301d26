//! `gitops plan` with every kubeconfig form kubectl accepts, against `gitops sandbox` over HTTPS:
//! a bearer token, an exec credential plugin (the form AKS's `kubelogin` writes), an X509 client
//! certificate, a `proxy-url` (through an HTTP CONNECT proxy run by the test), and the failures
//! a user meets: a wrong or expired credential, a failing or hanging plugin, an unreachable
//! server, a context that is not there. Failures are one line, exit 1, in bounded time, and never
//! show a credential.
//! https://kubernetes.io/docs/reference/access-authn-authz/authentication/

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Output, Test};
use crate::served::Served;

/// The longest a failing connection may take: the client's 20 s probe bound plus a margin for a
/// loaded CI machine.
const BOUND: Duration = Duration::from_secs(45);

/// A `gitops sandbox` served over HTTPS on a free port (simulated time 20 times faster, so
/// health gates pass quickly), killed on drop.
pub(crate) struct Sandbox {
    _served: Served,
    _dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`.
    pub(crate) addr: String,
    /// The kubeconfig it wrote, as data.
    pub(crate) kubeconfig: Value,
    /// Where it wrote it.
    pub(crate) kubeconfig_path: PathBuf,
}

impl Sandbox {
    pub(crate) fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("kubeconfig");
        let served = Served::start(&path, &[]);
        let text = std::fs::read_to_string(&path).expect("the sandbox's kubeconfig");
        let kubeconfig = gitops_manifest::yaml::from_str(&text).expect("a kubeconfig");
        Self {
            addr: served.addr.clone(),
            _served: served,
            _dir: dir,
            kubeconfig,
            kubeconfig_path: path,
        }
    }

    /// The sandbox's bearer token.
    pub(crate) fn token(&self) -> String {
        self.user("sandbox")["token"]
            .as_str()
            .expect("a token")
            .to_string()
    }

    /// The `user` entry of the kubeconfig's user `name`.
    fn user(&self, name: &str) -> Value {
        self.kubeconfig["users"]
            .as_array()
            .and_then(|users| users.iter().find(|u| u["name"] == name))
            .map(|u| u["user"].clone())
            .unwrap_or_else(|| panic!("no user {name} in the sandbox's kubeconfig"))
    }

    /// A kubeconfig (JSON is YAML) with one context `aks-dev` on the sandbox's cluster (plus
    /// `cluster_extra` keys), authenticating as `user`.
    fn kubeconfig_with(&self, user: Value, cluster_extra: Value) -> String {
        kubeconfig(&self.cluster(cluster_extra), user)
    }

    /// The sandbox's cluster entry with `extra` keys merged in.
    fn cluster(&self, extra: Value) -> Value {
        let mut cluster = self.kubeconfig["clusters"][0]["cluster"].clone();
        if let (Some(cluster), Some(extra)) = (cluster.as_object_mut(), extra.as_object()) {
            cluster.extend(extra.clone());
        }
        cluster
    }
}

/// A kubeconfig with one cluster, one user and the current context `aks-dev` joining them.
fn kubeconfig(cluster: &Value, user: Value) -> String {
    json!({
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "aks-dev",
        "clusters": [{"name": "aks", "cluster": cluster}],
        "contexts": [{"name": "aks-dev", "context": {"cluster": "aks", "user": "clusterUser"}}],
        "users": [{"name": "clusterUser", "user": user}],
    })
    .to_string()
}

/// `gitops plan dev --kubeconfig kubeconfig` on the demo repo with `kubeconfig` written, the
/// proxy variables of the environment cleared (a developer's machine may set them).
fn plan(kubeconfig: &str) -> Test {
    Test::demo()
        .write("kubeconfig", kubeconfig)
        .args(["plan", "dev", "--kubeconfig", "kubeconfig"])
        .env("KUBECONFIG", "")
        .env("HTTPS_PROXY", "")
        .env("https_proxy", "")
        .env("NO_PROXY", "")
        .env("no_proxy", "")
}

/// The plan of the demo's `dev` ring on an empty cluster.
const DEV_PLAN: &str = "Plan: 9 to create, 0 to update, 0 to delete, 0 unchanged.";

/// An executable shell script at `path`.
fn script(path: &Path, body: &str) -> PathBuf {
    std::fs::write(path, format!("#!/bin/sh\n{body}")).expect("write the script");
    let mut mode = std::fs::metadata(path).expect("the script").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut mode, 0o755);
    std::fs::set_permissions(path, mode).expect("make the script executable");
    path.to_path_buf()
}

/// A `users[].user.exec` entry as `kubelogin convert-kubeconfig` writes it, running `command`
/// with `env`.
fn exec_user(command: &Path, env: &[(&str, &str)]) -> Value {
    json!({
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": command,
            "args": ["get-token", "--login", "azurecli", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"],
            "env": env.iter().map(|(name, value)| json!({"name": name, "value": value})).collect::<Vec<_>>(),
            "interactiveMode": "IfAvailable",
            "provideClusterInfo": false,
        }
    })
}

/// A credential plugin that records what it was given and prints an ExecCredential with the
/// token and expiry of its environment.
const PLUGIN: &str = r#"printf '%s\n' "$KUBERNETES_EXEC_INFO" > "$RECORD"
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}\n' "$PLUGIN_TOKEN" "$PLUGIN_EXPIRY"
"#;

/// The run failed the way a user can act on: exit 1 (checked by `status`), one line, no
/// credential, no longer than [`BOUND`].
fn assert_one_clean_line(out: &Output, started: Instant, secrets: &[&str]) {
    assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
    assert!(
        started.elapsed() < BOUND,
        "took {:?}: {}",
        started.elapsed(),
        out.stderr
    );
    for secret in secrets {
        assert!(
            !out.stderr.contains(secret) && !out.stdout.contains(secret),
            "a credential was printed: {}{}",
            out.stdout,
            out.stderr
        );
    }
}

#[test]
fn a_bearer_token_plans_over_https() {
    let sandbox = Sandbox::start();
    let token = sandbox.token();
    let out = plan(&sandbox.kubeconfig_with(json!({ "token": token }), json!({})))
        .stdout_contains(format!(
            "ring `dev` (context `aks-dev`, https://{})",
            sandbox.addr
        ))
        .stdout_contains(DEV_PLAN)
        .run();
    assert!(!out.stdout.contains(&token) && !out.stderr.contains(&token));
}

#[test]
fn an_exec_credential_plugin_like_kubelogin_plans_over_https() {
    let sandbox = Sandbox::start();
    let test = Test::new();
    let plugin = script(&test.path().join("kubelogin"), PLUGIN);
    let record = test.path().join("exec-info.json");
    let token = sandbox.token();
    let user = exec_user(
        &plugin,
        &[
            ("PLUGIN_TOKEN", &token),
            ("PLUGIN_EXPIRY", "2099-01-01T00:00:00Z"),
            ("RECORD", &record.to_string_lossy()),
        ],
    );
    let out = plan(&sandbox.kubeconfig_with(user, json!({})))
        .stdout_contains(DEV_PLAN)
        .run();
    assert!(!out.stdout.contains(&token) && !out.stderr.contains(&token));
    // The plugin was asked the documented way: KUBERNETES_EXEC_INFO names the API version.
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(&record).expect("the plugin ran"))
            .expect("KUBERNETES_EXEC_INFO is JSON");
    assert_eq!(info["kind"], "ExecCredential");
    assert_eq!(info["apiVersion"], "client.authentication.k8s.io/v1");
}

#[test]
fn a_client_certificate_plans_over_https_as_the_sandbox_cert_context_and_by_hand() {
    let sandbox = Sandbox::start();
    // The context the sandbox writes for it...
    let mut written = sandbox.kubeconfig.clone();
    written["current-context"] = json!("sandbox-cert");
    plan(&written.to_string())
        .stdout_contains(format!(
            "ring `dev` (context `sandbox-cert`, https://{})",
            sandbox.addr
        ))
        .stdout_contains(DEV_PLAN)
        .run();
    // ...and the certificate and key alone in a kubeconfig of the user's own.
    let user = sandbox.user("sandbox-cert");
    assert!(user.get("token").is_none());
    let out = plan(&sandbox.kubeconfig_with(user.clone(), json!({})))
        .stdout_contains(DEV_PLAN)
        .run();
    let key = user["client-key-data"].as_str().expect("client-key-data");
    assert!(!out.stdout.contains(key) && !out.stderr.contains(key));
}

/// An HTTP proxy that only tunnels (`CONNECT host:port`), as corporate proxies in front of AKS
/// do; it records the request line of every tunnel it opens.
struct ConnectProxy {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let log = log.clone();
                std::thread::spawn(move || {
                    let _ = tunnel(stream, &log);
                });
            }
        });
        Self { port, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Read the request head, open the tunnel, then copy bytes both ways until either side closes.
fn tunnel(mut client: TcpStream, seen: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    // Byte by byte: nothing after the head may be consumed before the tunnel is open.
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte)? == 0 || head.len() > 8192 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let request_line = head.lines().next().unwrap_or_default().to_string();
    seen.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(request_line.clone());
    let mut parts = request_line.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
        client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")?;
        return Ok(());
    };
    let upstream = TcpStream::connect(target)?;
    client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")?;
    let (mut from_client, mut to_upstream) = (client.try_clone()?, upstream.try_clone()?);
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_upstream);
        let _ = to_upstream.shutdown(Shutdown::Write);
    });
    let (mut from_upstream, mut to_client) = (upstream, client);
    let _ = std::io::copy(&mut from_upstream, &mut to_client);
    let _ = to_client.shutdown(Shutdown::Write);
    let _ = up.join();
    Ok(())
}

#[test]
fn a_proxy_url_tunnels_every_request_through_the_proxy() {
    let sandbox = Sandbox::start();
    let proxy = ConnectProxy::start();
    let kubeconfig = sandbox.kubeconfig_with(
        json!({ "token": sandbox.token() }),
        json!({ "proxy-url": format!("http://127.0.0.1:{}", proxy.port) }),
    );
    plan(&kubeconfig)
        // As with kubectl, a cluster's proxy-url is used whatever NO_PROXY says.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdout_contains(DEV_PLAN)
        .run();
    let seen = proxy.seen();
    assert!(
        seen.contains(&format!("CONNECT {} HTTP/1.1", sandbox.addr)),
        "the proxy saw: {seen:?}"
    );
}

#[test]
fn a_wrong_token_is_one_line_naming_the_context_without_the_token() {
    let sandbox = Sandbox::start();
    let wrong = "eyJhbGciOiJSUzI1NiJ9.wrong-token-4f1c2b";
    let started = Instant::now();
    let out = plan(&sandbox.kubeconfig_with(json!({ "token": wrong }), json!({})))
        .status(1)
        .stderr_contains(format!(
            "error: ring `dev`: the cluster at https://{} refused the credentials of context `aks-dev` (401)",
            sandbox.addr
        ))
        .run();
    assert_one_clean_line(&out, started, &[wrong, &sandbox.token()]);
}

#[test]
fn an_exec_plugin_that_returns_an_expired_token_is_refused_in_one_line() {
    let sandbox = Sandbox::start();
    let test = Test::new();
    let plugin = script(&test.path().join("kubelogin"), PLUGIN);
    let record = test.path().join("exec-info.json");
    let stale = "stale-token-from-yesterday-93b1";
    let user = exec_user(
        &plugin,
        &[
            ("PLUGIN_TOKEN", stale),
            ("PLUGIN_EXPIRY", "2020-01-01T00:00:00Z"),
            ("RECORD", &record.to_string_lossy()),
        ],
    );
    let started = Instant::now();
    let out = plan(&sandbox.kubeconfig_with(user, json!({})))
        .status(1)
        .stderr_contains("refused the credentials of context `aks-dev` (401)")
        .run();
    assert_one_clean_line(&out, started, &[stale, &sandbox.token()]);
    assert!(record.exists(), "the plugin ran");
}

#[test]
fn a_failing_exec_plugin_is_named_without_its_environment_or_output() {
    let sandbox = Sandbox::start();
    let test = Test::new();
    // kubelogin with an expired refresh token: a message on stderr, exit 1. Its environment
    // holds a client secret and it printed half a token: neither may reach the user.
    let plugin = script(
        &test.path().join("kubelogin"),
        "printf 'half-a-token-7a9e\\n'\necho 'AADSTS700082: The refresh token has expired due to inactivity.' >&2\nexit 1\n",
    );
    let secret = "spn-client-secret-Qx8~d9";
    let user = exec_user(&plugin, &[("AAD_SERVICE_PRINCIPAL_CLIENT_SECRET", secret)]);
    let started = Instant::now();
    let out = plan(&sandbox.kubeconfig_with(user, json!({})))
        .status(1)
        .stderr_contains(format!(
            "error: ring `dev`: kubeconfig context `aks-dev`: the exec credential plugin `{}` failed (exit status: 1): AADSTS700082: The refresh token has expired due to inactivity.",
            plugin.display()
        ))
        .run();
    // Without a terminal the plugin runs non-interactively (as kubectl runs `IfAvailable`), so
    // its stderr is quoted in the one error line rather than printed on its own.
    assert_one_clean_line(&out, started, &[secret, "half-a-token"]);
}

#[test]
fn a_missing_exec_plugin_is_named() {
    let sandbox = Sandbox::start();
    let started = Instant::now();
    let out = plan(&sandbox.kubeconfig_with(
        exec_user(Path::new("kubelogin-not-installed"), &[]),
        json!({}),
    ))
    .status(1)
    .stderr_contains("kubeconfig context `aks-dev`: the exec credential plugin `kubelogin-not-installed` could not be started: No such file or directory")
    .run();
    assert_one_clean_line(&out, started, &[]);
}

#[test]
fn an_exec_plugin_that_never_answers_is_given_up_on_in_bounded_time() {
    let sandbox = Sandbox::start();
    let test = Test::new();
    // A device-code login that nobody completes.
    let plugin = script(&test.path().join("kubelogin"), "exec sleep 60\n");
    let started = Instant::now();
    let out = plan(&sandbox.kubeconfig_with(exec_user(&plugin, &[]), json!({})))
        .status(1)
        .stderr_contains(format!(
            "the exec credential plugin `{}` did not answer within 20s",
            plugin.display()
        ))
        .run();
    assert_one_clean_line(&out, started, &[]);
}

#[test]
fn a_server_that_never_answers_is_given_up_on_in_bounded_time() {
    let sandbox = Sandbox::start();
    // Accepts TCP connections and never says a word: a firewall that swallows the traffic.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("addr");
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    std::thread::spawn(move || {
        for stream in silent.incoming().flatten() {
            keep.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(stream);
        }
    });
    let started = Instant::now();
    let out = plan(&sandbox.kubeconfig_with(
        json!({ "token": sandbox.token() }),
        json!({ "server": format!("https://{addr}") }),
    ))
    .status(1)
    .stderr_contains(format!(
        "error: ring `dev`: cannot reach the cluster at https://{addr} (context `aks-dev`): no TLS connection (TCP and TLS handshake) within 5s"
    ))
    .run();
    assert_one_clean_line(&out, started, &[&sandbox.token()]);
}

#[test]
fn a_current_context_missing_from_the_kubeconfig_is_named() {
    let sandbox = Sandbox::start();
    let mut written = sandbox.kubeconfig.clone();
    written["current-context"] = json!("aks-prod");
    let started = Instant::now();
    let out = plan(&written.to_string())
        .status(1)
        .stderr_contains(
            "error: ring `dev`: context `aks-prod` is not in the kubeconfig `kubeconfig` (it has: sandbox, sandbox-cert)",
        )
        .run();
    assert_one_clean_line(&out, started, &[&sandbox.token()]);
}

/// Base64-decoded text of a kubeconfig `*-data` value.
fn decoded(value: &Value) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.as_str().expect("base64 text"))
        .expect("base64");
    String::from_utf8(bytes).expect("PEM text")
}

#[test]
fn files_named_relative_to_the_kubeconfig_work_for_the_ca_the_client_certificate_and_a_token_file()
{
    let sandbox = Sandbox::start();
    let ca = decoded(&sandbox.kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]);
    let cert_user = sandbox.user("sandbox-cert");
    let cluster = json!({"server": format!("https://{}", sandbox.addr), "certificate-authority": "pki/ca.crt"});
    plan(&kubeconfig(
        &cluster,
        json!({"client-certificate": "pki/client.crt", "client-key": "pki/client.key"}),
    ))
    .write("pki/ca.crt", &ca)
    .write(
        "pki/client.crt",
        decoded(&cert_user["client-certificate-data"]),
    )
    .write("pki/client.key", decoded(&cert_user["client-key-data"]))
    .stdout_contains(DEV_PLAN)
    .run();
    plan(&kubeconfig(&cluster, json!({"tokenFile": "pki/token"})))
        .write("pki/ca.crt", &ca)
        .write("pki/token", sandbox.token())
        .stdout_contains(DEV_PLAN)
        .run();
}

#[test]
fn insecure_skip_tls_verify_trusts_any_server_certificate() {
    let sandbox = Sandbox::start();
    let cluster =
        json!({"server": format!("https://{}", sandbox.addr), "insecure-skip-tls-verify": true});
    plan(&kubeconfig(&cluster, json!({ "token": sandbox.token() })))
        .stdout_contains(DEV_PLAN)
        .run();
}

#[test]
fn a_server_certificate_from_another_ca_is_one_line() {
    let sandbox = Sandbox::start();
    let other = Sandbox::start();
    let started = Instant::now();
    let out = plan(&sandbox.kubeconfig_with(
        json!({ "token": sandbox.token() }),
        json!({"certificate-authority-data": other.kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]}),
    ))
    .status(1)
    .stderr_contains(format!(
        "error: ring `dev`: cannot reach the cluster at https://{} (context `aks-dev`): cannot connect: invalid peer certificate: ",
        sandbox.addr
    ))
    .run();
    assert_one_clean_line(&out, started, &[&sandbox.token()]);
}

#[test]
fn a_proxy_of_the_environment_is_not_used_for_a_loopback_server_as_with_kubectl() {
    let sandbox = Sandbox::start();
    let proxy = ConnectProxy::start();
    plan(&sandbox.kubeconfig_with(json!({ "token": sandbox.token() }), json!({})))
        .env("HTTPS_PROXY", format!("http://127.0.0.1:{}", proxy.port))
        .stdout_contains(DEV_PLAN)
        .run();
    assert_eq!(proxy.seen(), Vec::<String>::new());
}
