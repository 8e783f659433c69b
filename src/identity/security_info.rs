//! SecurityInfos (ICAO 9303 Part 11 §9.2): the chip's offer of PACE (EF.CardAccess), Chip and
//! Active Authentication (DG14). A SET OF SecurityInfo, each a SEQUENCE of a protocol OID and
//! protocol-specific data; unknown protocols are kept as [`SecurityInfo::Other`] and ignored,
//! as the standard asks.
//!
//! Parsed with the project's BER-TLV reader rather than a DER decoder: chips in the field carry
//! SETs out of DER order and INTEGERs with superfluous leading bytes, which a strict DER decoder
//! refuses.

use const_oid::ObjectIdentifier;

use super::cipher::Cipher;
use super::tlv::{self, TlvError};

/// id-PACE, id-CA, id-PK (BSI TR-03110 arc 0.4.0.127.0.7.2.2) and id-AA.
const ID_PACE: &str = "0.4.0.127.0.7.2.2.4";
const ID_CA: &str = "0.4.0.127.0.7.2.2.3";
const ID_PK: &str = "0.4.0.127.0.7.2.2.1";
const ID_AA: &str = "2.23.136.1.1.5";

const TAG_SET: u32 = 0x31;
const TAG_SEQUENCE: u32 = 0x30;
const TAG_OID: u32 = 0x06;
const TAG_INTEGER: u32 = 0x02;
/// DG14 wraps its SecurityInfos in an application tag.
const TAG_DG14: u32 = 0x6E;
/// Entries accepted in one file: a real EF.CardAccess holds fewer than ten.
const MAX_INFOS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecurityInfoError {
    #[error("malformed TLV: {0}")]
    Tlv(#[from] TlvError),
    #[error("expected tag {expected:X}, found {found:X}")]
    UnexpectedTag { expected: u32, found: u32 },
    #[error("a SecurityInfo does not start with an object identifier")]
    MissingProtocol,
    #[error("an object identifier is malformed")]
    BadOid,
    #[error("an INTEGER is malformed or too large")]
    BadInteger,
    #[error("the {0} entry lacks a required field")]
    MissingField(&'static str),
    #[error("more than {MAX_INFOS} SecurityInfos")]
    TooMany,
}

/// Key agreement of PACE or Chip Authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAgreement {
    Dh,
    Ecdh,
}

/// PACE mapping (9303-11 §4.4.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mapping {
    Generic,
    Integrated,
    /// Chip Authentication Mapping: generic mapping plus the chip's proof of its static key.
    ChipAuthentication,
}

impl Mapping {
    pub fn name(self) -> &'static str {
        match self {
            Self::Generic => "GM",
            Self::Integrated => "IM",
            Self::ChipAuthentication => "CAM",
        }
    }
}

/// A PACE protocol: id-PACE-{DH,ECDH}-{GM,IM,CAM}-{3DES,AES…}.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaceProtocol {
    pub oid: ObjectIdentifier,
    pub key_agreement: KeyAgreement,
    pub mapping: Mapping,
    pub cipher: Cipher,
}

/// PACEInfo: a protocol the chip offers and its (standardised) domain parameter id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaceInfo {
    pub protocol: PaceProtocol,
    pub version: u64,
    pub parameter_id: Option<u64>,
}

/// ChipAuthenticationInfo (DG14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipAuthenticationInfo {
    pub oid: ObjectIdentifier,
    pub key_agreement: KeyAgreement,
    pub cipher: Cipher,
    pub version: u64,
    pub key_id: Option<u64>,
}

/// ChipAuthenticationPublicKeyInfo (DG14): the chip's static key as a SubjectPublicKeyInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipAuthenticationPublicKey {
    pub key_agreement: KeyAgreement,
    /// DER of the SubjectPublicKeyInfo, decoded by [`super::keys`].
    pub public_key: Vec<u8>,
    pub key_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityInfo {
    Pace(PaceInfo),
    /// PACEDomainParameterInfo: explicit (proprietary) PACE domain parameters.
    PaceDomainParameters { oid: ObjectIdentifier, parameters: Vec<u8>, parameter_id: Option<u64> },
    ChipAuthentication(ChipAuthenticationInfo),
    ChipAuthenticationPublicKey(ChipAuthenticationPublicKey),
    /// ActiveAuthenticationInfo: the signature algorithm of an ECDSA Active Authentication.
    ActiveAuthentication { version: u64, signature_algorithm: ObjectIdentifier },
    Other(ObjectIdentifier),
}

/// All entries of one file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityInfos(pub Vec<SecurityInfo>);

impl SecurityInfos {
    pub fn pace(&self) -> impl Iterator<Item = &PaceInfo> {
        self.0.iter().filter_map(|i| match i {
            SecurityInfo::Pace(p) => Some(p),
            _ => None,
        })
    }

    pub fn chip_authentication(&self) -> impl Iterator<Item = &ChipAuthenticationInfo> {
        self.0.iter().filter_map(|i| match i {
            SecurityInfo::ChipAuthentication(c) => Some(c),
            _ => None,
        })
    }

    pub fn chip_authentication_keys(&self) -> impl Iterator<Item = &ChipAuthenticationPublicKey> {
        self.0.iter().filter_map(|i| match i {
            SecurityInfo::ChipAuthenticationPublicKey(k) => Some(k),
            _ => None,
        })
    }

    pub fn active_authentication_algorithm(&self) -> Option<&ObjectIdentifier> {
        self.0.iter().find_map(|i| match i {
            SecurityInfo::ActiveAuthentication { signature_algorithm, .. } => Some(signature_algorithm),
            _ => None,
        })
    }
}

/// EF.CardAccess: a bare SET OF SecurityInfo.
pub fn parse_card_access(bytes: &[u8]) -> Result<SecurityInfos, SecurityInfoError> {
    let (set, _) = tlv::parse_one(bytes)?;
    expect_tag(set.tag, TAG_SET)?;
    parse_set(set.value)
}

/// DG14: tag 6E around the SET OF SecurityInfo.
pub fn parse_dg14(bytes: &[u8]) -> Result<SecurityInfos, SecurityInfoError> {
    let (outer, _) = tlv::parse_one(bytes)?;
    expect_tag(outer.tag, TAG_DG14)?;
    parse_card_access(outer.value)
}

fn expect_tag(found: u32, expected: u32) -> Result<(), SecurityInfoError> {
    if found == expected {
        Ok(())
    } else {
        Err(SecurityInfoError::UnexpectedTag { expected, found })
    }
}

fn parse_set(mut input: &[u8]) -> Result<SecurityInfos, SecurityInfoError> {
    let mut infos = Vec::new();
    while !input.is_empty() {
        if infos.len() >= MAX_INFOS {
            return Err(SecurityInfoError::TooMany);
        }
        let (element, rest) = tlv::parse_one(input)?;
        let encoded = input.get(..input.len() - rest.len()).unwrap_or_default();
        input = rest;
        expect_tag(element.tag, TAG_SEQUENCE)?;
        infos.push(parse_info(element.value, encoded)?);
    }
    Ok(SecurityInfos(infos))
}

/// The elements of one SecurityInfo, each with its full encoding (for SubjectPublicKeyInfo).
fn elements(mut input: &[u8]) -> Result<Vec<(tlv::Tlv<'_>, &[u8])>, SecurityInfoError> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let (element, rest) = tlv::parse_one(input)?;
        out.push((element, input.get(..input.len() - rest.len()).unwrap_or_default()));
        input = rest;
    }
    Ok(out)
}

pub(crate) fn oid_from(value: &[u8]) -> Result<ObjectIdentifier, SecurityInfoError> {
    ObjectIdentifier::from_bytes(value).map_err(|_| SecurityInfoError::BadOid)
}

/// A non-negative INTEGER of at most 8 significant bytes.
pub(crate) fn integer(element: &tlv::Tlv<'_>) -> Result<u64, SecurityInfoError> {
    let negative = element.value.first().is_some_and(|b| b & 0x80 != 0);
    if element.tag != TAG_INTEGER || element.value.is_empty() || negative {
        return Err(SecurityInfoError::BadInteger);
    }
    let mut significant: &[u8] = element.value;
    while let [0, rest @ ..] = significant {
        significant = rest;
    }
    if significant.len() > 8 {
        return Err(SecurityInfoError::BadInteger);
    }
    Ok(significant.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

fn optional_integer(element: Option<&(tlv::Tlv<'_>, &[u8])>) -> Result<Option<u64>, SecurityInfoError> {
    match element {
        None => Ok(None),
        Some((e, _)) => integer(e).map(Some),
    }
}

/// The arc under `base` of `oid` as its remaining components, e.g. [2, 2] for id-PACE-ECDH-GM-AES-CMAC-128.
fn arcs_under(oid: &ObjectIdentifier, base: &str) -> Option<Vec<u32>> {
    let text = oid.to_string();
    let rest = text.strip_prefix(base)?.strip_prefix('.')?;
    rest.split('.').map(|a| a.parse().ok()).collect()
}

fn cipher_of(arc: u32) -> Option<Cipher> {
    match arc {
        1 => Some(Cipher::Tdes),
        2 => Some(Cipher::Aes128),
        3 => Some(Cipher::Aes192),
        4 => Some(Cipher::Aes256),
        _ => None,
    }
}

/// The PACE protocol an OID names, if it is one this reader knows.
pub fn pace_protocol(oid: &ObjectIdentifier) -> Option<PaceProtocol> {
    let arcs = arcs_under(oid, ID_PACE)?;
    let (key_agreement, mapping) = match arcs.first()? {
        1 => (KeyAgreement::Dh, Mapping::Generic),
        2 => (KeyAgreement::Ecdh, Mapping::Generic),
        3 => (KeyAgreement::Dh, Mapping::Integrated),
        4 => (KeyAgreement::Ecdh, Mapping::Integrated),
        6 => (KeyAgreement::Ecdh, Mapping::ChipAuthentication),
        _ => return None,
    };
    match arcs.as_slice() {
        [_, c] => Some(PaceProtocol { oid: *oid, key_agreement, mapping, cipher: cipher_of(*c)? }),
        _ => None,
    }
}

fn parse_info(body: &[u8], _encoded: &[u8]) -> Result<SecurityInfo, SecurityInfoError> {
    let items = elements(body)?;
    let (first, _) = items.first().ok_or(SecurityInfoError::MissingProtocol)?;
    if first.tag != TAG_OID {
        return Err(SecurityInfoError::MissingProtocol);
    }
    let oid = oid_from(first.value)?;
    let text = oid.to_string();
    if let Some(protocol) = pace_protocol(&oid) {
        let (version, _) = items.get(1).ok_or(SecurityInfoError::MissingField("PACEInfo"))?;
        return Ok(SecurityInfo::Pace(PaceInfo {
            protocol,
            version: integer(version)?,
            parameter_id: optional_integer(items.get(2))?,
        }));
    }
    if let Some(arcs) = arcs_under(&oid, ID_PACE) {
        // id-PACE-DH-GM etc. without a cipher arc: PACEDomainParameterInfo.
        if arcs.len() == 1 {
            let (_, parameters) = items.get(1).ok_or(SecurityInfoError::MissingField("PACEDomainParameterInfo"))?;
            return Ok(SecurityInfo::PaceDomainParameters {
                oid,
                parameters: parameters.to_vec(),
                parameter_id: optional_integer(items.get(2))?,
            });
        }
    }
    if let Some(arcs) = arcs_under(&oid, ID_CA) {
        let key_agreement = match arcs.first() {
            Some(1) => KeyAgreement::Dh,
            Some(2) => KeyAgreement::Ecdh,
            _ => return Ok(SecurityInfo::Other(oid)),
        };
        match arcs.as_slice() {
            [_, c] => {
                let Some(cipher) = cipher_of(*c) else { return Ok(SecurityInfo::Other(oid)) };
                let (version, _) = items.get(1).ok_or(SecurityInfoError::MissingField("ChipAuthenticationInfo"))?;
                return Ok(SecurityInfo::ChipAuthentication(ChipAuthenticationInfo {
                    oid,
                    key_agreement,
                    cipher,
                    version: integer(version)?,
                    key_id: optional_integer(items.get(2))?,
                }));
            }
            // id-CA-DH / id-CA-ECDH alone: ChipAuthenticationDomainParameterInfo, not needed.
            _ => return Ok(SecurityInfo::Other(oid)),
        }
    }
    if let Some(arcs) = arcs_under(&oid, ID_PK) {
        let key_agreement = match arcs.as_slice() {
            [1] => KeyAgreement::Dh,
            [2] => KeyAgreement::Ecdh,
            _ => return Ok(SecurityInfo::Other(oid)),
        };
        let (spki, encoded) = items.get(1).ok_or(SecurityInfoError::MissingField("ChipAuthenticationPublicKeyInfo"))?;
        expect_tag(spki.tag, TAG_SEQUENCE)?;
        return Ok(SecurityInfo::ChipAuthenticationPublicKey(ChipAuthenticationPublicKey {
            key_agreement,
            public_key: encoded.to_vec(),
            key_id: optional_integer(items.get(2))?,
        }));
    }
    if text == ID_AA {
        let (version, _) = items.get(1).ok_or(SecurityInfoError::MissingField("ActiveAuthenticationInfo"))?;
        let (algorithm, _) = items.get(2).ok_or(SecurityInfoError::MissingField("ActiveAuthenticationInfo"))?;
        if algorithm.tag != TAG_OID {
            return Err(SecurityInfoError::MissingField("ActiveAuthenticationInfo"));
        }
        return Ok(SecurityInfo::ActiveAuthentication {
            version: integer(version)?,
            signature_algorithm: oid_from(algorithm.value)?,
        });
    }
    Ok(SecurityInfo::Other(oid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::fixtures::GERMAN_ID_CARD_ACCESS;
    use crate::identity::cipher::h;
    use proptest::prelude::*;

    /// 9303-11 Appendix G.1: the EF.CardAccess of the ECDH worked example.
    #[test]
    fn appendix_g_card_access() {
        let infos = parse_card_access(&h("3114 3012060A04007F0007020204020202010202010D")).unwrap();
        let pace: Vec<_> = infos.pace().collect();
        assert_eq!(pace.len(), 1);
        assert_eq!(pace[0].protocol.oid.to_string(), "0.4.0.127.0.7.2.2.4.2.2");
        assert_eq!(pace[0].protocol.mapping, Mapping::Generic);
        assert_eq!(pace[0].protocol.key_agreement, KeyAgreement::Ecdh);
        assert_eq!(pace[0].protocol.cipher, Cipher::Aes128);
        assert_eq!((pace[0].version, pace[0].parameter_id), (2, Some(13)));
    }

    /// A German ID card's EF.CardAccess (see `fixtures`): PACE, Chip Authentication and
    /// Terminal Authentication entries, an unknown (proprietary) entry ignored.
    #[test]
    fn card_access_with_several_protocols() {
        let infos = parse_card_access(&h(GERMAN_ID_CARD_ACCESS)).unwrap();
        let pace: Vec<_> = infos.pace().collect();
        assert_eq!(pace.len(), 1);
        assert_eq!(pace[0].parameter_id, Some(13));
        let ca: Vec<_> = infos.chip_authentication().collect();
        assert_eq!(ca.len(), 1);
        assert_eq!((ca[0].key_agreement, ca[0].cipher, ca[0].key_id), (KeyAgreement::Ecdh, Cipher::Aes128, Some(0x41)));
    }

    #[test]
    fn dg14_with_ca_key_and_aa_info() {
        // 6E { 31 { CA info ECDH 3DES v1; PK-ECDH { SPKI }; AA info ecdsa-with-SHA256 } }
        let spki = h("3019301306072A8648CE3D020106082A8648CE3D030107030200FF");
        let mut set = h("300F060A04007F00070202030201020101");
        let mut pk = h("060904007F0007020201 02");
        pk.extend(&spki);
        set.extend(tlv_wrap(0x30, &pk));
        set.extend(h("3015 060667810801010502010106082A8648CE3D040302"));
        let dg14 = tlv_wrap(0x6E, &tlv_wrap(0x31, &set));
        let infos = parse_dg14(&dg14).unwrap();
        let ca: Vec<_> = infos.chip_authentication().collect();
        assert_eq!((ca[0].cipher, ca[0].version), (Cipher::Tdes, 1));
        let keys: Vec<_> = infos.chip_authentication_keys().collect();
        assert_eq!(keys[0].public_key, spki);
        assert_eq!(infos.active_authentication_algorithm().unwrap().to_string(), "1.2.840.10045.4.3.2");
    }

    #[test]
    fn errors_are_typed() {
        assert!(matches!(parse_card_access(&[0x30, 0x00]), Err(SecurityInfoError::UnexpectedTag { .. })));
        assert!(matches!(parse_card_access(&h("3103 020101")), Err(SecurityInfoError::UnexpectedTag { .. })));
        assert!(matches!(parse_card_access(&h("3105 3003 020101")), Err(SecurityInfoError::MissingProtocol)));
        // A PACEInfo without its version.
        assert!(matches!(
            parse_card_access(&h("310E 300C060A04007F00070202040202")),
            Err(SecurityInfoError::MissingField(_))
        ));
        assert!(matches!(parse_card_access(&h("3114 3012060A04007F000702020402020201020201")), Err(SecurityInfoError::Tlv(_))));
    }

    pub(crate) fn tlv_wrap(tag: u8, value: &[u8]) -> Vec<u8> {
        crate::identity::tlv::encode(u32::from(tag), value)
    }

    fn pace_info_bytes(mapping: u8, cipher: u8, version: u8, param: Option<u8>) -> Vec<u8> {
        let mut body = tlv_wrap(0x06, &[0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x04, mapping, cipher]);
        body.extend(tlv_wrap(0x02, &[version]));
        if let Some(p) = param {
            body.extend(tlv_wrap(0x02, &[p]));
        }
        tlv_wrap(0x30, &body)
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_card_access(&data);
            let _ = parse_dg14(&data);
        }

        /// Any set of well-formed PACEInfos parses back to what was encoded, in order.
        #[test]
        fn pace_infos_round_trip(entries in proptest::collection::vec((prop::sample::select(vec![1u8, 2, 3, 4, 6]), 1u8..=4, 1u8..3, proptest::option::of(0u8..=18)), 0..6)) {
            let body: Vec<u8> = entries.iter().flat_map(|&(m, c, v, p)| pace_info_bytes(m, c, v, p)).collect();
            let infos = parse_card_access(&tlv_wrap(0x31, &body)).unwrap();
            let pace: Vec<_> = infos.pace().collect();
            prop_assert_eq!(pace.len(), entries.len());
            for (info, &(m, c, v, p)) in pace.iter().zip(&entries) {
                prop_assert_eq!(info.protocol.cipher, cipher_of(u32::from(c)).unwrap());
                prop_assert_eq!(info.protocol.key_agreement == KeyAgreement::Dh, m == 1 || m == 3);
                prop_assert_eq!(info.version, u64::from(v));
                prop_assert_eq!(info.parameter_id, p.map(u64::from));
            }
        }

        /// A truncated EF.CardAccess is refused, never misread as a shorter offer.
        #[test]
        fn truncation_is_refused(cut in 1usize..22) {
            let full = h("3114 3012060A04007F0007020204020202010202010D");
            prop_assert!(parse_card_access(&full[..full.len() - cut]).is_err());
        }
    }
}
