//! TLS for the origin server (rustls): a certificate chain and key from PEM files, or a
//! self-signed certificate made at start for local use; ALPN offers h2, then http/1.1.

use std::path::Path;
use std::sync::Arc;

pub use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Why TLS could not be set up; says which file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {what}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        what: String,
    },
    /// rustls refused the pair (e.g. the key does not match the certificate).
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The self-signed certificate could not be made.
    #[error("self-signed certificate: {0}")]
    SelfSigned(#[from] rcgen::Error),
}

/// The names a self-signed certificate is made for.
pub const SELF_SIGNED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A server configuration from a PEM certificate chain (leaf first) and a PEM private key
/// (PKCS#8, PKCS#1 or SEC1).
pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let file_error =
        |path: &Path, what: String| TlsError::File { path: path.display().to_string(), what };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_error(cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(file_error(cert, "no CERTIFICATE block in the file".to_owned()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, e.to_string()))?;
    config(chain, key_der)
}

/// A server configuration with a new self-signed certificate for [`SELF_SIGNED_NAMES`], and the
/// certificate in PEM (for a client to trust, e.g. `curl --cacert`).
pub fn self_signed() -> Result<(Arc<ServerConfig>, String), TlsError> {
    let names: Vec<String> = SELF_SIGNED_NAMES.iter().map(|&n| n.to_owned()).collect();
    let made = rcgen::generate_simple_self_signed(names)?;
    let pem = made.cert.pem();
    // rcgen serialises its key pair as PKCS#8.
    let key = PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()).into();
    Ok((config(vec![made.cert.der().clone()], key)?, pem))
}

fn config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    // In order of preference. rustls refuses a client whose list shares none of these, so
    // http/1.0 is there for clients that offer only it (curl --http1.0).
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec(), b"http/1.0".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_makes_a_configuration_offering_h2() {
        let (config, pem) = self_signed().unwrap();
        assert_eq!(config.alpn_protocols[..2], [b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    }

    #[test]
    fn pem_files_load_and_bad_ones_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        assert!(from_pem_files(&cert, &key).is_ok());

        let error = from_pem_files(&key, &key).unwrap_err().to_string();
        assert!(error.contains("key.pem: no CERTIFICATE block"), "{error}");
        let error = from_pem_files(&cert, &cert).unwrap_err().to_string();
        assert!(error.contains("cert.pem"), "{error}");
        let missing = dir.path().join("missing.pem");
        let error = from_pem_files(&missing, &key).unwrap_err().to_string();
        assert!(error.contains("missing.pem"), "{error}");
        // A key that is not the certificate's.
        let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        std::fs::write(&key, other.signing_key.serialize_pem()).unwrap();
        assert!(from_pem_files(&cert, &key).is_err());
    }
}
