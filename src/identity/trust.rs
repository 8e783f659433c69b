//! The CSCA trust store: the country signing CA certificates the kiosk accepts as issuers of
//! Document Signers, loaded from a folder (`card_reader.csca_dir`) of DER or PEM files.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use der::{Decode, DecodePem, Encode};
use x509_cert::Certificate;

use super::pa;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustStoreError {
    #[error("CSCA trust store folder {path} cannot be read: {source}. Check `card_reader.csca_dir`")]
    Folder { path: PathBuf, source: std::io::Error },
    #[error("CSCA certificate {path} is not a DER or PEM X.509 certificate: {reason}. Remove or replace it")]
    Certificate { path: PathBuf, reason: String },
    #[error("CSCA certificate {path} is not a valid self-signed CA certificate: {reason}. Remove or replace it")]
    NotCsca { path: PathBuf, reason: String },
    #[error("CSCA trust store {path} holds no certificate (*.der, *.cer, *.crt, *.pem): every passport would fail passive authentication. Install the CSCA certificates")]
    Empty { path: PathBuf },
}

/// Trusted CSCA certificates.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    cscas: Vec<Certificate>,
}

impl TrustStore {
    /// Loads every certificate file of `dir`; each must be a self-signed CA certificate.
    pub fn load_dir(dir: &Path) -> Result<Self, TrustStoreError> {
        let folder = |source| TrustStoreError::Folder { path: dir.to_owned(), source };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(folder)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "der" | "cer" | "crt" | "pem"))
            })
            .collect();
        paths.sort();
        let mut store = Self::default();
        for path in paths {
            let bytes = std::fs::read(&path).map_err(folder)?;
            let cert = parse_certificate(&bytes)
                .map_err(|reason| TrustStoreError::Certificate { path: path.clone(), reason })?;
            store.add(cert).map_err(|reason| TrustStoreError::NotCsca { path: path.clone(), reason })?;
        }
        if store.cscas.is_empty() {
            return Err(TrustStoreError::Empty { path: dir.to_owned() });
        }
        tracing::info!(cscas = store.cscas.len(), dir = %dir.display(), "CSCA trust store loaded");
        Ok(store)
    }

    /// Adds one CSCA after checking it signs itself and is a CA.
    pub fn add(&mut self, cert: Certificate) -> Result<(), String> {
        let tbs = &cert.tbs_certificate;
        if tbs.issuer != tbs.subject {
            return Err("issuer and subject differ".to_owned());
        }
        pa::verify_certificate(&cert, &tbs.subject_public_key_info).map_err(|e| e.to_string())?;
        let basic = tbs
            .get::<x509_cert::ext::pkix::BasicConstraints>()
            .map_err(|e| format!("basic constraints unreadable: {e}"))?;
        if basic.is_some_and(|(_, bc)| !bc.ca) {
            return Err("basic constraints say it is not a CA".to_owned());
        }
        if !pa::valid_at(&cert, SystemTime::now()) {
            tracing::warn!(csca = %tbs.subject, "a CSCA in the trust store is outside its validity period");
        }
        self.cscas.push(cert);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.cscas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cscas.is_empty()
    }

    /// The CSCA whose subject is `cert`'s issuer.
    pub fn issuer_of(&self, cert: &Certificate) -> Option<&Certificate> {
        let issuer = cert.tbs_certificate.issuer.to_der().ok()?;
        self.cscas.iter().find(|c| c.tbs_certificate.subject.to_der().ok().as_deref() == Some(issuer.as_slice()))
    }
}

fn parse_certificate(bytes: &[u8]) -> Result<Certificate, String> {
    if bytes.starts_with(b"-----BEGIN") {
        Certificate::from_pem(bytes).map_err(|e| e.to_string())
    } else {
        Certificate::from_der(bytes).map_err(|e| e.to_string())
    }
}
