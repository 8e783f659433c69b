//! PACE (ICAO 9303 Part 11 §4.4): the password (MRZ or CAN) keys a nonce, mapped to a fresh
//! generator (generic, integrated or chip-authentication mapping), on which an ephemeral key
//! agreement starts secure messaging; both sides prove the keys with authentication tokens.
//!
//! The exchange runs over any [`PaceLink`] (the chip session in `passport`, a script in
//! tests); the terminal's random values come from a [`KeySource`] so the worked examples of
//! Appendices G–I can be replayed byte for byte.

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::apdu::{CommandApdu, ResponseApdu};
use super::cipher::{Cipher, SecretKey, KDF_PACE};
use super::domain::{DomainError, Group, PrivateKey};
use super::security_info::{KeyAgreement, Mapping, PaceInfo};
use super::sm::SecureChannel;
use super::tlv;

/// The password PACE is keyed with.
pub enum Password {
    /// The MRZ information (document number, birth and expiry dates, each with check digit).
    Mrz(Zeroizing<String>),
    /// The card access number printed on the document.
    Can(Zeroizing<String>),
}

impl Password {
    /// The password reference of MSE:Set AT (9303-11 §4.4.4.1).
    fn reference(&self) -> u8 {
        match self {
            Self::Mrz(_) => 1,
            Self::Can(_) => 2,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Mrz(_) => "mrz",
            Self::Can(_) => "can",
        }
    }

    /// K_π = KDF_π(f(π)): SHA-1 of the MRZ information, or the CAN itself.
    pub fn key(&self, cipher: Cipher) -> SecretKey {
        match self {
            Self::Mrz(info) => {
                let mut digest = Sha1::digest(info.as_bytes());
                let key = cipher.kdf(&digest, KDF_PACE);
                zeroize::Zeroize::zeroize(digest.as_mut_slice());
                key
            }
            Self::Can(can) => cipher.kdf(can.as_bytes(), KDF_PACE),
        }
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Password::{}(..)", self.kind())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PaceError {
    #[error("the chip refused PACE step \"{step}\" with status {sw:04X}")]
    Refused { step: &'static str, sw: u16 },
    #[error("the chip refused the password (status {0:04X}): the MRZ was misread or the CAN is wrong")]
    WrongPassword(u16),
    #[error("the chip's answer to PACE step \"{0}\" is malformed")]
    Malformed(&'static str),
    #[error("the chip's authentication token is wrong: it does not hold the same password")]
    BadToken,
    #[error("the chip sent its own ephemeral key back: refused as a reflection attack")]
    ReflectedKey,
    #[error("PACE with {0} is not supported")]
    Unsupported(String),
    #[error("PACE arithmetic failed: {0}")]
    Domain(#[from] DomainError),
    #[error("PACE cryptography failed")]
    Cipher,
}

/// What a PACE run leaves: secure messaging and what reports and PACE-CAM need.
pub struct PaceOutcome {
    pub channel: SecureChannel,
    pub mapping: Mapping,
    pub parameter_id: u64,
    /// The chip's ephemeral public key (its compressed form is Chip Authentication's ID_PICC).
    pub chip_ephemeral_public: Vec<u8>,
    /// PACE-CAM: the chip's mapping public key and decrypted CA_IC, checked once its static
    /// key is known (DG14 or EF.CardSecurity).
    pub chip_authentication: Option<CamProof>,
}

impl std::fmt::Debug for PaceOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaceOutcome").field("mapping", &self.mapping).field("parameter_id", &self.parameter_id).finish_non_exhaustive()
    }
}

/// PACE-CAM's proof from the chip (9303-11 §4.4.3.5).
#[derive(Debug, Clone)]
pub struct CamProof {
    pub ca_ic: Vec<u8>,
    pub chip_map_public: Vec<u8>,
    pub parameter_id: u64,
}

impl CamProof {
    /// PK_map_IC = CA_IC · PK_IC for the chip's static key `static_public`.
    pub fn verify(&self, static_public: &[u8]) -> Result<bool, DomainError> {
        Group::standard(self.parameter_id)?.check_chip_authentication_mapping(&self.ca_ic, static_public, &self.chip_map_public)
    }
}

/// Sends one command to the chip (plain: PACE runs before secure messaging).
pub trait PaceLink {
    type Error: From<PaceError>;
    fn exchange(&mut self, cmd: &CommandApdu) -> Result<ResponseApdu, Self::Error>;
}

/// The terminal's random values.
pub trait KeySource {
    fn private_key(&mut self, group: &Group) -> Result<PrivateKey, DomainError>;
    fn nonce(&mut self, len: usize) -> Vec<u8>;
}

/// Fresh randomness from OpenSSL's CSPRNG.
pub struct OsKeys;

impl KeySource for OsKeys {
    fn private_key(&mut self, group: &Group) -> Result<PrivateKey, DomainError> {
        group.generate_private()
    }
    fn nonce(&mut self, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut out);
        out
    }
}


/// DER of the OID's content bytes.
pub(crate) fn oid_tlv(oid: &const_oid::ObjectIdentifier) -> Vec<u8> {
    super::tlv::encode(0x06, oid.as_bytes())
}

/// MSE:Set AT for PACE: protocol, password reference, parameter id (always sent: some chips
/// answer 6A87 without DO84).
pub fn mse_set_at(info: &PaceInfo, password: &Password) -> CommandApdu {
    let mut data = super::tlv::encode(0x80, info.protocol.oid.as_bytes());
    data.extend(super::tlv::encode(0x83, &[password.reference()]));
    if let Some(id) = info.parameter_id {
        let bytes: Vec<u8> = id.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
        data.extend(super::tlv::encode(0x84, if bytes.is_empty() { &[0] } else { &bytes }));
    }
    CommandApdu::new(0x00, 0x22, 0xC1, 0xA4).with_data(data)
}

/// GENERAL AUTHENTICATE with dynamic authentication data `7C { tag value }`; all but the last
/// step are chained (CLA 10).
fn general_authenticate(tag: u32, value: &[u8], last: bool) -> CommandApdu {
    let inner = if value.is_empty() && tag == 0 { Vec::new() } else { super::tlv::encode(tag, value) };
    CommandApdu::new(if last { 0x00 } else { 0x10 }, 0x86, 0x00, 0x00).with_data(super::tlv::encode(0x7C, &inner)).with_le(256)
}

/// The value of `tag` inside the chip's `7C` answer.
fn answer_object(response: &ResponseApdu, tag: u32, step: &'static str) -> Result<Vec<u8>, PaceError> {
    let (outer, _) = tlv::parse_one(&response.data).map_err(|_| PaceError::Malformed(step))?;
    if outer.tag != 0x7C {
        return Err(PaceError::Malformed(step));
    }
    let objects = tlv::parse_all(outer.value).map_err(|_| PaceError::Malformed(step))?;
    objects.iter().find(|o| o.tag == tag).map(|o| o.value.to_vec()).ok_or(PaceError::Malformed(step))
}

fn optional_object(response: &ResponseApdu, tag: u32) -> Option<Vec<u8>> {
    let (outer, _) = tlv::parse_one(&response.data).ok()?;
    tlv::parse_all(outer.value).ok()?.iter().find(|o| o.tag == tag).map(|o| o.value.to_vec())
}

/// The authentication token over a public key (9303-11 §4.4.3.4): MAC(KSmac, 7F49 { 06 OID,
/// 86 point | 84 DH value }), 8 bytes.
pub fn authentication_token(
    cipher: Cipher,
    ks_mac: &[u8],
    oid: &const_oid::ObjectIdentifier,
    key_agreement: KeyAgreement,
    public_key: &[u8],
) -> Result<[u8; 8], PaceError> {
    let mut body = oid_tlv(oid);
    match key_agreement {
        KeyAgreement::Ecdh => body.extend(super::tlv::encode(0x86, public_key)),
        KeyAgreement::Dh => {
            // An unsigned integer: no leading zero bytes.
            let start = public_key.iter().position(|&b| b != 0).unwrap_or(public_key.len());
            body.extend(super::tlv::encode(0x84, public_key.get(start..).unwrap_or_default()));
        }
    }
    let input = super::tlv::encode(0x7F49, &body);
    // CMAC pads by itself; the 3DES retail MAC takes padding method 2.
    let mac = match cipher {
        Cipher::Tdes => cipher.mac(ks_mac, &cipher.pad(&input)).map(|m| m.to_vec()),
        _ => cipher.cmac(ks_mac, &input),
    };
    let mac = mac.map_err(|_| PaceError::Cipher)?;
    let mut token = [0u8; 8];
    token.copy_from_slice(mac.get(..8).ok_or(PaceError::Cipher)?);
    Ok(token)
}

fn status<E: From<PaceError>>(response: &ResponseApdu, step: &'static str) -> Result<(), E> {
    match response.sw {
        0x9000 => Ok(()),
        sw @ (0x6300..=0x63CF) if step == "mutual authentication" => Err(PaceError::WrongPassword(sw).into()),
        sw => Err(PaceError::Refused { step, sw }.into()),
    }
}

/// The pseudo-random function R(s, t) of integrated mapping (9303-11 §4.4.3.3.2), built from
/// the block cipher: k_0 = E(t, s); per round x_i = E(k_i, c1), k_{i+1} = E(k_i, c0).
pub fn integrated_mapping_random(cipher: Cipher, s: &[u8], t: &[u8], prime_bits: usize) -> Result<Vec<u8>, PaceError> {
    let (c0, c1): (&[u8], &[u8]) = match cipher {
        Cipher::Aes128 => (
            &[0xa6, 0x68, 0x89, 0x2a, 0x7c, 0x41, 0xe3, 0xca, 0x73, 0x9f, 0x40, 0xb0, 0x57, 0xd8, 0x59, 0x04],
            &[0xa4, 0xe1, 0x36, 0xac, 0x72, 0x5f, 0x73, 0x8b, 0x01, 0xc1, 0xf6, 0x02, 0x17, 0xc1, 0x88, 0xad],
        ),
        // Only AES-128 has its block as long as its key (the worked example's case); with 3DES
        // and AES-192/256 the rounds' keys need an expansion the standard leaves to the cipher
        // and no chip in the field is known to offer: refused, another offer or BAC is used.
        other => return Err(PaceError::Unsupported(format!("integrated mapping with {}", other.name()))),
    };
    let l = c0.len() * 8;
    let rounds = (prime_bits + 64).div_ceil(l);
    let zero = cipher.zero_iv();
    let mut k = Zeroizing::new(cipher.encrypt(t, &zero, s).map_err(|_| PaceError::Cipher)?);
    let mut out = Vec::with_capacity(rounds * c0.len());
    for _ in 0..rounds {
        out.extend(cipher.encrypt(&k, &zero, c1).map_err(|_| PaceError::Cipher)?);
        k = Zeroizing::new(cipher.encrypt(&k, &zero, c0).map_err(|_| PaceError::Cipher)?);
    }
    Ok(out)
}

/// Runs PACE with the chip for the protocol `info` offers.
pub fn run<L: PaceLink>(
    link: &mut L,
    info: &PaceInfo,
    password: &Password,
    keys: &mut dyn KeySource,
) -> Result<PaceOutcome, L::Error> {
    let protocol = &info.protocol;
    let cipher = protocol.cipher;
    let parameter_id = info
        .parameter_id
        .ok_or_else(|| PaceError::Unsupported("proprietary domain parameters (no parameter id)".into()))?;
    let group = Group::standard(parameter_id).map_err(PaceError::from)?;
    if group.is_ec() != (protocol.key_agreement == KeyAgreement::Ecdh) {
        return Err(PaceError::Unsupported(format!("{} with parameter id {parameter_id}", protocol.oid)).into());
    }

    let answer = link.exchange(&mse_set_at(info, password))?;
    status::<L::Error>(&answer, "MSE:Set AT")?;

    // 1. The encrypted nonce.
    let answer = link.exchange(&general_authenticate(0, &[], false))?;
    status::<L::Error>(&answer, "encrypted nonce")?;
    let z = answer_object(&answer, 0x80, "encrypted nonce")?;
    let k_pi = password.key(cipher);
    let s = Zeroizing::new(cipher.decrypt(&k_pi, &cipher.zero_iv(), &z).map_err(|_| PaceError::Malformed("encrypted nonce"))?);
    drop(k_pi);

    // 2. Mapping.
    let mut chip_map_public = Vec::new();
    let mapped = match protocol.mapping {
        Mapping::Generic | Mapping::ChipAuthentication => {
            let map_private = keys.private_key(&group).map_err(PaceError::from)?;
            let map_public = group.public_key(&map_private).map_err(PaceError::from)?;
            let answer = link.exchange(&general_authenticate(0x81, &map_public, false))?;
            status::<L::Error>(&answer, "mapping")?;
            chip_map_public = answer_object(&answer, 0x82, "mapping")?;
            if chip_map_public == map_public {
                return Err(PaceError::ReflectedKey.into());
            }
            group.generic_mapping(&s, &map_private, &chip_map_public).map_err(PaceError::from)?
        }
        Mapping::Integrated => {
            let t = Zeroizing::new(keys.nonce(s.len()));
            let answer = link.exchange(&general_authenticate(0x81, &t, false))?;
            status::<L::Error>(&answer, "mapping")?;
            let random = integrated_mapping_random(cipher, &s, &t, group.prime_bits().map_err(PaceError::from)?)?;
            group.integrated_mapping(&random).map_err(PaceError::from)?
        }
    };

    // 3. Key agreement on the mapped generator.
    let private = keys.private_key(&mapped).map_err(PaceError::from)?;
    let public = mapped.public_key(&private).map_err(PaceError::from)?;
    let answer = link.exchange(&general_authenticate(0x83, &public, false))?;
    status::<L::Error>(&answer, "key agreement")?;
    let chip_public = answer_object(&answer, 0x84, "key agreement")?;
    if chip_public == public {
        return Err(PaceError::ReflectedKey.into());
    }
    let secret = mapped.shared_secret(&private, &chip_public).map_err(PaceError::from)?;
    let ks_enc = cipher.kdf(&secret, super::cipher::KDF_ENC);
    let ks_mac = cipher.kdf(&secret, super::cipher::KDF_MAC);
    drop(secret);

    // 4. Mutual authentication: our token over the chip's key, the chip's over ours.
    let token = authentication_token(cipher, &ks_mac, &protocol.oid, protocol.key_agreement, &chip_public)?;
    let answer = link.exchange(&general_authenticate(0x85, &token, true))?;
    status::<L::Error>(&answer, "mutual authentication")?;
    let chip_token = answer_object(&answer, 0x86, "mutual authentication")?;
    let expected = authentication_token(cipher, &ks_mac, &protocol.oid, protocol.key_agreement, &public)?;
    if !bool::from(expected.ct_eq(chip_token.as_slice())) {
        return Err(PaceError::BadToken.into());
    }
    let chip_authentication = match protocol.mapping {
        Mapping::ChipAuthentication => {
            let encrypted = optional_object(&answer, 0x8A).ok_or(PaceError::Malformed("chip authentication data"))?;
            // IV = E(KSenc, −1): the all-ones block (9303-11 §4.4.3.5.1).
            let minus_one = vec![0xFF; cipher.block_len()];
            let iv = cipher.encrypt(&ks_enc, &cipher.zero_iv(), &minus_one).map_err(|_| PaceError::Cipher)?;
            let plain = Zeroizing::new(cipher.decrypt(&ks_enc, &iv, &encrypted).map_err(|_| PaceError::Malformed("chip authentication data"))?);
            let ca_ic = cipher.unpad(&plain).ok_or(PaceError::Malformed("chip authentication data"))?.to_vec();
            Some(CamProof { ca_ic, chip_map_public: chip_map_public.clone(), parameter_id })
        }
        _ => None,
    };
    let channel = SecureChannel::with_cipher(cipher, ks_enc, ks_mac, vec![0; cipher.block_len()]);
    Ok(PaceOutcome { channel, mapping: protocol.mapping, parameter_id, chip_ephemeral_public: chip_public, chip_authentication })
}

#[cfg(test)]
mod tests;
