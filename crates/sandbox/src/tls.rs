//! The sandbox's own certificate authority, serving certificate, client certificate and bearer
//! token.
//!
//! A real cluster's API server is reached over TLS with a CA the kubeconfig carries in
//! `certificate-authority-data`, and kubectl only sends a bearer token over TLS
//! (https://kubernetes.io/docs/reference/access-authn-authz/authentication/#putting-a-bearer-token-in-a-request),
//! so the sandbox makes a fresh CA and a certificate for `127.0.0.1` and `localhost` at every start.
//!
//! A real API server also authenticates X509 client certificates signed by its client CA
//! (https://kubernetes.io/docs/reference/access-authn-authz/authentication/#x509-client-certificates):
//! it *requests* a certificate in the TLS handshake without requiring one (a client with a
//! bearer token sends none), and a certificate that does not verify is not a handshake failure
//! but an unauthenticated request (401). The sandbox does the same with [`ClientCertificates`]:
//! the handshake only proves the client holds the key; whether the certificate chains to the CA
//! is decided per connection by [`Credentials::authenticates`].

use std::sync::Arc;

use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName as TlsName, RootCertStore, SignatureScheme};

/// The user name (common name) of the client certificate the sandbox issues.
pub const CLIENT_USER: &str = "gitops-sandbox-admin";
/// Its group (organization): the group a real cluster's admin certificate carries
/// (https://kubernetes.io/docs/reference/access-authn-authz/rbac/#user-facing-roles).
pub const CLIENT_GROUP: &str = "system:masters";

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
/// certificate chain and key, the bearer token and a client certificate; every HTTPS request
/// must carry one of the two.
#[derive(Clone)]
pub struct Credentials {
    /// The CA certificate in PEM, as a kubeconfig's `certificate-authority-data` wants it.
    pub ca_pem: String,
    /// The rustls server configuration (serving certificate, ALPN `h2` and `http/1.1`, client
    /// certificates requested but not required).
    pub server_config: Arc<rustls::ServerConfig>,
    /// The bearer token the server accepts.
    pub token: String,
    /// A client certificate signed by the CA (user [`CLIENT_USER`], group [`CLIENT_GROUP`]),
    /// in PEM, as a kubeconfig's `client-certificate-data` wants it.
    pub client_cert_pem: String,
    /// Its private key in PEM (`client-key-data`).
    pub client_key_pem: String,
    /// Decides whether a certificate presented in the handshake authenticates the client.
    verifier: Arc<dyn ClientCertVerifier>,
}

impl std::fmt::Debug for Credentials {
    // The token and the client key are secrets: they never appear in output or logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("ca_pem", &"<pem>")
            .field("token", &"<redacted>")
            .field("client_key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Make a new CA, a serving certificate for `127.0.0.1` and `localhost` and a client
    /// certificate signed by it, and a random 256-bit bearer token.
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

        // The API server takes the user name from the common name and the groups from the
        // organizations of a client certificate.
        let client_key = KeyPair::generate()?;
        let mut client_params = CertificateParams::new(Vec::<String>::new())?;
        let mut client_name = name(CLIENT_USER);
        client_name.push(DnType::OrganizationName, CLIENT_GROUP);
        client_params.distinguished_name = client_name;
        client_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client_params.signed_by(&client_key, &issuer)?;

        let chain = vec![
            CertificateDer::from(server_cert.der().to_vec()),
            CertificateDer::from(ca_cert.der().to_vec()),
        ];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        // An explicit provider: the workspace may link more than one rustls backend, and then
        // the process-wide default cannot be chosen from crate features.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(CertificateDer::from(ca_cert.der().to_vec()))?;
        let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(Arc::new(ClientCertificates {
                verifier: verifier.clone(),
            }))
            .with_single_cert(chain, key)?;
        // kubectl speaks HTTP/2 when offered and falls back to HTTP/1.1 (for example for
        // `exec`-style upgrades), so offer both.
        server_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

        Ok(Self {
            ca_pem: ca_cert.pem(),
            server_config: Arc::new(server_config),
            token: random_token(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
            verifier,
        })
    }

    /// Does the certificate chain a client presented in the handshake (leaf first) authenticate
    /// it: signed by the sandbox's CA, valid now, meant for client authentication?
    pub fn authenticates(&self, chain: &[CertificateDer<'_>]) -> bool {
        let Some((leaf, intermediates)) = chain.split_first() else {
            return false;
        };
        self.verifier
            .verify_client_cert(leaf, intermediates, UnixTime::now())
            .is_ok()
    }
}

/// The handshake side of client certificates: request one (hinting the sandbox's CA), never
/// require one, and accept any certificate whose key signs the handshake. Whether it is
/// trusted is an authentication question answered per request, as the API server does.
#[derive(Debug)]
struct ClientCertificates {
    verifier: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for ClientCertificates {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[TlsName] {
        self.verifier.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.verifier.supported_verify_schemes()
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
        assert!(a.client_key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
        assert_eq!(
            a.server_config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }
}
