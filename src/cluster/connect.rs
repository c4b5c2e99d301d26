//! Connecting: a `kube::Client` from a kubeconfig (every form kubectl accepts: client
//! certificates, bearer tokens and token files, exec credential plugins such as `kubelogin`,
//! auth providers, `proxy-url`), with bounded timeouts and a probe, so an unreachable cluster or
//! an expired credential is one clear line, fast.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

use super::credentials::{ContextEntries, credential_failure, settle_interactive_mode};
use super::error::{ClusterError, one_line};
use super::proxy::proxy_for;

/// How long to wait for a TCP/TLS connection to the API server.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for one response (dry-runs and reads answer in milliseconds).
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The whole probe, exec credential plugin included.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// Where the kubeconfig comes from and which context to use.
#[derive(Debug, Clone, Default)]
pub struct KubeconfigTarget {
    /// `--kubeconfig`; otherwise `KUBECONFIG`, then `~/.kube/config`.
    pub path: Option<PathBuf>,
    /// `--context`, else the ring's `context`, else the kubeconfig's current context.
    pub context: Option<String>,
}

/// A client and what it points at.
pub struct Connected {
    /// The client.
    pub client: kube::Client,
    /// The API server URL.
    pub server: String,
    /// The context used.
    pub context: String,
}

fn load(path: Option<&Path>) -> Result<(Kubeconfig, PathBuf), ClusterError> {
    let bad = |path: &Path, err: kube::config::KubeconfigError| ClusterError::Kubeconfig {
        path: path.to_path_buf(),
        message: err
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
    };
    if let Some(path) = path {
        return Kubeconfig::read_from(path)
            .map(|k| (k, path.to_path_buf()))
            .map_err(|e| bad(path, e));
    }
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let shown = PathBuf::from(&list);
        return match Kubeconfig::from_env() {
            Ok(Some(k)) => Ok((k, shown)),
            Ok(None) => Err(ClusterError::NoKubeconfig),
            Err(e) => Err(bad(&shown, e)),
        };
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .ok_or(ClusterError::NoKubeconfig)?;
    let default = home.join(".kube").join("config");
    if !default.exists() {
        return Err(ClusterError::NoKubeconfig);
    }
    Kubeconfig::read_from(&default)
        .map(|k| (k, default.clone()))
        .map_err(|e| bad(&default, e))
}

/// Build a client for `target` and check, within [`PROBE_TIMEOUT`], that the server answers and
/// accepts the credentials.
pub async fn connect(target: &KubeconfigTarget) -> Result<Connected, ClusterError> {
    let (kubeconfig, path) = load(target.path.as_deref())?;
    let context = match target
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
    {
        Some(c) if !c.is_empty() => c,
        _ => return Err(ClusterError::NoContext { path }),
    };
    if !kubeconfig.contexts.iter().any(|c| c.name == context) {
        let mut names: Vec<&str> = kubeconfig
            .contexts
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        names.sort_unstable();
        let available = if names.is_empty() {
            "no contexts".to_string()
        } else {
            names.join(", ")
        };
        return Err(ClusterError::MissingContext {
            context,
            path,
            available,
        });
    }
    let mut kubeconfig = kubeconfig;
    settle_interactive_mode(&mut kubeconfig, &context, std::io::stdin().is_terminal());
    let entries = ContextEntries::of(&kubeconfig, &context);
    let plugin = entries.exec_plugin.as_deref();
    let bad_context = |message: String| ClusterError::BadContext {
        context: context.clone(),
        message,
    };
    let options = KubeConfigOptions {
        context: Some(context.clone()),
        ..KubeConfigOptions::default()
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| bad_context(e.to_string().lines().next().unwrap_or_default().to_string()))?;
    // The proxy kubectl would use (see `proxy`), in place of kube's choice. A proxy URL may
    // carry a password: it is not repeated in the error.
    config.proxy_url = match proxy_for(&config.cluster_url, entries.proxy_url.as_deref(), |name| {
        std::env::var(name).ok()
    }) {
        Some(proxy) => Some(
            proxy
                .parse()
                .map_err(|_| bad_context("the proxy URL is not a valid URL".to_string()))?,
        ),
        None => None,
    };
    let server = bound(&mut config);
    let client = build_client(config, plugin).await.map_err(bad_context)?;
    let connected = Connected {
        client,
        server,
        context,
    };
    probe_as(
        &connected.client,
        &connected.server,
        &format!("context `{}`", connected.context),
        plugin,
    )
    .await?;
    Ok(connected)
}

/// `kube::Client::try_from`, bounded by [`PROBE_TIMEOUT`]: it runs an exec credential plugin
/// synchronously, and a plugin may wait for a login nobody will type (a device code in CI).
/// It runs on a thread of its own, left behind if it outlives the bound.
async fn build_client(config: kube::Config, plugin: Option<&str>) -> Result<kube::Client, String> {
    let runtime = tokio::runtime::Handle::current();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("kube-client".into())
        .spawn(move || {
            // The client spawns its request buffer on the runtime.
            let _entered = runtime.enter();
            let _ = tx.send(kube::Client::try_from(config));
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    match tokio::time::timeout(PROBE_TIMEOUT, rx).await {
        Ok(Ok(Ok(client))) => Ok(client),
        Ok(Ok(Err(e))) => Err(credential_failure(&e, plugin).unwrap_or_else(|| one_line(&e))),
        Ok(Err(_)) => Err("building the client failed".to_string()),
        Err(_) => Err(match plugin {
            Some(p) => format!(
                "the exec credential plugin `{p}` did not answer within {}s",
                PROBE_TIMEOUT.as_secs()
            ),
            None => format!(
                "building the client took longer than {}s",
                PROBE_TIMEOUT.as_secs()
            ),
        }),
    }
}

/// Set the timeouts and retries every connection uses; returns the server URL for messages.
pub(super) fn bound(config: &mut kube::Config) -> String {
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    config.write_timeout = Some(READ_TIMEOUT);
    // Count the read timeout from the request, not from when a pooled connection went idle.
    config.reset_reader_on_write = true;
    // kube retries 429/503/504 with backoff; every call the plan makes is safe to repeat.
    config.default_retry = true;
    config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_string()
}

/// Ask for the core API versions: it needs a working connection and, unlike `/version`,
/// authenticated access, so an expired credential shows here and not halfway through a plan.
pub async fn probe(client: &kube::Client, server: &str, target: &str) -> Result<(), ClusterError> {
    probe_as(client, server, target, None).await
}

/// [`probe`], naming the exec credential plugin (`plugin`) when getting a credential fails.
async fn probe_as(
    client: &kube::Client,
    server: &str,
    target: &str,
    plugin: Option<&str>,
) -> Result<(), ClusterError> {
    let unreachable = |message: String| ClusterError::Unreachable {
        server: server.to_string(),
        target: target.to_string(),
        message,
    };
    match tokio::time::timeout(PROBE_TIMEOUT, client.list_core_api_versions()).await {
        Err(_) => Err(unreachable(format!(
            "no answer within {}s",
            PROBE_TIMEOUT.as_secs()
        ))),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(kube::Error::Api(status))) if status.code == 401 || status.code == 403 => {
            Err(ClusterError::Unauthorized {
                server: server.to_string(),
                target: target.to_string(),
                code: status.code,
            })
        }
        // A credential refreshed at the first request (an exec plugin's expired token) failed.
        Ok(Err(e)) => match credential_failure(&e, plugin) {
            Some(message) => Err(ClusterError::Credentials {
                server: server.to_string(),
                target: target.to_string(),
                message,
            }),
            None => Err(unreachable(one_line(&e))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("config");
        std::fs::write(&path, text).unwrap();
        path
    }

    const TWO_CONTEXTS: &str = "apiVersion: v1\nkind: Config\ncurrent-context: a\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n- name: b\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user: {token: not-a-real-token}\n";

    #[tokio::test]
    async fn a_missing_context_is_named_with_the_ones_that_exist() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), TWO_CONTEXTS);
        let target = KubeconfigTarget {
            path: Some(path),
            context: Some("aks-prod".into()),
        };
        let err = tokio::time::timeout(Duration::from_secs(10), connect(&target))
            .await
            .unwrap()
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(
            text.starts_with("context `aks-prod` is not in the kubeconfig"),
            "{text}"
        );
        assert!(text.ends_with("(it has: a, b)"), "{text}");
    }

    #[tokio::test]
    async fn an_unreachable_server_is_one_line_and_fast() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), TWO_CONTEXTS);
        let target = KubeconfigTarget {
            path: Some(path),
            context: None,
        };
        let started = std::time::Instant::now();
        let err = tokio::time::timeout(Duration::from_secs(30), connect(&target))
            .await
            .unwrap()
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(
            text.starts_with("cannot reach the cluster at https://127.0.0.1:1 (context `a`)"),
            "{text}"
        );
        assert!(
            !text.contains('\n') && !text.contains("not-a-real-token"),
            "{text}"
        );
        assert!(
            started.elapsed() < PROBE_TIMEOUT,
            "took {:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn an_unreadable_kubeconfig_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "clusters: [unclosed\n");
        let target = KubeconfigTarget {
            path: Some(path.clone()),
            context: None,
        };
        let err = tokio::time::timeout(Duration::from_secs(10), connect(&target))
            .await
            .unwrap()
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .starts_with(&format!("cannot read the kubeconfig `{}`", path.display())),
            "{err}"
        );
    }
}
