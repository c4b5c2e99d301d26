//! The sandbox's own certificate authority, serving certificate and bearer token.
//!
//! A real cluster's API server is reached over TLS with a CA the kubeconfig carries in
//! `certificate-authority-data`, and kubectl only sends a bearer token over TLS
//! (https://kubernetes.io/docs/reference/access-authn-authz/authentication/#putting-a-bearer-token-in-a-request),
//! so the sandbox makes a fresh CA and a certificate for `127.0.0.1` and `localhost` at every start.

use std::sync::Arc;

use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Why the TLS material could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rcgen refused the key or certificate parameters.
    #[error("generating the sandbox certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the certificate or the protocol configuration.
    #[error("configuring TLS for the sandbox server: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Everything a client and the server need to trust each other: a fresh CA, the server's
/// certificate chain and key, and the bearer token every HTTPS request must carry.
pub struct Credentials {
    /// The CA certificate in PEM, as a kubeconfig's `certificate-authority-data` wants it.
    pub ca_pem: String,
    /// The rustls server configuration (serving certificate, ALPN `h2` and `http/1.1`).
    pub server_config: Arc<rustls::ServerConfig>,
    /// The bearer token the server requires on every request.
    pub token: String,
}

impl std::fmt::Debug for Credentials {
    // The token is a secret: it never appears in output or logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("ca_pem", &"<pem>")
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Make a new CA, a serving certificate for `127.0.0.1` and `localhost` signed by it, and a
    /// random 256-bit bearer token.
    pub fn generate() -> Result<Self, TlsError> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name = name("gitops-sandbox-ca");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate()?;
        let mut server_params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
        server_params.distinguished_name = name("gitops-sandbox-apiserver");
        server_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server_params.signed_by(&server_key, &issuer)?;

        let chain = vec![
            CertificateDer::from(server_cert.der().to_vec()),
            CertificateDer::from(ca_cert.der().to_vec()),
        ];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        // An explicit provider: the workspace may link more than one rustls backend, and then
        // the process-wide default cannot be chosen from crate features.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        // kubectl speaks HTTP/2 when offered and falls back to HTTP/1.1 (for example for
        // `exec`-style upgrades), so offer both.
        server_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

        Ok(Self {
            ca_pem: ca_cert.pem(),
            server_config: Arc::new(server_config),
            token: random_token(),
        })
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

/// 32 random bytes as lowercase hex.
fn random_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_differ_every_time_and_hide_the_token() {
        let a = Credentials::generate().unwrap();
        let b = Credentials::generate().unwrap();
        assert_ne!(a.token, b.token);
        assert_eq!(a.token.len(), 64);
        assert_ne!(a.ca_pem, b.ca_pem);
        assert!(a.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let shown = format!("{a:?}");
        assert!(!shown.contains(&a.token), "{shown}");
        assert_eq!(
            a.server_config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }
}
