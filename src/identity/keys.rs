//! Public keys of the chip from DG14 (Chip Authentication: EC or DH) and DG15 (Active
//! Authentication: RSA or EC). EC keys may carry a named curve or explicit domain parameters
//! (as many issued chips do): OpenSSL decodes both and matches explicit parameters to the named
//! curve they equal, as JMRTD does. DH keys (X9.42 `dhpublicnumber` or PKCS#3) are read here.

use openssl::ec::PointConversionForm;
use openssl::pkey::{PKey, Public};

use super::domain::{self, DhGroup, Group};
use super::tlv;

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_DH_X942: &str = "1.2.840.10046.2.1";
const OID_DH_PKCS3: &str = "1.2.840.113549.1.3.1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("the public key is malformed: {0}")]
    Malformed(String),
    #[error("the public key algorithm {0} is not supported")]
    Unsupported(String),
}

fn malformed(what: impl std::fmt::Display) -> KeyError {
    KeyError::Malformed(what.to_string())
}

/// A key agreement public key with its group.
pub struct AgreementKey {
    pub group: Group,
    /// Uncompressed point, or the DH value padded to the modulus length.
    pub public: Vec<u8>,
}

/// The algorithm OID of a SubjectPublicKeyInfo.
fn algorithm_of(spki: &[u8]) -> Result<(String, Vec<u8>, Vec<u8>), KeyError> {
    use der::Decode;
    let info = spki::SubjectPublicKeyInfoOwned::from_der(spki).map_err(malformed)?;
    let parameters = match &info.algorithm.parameters {
        Some(any) => der::Encode::to_der(any).map_err(malformed)?,
        None => Vec::new(),
    };
    let key = info.subject_public_key.as_bytes().ok_or_else(|| malformed("unused bits in the key"))?.to_vec();
    Ok((info.algorithm.oid.to_string(), parameters, key))
}

/// Unsigned big-endian value of a DER INTEGER, leading zeros removed.
fn unsigned(element: &tlv::Tlv<'_>) -> Result<Vec<u8>, KeyError> {
    if element.tag != 0x02 || element.value.is_empty() {
        return Err(malformed("expected an INTEGER"));
    }
    let mut value = element.value;
    while let [0, rest @ ..] = value {
        value = rest;
    }
    Ok(value.to_vec())
}

/// A Chip Authentication public key from DG14's ChipAuthenticationPublicKeyInfo.
pub fn agreement_key(spki: &[u8]) -> Result<AgreementKey, KeyError> {
    let (oid, parameters, key) = algorithm_of(spki)?;
    match oid.as_str() {
        OID_EC_PUBLIC_KEY => {
            let pkey = PKey::<Public>::public_key_from_der(spki).map_err(|_| malformed("EC public key or its domain parameters"))?;
            let ec = pkey.ec_key().map_err(malformed)?;
            let group = domain::clone_group(ec.group()).map_err(malformed)?;
            let mut ctx = domain::ctx().map_err(malformed)?;
            let public = ec.public_key().to_bytes(ec.group(), PointConversionForm::UNCOMPRESSED, &mut ctx).map_err(malformed)?;
            let generator = ec.group().generator_opt().ok_or_else(|| malformed("curve without generator"))?.to_owned(ec.group()).map_err(malformed)?;
            Ok(AgreementKey { group: Group::Ec { group, generator }, public })
        }
        OID_DH_X942 | OID_DH_PKCS3 => {
            let (params, _) = tlv::parse_one(&parameters).map_err(malformed)?;
            let items = params.children().map_err(malformed)?;
            let get = |i: usize| items.get(i).ok_or_else(|| malformed("DH parameters incomplete")).and_then(unsigned);
            let p = get(0)?;
            let g = get(1)?;
            // X9.42 carries the subgroup order q; PKCS#3 does not (then p − 1 bounds the keys).
            let q = if oid == OID_DH_X942 { Some(get(2)?) } else { None };
            let (y, _) = tlv::parse_one(&key).map_err(malformed)?;
            let y = unsigned(&y)?;
            let bn = |b: &[u8]| openssl::bn::BigNum::from_slice(b).map_err(malformed);
            let p_bn = bn(&p)?;
            let q_bn = match q {
                Some(q) => bn(&q)?,
                None => {
                    let mut q = openssl::bn::BigNum::new().map_err(malformed)?;
                    q.checked_sub(&p_bn, openssl::bn::BigNum::from_u32(1).map_err(malformed)?.as_ref()).map_err(malformed)?;
                    q
                }
            };
            let len = p_bn.num_bytes() as usize;
            if y.len() > len {
                return Err(malformed("DH public value longer than the modulus"));
            }
            let mut public = vec![0u8; len - y.len()];
            public.extend(y);
            Ok(AgreementKey { group: Group::Dh(DhGroup { p: p_bn, g: bn(&g)?, q: q_bn }), public })
        }
        other => Err(KeyError::Unsupported(other.to_owned())),
    }
}

/// DG15: tag 6F around the Active Authentication SubjectPublicKeyInfo.
pub fn parse_dg15(bytes: &[u8]) -> Result<PKey<Public>, KeyError> {
    let (outer, _) = tlv::parse_one(bytes).map_err(malformed)?;
    if outer.tag != 0x6F {
        return Err(malformed(format!("DG15 tag {:X}, expected 6F", outer.tag)));
    }
    let (oid, _, _) = algorithm_of(outer.value)?;
    if oid != OID_EC_PUBLIC_KEY && oid != "1.2.840.113549.1.1.1" {
        return Err(KeyError::Unsupported(oid));
    }
    PKey::<Public>::public_key_from_der(outer.value).map_err(|_| malformed("the Active Authentication key"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use proptest::prelude::*;

    fn ec_spki(nid: Nid, explicit: bool) -> (Vec<u8>, Vec<u8>) {
        let mut group = EcGroup::from_curve_name(nid).unwrap();
        if explicit {
            group.set_asn1_flag(openssl::ec::Asn1Flag::EXPLICIT_CURVE);
        }
        let key = EcKey::generate(&group).unwrap();
        let mut ctx = openssl::bn::BigNumContext::new().unwrap();
        let point = key.public_key().to_bytes(&group, PointConversionForm::UNCOMPRESSED, &mut ctx).unwrap();
        (key.public_key_to_der().unwrap(), point)
    }

    #[test]
    fn named_and_explicit_curves() {
        for nid in [Nid::X9_62_PRIME192V1, Nid::BRAINPOOL_P320R1, Nid::BRAINPOOL_P512R1, Nid::SECP521R1] {
            for explicit in [false, true] {
                let (spki, point) = ec_spki(nid, explicit);
                let key = agreement_key(&spki).unwrap();
                assert_eq!(key.public, point);
                key.group.check_public(&key.public).unwrap();
            }
        }
    }

    #[test]
    fn dg15_rsa_and_ec() {
        let rsa = openssl::rsa::Rsa::generate(1024).unwrap();
        let spki = PKey::from_rsa(rsa).unwrap().public_key_to_der().unwrap();
        assert!(parse_dg15(&wrap_dg15(&spki)).unwrap().rsa().is_ok());
        let (spki, _) = ec_spki(Nid::BRAINPOOL_P256R1, true);
        assert!(parse_dg15(&wrap_dg15(&spki)).unwrap().ec_key().is_ok());
        assert!(parse_dg15(&[0x6E, 0x00]).is_err());
    }

    pub(crate) fn wrap_dg15(spki: &[u8]) -> Vec<u8> {
        let mut out = vec![0x6F, 0x82, (spki.len() >> 8) as u8, spki.len() as u8];
        out.extend_from_slice(spki);
        out
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = agreement_key(&data);
            let _ = parse_dg15(&data);
        }
    }
}
