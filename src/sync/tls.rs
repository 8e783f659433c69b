//! TLS set-up from PEM files: the kiosk's client (its certificate and key, the CA it trusts
//! for the core) and, for the loopback core simulator, a server that demands a client
//! certificate. rustls with the ring provider named explicitly, TLS 1.2 and 1.3 only.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("cannot read {what} {path}: {detail}; check the [sync] paths in the configuration")]
    Read { what: &'static str, path: PathBuf, detail: String },
    #[error("{what} {path} holds no certificate (expected PEM `BEGIN CERTIFICATE`)")]
    NoCertificate { what: &'static str, path: PathBuf },
    #[error("private key {path} has mode {mode:o}, readable by group/others; run `chmod 600 {path}`")]
    UnsafeKey { path: PathBuf, mode: u32 },
    #[error("TLS configuration refused: {0}; check that the certificate matches its key and the CA")]
    Config(String),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read = |detail: String| TlsError::Read { what, path: path.to_path_buf(), detail };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| read(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| read(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate { what, path: path.to_path_buf() });
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let read = |detail: String| TlsError::Read { what: "private key", path: path.to_path_buf(), detail };
    let mode = std::fs::metadata(path).map_err(|e| read(e.to_string()))?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(TlsError::UnsafeKey { path: path.to_path_buf(), mode });
    }
    PrivateKeyDer::from_pem_file(path).map_err(|e| read(e.to_string()))
}

fn roots(ca: &Path) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in certs("CA certificate", ca)? {
        store.add(cert).map_err(|e| TlsError::Config(e.to_string()))?;
    }
    Ok(store)
}

/// The kiosk side: trusts only `ca` for the core, presents `cert` (chain) with `key`.
pub fn client_config(ca: &Path, cert: &Path, key: &Path) -> Result<Arc<ClientConfig>, TlsError> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots(ca)?)
        .with_client_auth_cert(certs("client certificate", cert)?, private_key(key)?)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(Arc::new(config))
}

/// The core side (simulator): presents `cert` with `key`, requires a client certificate
/// issued by `client_ca`.
pub fn server_config(client_ca: &Path, cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(client_ca)?), provider())
        .build()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs("server certificate", cert)?, private_key(key)?)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(Arc::new(config))
}
