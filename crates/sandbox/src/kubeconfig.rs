//! The kubeconfig that points kubectl (and `kube::Client`) at a running sandbox.
//!
//! Shape as documented in
//! https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/ and
//! https://kubernetes.io/docs/reference/config-api/kubeconfig.v1/: one cluster with the CA in
//! `certificate-authority-data`, and two users, each with its context: `sandbox` (the current
//! context) with a bearer `token`, and `sandbox-cert` with an X509 client certificate in
//! `client-certificate-data` / `client-key-data`, the form `az aks get-credentials --admin`,
//! kind and kubeadm write
//! (https://kubernetes.io/docs/reference/access-authn-authz/authentication/#x509-client-certificates).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::json;

use crate::tls::Credentials;

/// The context (and cluster and user) name the sandbox writes: bearer token, current context.
pub const CONTEXT: &str = "sandbox";

/// The context (and user) that authenticates with the client certificate.
pub const CERT_CONTEXT: &str = "sandbox-cert";

/// The kubeconfig path used when `--kubeconfig` is not given, relative to the working directory.
pub const DEFAULT_PATH: &str = ".gitops/sandbox/kubeconfig";

/// Why the kubeconfig could not be written.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    /// The file or its folder could not be written.
    #[error("writing kubeconfig `{path}`: {source}")]
    Write {
        /// The kubeconfig path.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// Serialising the document failed.
    #[error("printing kubeconfig `{path}`: {source}")]
    Print {
        /// The kubeconfig path.
        path: PathBuf,
        /// The YAML printer's failure.
        #[source]
        source: gitops_manifest::yaml::YamlError,
    },
}

/// The kubeconfig document (as YAML text) for a sandbox at `addr` with the given credentials.
pub fn render(
    addr: SocketAddr,
    credentials: &Credentials,
) -> Result<String, gitops_manifest::yaml::YamlError> {
    let b64 = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem.as_bytes());
    let ca_data = b64(&credentials.ca_pem);
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": CONTEXT,
            "cluster": {
                "server": format!("https://{addr}"),
                "certificate-authority-data": ca_data,
            },
        }],
        "users": [{
            "name": CONTEXT,
            "user": { "token": credentials.token },
        }, {
            "name": CERT_CONTEXT,
            "user": {
                "client-certificate-data": b64(&credentials.client_cert_pem),
                "client-key-data": b64(&credentials.client_key_pem),
            },
        }],
        "contexts": [{
            "name": CONTEXT,
            "context": { "cluster": CONTEXT, "user": CONTEXT, "namespace": "default" },
        }, {
            "name": CERT_CONTEXT,
            "context": { "cluster": CONTEXT, "user": CERT_CONTEXT, "namespace": "default" },
        }],
        "current-context": CONTEXT,
        "preferences": {},
    });
    gitops_manifest::yaml::to_string(&doc)
}

/// Write the kubeconfig to `path`, creating its folder, readable only by the owner (it holds
/// the token and the client key).
pub fn write(
    path: &Path,
    addr: SocketAddr,
    credentials: &Credentials,
) -> Result<(), KubeconfigError> {
    let text = render(addr, credentials).map_err(|source| KubeconfigError::Print {
        path: path.to_owned(),
        source,
    })?;
    let io_err = |source| KubeconfigError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err)?;
    }
    write_private(path, text.as_bytes()).map_err(io_err)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    use std::os::unix::fs::PermissionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // `mode` only applies when the file is created; an older file may be wider.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_names_the_server_ca_token_and_client_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/kubeconfig");
        let addr: SocketAddr = "127.0.0.1:6443".parse().unwrap();
        let credentials = Credentials::generate().unwrap();
        write(&path, addr, &credentials).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: serde_json::Value = gitops_manifest::yaml::from_str(&text).unwrap();
        assert_eq!(doc["current-context"], "sandbox");
        assert_eq!(
            doc["clusters"][0]["cluster"]["server"],
            "https://127.0.0.1:6443"
        );
        assert_eq!(doc["users"][0]["user"]["token"], credentials.token.as_str());
        let decode = |value: &serde_json::Value| {
            base64::engine::general_purpose::STANDARD
                .decode(value.as_str().unwrap())
                .unwrap()
        };
        let ca = decode(&doc["clusters"][0]["cluster"]["certificate-authority-data"]);
        assert_eq!(ca, credentials.ca_pem.as_bytes());
        assert_eq!(doc["contexts"][1]["name"], "sandbox-cert");
        assert_eq!(doc["contexts"][1]["context"]["user"], "sandbox-cert");
        assert_eq!(doc["contexts"][1]["context"]["cluster"], "sandbox");
        let cert_user = &doc["users"][1]["user"];
        assert!(cert_user.get("token").is_none());
        assert_eq!(
            decode(&cert_user["client-certificate-data"]),
            credentials.client_cert_pem.as_bytes()
        );
        assert!(decode(&cert_user["client-key-data"]).starts_with(b"-----BEGIN PRIVATE KEY-----"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
