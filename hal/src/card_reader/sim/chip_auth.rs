//! The simulated chip's Chip Authentication v1 (ICAO 9303 Part 11 §6.2: MSE:Set KAT, or
//! MSE:Set AT + GENERAL AUTHENTICATE; ECDH or DH; 3DES or AES) and Active Authentication
//! (§6.1: INTERNAL AUTHENTICATE, RSA with ISO/IEC 9796-2 scheme 1 or ECDSA), with the
//! DG14/DG15 files that publish their keys. Written from the standard, independently of the
//! host; big-number and curve arithmetic is OpenSSL's.

use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{Asn1Flag, EcGroup, EcKey, EcPoint};
use openssl::ecdsa::EcdsaSig;
use openssl::rsa::{Padding, Rsa};
use sha2::Digest;

use super::ber::tlv;
use super::chip_crypto::{Cipher, SmSession};
use super::chip_groups::Group;
use super::chip_pace::{self, StepError};

const AUTH_FAILED: StepError = StepError([0x63, 0x00]);
const WRONG_DATA: StepError = StepError([0x6A, 0x80]);
const NOT_FOUND: StepError = StepError([0x6A, 0x88]);

/// id-PK-DH, id-PK-ECDH, id-CA (bsi-de protocols smartcard 1 / 3), id-icao-mrtd-security-aaProtocolObject.
const ID_PK: [u8; 8] = [0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x01];
const ID_CA: [u8; 8] = [0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x03];
const ID_AA: [u8; 6] = [0x67, 0x81, 0x08, 0x01, 0x01, 0x05];
/// ecdsa-with-SHA256 (1.2.840.10045.4.3.2).
const ECDSA_SHA256: [u8; 8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02];
/// dhKeyAgreement (PKCS #3, 1.2.840.113549.1.3.1).
const DH_KEY_AGREEMENT: [u8; 9] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x03, 0x01];

/// The chip's static Chip Authentication key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaKey {
    /// On the curve of this standardized parameter id (8 = secp192r1, 12 = P-256, 13 =
    /// brainpoolP256r1, …); `explicit`: DG14 spells the domain parameters out instead of naming
    /// the curve, as many real chips do.
    Ec { parameter_id: u8, explicit: bool },
    /// In this RFC 5114 MODP group (parameter id 0, 1 or 2).
    Dh { parameter_id: u8 },
}

/// How a virtual passport offers Chip Authentication.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ChipAuthConfig {
    pub key: CaKey,
    pub cipher: Cipher,
    /// keyId of ChipAuthenticationInfo and …PublicKeyInfo; `None` leaves it out.
    pub key_id: Option<u8>,
}

impl ChipAuthConfig {
    /// Russian passports since 2020: ECDH on secp192r1 with 3DES (MSE:Set KAT).
    pub fn secp192r1_3des() -> Self {
        Self { key: CaKey::Ec { parameter_id: 8, explicit: false }, cipher: Cipher::Tdes, key_id: None }
    }

    fn group(&self) -> Result<Group, StepError> {
        let id = match self.key {
            CaKey::Ec { parameter_id, .. } | CaKey::Dh { parameter_id } => parameter_id,
        };
        Group::standard(id).map_err(|_| AUTH_FAILED)
    }

    fn dh(&self) -> bool {
        matches!(self.key, CaKey::Dh { .. })
    }

    /// id-CA-(EC)DH-<cipher>.
    pub fn oid(&self) -> Vec<u8> {
        let mut oid = ID_CA.to_vec();
        oid.extend([if self.dh() { 1 } else { 2 }, cipher_code(self.cipher)]);
        oid
    }

    /// The static private key, derived from a fixed label (reproducible DG14).
    pub fn private_key(&self) -> Result<BigNum, StepError> {
        let seed = sha2::Sha512::digest(format!("kiosk-test/ca-key/{:?}", self.key));
        self.group()?.private_key(&seed).map_err(|_| AUTH_FAILED)
    }

    pub fn public_key(&self) -> Result<Vec<u8>, StepError> {
        let group = self.group()?;
        let generator = group.generator().map_err(|_| AUTH_FAILED)?;
        let sk = self.private_key()?;
        group.mul(&sk, &generator).map_err(|_| AUTH_FAILED)
    }
}

fn cipher_code(cipher: Cipher) -> u8 {
    match cipher {
        Cipher::Tdes => 1,
        Cipher::Aes128 => 2,
        Cipher::Aes192 => 3,
        Cipher::Aes256 => 4,
    }
}

/// DER INTEGER of an unsigned big-endian value.
fn der_uint(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|&b| b == 0).collect();
    let mut value = if trimmed.first().is_some_and(|b| b & 0x80 != 0) || trimmed.is_empty() { vec![0] } else { Vec::new() };
    value.extend(trimmed);
    tlv(&[0x02], &value)
}

/// SubjectPublicKeyInfo of an EC point on `group`'s named curve, with the curve named or its
/// parameters explicit.
fn ec_spki(group: &Group, point: &[u8], explicit: bool) -> Result<Vec<u8>, StepError> {
    let Group::Ec(ec) = group else { return Err(AUTH_FAILED) };
    let fail = |_| AUTH_FAILED;
    let nid = ec.curve_name().ok_or(AUTH_FAILED)?;
    let mut curve = EcGroup::from_curve_name(nid).map_err(fail)?;
    curve.set_asn1_flag(if explicit { Asn1Flag::EXPLICIT_CURVE } else { Asn1Flag::NAMED_CURVE });
    let mut ctx = BigNumContext::new().map_err(fail)?;
    let point = EcPoint::from_bytes(&curve, point, &mut ctx).map_err(fail)?;
    EcKey::from_public_key(&curve, &point).map_err(fail)?.public_key_to_der().map_err(fail)
}

/// SubjectPublicKeyInfo of a DH value in PKCS #3 form (dhKeyAgreement, p and g).
fn dh_spki(group: &Group, y: &[u8]) -> Result<Vec<u8>, StepError> {
    let Group::Dh { p, g, .. } = group else { return Err(AUTH_FAILED) };
    let mut params = der_uint(&p.to_vec());
    params.extend(der_uint(&g.to_vec()));
    let mut algorithm = tlv(&[0x06], &DH_KEY_AGREEMENT);
    algorithm.extend(tlv(&[0x30], &params));
    let mut bits = vec![0];
    bits.extend(der_uint(y));
    let mut spki = tlv(&[0x30], &algorithm);
    spki.extend(tlv(&[0x03], &bits));
    Ok(tlv(&[0x30], &spki))
}

/// ChipAuthenticationInfo and ChipAuthenticationPublicKeyInfo (§9.2.5, §9.2.6).
pub fn ca_security_infos(config: &ChipAuthConfig) -> Result<Vec<u8>, StepError> {
    let group = config.group()?;
    let public = config.public_key()?;
    let key_id = config.key_id.map(|id| tlv(&[0x02], &[id])).unwrap_or_default();
    let mut info = tlv(&[0x06], &config.oid());
    info.extend(tlv(&[0x02], &[0x01]));
    info.extend(&key_id);
    let spki = match config.key {
        CaKey::Ec { explicit, .. } => ec_spki(&group, &public, explicit)?,
        CaKey::Dh { .. } => dh_spki(&group, &public)?,
    };
    let mut pk_oid = ID_PK.to_vec();
    pk_oid.push(if config.dh() { 1 } else { 2 });
    let mut pk_info = tlv(&[0x06], &pk_oid);
    pk_info.extend(spki);
    pk_info.extend(&key_id);
    let mut out = tlv(&[0x30], &info);
    out.extend(tlv(&[0x30], &pk_info));
    Ok(out)
}

/// ChipAuthenticationPublicKeyInfo of a PACE-CAM key (keyId = the PACE parameter id).
pub fn cam_public_key_info(parameter_id: u8, private_key: &[u8]) -> Result<Vec<u8>, StepError> {
    let group = Group::standard(parameter_id).map_err(|_| AUTH_FAILED)?;
    let sk = BigNum::from_slice(private_key).map_err(|_| AUTH_FAILED)?;
    let public = group.mul(&sk, &group.generator().map_err(|_| AUTH_FAILED)?).map_err(|_| AUTH_FAILED)?;
    let mut pk_oid = ID_PK.to_vec();
    pk_oid.push(2);
    let mut pk_info = tlv(&[0x06], &pk_oid);
    pk_info.extend(ec_spki(&group, &public, false)?);
    pk_info.extend(tlv(&[0x02], &[parameter_id]));
    Ok(tlv(&[0x30], &pk_info))
}

/// The chip's answer to the terminal's ephemeral key: the new secure messaging session.
pub fn agree(config: &ChipAuthConfig, pk_ifd: &[u8]) -> Result<SmSession, StepError> {
    let group = config.group()?;
    group.validate(pk_ifd).map_err(|_| WRONG_DATA)?;
    let sk = config.private_key()?;
    let shared = group.mul(&sk, pk_ifd).map_err(|_| WRONG_DATA)?;
    let k = group.shared_secret(&shared).map_err(|_| AUTH_FAILED)?;
    Ok(SmSession::from_secret(config.cipher, &k))
}

/// MSE:Set KAT (41A6): 91 ephemeral public key, optional 84 key id. 3DES only (§6.2.4.1).
pub fn set_kat(config: &ChipAuthConfig, data: &[u8]) -> Result<SmSession, StepError> {
    if config.cipher != Cipher::Tdes {
        return Err(WRONG_DATA);
    }
    let objects = chip_pace::parse_objects(data).ok_or(WRONG_DATA)?;
    check_key_id(config, &objects)?;
    let pk = objects.iter().find(|(t, _)| *t == 0x91).map(|(_, v)| *v).ok_or(WRONG_DATA)?;
    agree(config, pk)
}

/// MSE:Set AT (41A4): 80 protocol OID (value), optional 84 key id.
pub fn set_at(config: &ChipAuthConfig, data: &[u8]) -> Result<(), StepError> {
    let objects = chip_pace::parse_objects(data).ok_or(WRONG_DATA)?;
    if objects.iter().find(|(t, _)| *t == 0x80).map(|(_, v)| *v) != Some(config.oid().as_slice()) {
        return Err(WRONG_DATA);
    }
    check_key_id(config, &objects)
}

fn check_key_id(config: &ChipAuthConfig, objects: &[(u8, &[u8])]) -> Result<(), StepError> {
    match (objects.iter().find(|(t, _)| *t == 0x84).map(|(_, v)| *v), config.key_id) {
        (None, _) => Ok(()),
        (Some([id]), Some(own)) if *id == own => Ok(()),
        _ => Err(NOT_FOUND),
    }
}

/// GENERAL AUTHENTICATE after MSE:Set AT: 7C { 80 ephemeral public key } → 7C 00.
pub fn general_authenticate(config: &ChipAuthConfig, data: &[u8]) -> Result<SmSession, StepError> {
    let pk = match chip_pace::parse_objects(data).as_deref() {
        Some([(0x7C, inner)]) => match chip_pace::parse_objects(inner).as_deref() {
            Some([(0x80, pk)]) => pk.to_vec(),
            _ => return Err(WRONG_DATA),
        },
        _ => return Err(WRONG_DATA),
    };
    agree(config, &pk)
}

/// The Active Authentication key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AaKey {
    /// RSA with this modulus length, ISO/IEC 9796-2 scheme 1 with SHA-1 (trailer BC).
    Rsa { bits: u32 },
    /// ECDSA with SHA-256 on the curve of this standardized parameter id, plain r ‖ s.
    Ecdsa { parameter_id: u8 },
}

/// How a virtual passport offers Active Authentication (DG15, and for ECDSA the
/// ActiveAuthenticationInfo in DG14).
#[derive(Clone)]
#[non_exhaustive]
pub struct ActiveAuthConfig {
    pub key: AaKey,
    /// The private key (DER for RSA, scalar bytes for ECDSA).
    private: Vec<u8>,
    /// Fault: the chip signs with this other key, not the one DG15 publishes.
    pub other_key: Option<Vec<u8>>,
}

// The private key stays out of logs, test key or not.
impl std::fmt::Debug for ActiveAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveAuthConfig").field("key", &self.key).field("other_key", &self.other_key.is_some()).finish()
    }
}

impl ActiveAuthConfig {
    /// The test key of this kind: RSA and EC keys alike derived from a fixed label.
    pub fn new(key: AaKey) -> Result<Self, StepError> {
        Ok(Self { key, private: private_key(key, "aa")?, other_key: None })
    }

    /// Fault: the chip signs challenges with another key than DG15's.
    pub fn signing_with_another_key(mut self) -> Result<Self, StepError> {
        self.other_key = Some(private_key(self.key, "aa-other")?);
        Ok(self)
    }

    /// DG15's content: the SubjectPublicKeyInfo of the key.
    pub fn public_key_info(&self) -> Result<Vec<u8>, StepError> {
        let fail = |_| AUTH_FAILED;
        match self.key {
            AaKey::Rsa { .. } => Rsa::private_key_from_der(&self.private).map_err(fail)?.public_key_to_der().map_err(fail),
            AaKey::Ecdsa { parameter_id } => {
                let group = Group::standard(parameter_id).map_err(|_| AUTH_FAILED)?;
                let sk = BigNum::from_slice(&self.private).map_err(fail)?;
                let public = group.mul(&sk, &group.generator().map_err(|_| AUTH_FAILED)?).map_err(|_| AUTH_FAILED)?;
                ec_spki(&group, &public, false)
            }
        }
    }

    /// ActiveAuthenticationInfo (§9.2.4), for ECDSA keys.
    pub fn security_info(&self) -> Option<Vec<u8>> {
        matches!(self.key, AaKey::Ecdsa { .. }).then(|| {
            let mut body = tlv(&[0x06], &ID_AA);
            body.extend(tlv(&[0x02], &[0x01]));
            body.extend(tlv(&[0x06], &ECDSA_SHA256));
            tlv(&[0x30], &body)
        })
    }

    /// INTERNAL AUTHENTICATE: the signature over the 8-byte RND.IFD.
    pub fn sign(&self, challenge: &[u8], random: &mut chip_pace::Random<'_>) -> Result<Vec<u8>, StepError> {
        if challenge.len() != 8 {
            return Err(WRONG_DATA);
        }
        let key = self.other_key.as_deref().unwrap_or(&self.private);
        match self.key {
            AaKey::Rsa { .. } => sign_9796_2(key, challenge, random),
            AaKey::Ecdsa { parameter_id } => sign_ecdsa(parameter_id, key, challenge),
        }
    }
}

fn private_key(key: AaKey, label: &str) -> Result<Vec<u8>, StepError> {
    match key {
        AaKey::Rsa { bits } => rsa_key(bits, label),
        AaKey::Ecdsa { parameter_id } => {
            let group = Group::standard(parameter_id).map_err(|_| AUTH_FAILED)?;
            let seed = sha2::Sha512::digest(format!("kiosk-test/{label}/{parameter_id}"));
            Ok(group.private_key(&seed).map_err(|_| AUTH_FAILED)?.to_vec())
        }
    }
}

/// DER private keys by (bits, label).
type RsaKeyCache = std::collections::HashMap<(u32, String), Vec<u8>>;

/// RSA keys derived from the label, as the EC keys are: the same key (and DG15) in every
/// process, so files built from it (the fuzz seeds) can be compared byte for byte. The prime
/// search takes a moment: one key per size and label per process.
fn rsa_key(bits: u32, label: &str) -> Result<Vec<u8>, StepError> {
    use std::sync::{Mutex, OnceLock};
    static KEYS: OnceLock<Mutex<RsaKeyCache>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| Mutex::new(RsaKeyCache::new()));
    let mut keys = keys.lock().map_err(|_| AUTH_FAILED)?;
    if let Some(der) = keys.get(&(bits, label.to_owned())) {
        return Ok(der.clone());
    }
    let der = derived_rsa_key(bits, label).map_err(|_| AUTH_FAILED)?;
    keys.insert((bits, label.to_owned()), der.clone());
    Ok(der)
}

/// A `bits`-bit RSA key (e = 65537) whose primes are the first primes at or after numbers
/// expanded from SHA-512("kiosk-test/rsa/{label}/{bits}/{p|q}/{counter}"), top two bits set
/// (so p·q has exactly `bits` bits) and p − 1, q − 1 prime to e. DER (PKCS#1).
fn derived_rsa_key(bits: u32, label: &str) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    const E: u32 = 65_537;
    let mut ctx = BigNumContext::new()?;
    let half = usize::try_from(bits / 2).unwrap_or(0).div_ceil(8);
    let mut prime = |which: &str| -> Result<BigNum, openssl::error::ErrorStack> {
        let mut bytes = Vec::with_capacity(half + 64);
        let mut counter = 0u32;
        while bytes.len() < half {
            bytes.extend_from_slice(&sha2::Sha512::digest(format!("kiosk-test/rsa/{label}/{bits}/{which}/{counter}")));
            counter += 1;
        }
        bytes.truncate(half);
        if let Some(first) = bytes.first_mut() {
            *first |= 0xC0;
        }
        if let Some(last) = bytes.last_mut() {
            *last |= 0x01;
        }
        let mut candidate = BigNum::from_slice(&bytes)?;
        loop {
            // p ≡ 1 (mod e) would leave e without an inverse mod p − 1.
            if candidate.mod_word(E)? != 1 && candidate.is_prime(64, &mut ctx)? {
                return Ok(candidate);
            }
            candidate.add_word(2)?;
        }
    };
    let p = prime("p")?;
    let q = prime("q")?;
    let mut ctx = BigNumContext::new()?;
    let one = BigNum::from_u32(1)?;
    let e = BigNum::from_u32(E)?;
    let mut n = BigNum::new()?;
    n.checked_mul(&p, &q, &mut ctx)?;
    let (mut p1, mut q1) = (BigNum::new()?, BigNum::new()?);
    p1.checked_sub(&p, &one)?;
    q1.checked_sub(&q, &one)?;
    let mut phi = BigNum::new()?;
    phi.checked_mul(&p1, &q1, &mut ctx)?;
    let mut d = BigNum::new()?;
    d.mod_inverse(&e, &phi, &mut ctx)?;
    let (mut dp, mut dq, mut qi) = (BigNum::new()?, BigNum::new()?, BigNum::new()?);
    dp.nnmod(&d, &p1, &mut ctx)?;
    dq.nnmod(&d, &q1, &mut ctx)?;
    qi.mod_inverse(&q, &p, &mut ctx)?;
    let key = Rsa::from_private_components(n, e, d, p, q, dp, dq, qi)?;
    key.check_key()?;
    key.private_key_to_der()
}

/// The message representative of ISO/IEC 9796-2 scheme 1 with partial recovery and SHA-1
/// (§6.1.2.2): 6A ‖ M1 ‖ SHA-1(M1 ‖ M2) ‖ BC, with M1 filling the modulus.
pub fn representative_9796_2(m1: &[u8], m2: &[u8]) -> Vec<u8> {
    let mut m = m1.to_vec();
    m.extend_from_slice(m2);
    let mut f = vec![0x6A];
    f.extend_from_slice(m1);
    f.extend_from_slice(&sha1::Sha1::digest(&m));
    f.push(0xBC);
    f
}

fn sign_9796_2(der: &[u8], challenge: &[u8], random: &mut chip_pace::Random<'_>) -> Result<Vec<u8>, StepError> {
    let rsa = Rsa::private_key_from_der(der).map_err(|_| AUTH_FAILED)?;
    let k = rsa.size() as usize;
    // |F| = k bytes = 1 + |M1| + 20 + 1.
    let m1 = random(k.checked_sub(22).ok_or(AUTH_FAILED)?);
    let f = representative_9796_2(&m1, challenge);
    let mut out = vec![0; k];
    let n = rsa.private_encrypt(&f, &mut out, Padding::NONE).map_err(|_| AUTH_FAILED)?;
    out.truncate(n);
    Ok(out)
}

fn sign_ecdsa(parameter_id: u8, private: &[u8], challenge: &[u8]) -> Result<Vec<u8>, StepError> {
    let fail = |_| AUTH_FAILED;
    let group = Group::standard(parameter_id).map_err(|_| AUTH_FAILED)?;
    let Group::Ec(ec) = &group else { return Err(AUTH_FAILED) };
    let sk = BigNum::from_slice(private).map_err(fail)?;
    let public = group.mul(&sk, &group.generator().map_err(|_| AUTH_FAILED)?).map_err(|_| AUTH_FAILED)?;
    let mut ctx = BigNumContext::new().map_err(fail)?;
    let point = EcPoint::from_bytes(ec, &public, &mut ctx).map_err(fail)?;
    let key = EcKey::from_private_components(ec, &sk, &point).map_err(fail)?;
    let signature = EcdsaSig::sign(&sha2::Sha256::digest(challenge), &key).map_err(fail)?;
    let len = group.order().map_err(|_| AUTH_FAILED)?.num_bytes();
    let mut out = signature.r().to_vec_padded(len).map_err(fail)?;
    out.extend(signature.s().to_vec_padded(len).map_err(fail)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// Appendix F: the message representative of the RSA worked example.
    #[test]
    fn appendix_f_representative() {
        let m1 = h("9D2784A67F8E7C659973EA1AEA25D95B6C8F91E5002F369F0FBDCE8A3CEC1991
            B543F1696546C5524CF23A5303CD6C98599F40B79F377B5F3A1406B3B4D8F967
            84D23AA88DB7E1032A405E69325FA91A6E86F5C71AEA978264C4A207446DAD4E
            7292E2DCDA3024B47DA8");
        let f = representative_9796_2(&m1, &h("F173589974BF40C6"));
        assert_eq!(f, h("6A9D2784A67F8E7C659973EA1AEA25D95B6C8F91E5002F369F0FBDCE8A3CEC19
            91B543F1696546C5524CF23A5303CD6C98599F40B79F377B5F3A1406B3B4D8F9
            6784D23AA88DB7E1032A405E69325FA91A6E86F5C71AEA978264C4A207446DAD
            4E7292E2DCDA3024B47DA8C063AA1E6D22FBD976AB0FE73D94D2D9C6D88127BC"));
    }

    #[test]
    fn rsa_signature_recovers_the_representative() {
        let aa = ActiveAuthConfig::new(AaKey::Rsa { bits: 1024 }).unwrap();
        let mut random = |n: usize| vec![0x33; n];
        let signature = aa.sign(b"12345678", &mut random).unwrap();
        let public = Rsa::public_key_from_der(&aa.public_key_info().unwrap()).unwrap();
        let mut f = vec![0; 128];
        public.public_decrypt(&signature, &mut f, Padding::NONE).unwrap();
        assert_eq!(f, representative_9796_2(&[0x33; 106], b"12345678"));
        // With the other key the signature no longer opens with DG15's key: it decrypts to
        // another representative or, when it is larger than DG15's modulus (seen about once
        // in 30 runs), does not decrypt at all.
        let other = aa.signing_with_another_key().unwrap().sign(b"12345678", &mut random).unwrap();
        let mut g = vec![0; 128];
        if public.public_decrypt(&other, &mut g, Padding::NONE).is_ok() {
            assert_ne!(g, f);
        }
    }

    #[test]
    fn ecdsa_signature_verifies_with_the_dg15_key() {
        let aa = ActiveAuthConfig::new(AaKey::Ecdsa { parameter_id: 13 }).unwrap();
        let signature = aa.sign(b"abcdefgh", &mut |n| vec![0; n]).unwrap();
        assert_eq!(signature.len(), 64);
        let key = EcKey::public_key_from_der(&aa.public_key_info().unwrap()).unwrap();
        let sig = EcdsaSig::from_private_components(
            BigNum::from_slice(&signature[..32]).unwrap(),
            BigNum::from_slice(&signature[32..]).unwrap(),
        )
        .unwrap();
        assert!(sig.verify(&sha2::Sha256::digest(b"abcdefgh"), &key).unwrap());
        assert!(aa.security_info().is_some());
    }

    #[test]
    fn chip_authentication_agrees_with_the_terminal() {
        for config in [
            ChipAuthConfig::secp192r1_3des(),
            ChipAuthConfig { key: CaKey::Ec { parameter_id: 13, explicit: true }, cipher: Cipher::Aes128, key_id: Some(1) },
            ChipAuthConfig { key: CaKey::Dh { parameter_id: 2 }, cipher: Cipher::Aes256, key_id: None },
        ] {
            let group = config.group().unwrap();
            let sk = group.private_key(&[0x21; 40]).unwrap();
            let pk = group.mul(&sk, &group.generator().unwrap()).unwrap();
            let chip = agree(&config, &pk).unwrap();
            let k = group.shared_secret(&group.mul(&sk, &config.public_key().unwrap()).unwrap()).unwrap();
            assert_eq!(chip.ks_enc, SmSession::from_secret(config.cipher, &k).ks_enc, "{config:?}");
            assert!(ca_security_infos(&config).unwrap().len() > 40);
        }
        // The 3DES variant by MSE:Set KAT; AES refuses it.
        let config = ChipAuthConfig::secp192r1_3des();
        assert!(set_kat(&config, &tlv(&[0x91], &[0x04; 49])).is_err());
        let aes = ChipAuthConfig { cipher: Cipher::Aes128, ..ChipAuthConfig::secp192r1_3des() };
        assert_eq!(set_kat(&aes, &[]).err(), Some(WRONG_DATA));
    }
}
