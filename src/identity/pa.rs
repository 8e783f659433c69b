//! Passive authentication (ICAO 9303 Part 11 §5.1, Part 10 §4.6.2): EF.SOD's CMS signature is
//! checked with the Document Signer certificate it carries, that certificate against the
//! configured CSCA trust store, and every data group read against the hash the SOD holds.
//!
//! [`parse_sod`] is the pure parser of the chip's bytes; [`verify`] decides. Signatures:
//! ECDSA on P-256 (any SHA-2 / SHA-1 digest) and RSA PKCS#1 v1.5. Not supported yet, each
//! reported as [`PaFailure::UnsupportedAlgorithm`]: RSA-PSS, brainpool and explicit-parameter
//! curves, P-384/P-521.

use std::time::SystemTime;

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerInfo};
use const_oid::ObjectIdentifier;
use der::asn1::OctetString;
use der::{Any, Decode, Encode, Sequence};
use sha2::Digest;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;

use super::tlv;
use super::trust::TrustStore;

const OID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const OID_LDS_SECURITY_OBJECT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.136.1.1.1");
const OID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const OID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// EF.SOD is the CMS ContentInfo inside an application tag 77.
const TAG_SOD: u32 = 0x77;

/// Hash functions ICAO allows for the SOD and signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        match oid.to_string().as_str() {
            "1.3.14.3.2.26" => Some(Self::Sha1),
            "2.16.840.1.101.3.4.2.4" => Some(Self::Sha224),
            "2.16.840.1.101.3.4.2.1" => Some(Self::Sha256),
            "2.16.840.1.101.3.4.2.2" => Some(Self::Sha384),
            "2.16.840.1.101.3.4.2.3" => Some(Self::Sha512),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA-1",
            Self::Sha224 => "SHA-224",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Self::Sha224 => sha2::Sha224::digest(data).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// Why a document failed passive authentication. None of these is a reader fault: the
/// document is not to be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PaFailure {
    #[error("the chip has no EF.SOD: its data cannot be authenticated")]
    SodMissing,
    #[error("EF.SOD is malformed: {0}")]
    MalformedSod(String),
    #[error("EF.SOD uses {0}, which this kiosk cannot verify")]
    UnsupportedAlgorithm(String),
    #[error("EF.SOD carries no Document Signer certificate")]
    NoDocumentSigner,
    #[error("EF.SOD's signature does not verify with its Document Signer certificate")]
    SodSignatureInvalid,
    #[error("EF.SOD's signed content type or message digest does not match its content")]
    SignedAttributesMismatch,
    #[error("the Document Signer was issued by \"{issuer}\", which is not in the CSCA trust store")]
    UnknownIssuer { issuer: String },
    #[error("the Document Signer certificate is revoked by the CRL {crl}")]
    DocumentSignerRevoked { crl: String },
    #[error("the Document Signer certificate's signature does not verify with the CSCA \"{csca}\"")]
    DocumentSignerNotIssuedByCsca { csca: String },
    #[error("the {which} certificate is not valid at this time")]
    CertificateNotValidNow { which: &'static str },
    #[error("data group {0}'s hash differs from the one signed in EF.SOD: its content was altered")]
    HashMismatch(u8),
    #[error("EF.SOD holds no hash for data group {0}")]
    HashMissing(u8),
    /// Passive authentication passed, but the chip failed to prove it is the original.
    #[error("the chip is suspected to be a clone: {0}")]
    CloneSuspected(String),
}

/// The outcome of passive authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassiveAuthentication {
    /// Signature, certificate chain and every data group hash verified.
    Passed {
        /// Subject of the Document Signer certificate (an authority, not a person).
        document_signer: String,
        csca: String,
        hash: HashAlgorithm,
    },
    Failed(PaFailure),
}

impl PassiveAuthentication {
    pub fn passed(&self) -> bool {
        matches!(self, Self::Passed { .. })
    }
}

/// ICAO LDSSecurityObject (version 0, or 1 with the LDS version info at the end).
#[derive(Sequence)]
struct LdsSecurityObject {
    version: u8,
    hash_algorithm: AlgorithmIdentifierOwned,
    data_group_hash_values: Vec<DataGroupHash>,
    #[asn1(optional = "true")]
    _lds_version_info: Option<Any>,
}

#[derive(Sequence)]
struct DataGroupHash {
    data_group_number: u8,
    data_group_hash_value: OctetString,
}

/// EF.SOD, parsed but not yet verified.
pub struct Sod {
    pub hash: HashAlgorithm,
    /// `(data group number, hash)`.
    pub hashes: Vec<(u8, Vec<u8>)>,
    /// The signed LDSSecurityObject bytes.
    content: Vec<u8>,
    signer: SignerInfo,
    document_signer: Option<Certificate>,
}

impl std::fmt::Debug for Sod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sod").field("hash", &self.hash).field("hashes", &self.hashes.len()).finish_non_exhaustive()
    }
}

fn malformed(what: impl std::fmt::Display) -> PaFailure {
    PaFailure::MalformedSod(what.to_string())
}

/// Parses EF.SOD as read from the chip (tag 77 around a CMS SignedData).
pub fn parse_sod(bytes: &[u8]) -> Result<Sod, PaFailure> {
    let (outer, _) = tlv::parse_one(bytes).map_err(malformed)?;
    if outer.tag != TAG_SOD {
        return Err(malformed(format!("outer tag {:X}, expected 77", outer.tag)));
    }
    let info = ContentInfo::from_der(outer.value).map_err(malformed)?;
    if info.content_type != OID_SIGNED_DATA {
        return Err(malformed("content is not CMS SignedData"));
    }
    let signed: SignedData = info.content.decode_as().map_err(malformed)?;
    let encap = &signed.encap_content_info;
    if encap.econtent_type != OID_LDS_SECURITY_OBJECT {
        return Err(malformed("signed content is not an LDS security object"));
    }
    let content = encap
        .econtent
        .as_ref()
        .ok_or_else(|| malformed("signed content missing"))?
        .decode_as::<OctetString>()
        .map_err(malformed)?
        .into_bytes();
    let lso = LdsSecurityObject::from_der(&content).map_err(malformed)?;
    if lso.version > 1 {
        return Err(malformed(format!("LDS security object version {}", lso.version)));
    }
    let hash = HashAlgorithm::from_oid(&lso.hash_algorithm.oid)
        .ok_or_else(|| PaFailure::UnsupportedAlgorithm(format!("hash {}", lso.hash_algorithm.oid)))?;
    let hashes = lso
        .data_group_hash_values
        .into_iter()
        .map(|h| (h.data_group_number, h.data_group_hash_value.into_bytes()))
        .collect();
    let mut signers = signed.signer_infos.0.into_vec();
    if signers.len() != 1 {
        return Err(malformed(format!("{} signer infos, expected 1", signers.len())));
    }
    let signer = signers.pop().ok_or_else(|| malformed("no signer info"))?;
    let document_signer = signed.certificates.and_then(|set| {
        set.0.into_vec().into_iter().find_map(|choice| match choice {
            cms::cert::CertificateChoices::Certificate(cert) => Some(cert),
            _ => None,
        })
    });
    Ok(Sod { hash, hashes, content, signer, document_signer })
}

/// Passive authentication of the data groups read, `(number, file bytes)`, at time `now`.
pub fn verify(sod: &[u8], data_groups: &[(u8, &[u8])], trust: &TrustStore, now: SystemTime) -> PassiveAuthentication {
    match verify_inner(sod, data_groups, trust, now) {
        Ok(passed) => passed,
        Err(failure) => PassiveAuthentication::Failed(failure),
    }
}

fn verify_inner(
    sod_bytes: &[u8],
    data_groups: &[(u8, &[u8])],
    trust: &TrustStore,
    now: SystemTime,
) -> Result<PassiveAuthentication, PaFailure> {
    let sod = parse_sod(sod_bytes)?;
    let ds = sod.document_signer.as_ref().ok_or(PaFailure::NoDocumentSigner)?;

    // 1. The SOD's signature, over its signed attributes, which bind the content.
    verify_cms_signature(&sod.signer, &sod.content, OID_LDS_SECURITY_OBJECT, &ds.tbs_certificate.subject_public_key_info)?;

    // 2. The Document Signer certificate, issued by a trusted CSCA (one of several sharing the
    //    name after a key rollover), not revoked, both valid now.
    let issuer = ds.tbs_certificate.issuer.to_string();
    let mut candidates = trust.issuers_of(ds).peekable();
    let first = candidates.peek().map(|c| c.tbs_certificate.subject.to_string());
    let csca = candidates
        .find(|c| verify_certificate(ds, &c.tbs_certificate.subject_public_key_info).is_ok())
        .ok_or_else(|| match first {
            Some(csca) => PaFailure::DocumentSignerNotIssuedByCsca { csca },
            None => PaFailure::UnknownIssuer { issuer: issuer.clone() },
        })?;
    let csca_name = csca.tbs_certificate.subject.to_string();
    if let Some(crl) = trust.revoked_by(ds) {
        return Err(PaFailure::DocumentSignerRevoked { crl: crl.path.display().to_string() });
    }
    if !valid_at(ds, now) {
        return Err(PaFailure::CertificateNotValidNow { which: "Document Signer" });
    }
    if !valid_at(csca, now) {
        return Err(PaFailure::CertificateNotValidNow { which: "CSCA" });
    }

    // 3. Every data group read has the hash the SOD signed.
    for (number, bytes) in data_groups {
        let expected = sod.hashes.iter().find(|(n, _)| n == number).ok_or(PaFailure::HashMissing(*number))?;
        if expected.1 != sod.hash.digest(bytes) {
            return Err(PaFailure::HashMismatch(*number));
        }
    }
    Ok(PassiveAuthentication::Passed {
        document_signer: ds.tbs_certificate.subject.to_string(),
        csca: csca_name,
        hash: sod.hash,
    })
}

/// Checks a CMS signer's signed attributes (content type, message digest of `content`) and its
/// signature over them with `key` (EF.SOD, master lists).
pub(crate) fn verify_cms_signature(
    signer: &SignerInfo,
    content: &[u8],
    content_type_expected: ObjectIdentifier,
    key: &SubjectPublicKeyInfoOwned,
) -> Result<(), PaFailure> {
    let digest_alg = HashAlgorithm::from_oid(&signer.digest_alg.oid)
        .ok_or_else(|| PaFailure::UnsupportedAlgorithm(format!("digest {}", signer.digest_alg.oid)))?;
    let attrs = signer.signed_attrs.as_ref().ok_or_else(|| malformed("no signed attributes"))?;
    let attr = |oid| attrs.iter().find(|a| a.oid == oid).and_then(|a| a.values.get(0));
    let content_type: ObjectIdentifier = attr(OID_CONTENT_TYPE)
        .ok_or(PaFailure::SignedAttributesMismatch)?
        .decode_as()
        .map_err(malformed)?;
    let message_digest: OctetString =
        attr(OID_MESSAGE_DIGEST).ok_or(PaFailure::SignedAttributesMismatch)?.decode_as().map_err(malformed)?;
    if content_type != content_type_expected || message_digest.as_bytes() != digest_alg.digest(content) {
        return Err(PaFailure::SignedAttributesMismatch);
    }
    let signed_bytes = attrs.to_der().map_err(malformed)?;
    verify_signature(key, &signer.signature_algorithm, digest_alg, &signed_bytes, signer.signature.as_bytes())
        .map_err(|e| match e {
            PaFailure::UnsupportedAlgorithm(a) => PaFailure::UnsupportedAlgorithm(a),
            _ => PaFailure::SodSignatureInvalid,
        })
}

/// Verifies a signature whose algorithm names its hash (certificates, CRLs).
pub(crate) fn verify_signed(
    key: &SubjectPublicKeyInfoOwned,
    algorithm: &AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<(), PaFailure> {
    verify_signature(key, algorithm, HashAlgorithm::Sha256, message, signature)
}

pub(crate) fn valid_at(cert: &Certificate, now: SystemTime) -> bool {
    let validity = &cert.tbs_certificate.validity;
    validity.not_before.to_system_time() <= now && now <= validity.not_after.to_system_time()
}

/// Checks `cert`'s signature with the issuer's public key.
pub(crate) fn verify_certificate(cert: &Certificate, issuer_key: &SubjectPublicKeyInfoOwned) -> Result<(), PaFailure> {
    let tbs = cert.tbs_certificate.to_der().map_err(malformed)?;
    let signature = cert.signature.as_bytes().ok_or_else(|| malformed("certificate signature has unused bits"))?;
    verify_signature(issuer_key, &cert.signature_algorithm, HashAlgorithm::Sha256, &tbs, signature)
}

/// Verifies `signature` over `message`. `digest` is used when the signature algorithm names
/// no hash of its own (plain `rsaEncryption` in CMS).
fn verify_signature(
    key: &SubjectPublicKeyInfoOwned,
    algorithm: &AlgorithmIdentifierOwned,
    digest: HashAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<(), PaFailure> {
    let unsupported = || PaFailure::UnsupportedAlgorithm(format!("signature {}", algorithm.oid));
    let hash = match algorithm.oid.to_string().as_str() {
        "1.2.840.10045.4.1" | "1.2.840.113549.1.1.5" => HashAlgorithm::Sha1,
        "1.2.840.10045.4.3.1" | "1.2.840.113549.1.1.14" => HashAlgorithm::Sha224,
        "1.2.840.10045.4.3.2" | "1.2.840.113549.1.1.11" => HashAlgorithm::Sha256,
        "1.2.840.10045.4.3.3" | "1.2.840.113549.1.1.12" => HashAlgorithm::Sha384,
        "1.2.840.10045.4.3.4" | "1.2.840.113549.1.1.13" => HashAlgorithm::Sha512,
        "1.2.840.113549.1.1.1" => digest,
        _ => return Err(unsupported()),
    };
    let hashed = hash.digest(message);
    let key_bytes = key.subject_public_key.as_bytes().ok_or_else(|| malformed("public key has unused bits"))?;
    if key.algorithm.oid == OID_EC_PUBLIC_KEY {
        let curve: Option<ObjectIdentifier> = key.algorithm.parameters.as_ref().and_then(|p| p.decode_as().ok());
        if curve != Some(OID_P256) {
            return Err(PaFailure::UnsupportedAlgorithm("an elliptic curve other than P-256".to_owned()));
        }
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let verifying = p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes).map_err(malformed)?;
        let sig = p256::ecdsa::Signature::from_der(signature).map_err(|_| PaFailure::SodSignatureInvalid)?;
        verifying.verify_prehash(&hashed, &sig).map_err(|_| PaFailure::SodSignatureInvalid)
    } else if key.algorithm.oid == OID_RSA {
        use rsa::pkcs1::DecodeRsaPublicKey;
        let public = rsa::RsaPublicKey::from_pkcs1_der(key_bytes).map_err(malformed)?;
        let scheme = match hash {
            HashAlgorithm::Sha1 => rsa::Pkcs1v15Sign::new::<sha1::Sha1>(),
            HashAlgorithm::Sha224 => rsa::Pkcs1v15Sign::new::<sha2::Sha224>(),
            HashAlgorithm::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
            HashAlgorithm::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
            HashAlgorithm::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
        };
        public.verify(scheme, &hashed, signature).map_err(|_| PaFailure::SodSignatureInvalid)
    } else {
        Err(PaFailure::UnsupportedAlgorithm(format!("public key {}", key.algorithm.oid)))
    }
}
