//! The CSCA trust store: the country signing CAs the kiosk accepts as issuers of Document
//! Signers, and the revocation lists it checks them against, loaded from one folder
//! (`card_reader.csca_dir`):
//!
//! - `*.der`, `*.cer`, `*.crt`, `*.pem`: CSCA certificates (self-signed) and link certificates
//!   (a new CSCA key signed by the previous one, trusted once its issuer is);
//! - `*.ml`: CSCA master lists (CMS SignedData, as the German BSI publishes), accepted only when
//!   signed by a master-list signer issued by a CSCA trusted from a certificate file (or that
//!   signer's certificate itself lies in the folder); their CSCAs and links are then added;
//! - `*.crl`: CRLs, DER or PEM, each verified with the CSCA that issued it; a Document Signer
//!   listed there is refused by passive authentication.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use der::Encode;
use x509_cert::crl::CertificateList;
use x509_cert::Certificate;

use super::pa;
use super::trust_files::{self, MasterList};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustStoreError {
    #[error("CSCA trust store folder {path} cannot be read: {source}. Check `card_reader.csca_dir`")]
    Folder { path: PathBuf, source: std::io::Error },
    #[error("CSCA certificate {path} is not a DER or PEM X.509 certificate: {reason}. Remove or replace it")]
    Certificate { path: PathBuf, reason: String },
    #[error("CSCA certificate {path} is not a valid self-signed CA certificate: {reason}. Remove or replace it")]
    NotCsca { path: PathBuf, reason: String },
    #[error("link certificate {path} (\"{subject}\") is not signed by any CSCA in the trust store: install the CSCA that issued it (\"{issuer}\") first")]
    LinkWithoutIssuer { path: PathBuf, subject: String, issuer: String },
    #[error("master list {path} cannot be read: {reason}. Replace it with the file as published")]
    MasterList { path: PathBuf, reason: String },
    #[error("master list {path} is not signed by a trusted master-list signer: {reason}. Install the CSCA that issued its signer, or remove the file")]
    MasterListUntrusted { path: PathBuf, reason: String },
    #[error("CRL {path} cannot be read: {reason}. Replace it with the CRL as published (DER or PEM)")]
    Crl { path: PathBuf, reason: String },
    #[error("CRL {path} is not signed by a CSCA in the trust store (issuer \"{issuer}\"): install that CSCA, or remove the CRL")]
    CrlUntrusted { path: PathBuf, issuer: String },
    #[error("CSCA trust store {path} holds no certificate (*.der, *.cer, *.crt, *.pem, *.ml): every passport would fail passive authentication. Install the CSCA certificates")]
    Empty { path: PathBuf },
}

impl TrustStoreError {
    /// What a caller can do about it.
    pub fn kind(&self) -> TrustErrorKind {
        match self {
            Self::Folder { .. } | Self::Empty { .. } => TrustErrorKind::Configuration,
            Self::Certificate { .. } | Self::MasterList { .. } | Self::Crl { .. } => TrustErrorKind::Unreadable,
            Self::NotCsca { .. } | Self::LinkWithoutIssuer { .. } | Self::MasterListUntrusted { .. } | Self::CrlUntrusted { .. } => {
                TrustErrorKind::Untrusted
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustErrorKind {
    /// The folder setting or its contents as a whole.
    Configuration,
    /// A file is not what its name says.
    Unreadable,
    /// A file is well formed but does not chain to what the kiosk trusts.
    Untrusted,
}

/// How a CA came to be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A self-signed CSCA certificate file.
    File(PathBuf),
    /// A link certificate file, verified with an already trusted CSCA.
    LinkFile(PathBuf),
    /// Listed in this verified master list.
    MasterList(PathBuf),
}

/// A trusted CA certificate and where it came from.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub certificate: Certificate,
    pub origin: Origin,
}

/// A verified CRL.
#[derive(Debug, Clone)]
pub struct Crl {
    pub list: CertificateList,
    pub path: PathBuf,
}

impl Crl {
    pub fn issuer(&self) -> String {
        self.list.tbs_cert_list.issuer.to_string()
    }

    pub fn next_update(&self) -> Option<SystemTime> {
        self.list.tbs_cert_list.next_update.map(|t| t.to_system_time())
    }

    pub fn revoked(&self) -> usize {
        self.list.tbs_cert_list.revoked_certificates.as_ref().map_or(0, Vec::len)
    }

    /// True when the CRL is past its nextUpdate at `now` (a fresh one should be installed).
    pub fn is_stale(&self, now: SystemTime) -> bool {
        self.next_update().is_some_and(|next| next < now)
    }
}

/// A verified master list, for listing.
#[derive(Debug, Clone)]
pub struct MasterListSummary {
    pub path: PathBuf,
    pub signer: String,
    /// Certificates it listed, and how many of them were taken (the others were invalid).
    pub listed: usize,
    pub accepted: usize,
}

/// Trusted CSCAs, link certificates and CRLs.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    anchors: Vec<Anchor>,
    crls: Vec<Crl>,
    master_lists: Vec<MasterListSummary>,
}

/// Issuer and subject agree and the certificate verifies with its own key (a link certificate
/// after a rollover keeps the name but is signed by the previous key).
fn is_self_signed(cert: &Certificate) -> bool {
    let tbs = &cert.tbs_certificate;
    tbs.issuer == tbs.subject && pa::verify_certificate(cert, &tbs.subject_public_key_info).is_ok()
}

/// A CA certificate's own checks: basic constraints say CA (when present).
fn check_ca(cert: &Certificate) -> Result<(), String> {
    let basic = cert
        .tbs_certificate
        .get::<x509_cert::ext::pkix::BasicConstraints>()
        .map_err(|e| format!("basic constraints unreadable: {e}"))?;
    if basic.is_some_and(|(_, bc)| !bc.ca) {
        return Err("basic constraints say it is not a CA".to_owned());
    }
    Ok(())
}

/// A link certificate must say it is a CA (basic constraints present, CA true): a Document
/// Signer or any end-entity certificate its CSCA signed must never become an issuer.
fn is_declared_ca(cert: &Certificate) -> bool {
    matches!(cert.tbs_certificate.get::<x509_cert::ext::pkix::BasicConstraints>(), Ok(Some((_, bc))) if bc.ca)
}

impl TrustStore {
    /// Loads every trust file of `dir` (see the module documentation).
    pub fn load_dir(dir: &Path) -> Result<Self, TrustStoreError> {
        let folder = |source| TrustStoreError::Folder { path: dir.to_owned(), source };
        let mut paths: Vec<PathBuf> =
            std::fs::read_dir(dir).map_err(folder)?.filter_map(|entry| entry.ok().map(|e| e.path())).collect();
        paths.sort();
        let kind = |p: &Path| p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let read = |path: &Path| -> Result<Vec<u8>, TrustStoreError> {
            let bytes = std::fs::read(path).map_err(folder)?;
            if bytes.len() > trust_files::MAX_FILE {
                return Err(TrustStoreError::Certificate { path: path.to_owned(), reason: "larger than 16 MiB".into() });
            }
            Ok(bytes)
        };
        let mut store = Self::default();
        let mut links = Vec::new();
        for path in paths.iter().filter(|p| matches!(kind(p).as_deref(), Some("der" | "cer" | "crt" | "pem"))) {
            let cert = trust_files::parse_certificate(&read(path)?)
                .map_err(|e| TrustStoreError::Certificate { path: path.clone(), reason: e.0 })?;
            if is_self_signed(&cert) {
                store
                    .add_anchor(cert, Origin::File(path.clone()))
                    .map_err(|reason| TrustStoreError::NotCsca { path: path.clone(), reason })?;
            } else if is_declared_ca(&cert) {
                links.push((cert, path.clone()));
            } else {
                let reason = "it is neither self-signed nor a CA (a Document Signer does not belong here)".to_owned();
                return Err(TrustStoreError::NotCsca { path: path.clone(), reason });
            }
        }
        // Links from files may chain on each other (several rollovers): add until no progress.
        store.resolve_links(&mut links, false);
        if let Some((cert, path)) = links.into_iter().next() {
            return Err(TrustStoreError::LinkWithoutIssuer {
                path,
                subject: cert.tbs_certificate.subject.to_string(),
                issuer: cert.tbs_certificate.issuer.to_string(),
            });
        }
        for path in paths.iter().filter(|p| kind(p).as_deref() == Some("ml")) {
            let list = trust_files::parse_master_list(&read(path)?)
                .map_err(|e| TrustStoreError::MasterList { path: path.clone(), reason: e.0 })?;
            store.add_master_list(&list, path)?;
        }
        for path in paths.iter().filter(|p| kind(p).as_deref() == Some("crl")) {
            let list =
                trust_files::parse_crl(&read(path)?).map_err(|e| TrustStoreError::Crl { path: path.clone(), reason: e.0 })?;
            store.add_crl(list, path)?;
        }
        if store.anchors.is_empty() {
            return Err(TrustStoreError::Empty { path: dir.to_owned() });
        }
        tracing::info!(
            cscas = store.anchors.len(),
            crls = store.crls.len(),
            master_lists = store.master_lists.len(),
            dir = %dir.display(),
            "CSCA trust store loaded"
        );
        Ok(store)
    }

    /// Adds one self-signed CSCA after checking its signature and that it is a CA.
    pub fn add(&mut self, cert: Certificate) -> Result<(), String> {
        let tbs = &cert.tbs_certificate;
        if tbs.issuer != tbs.subject {
            return Err("issuer and subject differ".to_owned());
        }
        pa::verify_certificate(&cert, &tbs.subject_public_key_info).map_err(|e| e.to_string())?;
        self.add_anchor(cert, Origin::File(PathBuf::new()))
    }

    /// Adds a CA already verified (self-signed, or a link checked by its issuer).
    fn add_anchor(&mut self, cert: Certificate, origin: Origin) -> Result<(), String> {
        let tbs = &cert.tbs_certificate;
        check_ca(&cert)?;
        if !pa::valid_at(&cert, SystemTime::now()) {
            tracing::warn!(csca = %tbs.subject, "a CSCA in the trust store is outside its validity period");
        }
        let der = cert.to_der().ok();
        if !self.anchors.iter().any(|a| a.certificate.to_der().ok() == der) {
            self.anchors.push(Anchor { certificate: cert, origin });
        }
        Ok(())
    }

    /// Adds every link certificate whose issuer is trusted, repeatedly; leaves the others.
    /// `from_list`: the links came from that master list (else from their own files).
    fn resolve_links(&mut self, links: &mut Vec<(Certificate, PathBuf)>, from_list: bool) {
        loop {
            let before = links.len();
            let mut remaining = Vec::new();
            for (cert, path) in links.drain(..) {
                let verified = self.issuers_of(&cert).any(|ca| pa::verify_certificate(&cert, &ca.tbs_certificate.subject_public_key_info).is_ok());
                if verified && is_declared_ca(&cert) {
                    let origin = if from_list { Origin::MasterList(path) } else { Origin::LinkFile(path) };
                    let _ = self.add_anchor(cert, origin);
                } else {
                    remaining.push((cert, path));
                }
            }
            *links = remaining;
            if links.len() == before || links.is_empty() {
                return;
            }
        }
    }

    /// Verifies a master list's signature and signer, then adds its valid CSCAs and links.
    fn add_master_list(&mut self, list: &MasterList, path: &Path) -> Result<(), TrustStoreError> {
        let untrusted = |reason: String| TrustStoreError::MasterListUntrusted { path: path.to_owned(), reason };
        let signer = list.signer_certificate.as_ref().ok_or_else(|| untrusted("it carries no signer certificate".into()))?;
        pa::verify_cms_signature(
            &list.signer,
            &list.content,
            trust_files::OID_CSCA_MASTER_LIST,
            &signer.tbs_certificate.subject_public_key_info,
        )
        .map_err(|e| match e {
            pa::PaFailure::SodSignatureInvalid => untrusted("its signature does not verify with its signer's certificate".into()),
            other => untrusted(other.to_string()),
        })?;
        // The signer is trusted when a CSCA from a certificate file issued it, or when its very
        // certificate was installed as one (never by a CSCA the list itself brings).
        let from_files = |a: &&Anchor| matches!(a.origin, Origin::File(_) | Origin::LinkFile(_));
        let signer_der = signer.to_der().ok();
        let issuer_der = signer.tbs_certificate.issuer.to_der().ok();
        let installed = self.anchors.iter().filter(from_files).any(|a| a.certificate.to_der().ok() == signer_der);
        let issued = self
            .anchors
            .iter()
            .filter(from_files)
            .filter(|a| a.certificate.tbs_certificate.subject.to_der().ok() == issuer_der)
            .any(|a| pa::verify_certificate(signer, &a.certificate.tbs_certificate.subject_public_key_info).is_ok());
        if !installed && !issued {
            return Err(untrusted(format!("its signer \"{}\" was issued by \"{}\", which is not installed", signer.tbs_certificate.subject, signer.tbs_certificate.issuer)));
        }
        if !pa::valid_at(signer, SystemTime::now()) {
            tracing::warn!(signer = %signer.tbs_certificate.subject, "a master list's signer certificate is outside its validity period");
        }
        let mut accepted = 0;
        let mut links = Vec::new();
        for cert in &list.certificates {
            if is_self_signed(cert) {
                match self.add_anchor(cert.clone(), Origin::MasterList(path.to_owned())) {
                    Ok(()) => accepted += 1,
                    Err(reason) => tracing::warn!(csca = %cert.tbs_certificate.subject, %reason, "master list entry skipped"),
                }
            } else {
                links.push((cert.clone(), path.to_owned()));
            }
        }
        let links_listed = links.len();
        self.resolve_links(&mut links, true);
        accepted += links_listed - links.len();
        self.master_lists.push(MasterListSummary {
            path: path.to_owned(),
            signer: signer.tbs_certificate.subject.to_string(),
            listed: list.certificates.len(),
            accepted,
        });
        Ok(())
    }

    fn add_crl(&mut self, list: CertificateList, path: &Path) -> Result<(), TrustStoreError> {
        let tbs = &list.tbs_cert_list;
        let issuer = tbs.issuer.to_string();
        let signed = tbs.to_der().map_err(|e| TrustStoreError::Crl { path: path.to_owned(), reason: e.to_string() })?;
        let signature = list.signature.as_bytes().unwrap_or_default();
        let verified = self.anchors.iter().filter(|a| a.certificate.tbs_certificate.subject == tbs.issuer).any(|a| {
            pa::verify_signed(&a.certificate.tbs_certificate.subject_public_key_info, &list.signature_algorithm, &signed, signature)
                .is_ok()
        });
        if !verified {
            return Err(TrustStoreError::CrlUntrusted { path: path.to_owned(), issuer });
        }
        self.crls.push(Crl { list, path: path.to_owned() });
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    pub fn anchors(&self) -> &[Anchor] {
        &self.anchors
    }

    pub fn crls(&self) -> &[Crl] {
        &self.crls
    }

    pub fn master_lists(&self) -> &[MasterListSummary] {
        &self.master_lists
    }

    /// The trusted CAs whose subject is `cert`'s issuer (several after a key rollover: the old
    /// CSCA and the link to the new key share the name).
    pub fn issuers_of<'a>(&'a self, cert: &Certificate) -> impl Iterator<Item = &'a Certificate> + 'a {
        let issuer = cert.tbs_certificate.issuer.to_der().ok();
        self.anchors
            .iter()
            .map(|a| &a.certificate)
            .filter(move |c| c.tbs_certificate.subject.to_der().ok() == issuer)
    }

    /// The first trusted CA whose subject is `cert`'s issuer.
    pub fn issuer_of(&self, cert: &Certificate) -> Option<&Certificate> {
        self.issuers_of(cert).next()
    }

    /// The CRL that revokes `cert`, if one issued by its issuer lists its serial number.
    pub fn revoked_by(&self, cert: &Certificate) -> Option<&Crl> {
        let tbs = &cert.tbs_certificate;
        self.crls.iter().find(|crl| {
            crl.list.tbs_cert_list.issuer == tbs.issuer
                && crl
                    .list
                    .tbs_cert_list
                    .revoked_certificates
                    .as_ref()
                    .is_some_and(|r| r.iter().any(|entry| entry.serial_number == tbs.serial_number))
        })
    }

    /// The countries (C of the subject) the store has a CSCA for, upper case.
    pub fn countries(&self) -> std::collections::BTreeSet<String> {
        self.anchors.iter().filter_map(|a| trust_files::country_of(&a.certificate.tbs_certificate.subject)).collect()
    }
}

/// What `kiosk trust import` found a file to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustFileKind {
    Certificate,
    MasterList,
    Crl,
}

impl TrustFileKind {
    /// The extension the trust folder expects for this kind.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Certificate => "der",
            Self::MasterList => "ml",
            Self::Crl => "crl",
        }
    }

    /// Recognises a trust file by content (a CRL, a master list, or a certificate).
    pub fn detect(bytes: &[u8]) -> Option<Self> {
        if trust_files::parse_certificate(bytes).is_ok() {
            Some(Self::Certificate)
        } else if trust_files::parse_crl(bytes).is_ok() {
            Some(Self::Crl)
        } else if trust_files::parse_master_list(bytes).is_ok() {
            Some(Self::MasterList)
        } else {
            None
        }
    }
}

/// The countries whose documents this kiosk has read, by the country (C) of their Document
/// Signer's issuer: `kiosk diag` warns when the trust store has no CSCA for one of them. Kept
/// in the data folder (`countries-seen`, one code a line); no personal data.
pub mod countries_seen {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    const FILE: &str = "countries-seen";

    fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(FILE)
    }

    /// The two-letter C attribute of a distinguished name as RFC 4514 text ("CN=…,C=DE").
    pub fn country_in_name(name: &str) -> Option<String> {
        name.split(',')
            .filter_map(|part| part.trim().strip_prefix("C="))
            .map(str::trim)
            .find(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
            .map(str::to_ascii_uppercase)
    }

    /// Every country recorded; an absent or unreadable file is an empty set.
    pub fn load(data_dir: &Path) -> BTreeSet<String> {
        std::fs::read_to_string(path(data_dir))
            .map(|text| {
                text.lines().map(str::trim).filter(|l| l.len() == 2).map(str::to_ascii_uppercase).collect()
            })
            .unwrap_or_default()
    }

    /// Adds `country` (two letters) when new; failures are logged, never fatal.
    pub fn record(data_dir: &Path, country: &str) {
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
            return;
        }
        let mut seen = load(data_dir);
        if !seen.insert(country.to_ascii_uppercase()) {
            return;
        }
        let text: String = seen.iter().map(|c| format!("{c}\n")).collect();
        let tmp = data_dir.join(format!("{FILE}.tmp"));
        let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path(data_dir)));
        if let Err(error) = written {
            tracing::warn!(%error, dir = %data_dir.display(), "could not record a country seen");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use der::{Decode, Encode};
    use kiosk_hal::card_reader::sim::{test_pki, TestPki};
    use x509_cert::Certificate;

    use super::*;

    fn folder(files: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        dir
    }

    fn cert(der: &[u8]) -> Certificate {
        Certificate::from_der(der).unwrap()
    }

    fn now_crl(pki: &TestPki) -> Vec<u8> {
        let now = SystemTime::now();
        pki.crl(now - Duration::from_secs(60), now + Duration::from_secs(86_400)).unwrap()
    }

    #[test]
    fn crl_revokes_its_document_signer_only() {
        let pki = test_pki();
        let dir = folder(&[("csca.der", pki.csca_der().to_vec()), ("ut.crl", now_crl(pki))]);
        let store = TrustStore::load_dir(dir.path()).unwrap();
        assert_eq!(store.crls().len(), 1);
        assert_eq!(store.crls()[0].revoked(), 1);
        let revoked = cert(&pki.revoked_signer().unwrap().ds_der().unwrap());
        assert!(store.revoked_by(&revoked).is_some());
        assert!(store.revoked_by(&cert(&pki.ds_der().unwrap())).is_none());
        assert!(!store.crls()[0].is_stale(SystemTime::now()));
        assert!(store.crls()[0].is_stale(SystemTime::now() + Duration::from_secs(2 * 86_400)));
    }

    #[test]
    fn pem_crl_is_read() {
        let pki = test_pki();
        let pem = der::pem::encode_string("X509 CRL", der::pem::LineEnding::LF, &now_crl(pki)).unwrap();
        let dir = folder(&[("csca.pem", pki.csca().to_der().unwrap()), ("ut.crl", pem.into_bytes())]);
        assert_eq!(TrustStore::load_dir(dir.path()).unwrap().crls().len(), 1);
    }

    #[test]
    fn crl_of_an_unknown_issuer_is_refused() {
        let other = TestPki::generate("other-country").unwrap();
        let dir = folder(&[("csca.der", test_pki().csca_der().to_vec()), ("other.crl", now_crl(&other))]);
        let error = TrustStore::load_dir(dir.path()).unwrap_err();
        assert!(matches!(error, TrustStoreError::CrlUntrusted { .. }), "{error}");
        assert_eq!(error.kind(), TrustErrorKind::Untrusted);
    }

    #[test]
    fn master_list_adds_its_cscas_when_its_signer_is_trusted() {
        let pki = test_pki();
        let listed = [TestPki::generate("ml-a").unwrap(), TestPki::generate("ml-b").unwrap()];
        let certs: Vec<Certificate> = listed.iter().map(|p| p.csca().clone()).collect();
        let dir = folder(&[("csca.der", pki.csca_der().to_vec()), ("ut.ml", pki.master_list(&certs).unwrap())]);
        let store = TrustStore::load_dir(dir.path()).unwrap();
        assert_eq!(store.len(), 3);
        assert_eq!(store.master_lists()[0].accepted, 2);
        let from_list = store.anchors().iter().filter(|a| matches!(a.origin, Origin::MasterList(_))).count();
        assert_eq!(from_list, 2);
        // A DS of a listed country now chains.
        assert!(store.issuer_of(&cert(&listed[1].ds_der().unwrap())).is_some());
    }

    #[test]
    fn master_list_of_an_untrusted_signer_or_altered_is_refused() {
        let other = TestPki::generate("unknown-signer").unwrap();
        let certs = vec![TestPki::generate("ml-c").unwrap().csca().clone()];
        let dir = folder(&[("csca.der", test_pki().csca_der().to_vec()), ("x.ml", other.master_list(&certs).unwrap())]);
        let error = TrustStore::load_dir(dir.path()).unwrap_err();
        assert!(matches!(error, TrustStoreError::MasterListUntrusted { .. }), "{error}");
        // Its own CSCA in the list does not make it trusted: the signer must chain to a file.
        let certs = vec![other.csca().clone()];
        let dir = folder(&[("csca.der", test_pki().csca_der().to_vec()), ("x.ml", other.master_list(&certs).unwrap())]);
        assert!(matches!(TrustStore::load_dir(dir.path()), Err(TrustStoreError::MasterListUntrusted { .. })));
        // One certificate byte changed after signing: the digest no longer matches.
        let pki = test_pki();
        let certs = vec![TestPki::generate("ml-d").unwrap().csca().clone()];
        let mut ml = pki.master_list(&certs).unwrap();
        let at = ml.len() / 2;
        ml[at] ^= 0x01;
        let dir = folder(&[("csca.der", pki.csca_der().to_vec()), ("x.ml", ml)]);
        let error = TrustStore::load_dir(dir.path()).unwrap_err();
        assert!(
            matches!(error, TrustStoreError::MasterListUntrusted { .. } | TrustStoreError::MasterList { .. }),
            "{error}"
        );
    }

    #[test]
    fn link_certificate_extends_trust_to_the_new_csca_key() {
        let old = test_pki();
        let (new, link) = old.rollover("rollover-2030").unwrap();
        let new_ds = cert(&new.ds_der().unwrap());
        let dir = folder(&[("csca.der", old.csca_der().to_vec()), ("link.der", link.to_der().unwrap())]);
        let store = TrustStore::load_dir(dir.path()).unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(store.issuers_of(&new_ds).count(), 2, "old CSCA and link share the name");
        let verified = store
            .issuers_of(&new_ds)
            .filter(|c| pa::verify_certificate(&new_ds, &c.tbs_certificate.subject_public_key_info).is_ok())
            .count();
        assert_eq!(verified, 1);
        // A link whose issuer is missing is named.
        let dir = folder(&[("link.der", link.to_der().unwrap())]);
        assert!(matches!(TrustStore::load_dir(dir.path()), Err(TrustStoreError::LinkWithoutIssuer { .. })));
    }

    #[test]
    fn a_document_signer_certificate_is_not_a_csca() {
        let dir = folder(&[("csca.der", test_pki().csca_der().to_vec()), ("ds.der", test_pki().ds_der().unwrap())]);
        assert!(matches!(TrustStore::load_dir(dir.path()), Err(TrustStoreError::NotCsca { .. })));
    }

    #[test]
    fn file_kinds_are_detected_by_content() {
        let pki = test_pki();
        assert_eq!(TrustFileKind::detect(pki.csca_der()), Some(TrustFileKind::Certificate));
        assert_eq!(TrustFileKind::detect(&now_crl(pki)), Some(TrustFileKind::Crl));
        assert_eq!(TrustFileKind::detect(&pki.master_list(&[pki.csca().clone()]).unwrap()), Some(TrustFileKind::MasterList));
        assert_eq!(TrustFileKind::detect(b"hello"), None);
        assert_eq!(store_countries(), ["UT"]);
    }

    #[test]
    fn countries_seen_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        assert!(countries_seen::load(dir.path()).is_empty());
        countries_seen::record(dir.path(), "de");
        countries_seen::record(dir.path(), "UT");
        countries_seen::record(dir.path(), "DE");
        countries_seen::record(dir.path(), "D<");
        assert_eq!(countries_seen::load(dir.path()).into_iter().collect::<Vec<_>>(), ["DE", "UT"]);
        assert_eq!(countries_seen::country_in_name("CN=Kiosk Test CSCA x,O=Kiosk Test,C=UT").as_deref(), Some("UT"));
        assert_eq!(countries_seen::country_in_name("CN=C=no"), None);
    }

    fn store_countries() -> Vec<String> {
        let dir = folder(&[("csca.der", test_pki().csca_der().to_vec())]);
        TrustStore::load_dir(dir.path()).unwrap().countries().into_iter().collect()
    }
}
