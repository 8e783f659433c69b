//! A test country signing CA (CSCA) and document signer (DS), EF.SOD signing with them, and
//! the trust-store files a country publishes: a CRL, a CSCA master list (signed by a master-list
//! signer the CSCA issued), and a link certificate for a CSCA key rollover.
//!
//! Keys are ECDSA P-256 derived from a fixed label, and ECDSA signatures are deterministic
//! (RFC 6979), so the same label always gives byte-identical certificates: the CSCA committed in
//! `kiosk-config/csca/` is the one [`test_pki`] produces (a test checks it). Never for production.

use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::ObjectIdentifier;
use der::asn1::{BitString, OctetString, SetOfVec, UtcTime};
use der::{Any, Encode, Sequence};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::attr::Attribute;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate, Version};

use super::ber::tlv;

pub const OID_LDS_SECURITY_OBJECT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.136.1.1.1");
const OID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const OID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const OID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// 2025-01-01 and 2049-12-31 (UTCTime's last year): wide enough that tests never expire.
const NOT_BEFORE: Duration = Duration::from_secs(1_735_689_600);
const NOT_AFTER: Duration = Duration::from_secs(2_524_521_600);

#[derive(Debug, thiserror::Error)]
#[error("test PKI could not encode a structure: {0}")]
pub struct PkiError(#[from] der::Error);

/// ICAO LDSSecurityObject (Doc 9303 Part 10 §4.6.2), version 0.
#[derive(Sequence)]
struct LdsSecurityObject {
    version: u8,
    hash_algorithm: AlgorithmIdentifierOwned,
    data_group_hash_values: Vec<DataGroupHash>,
}

#[derive(Sequence)]
struct DataGroupHash {
    data_group_number: u8,
    data_group_hash_value: OctetString,
}

const OID_CSCA_MASTER_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.136.1.1.2");
/// Serial numbers the CSCA gives: the DS, the revoked DS, the master-list signer.
const SERIAL_DS: u8 = 2;
const SERIAL_REVOKED_DS: u8 = 3;
const SERIAL_ML_SIGNER: u8 = 4;
const SERIAL_LINK: u8 = 5;

/// A CSCA and the DS it issued.
#[derive(Clone)]
pub struct TestPki {
    label: String,
    csca_key: SigningKey,
    ds_key: SigningKey,
    csca: Certificate,
    ds: Certificate,
    csca_der: Vec<u8>,
}

/// CscaMasterList (ICAO 9303 Part 12 §9).
#[derive(Sequence)]
struct CscaMasterList {
    version: u8,
    cert_list: SetOfVec<Certificate>,
}

/// The kiosk's test CSCA/DS pair (label `kiosk-test`), generated once per process.
pub fn test_pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| match TestPki::generate("kiosk-test") {
        Ok(pki) => pki,
        // Encoding fixed, well-formed structures cannot fail; a failure is a bug in this file.
        Err(error) => unreachable!("test PKI generation failed: {error}"),
    })
}

impl TestPki {
    /// A CSCA/DS pair whose keys derive from `label`; another label gives an unrelated pair
    /// (an untrusted issuer, for tests).
    pub fn generate(label: &str) -> Result<Self, PkiError> {
        Self::with_csca_name(label, &format!("CN=Kiosk Test CSCA {label},O=Kiosk Test,C=UT"))
    }

    fn with_csca_name(label: &str, csca_name: &str) -> Result<Self, PkiError> {
        let csca_key = key_from(&format!("{label}/csca"));
        let ds_key = key_from(&format!("{label}/ds"));
        let csca_name = name(csca_name)?;
        let ds_name = name(&format!("CN=Kiosk Test DS {label},O=Kiosk Test,C=UT"))?;
        let ca_ext = vec![
            extension(
                const_oid::db::rfc5280::ID_CE_BASIC_CONSTRAINTS,
                true,
                &BasicConstraints { ca: true, path_len_constraint: Some(0) },
            )?,
            extension(
                const_oid::db::rfc5280::ID_CE_KEY_USAGE,
                true,
                &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
            )?,
        ];
        let ds_ext = vec![extension(
            const_oid::db::rfc5280::ID_CE_KEY_USAGE,
            true,
            &KeyUsage(KeyUsages::DigitalSignature.into()),
        )?];
        let csca = certificate(&csca_key, &csca_name, &csca_name, spki(&csca_key)?, 1, ca_ext)?;
        let ds = certificate(&csca_key, &csca_name, &ds_name, spki(&ds_key)?, SERIAL_DS, ds_ext)?;
        let csca_der = csca.to_der()?;
        Ok(Self { label: label.to_owned(), csca_key, ds_key, csca, ds, csca_der })
    }

    /// The same CSCA with a second Document Signer (serial 3), the one [`Self::crl`] revokes.
    pub fn revoked_signer(&self) -> Result<Self, PkiError> {
        let ds_key = key_from(&format!("{}/ds-revoked", self.label));
        let ds_name = name(&format!("CN=Kiosk Test DS {} revoked,O=Kiosk Test,C=UT", self.label))?;
        let ds_ext = vec![extension(
            const_oid::db::rfc5280::ID_CE_KEY_USAGE,
            true,
            &KeyUsage(KeyUsages::DigitalSignature.into()),
        )?];
        let subject = &self.csca.tbs_certificate.subject;
        let ds = certificate(&self.csca_key, subject, &ds_name, spki(&ds_key)?, SERIAL_REVOKED_DS, ds_ext)?;
        Ok(Self { ds_key, ds, ..self.clone() })
    }

    /// The DS certificate, DER.
    pub fn ds_der(&self) -> Result<Vec<u8>, PkiError> {
        Ok(self.ds.to_der()?)
    }

    /// A CRL from the CSCA (DER) revoking the DS of [`Self::revoked_signer`], issued at
    /// `this_update`, due again at `next_update` (a past time gives a stale CRL).
    pub fn crl(&self, this_update: SystemTime, next_update: SystemTime) -> Result<Vec<u8>, PkiError> {
        let algorithm = AlgorithmIdentifierOwned { oid: OID_ECDSA_SHA256, parameters: None };
        let at = |t: SystemTime| -> Result<Time, PkiError> {
            let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
            Ok(Time::UtcTime(UtcTime::from_unix_duration(since)?))
        };
        let tbs = TbsCertList {
            version: Version::V2,
            signature: algorithm.clone(),
            issuer: self.csca.tbs_certificate.subject.clone(),
            this_update: at(this_update)?,
            next_update: Some(at(next_update)?),
            revoked_certificates: Some(vec![RevokedCert {
                serial_number: SerialNumber::new(&[SERIAL_REVOKED_DS])?,
                revocation_date: at(this_update)?,
                crl_entry_extensions: None,
            }]),
            crl_extensions: None,
        };
        let signature: Signature = self.csca_key.sign(&tbs.to_der()?);
        let list = CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: algorithm,
            signature: BitString::from_bytes(signature.to_der().as_bytes())?,
        };
        Ok(list.to_der()?)
    }

    /// A CSCA master list (CMS ContentInfo, DER) listing `certificates`, signed by this CSCA's
    /// master-list signer (serial 4), whose certificate it carries.
    pub fn master_list(&self, certificates: &[Certificate]) -> Result<Vec<u8>, PkiError> {
        let signer_key = key_from(&format!("{}/ml-signer", self.label));
        let signer_name = name(&format!("CN=Kiosk Test Master List Signer {},O=Kiosk Test,C=UT", self.label))?;
        let ext = vec![extension(
            const_oid::db::rfc5280::ID_CE_KEY_USAGE,
            true,
            &KeyUsage(KeyUsages::DigitalSignature.into()),
        )?];
        let subject = &self.csca.tbs_certificate.subject;
        let signer = certificate(&self.csca_key, subject, &signer_name, spki(&signer_key)?, SERIAL_ML_SIGNER, ext)?;
        let list = CscaMasterList { version: 0, cert_list: SetOfVec::try_from(certificates.to_vec())? };
        signed_data(OID_CSCA_MASTER_LIST, &list.to_der()?, &signer_key, &signer)
    }

    /// A CSCA key rollover: a new CSCA with the same name and a key from `new_label` (its own DS
    /// too), and the link certificate, the new key signed by this CSCA.
    pub fn rollover(&self, new_label: &str) -> Result<(Self, Certificate), PkiError> {
        let subject = self.csca.tbs_certificate.subject.to_string();
        let new = Self::with_csca_name(new_label, &subject)?;
        let ext = vec![
            extension(
                const_oid::db::rfc5280::ID_CE_BASIC_CONSTRAINTS,
                true,
                &BasicConstraints { ca: true, path_len_constraint: Some(0) },
            )?,
            extension(
                const_oid::db::rfc5280::ID_CE_KEY_USAGE,
                true,
                &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
            )?,
        ];
        let name = &self.csca.tbs_certificate.subject;
        let link = certificate(&self.csca_key, name, name, spki(&new.csca_key)?, SERIAL_LINK, ext)?;
        Ok((new, link))
    }

    /// The CSCA certificate, DER: what goes into the kiosk's trust store.
    pub fn csca_der(&self) -> &[u8] {
        &self.csca_der
    }

    pub fn csca(&self) -> &Certificate {
        &self.csca
    }

    /// EF.SOD (tag 77) over SHA-256 hashes of the given data groups `(number, file bytes)`,
    /// signed by the DS, the DS certificate included.
    pub fn sign_sod(&self, data_groups: &[(u8, &[u8])]) -> Result<Vec<u8>, PkiError> {
        let sha256 = AlgorithmIdentifierOwned { oid: OID_SHA256, parameters: None };
        let lso = LdsSecurityObject {
            version: 0,
            hash_algorithm: sha256,
            data_group_hash_values: data_groups
                .iter()
                .map(|(n, bytes)| {
                    Ok(DataGroupHash {
                        data_group_number: *n,
                        data_group_hash_value: OctetString::new(Sha256::digest(bytes).to_vec())?,
                    })
                })
                .collect::<Result<_, der::Error>>()?,
        };
        let content = lso.to_der()?;
        Ok(tlv(&[0x77], &signed_data(OID_LDS_SECURITY_OBJECT, &content, &self.ds_key, &self.ds)?))
    }
}

/// CMS ContentInfo (DER) with SignedData over `content`: SHA-256, signed attributes (content
/// type, message digest), ECDSA by `key`, whose `certificate` it carries.
fn signed_data(
    content_type: ObjectIdentifier,
    content: &[u8],
    key: &SigningKey,
    certificate: &Certificate,
) -> Result<Vec<u8>, PkiError> {
    let sha256 = AlgorithmIdentifierOwned { oid: OID_SHA256, parameters: None };
    let mut attrs = SetOfVec::new();
    attrs.insert(Attribute { oid: OID_CONTENT_TYPE, values: SetOfVec::try_from(vec![Any::encode_from(&content_type)?])? })?;
    let digest = OctetString::new(Sha256::digest(content).to_vec())?;
    attrs.insert(Attribute { oid: OID_MESSAGE_DIGEST, values: SetOfVec::try_from(vec![Any::encode_from(&digest)?])? })?;
    let signature: Signature = key.sign(&attrs.to_der()?);
    let signer = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: certificate.tbs_certificate.issuer.clone(),
            serial_number: certificate.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: sha256.clone(),
        signed_attrs: Some(attrs),
        signature_algorithm: AlgorithmIdentifierOwned { oid: OID_ECDSA_SHA256, parameters: None },
        signature: OctetString::new(signature.to_der().as_bytes().to_vec())?,
        unsigned_attrs: None,
    };
    let signed = SignedData {
        version: CmsVersion::V3,
        digest_algorithms: SetOfVec::try_from(vec![sha256])?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: content_type,
            econtent: Some(Any::new(der::Tag::OctetString, content.to_vec())?),
        },
        certificates: Some(CertificateSet(SetOfVec::try_from(vec![CertificateChoices::Certificate(
            certificate.clone(),
        )])?)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer])?),
    };
    let info = ContentInfo { content_type: OID_SIGNED_DATA, content: Any::encode_from(&signed)? };
    Ok(info.to_der()?)
}

fn key_from(label: &str) -> SigningKey {
    // Hashing again until the bytes are a valid scalar (almost always the first time).
    let mut seed = Sha256::digest(label.as_bytes());
    loop {
        if let Ok(key) = SigningKey::from_bytes(&seed) {
            return key;
        }
        seed = Sha256::digest(seed);
    }
}

fn name(text: &str) -> Result<Name, PkiError> {
    Ok(Name::from_str(text)?)
}

fn spki(key: &SigningKey) -> Result<SubjectPublicKeyInfoOwned, PkiError> {
    let point = key.verifying_key().to_encoded_point(false);
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned { oid: OID_EC_PUBLIC_KEY, parameters: Some(Any::encode_from(&OID_P256)?) },
        subject_public_key: BitString::from_bytes(point.as_bytes())?,
    })
}

fn extension<T: Encode>(oid: ObjectIdentifier, critical: bool, value: &T) -> Result<Extension, PkiError> {
    Ok(Extension { extn_id: oid, critical, extn_value: OctetString::new(value.to_der()?)? })
}

fn certificate(
    issuer_key: &SigningKey,
    issuer: &Name,
    subject: &Name,
    subject_public_key_info: SubjectPublicKeyInfoOwned,
    serial: u8,
    extensions: Vec<Extension>,
) -> Result<Certificate, PkiError> {
    let algorithm = AlgorithmIdentifierOwned { oid: OID_ECDSA_SHA256, parameters: None };
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&[serial])?,
        signature: algorithm.clone(),
        issuer: issuer.clone(),
        validity: Validity {
            not_before: Time::UtcTime(UtcTime::from_unix_duration(NOT_BEFORE)?),
            not_after: Time::UtcTime(UtcTime::from_unix_duration(NOT_AFTER)?),
        },
        subject: subject.clone(),
        subject_public_key_info,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    let signature: Signature = issuer_key.sign(&tbs.to_der()?);
    Ok(Certificate {
        tbs_certificate: tbs,
        signature_algorithm: algorithm,
        signature: BitString::from_bytes(signature.to_der().as_bytes())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_distinct() {
        let a = TestPki::generate("x").unwrap();
        let b = TestPki::generate("x").unwrap();
        let c = TestPki::generate("y").unwrap();
        assert_eq!(a.csca_der(), b.csca_der());
        assert_ne!(a.csca_der(), c.csca_der());
        let sod = a.sign_sod(&[(1, b"dg1"), (2, b"dg2")]).unwrap();
        assert_eq!(sod[0], 0x77);
        assert_eq!(sod, b.sign_sod(&[(1, b"dg1"), (2, b"dg2")]).unwrap());
    }

    /// The CSCA committed for the kiosk's default configuration is this one.
    #[test]
    fn committed_test_csca_matches() {
        // Relative to the package folder, where cargo runs tests (not a compile-time path: the
        // shared build cache may hold a test binary built from another checkout).
        let path = "../kiosk-config/csca/kiosk-test-csca.der";
        if std::env::var_os("UPDATE_TEST_CSCA").is_some() {
            std::fs::write(path, test_pki().csca_der()).unwrap();
        }
        let committed = std::fs::read(path).expect("kiosk-config/csca/kiosk-test-csca.der");
        assert_eq!(committed, test_pki().csca_der(), "regenerate it with UPDATE_TEST_CSCA=1");
    }
}
