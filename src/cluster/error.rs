//! `ClusterError`: everything that can go wrong talking to the API, each variant naming the
//! cluster, context or object it is about. Credentials never appear in a message.

use std::path::PathBuf;

/// A failure of the `cluster` module.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No kubeconfig anywhere.
    #[error(
        "no kubeconfig found: pass `--kubeconfig`, set `KUBECONFIG`, create `~/.kube/config`, or use `--sandbox`"
    )]
    NoKubeconfig,
    /// The kubeconfig file could not be read or parsed.
    #[error("cannot read the kubeconfig `{}`: {message}", path.display())]
    Kubeconfig {
        /// The file (or `KUBECONFIG`'s list).
        path: PathBuf,
        /// Why, in one line.
        message: String,
    },
    /// The requested context is not in the kubeconfig.
    #[error("context `{context}` is not in the kubeconfig `{}` (it has: {available})", path.display())]
    MissingContext {
        /// The context asked for.
        context: String,
        /// The kubeconfig.
        path: PathBuf,
        /// The contexts it does have.
        available: String,
    },
    /// The kubeconfig names no context and none was given.
    #[error("the kubeconfig `{}` has no current context: pass `--context` or set `context:` on the ring", path.display())]
    NoContext {
        /// The kubeconfig.
        path: PathBuf,
    },
    /// The selected context is unusable (missing cluster, bad URL, unreadable certificate, …).
    #[error("kubeconfig context `{context}`: {message}")]
    BadContext {
        /// The context.
        context: String,
        /// Why, in one line.
        message: String,
    },
    /// The API server could not be reached in time.
    #[error("cannot reach the cluster at {server} ({target}): {message}")]
    Unreachable {
        /// The server URL.
        server: String,
        /// `context `x`` or `sandbox`.
        target: String,
        /// Why, in one line.
        message: String,
    },
    /// The API server refused the credentials.
    #[error(
        "the cluster at {server} refused the credentials of {target} ({code}): they are missing, expired or invalid; {hint}",
        hint = login_hint(.target)
    )]
    Unauthorized {
        /// The server URL.
        server: String,
        /// `context `x``.
        target: String,
        /// 401 or 403.
        code: u16,
    },
    /// A credential could not be obtained (an exec credential plugin failed at the first request).
    #[error("cannot get credentials for the cluster at {server} ({target}): {message}")]
    Credentials {
        /// The server URL.
        server: String,
        /// `context `x``.
        target: String,
        /// Why, in one line, without secrets.
        message: String,
    },
    /// The in-process sandbox could not start.
    #[error("the sandbox: {0}")]
    Sandbox(String),
    /// A rendered kind is not served by the cluster and no CRD in the render defines it.
    #[error(
        "{object}: the cluster does not serve kind `{kind}` in `{api_version}`, and no CustomResourceDefinition in the render defines it"
    )]
    UnknownKind {
        /// The object (with its file, when known).
        object: String,
        /// Its kind.
        kind: String,
        /// Its apiVersion.
        api_version: String,
    },
    /// A namespaced object whose namespace exists neither on the cluster nor in the render.
    #[error("{object}: namespace `{namespace}` does not exist on the cluster and is not rendered")]
    MissingNamespace {
        /// The object (with its file, when known).
        object: String,
        /// The namespace.
        namespace: String,
    },
    /// The server rejected a request about an object (validation, admission, conflict, …).
    #[error("{object}: {verb} rejected by the server ({code} {reason}): {message}")]
    Rejected {
        /// The object (with its file, when known).
        object: String,
        /// What was attempted (`dry-run apply`, `read`, …).
        verb: &'static str,
        /// HTTP status code.
        code: u16,
        /// The Status reason (`Invalid`, `BadRequest`, …).
        reason: String,
        /// The server's message (it names the field for validation errors).
        message: String,
    },
    /// Any other API failure.
    #[error("{what}: {message}")]
    Api {
        /// What was attempted, on what.
        what: String,
        /// Why, in one line.
        message: String,
    },
}

/// What to do about refused credentials: log in again for a kubeconfig; in a Pod there is no
/// login, the mounted ServiceAccount token is the credential
/// (<https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/>).
fn login_hint(target: &str) -> &'static str {
    if target.contains("in-cluster") {
        "check the Pod's ServiceAccount token (automountServiceAccountToken, the projected token at /var/run/secrets/kubernetes.io/serviceaccount/token)"
    } else {
        "log in again (for AKS: `az aks get-credentials` or `kubelogin`)"
    }
}

/// `apps/Deployment qa/web` (from `base/web/deployment.yaml`): how errors name an object.
pub fn describe(object: &gitops_manifest::ObjectRef, source: Option<&str>) -> String {
    match source {
        Some(file) => format!("`{object}` (from `{file}`)"),
        None => format!("`{object}`"),
    }
}

/// One line out of a kube error, without anything that could carry a credential.
pub fn one_line(err: &kube::Error) -> String {
    if let Some(line) = super::credentials::credential_failure(err, None) {
        return line;
    }
    let text = match err {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => {
            // Walk to the innermost cause: it says what actually failed ("connection refused").
            let mut message = other.to_string();
            let mut innermost = message.clone();
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                innermost = cause.to_string();
                message = format!("{message}: {cause}");
                source = cause.source();
            }
            // A timeout's innermost cause is only "deadline has elapsed": say which one.
            if message.ends_with("deadline has elapsed") {
                let (what, bound) = if message.contains("(Connect)") {
                    (
                        "no TLS connection (TCP and TLS handshake)",
                        super::connect::CONNECT_TIMEOUT,
                    )
                } else {
                    ("no answer", super::connect::READ_TIMEOUT)
                };
                return format!("{what} within {}s", bound.as_secs());
            }
            // The layers above a failed connection only repeat "client error (Connect)".
            if message.contains("(Connect)") {
                return format!("cannot connect: {innermost}");
            }
            message
        }
    };
    text.lines().next().unwrap_or_default().to_string()
}
