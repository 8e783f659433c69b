//! Passive authentication (ICAO 9303 Part 11 §5.1, Part 10 §4.6.2): EF.SOD's CMS signature is
//! checked with the Document Signer certificate it carries, that certificate against the
//! configured CSCA trust store, and every data group read against the hash the SOD holds.
//!
//! [`parse_sod`] is the pure parser of the chip's bytes; [`verify`] decides. Signatures
//! (SHA-1/224/256/384/512): ECDSA (DER or TR-03111 plain r ‖ s) on any curve OpenSSL knows —
//! P-256/384/521, brainpool — or given by explicit domain parameters; RSA PKCS#1 v1.5 and
//! RSASSA-PSS. Anything else is [`PaFailure::UnsupportedAlgorithm`] (not trusted).

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
const OID_RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const OID_MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
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

/// How a signature is made, from its algorithm identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// ECDSA; `plain`: r ‖ s of equal length (BSI TR-03111 ecdsa-plain-*), else DER.
    Ecdsa { plain: bool },
    Pkcs1,
    /// RSASSA-PSS with MGF1 on `mgf` and this salt length.
    Pss { mgf: HashAlgorithm, salt: u8 },
}

/// The hash and scheme a signature algorithm names; `digest` when it names no hash (plain
/// `rsaEncryption` in CMS).
fn signature_scheme(algorithm: &AlgorithmIdentifierOwned, digest: HashAlgorithm) -> Result<(HashAlgorithm, Scheme), PaFailure> {
    use HashAlgorithm::*;
    let ecdsa = Scheme::Ecdsa { plain: false };
    let plain = Scheme::Ecdsa { plain: true };
    Ok(match algorithm.oid.to_string().as_str() {
        "1.2.840.10045.4.1" => (Sha1, ecdsa),
        "1.2.840.10045.4.3.1" => (Sha224, ecdsa),
        "1.2.840.10045.4.3.2" => (Sha256, ecdsa),
        "1.2.840.10045.4.3.3" => (Sha384, ecdsa),
        "1.2.840.10045.4.3.4" => (Sha512, ecdsa),
        "0.4.0.127.0.7.1.1.4.1.1" => (Sha1, plain),
        "0.4.0.127.0.7.1.1.4.1.2" => (Sha224, plain),
        "0.4.0.127.0.7.1.1.4.1.3" => (Sha256, plain),
        "0.4.0.127.0.7.1.1.4.1.4" => (Sha384, plain),
        "0.4.0.127.0.7.1.1.4.1.5" => (Sha512, plain),
        "1.2.840.113549.1.1.5" => (Sha1, Scheme::Pkcs1),
        "1.2.840.113549.1.1.14" => (Sha224, Scheme::Pkcs1),
        "1.2.840.113549.1.1.11" => (Sha256, Scheme::Pkcs1),
        "1.2.840.113549.1.1.12" => (Sha384, Scheme::Pkcs1),
        "1.2.840.113549.1.1.13" => (Sha512, Scheme::Pkcs1),
        "1.2.840.113549.1.1.1" => (digest, Scheme::Pkcs1),
        "1.2.840.113549.1.1.10" => pss_parameters(algorithm)?,
        _ => return Err(PaFailure::UnsupportedAlgorithm(format!("signature {}", algorithm.oid))),
    })
}

/// RSASSA-PSS-params (RFC 8017 A.2.3; absent fields are SHA-1, MGF1-SHA-1, salt 20).
fn pss_parameters(algorithm: &AlgorithmIdentifierOwned) -> Result<(HashAlgorithm, Scheme), PaFailure> {
    let encoded = match &algorithm.parameters {
        Some(parameters) => parameters.to_der().map_err(malformed)?,
        None => vec![0x30, 0x00],
    };
    let params = rsa::pkcs1::RsaPssParams::from_der(&encoded).map_err(|e| malformed(format!("RSA-PSS parameters: {e}")))?;
    let unsupported = |what: String| PaFailure::UnsupportedAlgorithm(format!("RSA-PSS with {what}"));
    let hash = HashAlgorithm::from_oid(&params.hash.oid).ok_or_else(|| unsupported(format!("hash {}", params.hash.oid)))?;
    if params.mask_gen.oid != OID_MGF1 {
        return Err(unsupported(format!("mask generation {}", params.mask_gen.oid)));
    }
    let mgf_oid = params.mask_gen.parameters.as_ref().map(|p| p.oid).ok_or_else(|| malformed("RSA-PSS MGF1 without its hash"))?;
    let mgf = HashAlgorithm::from_oid(&mgf_oid).ok_or_else(|| unsupported(format!("MGF1 hash {mgf_oid}")))?;
    if params.trailer_field != rsa::pkcs1::TrailerField::BC {
        return Err(unsupported("a trailer other than BC".into()));
    }
    Ok((hash, Scheme::Pss { mgf, salt: params.salt_len }))
}

/// Verifies `signature` over `message`. `digest` is used when the signature algorithm names
/// no hash of its own (plain `rsaEncryption` in CMS). ECDSA on P-256 and RSA PKCS#1 v1.5 with
/// RustCrypto; other curves (P-384, P-521, brainpool, explicit domain parameters) and RSA-PSS
/// with OpenSSL, already linked for PACE (docs/CARD-READER.md).
fn verify_signature(
    key: &SubjectPublicKeyInfoOwned,
    algorithm: &AlgorithmIdentifierOwned,
    digest: HashAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<(), PaFailure> {
    let (hash, scheme) = signature_scheme(algorithm, digest)?;
    let hashed = hash.digest(message);
    let key_bytes = key.subject_public_key.as_bytes().ok_or_else(|| malformed("public key has unused bits"))?;
    let mismatch = || PaFailure::UnsupportedAlgorithm(format!("signature {} with a public key {}", algorithm.oid, key.algorithm.oid));
    match scheme {
        Scheme::Ecdsa { plain } => {
            if key.algorithm.oid != OID_EC_PUBLIC_KEY {
                return Err(mismatch());
            }
            let curve: Option<ObjectIdentifier> = key.algorithm.parameters.as_ref().and_then(|p| p.decode_as().ok());
            if curve != Some(OID_P256) || plain {
                return openssl_ecdsa(key, &hashed, signature, plain);
            }
            use p256::ecdsa::signature::hazmat::PrehashVerifier;
            let verifying = p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes).map_err(malformed)?;
            let sig = p256::ecdsa::Signature::from_der(signature).map_err(|_| PaFailure::SodSignatureInvalid)?;
            verifying.verify_prehash(&hashed, &sig).map_err(|_| PaFailure::SodSignatureInvalid)
        }
        Scheme::Pkcs1 => {
            if key.algorithm.oid != OID_RSA {
                return Err(mismatch());
            }
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
        }
        Scheme::Pss { mgf, salt } => {
            if key.algorithm.oid != OID_RSA && key.algorithm.oid != OID_RSA_PSS {
                return Err(mismatch());
            }
            openssl_pss(key, hash, mgf, salt, &hashed, signature)
        }
    }
}

/// The key as OpenSSL reads it (named curve or explicit domain parameters, RSA or RSA-PSS).
fn openssl_key(key: &SubjectPublicKeyInfoOwned) -> Result<openssl::pkey::PKey<openssl::pkey::Public>, PaFailure> {
    let der = key.to_der().map_err(malformed)?;
    openssl::pkey::PKey::public_key_from_der(&der).map_err(|e| {
        PaFailure::UnsupportedAlgorithm(format!("public key {} that OpenSSL cannot use ({e})", key.algorithm.oid))
    })
}

fn openssl_ecdsa(key: &SubjectPublicKeyInfoOwned, hashed: &[u8], signature: &[u8], plain: bool) -> Result<(), PaFailure> {
    use openssl::{bn::BigNum, ecdsa::EcdsaSig};
    let ec = openssl_key(key)?.ec_key().map_err(|e| malformed(format!("EC public key: {e}")))?;
    let invalid = |_| PaFailure::SodSignatureInvalid;
    let sig = if plain {
        if signature.is_empty() || signature.len() % 2 != 0 {
            return Err(PaFailure::SodSignatureInvalid);
        }
        let (r, s) = signature.split_at(signature.len() / 2);
        EcdsaSig::from_private_components(BigNum::from_slice(r).map_err(invalid)?, BigNum::from_slice(s).map_err(invalid)?)
            .map_err(invalid)?
    } else {
        EcdsaSig::from_der(signature).map_err(invalid)?
    };
    match sig.verify(hashed, &ec) {
        Ok(true) => Ok(()),
        _ => Err(PaFailure::SodSignatureInvalid),
    }
}

fn openssl_pss(
    key: &SubjectPublicKeyInfoOwned,
    hash: HashAlgorithm,
    mgf: HashAlgorithm,
    salt: u8,
    hashed: &[u8],
    signature: &[u8],
) -> Result<(), PaFailure> {
    use openssl::{md::Md, pkey_ctx::PkeyCtx, rsa::Padding, sign::RsaPssSaltlen};
    let md = |h: HashAlgorithm| match h {
        HashAlgorithm::Sha1 => Md::sha1(),
        HashAlgorithm::Sha224 => Md::sha224(),
        HashAlgorithm::Sha256 => Md::sha256(),
        HashAlgorithm::Sha384 => Md::sha384(),
        HashAlgorithm::Sha512 => Md::sha512(),
    };
    let pkey = openssl_key(key)?;
    let setup = || -> Result<PkeyCtx<openssl::pkey::Public>, openssl::error::ErrorStack> {
        let mut ctx = PkeyCtx::new(&pkey)?;
        ctx.verify_init()?;
        ctx.set_rsa_padding(Padding::PKCS1_PSS)?;
        ctx.set_signature_md(md(hash))?;
        ctx.set_rsa_mgf1_md(md(mgf))?;
        ctx.set_rsa_pss_saltlen(RsaPssSaltlen::custom(i32::from(salt)))?;
        Ok(ctx)
    };
    let mut ctx = setup().map_err(|e| malformed(format!("RSA-PSS key: {e}")))?;
    match ctx.verify(hashed, signature) {
        Ok(true) => Ok(()),
        _ => Err(PaFailure::SodSignatureInvalid),
    }
}

#[cfg(test)]
mod tests {
    use der::asn1::AnyRef;
    use openssl::ec::{Asn1Flag, EcGroup, EcKey};
    use openssl::ecdsa::EcdsaSig;
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::rsa::{Padding, Rsa};
    use openssl::sign::{RsaPssSaltlen, Signer};
    use spki::AlgorithmIdentifierRef;

    use super::*;

    const MESSAGE: &[u8] = b"the signed attributes of an EF.SOD";

    fn algorithm(oid: &str, parameters: Option<Vec<u8>>) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap(oid),
            parameters: parameters.map(|p| Any::from_der(&p).unwrap()),
        }
    }

    fn spki(der: &[u8]) -> SubjectPublicKeyInfoOwned {
        SubjectPublicKeyInfoOwned::from_der(der).unwrap()
    }

    /// An EC key on `nid` (explicit: the SPKI spells the domain parameters out), its SPKI and
    /// a signature of MESSAGE's `hash` (DER, or plain r ‖ s).
    fn ec_signed(nid: Nid, explicit: bool, hash: HashAlgorithm, plain: bool) -> (SubjectPublicKeyInfoOwned, Vec<u8>) {
        let mut group = EcGroup::from_curve_name(nid).unwrap();
        if explicit {
            group.set_asn1_flag(Asn1Flag::EXPLICIT_CURVE);
        }
        let private = EcKey::generate(&group).unwrap();
        let public = EcKey::from_public_key(&group, private.public_key()).unwrap();
        let spki = spki(&PKey::from_ec_key(public).unwrap().public_key_to_der().unwrap());
        let sig = EcdsaSig::sign(&hash.digest(MESSAGE), &private).unwrap();
        let bytes = if plain {
            let len = (group.degree() as usize).div_ceil(8);
            [sig.r().to_vec_padded(len as i32).unwrap(), sig.s().to_vec_padded(len as i32).unwrap()].concat()
        } else {
            sig.to_der().unwrap()
        };
        (spki, bytes)
    }

    #[test]
    fn ecdsa_on_every_icao_curve_named_or_explicit_der_or_plain() {
        for (nid, explicit, hash, oid, plain) in [
            (Nid::SECP384R1, false, HashAlgorithm::Sha384, "1.2.840.10045.4.3.3", false),
            (Nid::SECP521R1, false, HashAlgorithm::Sha512, "1.2.840.10045.4.3.4", false),
            (Nid::BRAINPOOL_P256R1, false, HashAlgorithm::Sha256, "1.2.840.10045.4.3.2", false),
            (Nid::BRAINPOOL_P384R1, false, HashAlgorithm::Sha384, "1.2.840.10045.4.3.3", false),
            (Nid::BRAINPOOL_P512R1, false, HashAlgorithm::Sha512, "1.2.840.10045.4.3.4", false),
            (Nid::X9_62_PRIME256V1, true, HashAlgorithm::Sha256, "1.2.840.10045.4.3.2", false),
            (Nid::BRAINPOOL_P320R1, true, HashAlgorithm::Sha256, "1.2.840.10045.4.3.2", false),
            (Nid::BRAINPOOL_P256R1, false, HashAlgorithm::Sha256, "0.4.0.127.0.7.1.1.4.1.3", true),
            (Nid::X9_62_PRIME256V1, false, HashAlgorithm::Sha224, "0.4.0.127.0.7.1.1.4.1.2", true),
        ] {
            let (key, mut signature) = ec_signed(nid, explicit, hash, plain);
            let named = key.algorithm.parameters.as_ref().unwrap().decode_as::<ObjectIdentifier>().is_ok();
            assert_eq!(named, !explicit, "{nid:?}: the SPKI names the curve or spells it out");
            let alg = algorithm(oid, None);
            assert_eq!(verify_signature(&key, &alg, HashAlgorithm::Sha256, MESSAGE, &signature), Ok(()), "{nid:?} {oid}");
            assert_eq!(
                verify_signature(&key, &alg, HashAlgorithm::Sha256, b"another message", &signature),
                Err(PaFailure::SodSignatureInvalid),
                "{nid:?}"
            );
            let last = signature.len() - 1;
            signature[last] ^= 1;
            assert!(verify_signature(&key, &alg, HashAlgorithm::Sha256, MESSAGE, &signature).is_err(), "{nid:?}");
        }
    }

    fn pss_parameters_der(hash_oid: &str, salt: u8) -> Vec<u8> {
        let hash = || AlgorithmIdentifierRef { oid: ObjectIdentifier::new_unwrap(hash_oid), parameters: Some(AnyRef::NULL) };
        rsa::pkcs1::RsaPssParams {
            hash: hash(),
            mask_gen: spki::AlgorithmIdentifier { oid: OID_MGF1, parameters: Some(hash()) },
            salt_len: salt,
            trailer_field: rsa::pkcs1::TrailerField::BC,
        }
        .to_der()
        .unwrap()
    }

    #[test]
    fn rsa_pss_with_its_parameters_and_the_defaults() {
        let rsa = Rsa::generate(2048).unwrap();
        let pkey = PKey::from_rsa(rsa).unwrap();
        let key = spki(&pkey.public_key_to_der().unwrap());
        let sign = |md: MessageDigest, salt: i32| {
            let mut signer = Signer::new(md, &pkey).unwrap();
            signer.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
            signer.set_rsa_pss_saltlen(RsaPssSaltlen::custom(salt)).unwrap();
            signer.set_rsa_mgf1_md(md).unwrap();
            signer.sign_oneshot_to_vec(MESSAGE).unwrap()
        };
        let pss = "1.2.840.113549.1.1.10";
        let sha256 = algorithm(pss, Some(pss_parameters_der("2.16.840.1.101.3.4.2.1", 32)));
        let signature = sign(MessageDigest::sha256(), 32);
        assert_eq!(verify_signature(&key, &sha256, HashAlgorithm::Sha1, MESSAGE, &signature), Ok(()));
        // Another salt length than the parameters say is refused.
        let salt_20 = algorithm(pss, Some(pss_parameters_der("2.16.840.1.101.3.4.2.1", 20)));
        assert_eq!(verify_signature(&key, &salt_20, HashAlgorithm::Sha1, MESSAGE, &signature), Err(PaFailure::SodSignatureInvalid));
        // Empty parameters: SHA-1, MGF1-SHA-1, salt 20.
        let defaults = algorithm(pss, Some(vec![0x30, 0x00]));
        assert_eq!(verify_signature(&key, &defaults, HashAlgorithm::Sha256, MESSAGE, &sign(MessageDigest::sha1(), 20)), Ok(()));
        // SHA-512 with a 64-byte salt, and the same signature refused over another message.
        let sha512 = algorithm(pss, Some(pss_parameters_der("2.16.840.1.101.3.4.2.3", 64)));
        let signature = sign(MessageDigest::sha512(), 64);
        assert_eq!(verify_signature(&key, &sha512, HashAlgorithm::Sha1, MESSAGE, &signature), Ok(()));
        assert_eq!(verify_signature(&key, &sha512, HashAlgorithm::Sha1, b"other", &signature), Err(PaFailure::SodSignatureInvalid));
        // PKCS#1 v1.5 with the same key still verifies; a PSS signature is not one.
        let mut signer = Signer::new(MessageDigest::sha256(), &pkey).unwrap();
        let pkcs1 = signer.sign_oneshot_to_vec(MESSAGE).unwrap();
        let rsa_sha256 = algorithm("1.2.840.113549.1.1.11", None);
        assert_eq!(verify_signature(&key, &rsa_sha256, HashAlgorithm::Sha1, MESSAGE, &pkcs1), Ok(()));
        assert_eq!(verify_signature(&key, &rsa_sha256, HashAlgorithm::Sha1, MESSAGE, &signature), Err(PaFailure::SodSignatureInvalid));
    }

    #[test]
    fn unknown_or_mismatched_algorithms_are_unsupported_not_trusted() {
        let (ec_key, signature) = ec_signed(Nid::SECP384R1, false, HashAlgorithm::Sha384, false);
        // ECDSA key, RSA algorithm.
        let rsa_sha256 = algorithm("1.2.840.113549.1.1.11", None);
        let error = verify_signature(&ec_key, &rsa_sha256, HashAlgorithm::Sha1, MESSAGE, &signature).unwrap_err();
        assert!(matches!(error, PaFailure::UnsupportedAlgorithm(_)), "{error}");
        // An algorithm nobody standardised for eMRTDs (Ed25519).
        let error = verify_signature(&ec_key, &algorithm("1.3.101.112", None), HashAlgorithm::Sha1, MESSAGE, &signature).unwrap_err();
        assert!(matches!(error, PaFailure::UnsupportedAlgorithm(_)), "{error}");
        // RSA-PSS with an unknown hash, and malformed parameters.
        let odd = algorithm("1.2.840.113549.1.1.10", Some(pss_parameters_der("1.2.3.4", 32)));
        assert!(matches!(signature_scheme(&odd, HashAlgorithm::Sha1), Err(PaFailure::UnsupportedAlgorithm(_))));
        let broken = algorithm("1.2.840.113549.1.1.10", Some(vec![0x04, 0x01, 0x00]));
        assert!(signature_scheme(&broken, HashAlgorithm::Sha1).is_err());
        // A plain signature of odd length never panics.
        let plain = algorithm("0.4.0.127.0.7.1.1.4.1.4", None);
        assert_eq!(verify_signature(&ec_key, &plain, HashAlgorithm::Sha1, MESSAGE, &[1, 2, 3]), Err(PaFailure::SodSignatureInvalid));
    }
}
