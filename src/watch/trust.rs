//! Which https git servers the daemon trusts beyond the system's CAs: the PEM bundle named by
//! `GIT_SSL_CAINFO`, the variable git users set for a server with a private CA.
//!
//! libgit2 checks a server's certificate with OpenSSL against the system store (which only
//! OpenSSL's `SSL_CERT_FILE` / `SSL_CERT_DIR` change, replacing it) and then hands the
//! certificate and its verdict to the certificate callback, which may accept it. So here a
//! certificate that chains to a CA of the bundle, for the host asked for, is accepted; any
//! other keeps libgit2's own verdict. The chain is checked by rustls' WebPKI verifier (validity
//! dates, signatures, `serverAuth` usage, the host name or IP address), never by hand.

use std::sync::Arc;

use git2::CertificateCheckStatus;
use git2::cert::Cert;
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

/// The environment variable naming extra CAs (git's own).
pub const CA_VAR: &str = "GIT_SSL_CAINFO";

/// The certificate callback: accept `cert` for `host` when it chains to a CA of
/// `GIT_SSL_CAINFO`; otherwise leave the decision to libgit2. SSH host keys pass through (they
/// are checked against `known_hosts` by libgit2).
pub fn check(cert: &Cert<'_>, host: &str) -> Result<CertificateCheckStatus, git2::Error> {
    let Some(path) = std::env::var_os(CA_VAR).filter(|v| !v.is_empty()) else {
        return Ok(CertificateCheckStatus::CertificatePassthrough);
    };
    let Some(x509) = cert.as_x509() else {
        return Ok(CertificateCheckStatus::CertificatePassthrough);
    };
    let shown = std::path::Path::new(&path).display().to_string();
    let pem = std::fs::read(&path)
        .map_err(|e| git2::Error::from_str(&format!("`{CA_VAR}`: cannot read `{shown}`: {e}")))?;
    let cas =
        bundle(&pem).map_err(|e| git2::Error::from_str(&format!("`{CA_VAR}`: `{shown}`: {e}")))?;
    Ok(if chains(x509.data(), host, &cas) {
        CertificateCheckStatus::CertificateOk
    } else {
        CertificateCheckStatus::CertificatePassthrough
    })
}

/// The certificates of a PEM bundle (other PEM sections, such as keys, are skipped).
fn bundle(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let cas = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM certificate bundle ({e})"))?;
    if cas.is_empty() {
        return Err("no certificate in it".into());
    }
    Ok(cas)
}

/// Whether the DER certificate `leaf` is valid now for `host` and chains to one of `cas`
/// (which may also supply the intermediates: libgit2 hands over the leaf only).
fn chains(leaf: &[u8], host: &str, cas: &[CertificateDer<'static>]) -> bool {
    let mut roots = RootCertStore::empty();
    // A bundle may hold certificates that are no trust anchors: they only serve as
    // intermediates.
    let (added, _) = roots.add_parsable_certificates(cas.iter().cloned());
    if added == 0 {
        return false;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let Ok(verifier) =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build()
    else {
        return false;
    };
    let Ok(name) = ServerName::try_from(host.to_string()) else {
        return false;
    };
    verifier
        .verify_server_cert(
            &CertificateDer::from(leaf.to_vec()),
            cas,
            &name,
            &[],
            UnixTime::now(),
        )
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    /// A CA (PEM) and a leaf it signed for `127.0.0.1` and `git.internal` (DER).
    fn ca_and_leaf() -> (String, Vec<u8>) {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".into(), "git.internal".into()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        (ca_cert.pem(), leaf.der().to_vec())
    }

    #[test]
    fn a_certificate_is_trusted_for_its_hosts_through_its_own_ca_only() {
        let (ca_a, leaf) = ca_and_leaf();
        let (ca_b, _) = ca_and_leaf();
        let a = bundle(ca_a.as_bytes()).unwrap();
        let b = bundle(ca_b.as_bytes()).unwrap();
        assert!(chains(&leaf, "127.0.0.1", &a));
        assert!(chains(&leaf, "git.internal", &a));
        assert!(!chains(&leaf, "git.example.com", &a), "another host");
        assert!(!chains(&leaf, "127.0.0.1", &b), "another CA");
        // A bundle of several CAs works when one of them signed it.
        let both = bundle(format!("{ca_b}{ca_a}").as_bytes()).unwrap();
        assert!(chains(&leaf, "127.0.0.1", &both));
    }

    #[test]
    fn a_bundle_without_certificates_is_an_error() {
        assert_eq!(bundle(b"").unwrap_err(), "no certificate in it");
        assert!(
            bundle(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
                .is_err()
        );
    }
}
