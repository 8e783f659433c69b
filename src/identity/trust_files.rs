//! Parsers of the trust folder's files: X.509 certificates, CRLs (DER or PEM) and CSCA master
//! lists (CMS SignedData over a CscaMasterList, ICAO 9303 Part 12 §9). Pure functions of the
//! bytes; [`super::trust`] decides what to trust.

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerInfo};
use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, SetOfVec};
use der::{Decode, DecodePem, Sequence};
use x509_cert::crl::CertificateList;
use x509_cert::Certificate;

const OID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// id-icao-cscaMasterList (2.23.136.1.1.2).
pub const OID_CSCA_MASTER_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.136.1.1.2");
/// Master lists of a few hundred CSCAs are ~1 MB; anything far larger is not one.
pub const MAX_FILE: usize = 16 << 20;

/// Why a trust file cannot be read (not whether it is trusted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

fn fail(what: impl std::fmt::Display) -> ParseError {
    ParseError(what.to_string())
}

/// An X.509 certificate, DER or PEM.
pub fn parse_certificate(bytes: &[u8]) -> Result<Certificate, ParseError> {
    if bytes.starts_with(b"-----BEGIN") {
        Certificate::from_pem(bytes).map_err(fail)
    } else {
        Certificate::from_der(bytes).map_err(fail)
    }
}

/// A CRL (RFC 5280 CertificateList), DER or PEM (`X509 CRL`).
pub fn parse_crl(bytes: &[u8]) -> Result<CertificateList, ParseError> {
    if bytes.starts_with(b"-----BEGIN") {
        let (label, der) = der::pem::decode_vec(bytes).map_err(fail)?;
        if label != "X509 CRL" {
            return Err(fail(format!("PEM label {label:?}, expected \"X509 CRL\"")));
        }
        CertificateList::from_der(&der).map_err(fail)
    } else {
        CertificateList::from_der(bytes).map_err(fail)
    }
}

/// CscaMasterList ::= SEQUENCE { version CscaMasterListVersion (v0), certList SET OF Certificate }
#[derive(Sequence)]
struct CscaMasterList {
    version: u8,
    cert_list: SetOfVec<Certificate>,
}

/// A master list, parsed but not yet verified.
pub struct MasterList {
    /// The CSCA and link certificates it lists.
    pub certificates: Vec<Certificate>,
    /// The signed CscaMasterList bytes.
    pub content: Vec<u8>,
    pub signer: SignerInfo,
    /// The master-list signer's certificate (carried in the SignedData).
    pub signer_certificate: Option<Certificate>,
    /// Every certificate the SignedData carries (signer and its issuers).
    pub carried: Vec<Certificate>,
}

impl std::fmt::Debug for MasterList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterList").field("certificates", &self.certificates.len()).finish_non_exhaustive()
    }
}

/// A CSCA master list: a CMS ContentInfo (DER, or PEM `CMS`/`PKCS7`) with SignedData whose
/// content is a CscaMasterList.
pub fn parse_master_list(bytes: &[u8]) -> Result<MasterList, ParseError> {
    let der = if bytes.starts_with(b"-----BEGIN") {
        der::pem::decode_vec(bytes).map_err(fail)?.1
    } else {
        bytes.to_vec()
    };
    let info = ContentInfo::from_der(&der).map_err(fail)?;
    if info.content_type != OID_SIGNED_DATA {
        return Err(fail("not CMS SignedData"));
    }
    let signed: SignedData = info.content.decode_as().map_err(fail)?;
    if signed.encap_content_info.econtent_type != OID_CSCA_MASTER_LIST {
        return Err(fail(format!(
            "signed content type {}, expected id-icao-cscaMasterList (2.23.136.1.1.2)",
            signed.encap_content_info.econtent_type
        )));
    }
    let content = signed
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| fail("no signed content"))?
        .decode_as::<OctetString>()
        .map_err(fail)?
        .into_bytes();
    let list = CscaMasterList::from_der(&content).map_err(fail)?;
    if list.version != 0 {
        return Err(fail(format!("master list version {}, expected 0", list.version)));
    }
    let mut signers = signed.signer_infos.0.into_vec();
    if signers.len() != 1 {
        return Err(fail(format!("{} signer infos, expected 1", signers.len())));
    }
    let signer = signers.pop().ok_or_else(|| fail("no signer info"))?;
    let carried: Vec<Certificate> = signed
        .certificates
        .map(|set| {
            set.0
                .into_vec()
                .into_iter()
                .filter_map(|choice| match choice {
                    cms::cert::CertificateChoices::Certificate(cert) => Some(cert),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let signer_certificate = carried.iter().find(|c| signer_matches(&signer, c)).cloned();
    Ok(MasterList { certificates: list.cert_list.into_vec(), content, signer, signer_certificate, carried })
}

/// True when `signer`'s identifier names `cert` (issuer and serial, or subject key identifier).
pub fn signer_matches(signer: &SignerInfo, cert: &Certificate) -> bool {
    use cms::signed_data::SignerIdentifier;
    match &signer.sid {
        SignerIdentifier::IssuerAndSerialNumber(id) => {
            id.issuer == cert.tbs_certificate.issuer && id.serial_number == cert.tbs_certificate.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => cert
            .tbs_certificate
            .get::<x509_cert::ext::pkix::SubjectKeyIdentifier>()
            .ok()
            .flatten()
            .is_some_and(|(_, own)| own.0 == ski.0),
    }
}

/// The two-letter country of a name (its C attribute), upper case; `None` without one.
pub fn country_of(name: &x509_cert::name::Name) -> Option<String> {
    const OID_COUNTRY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
    name.0.iter().flat_map(|rdn| rdn.0.iter()).find(|atv| atv.oid == OID_COUNTRY).and_then(|atv| {
        let text = der::asn1::PrintableStringRef::try_from(&atv.value)
            .map(|s| s.as_str().to_owned())
            .or_else(|_| der::asn1::Utf8StringRef::try_from(&atv.value).map(|s| s.as_str().to_owned()))
            .ok()?;
        Some(text.to_ascii_uppercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Hostile bytes give an error, never a panic.
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_crl(&bytes);
            let _ = parse_master_list(&bytes);
            let _ = parse_certificate(&bytes);
        }

        /// A real master list or CRL cut anywhere is refused, never half read; a changed byte
        /// never panics (whether it still parses is the signature check's business).
        #[test]
        fn cut_or_changed_master_lists_and_crls(cut in 1usize..4_000, at in any::<usize>(), flip in 1u8..=255) {
            let (master_list, crl) = real_files();
            for (bytes, is_crl) in [(master_list, false), (crl, true)] {
                let parse = |b: &[u8]| if is_crl { parse_crl(b).map(drop) } else { parse_master_list(b).map(drop) };
                prop_assert!(parse(bytes).is_ok());
                let cut = cut % bytes.len();
                prop_assert!(parse(&bytes[..cut]).is_err(), "a file cut at {} of {} was accepted", cut, bytes.len());
                let mut changed = bytes.to_vec();
                let i = at % changed.len();
                changed[i] ^= flip;
                let _ = parse(&changed);
            }
        }
    }

    /// The simulator's test PKI: a master list of two CSCAs and a CRL (made once per process).
    fn real_files() -> &'static (Vec<u8>, Vec<u8>) {
        static FILES: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
        FILES.get_or_init(|| {
            use kiosk_hal::card_reader::sim::{test_pki, TestPki};
            let pki = test_pki();
            let neighbour = TestPki::generate("neighbour").unwrap();
            let epoch = std::time::SystemTime::UNIX_EPOCH;
            let day = std::time::Duration::from_secs(86_400);
            let master_list = pki.master_list(&[pki.csca().clone(), neighbour.csca().clone()]).unwrap();
            (master_list, pki.crl(epoch + 20_000 * day, epoch + 20_400 * day).unwrap())
        })
    }

    #[test]
    fn wrong_pem_label_is_named() {
        let text = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let error = parse_crl(text.as_bytes()).unwrap_err();
        assert!(error.0.contains("CERTIFICATE"), "{error}");
    }
}
