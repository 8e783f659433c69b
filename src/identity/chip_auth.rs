//! Chip Authentication version 1 (ICAO 9303 Part 11 §6.2): an ephemeral key agreement with the
//! chip's static key from DG14; secure messaging restarts under keys only the genuine chip can
//! derive. A chip that does not hold the private key of the signed DG14 key answers the next
//! protected command with a wrong MAC: the clone is caught there.

use zeroize::Zeroizing;

use super::apdu::CommandApdu;
use super::cipher::Cipher;
use super::keys::{self, KeyError};
use super::pace::{KeySource, PaceError};
use super::security_info::{ChipAuthenticationInfo, SecurityInfos};
use super::sm::SecureChannel;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    #[error("DG14 offers Chip Authentication without a usable public key: {0}")]
    Key(#[from] KeyError),
    #[error("Chip Authentication arithmetic failed: {0}")]
    Crypto(String),
}

/// The commands of one Chip Authentication and the secure messaging they lead to.
pub struct Prepared {
    pub commands: Vec<CommandApdu>,
    pub cipher: Cipher,
    secret: Zeroizing<Vec<u8>>,
    pub protocol: String,
}

impl Prepared {
    /// Secure messaging under the new keys: KDF(K, 1/2), SSC zero.
    pub fn channel(&self) -> SecureChannel {
        SecureChannel::from_secret(self.cipher, &self.secret)
    }
}

/// The Chip Authentication DG14 offers: its info and the static key with the same key id (or
/// the only one), `None` when DG14 offers none.
pub fn offer(infos: &SecurityInfos) -> Option<(&ChipAuthenticationInfo, &[u8])> {
    let keys: Vec<_> = infos.chip_authentication_keys().collect();
    let key_for = |info: &ChipAuthenticationInfo| {
        keys.iter()
            .find(|k| k.key_agreement == info.key_agreement && (info.key_id.is_none() || k.key_id == info.key_id))
            .map(|k| k.public_key.as_slice())
    };
    if let Some(found) = infos.chip_authentication().find_map(|info| key_for(info).map(|k| (info, k))) {
        return Some(found);
    }
    None
}

/// Version 1 chips may list only the key: 3DES is then implied (9303-11 §9.2.5).
pub fn implied_info(infos: &SecurityInfos) -> Option<(ChipAuthenticationInfo, Vec<u8>)> {
    let key = infos.chip_authentication_keys().next()?;
    let arc = match key.key_agreement {
        super::security_info::KeyAgreement::Dh => "1.1",
        super::security_info::KeyAgreement::Ecdh => "2.1",
    };
    let oid = const_oid::ObjectIdentifier::new(&format!("0.4.0.127.0.7.2.2.3.{arc}")).ok()?;
    Some((
        ChipAuthenticationInfo { oid, key_agreement: key.key_agreement, cipher: Cipher::Tdes, version: 1, key_id: key.key_id },
        key.public_key.clone(),
    ))
}


fn key_reference(key_id: Option<u64>) -> Vec<u8> {
    match key_id {
        Some(id) => {
            let bytes: Vec<u8> = id.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
            super::tlv::encode(0x84, if bytes.is_empty() { &[0] } else { &bytes })
        }
        None => Vec::new(),
    }
}

/// The ephemeral key pair and commands: MSE:Set KAT for 3DES; MSE:Set AT and GENERAL
/// AUTHENTICATE for AES (9303-11 §6.2.4).
pub fn prepare(info: &ChipAuthenticationInfo, chip_key: &[u8], source: &mut dyn KeySource) -> Result<Prepared, CaError> {
    let key = keys::agreement_key(chip_key)?;
    let crypto = |e: super::domain::DomainError| CaError::Crypto(e.to_string());
    let private = source.private_key(&key.group).map_err(crypto)?;
    let public = key.group.public_key(&private).map_err(crypto)?;
    let secret = key.group.shared_secret(&private, &key.public).map_err(crypto)?;
    let commands = if info.cipher == Cipher::Tdes {
        let mut data = super::tlv::encode(0x91, &public);
        data.extend(key_reference(info.key_id));
        vec![CommandApdu::new(0x00, 0x22, 0x41, 0xA6).with_data(data)]
    } else {
        // The protocol OID under context tag 0x80 (TR-03110 MSE:Set AT), not as a universal OID.
        let mut data = super::tlv::encode(0x80, info.oid.as_bytes());
        data.extend(key_reference(info.key_id));
        let ga = super::tlv::encode(0x7C, &super::tlv::encode(0x80, &public));
        vec![
            CommandApdu::new(0x00, 0x22, 0x41, 0xA4).with_data(data),
            CommandApdu::new(0x00, 0x86, 0x00, 0x00).with_data(ga).with_le(256),
        ]
    };
    Ok(Prepared { commands, cipher: info.cipher, secret, protocol: info.oid.to_string() })
}

impl From<CaError> for PaceError {
    fn from(e: CaError) -> Self {
        PaceError::Unsupported(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::domain::{DomainError, Group, PrivateKey};
    use crate::identity::security_info::KeyAgreement;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;

    struct Fixed(Vec<u8>);
    impl KeySource for Fixed {
        fn private_key(&mut self, _: &Group) -> Result<PrivateKey, DomainError> {
            Ok(PrivateKey::from_bytes(&self.0))
        }
        fn nonce(&mut self, len: usize) -> Vec<u8> {
            vec![0; len]
        }
    }

    /// Both sides derive the same keys: the terminal's secret from the chip's public key equals
    /// the chip's from the terminal's (secp192r1 with 3DES, as Russian passports).
    #[test]
    fn secp192r1_3des_agrees_with_the_chip_side() {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME192V1).unwrap();
        let chip = EcKey::generate(&group).unwrap();
        let spki = chip.public_key_to_der().unwrap();
        let info = ChipAuthenticationInfo {
            oid: const_oid::ObjectIdentifier::new_unwrap("0.4.0.127.0.7.2.2.3.2.1"),
            key_agreement: KeyAgreement::Ecdh,
            cipher: Cipher::Tdes,
            version: 1,
            key_id: None,
        };
        let terminal = vec![0x42; 24];
        let prepared = prepare(&info, &spki, &mut Fixed(terminal.clone())).unwrap();
        assert_eq!(prepared.commands.len(), 1);
        let data = &prepared.commands[0].data;
        assert_eq!(&data[..2], &[0x91, 49]);
        // The chip's side: its private key times our ephemeral point.
        let chip_group = Group::named_curve(Nid::X9_62_PRIME192V1).unwrap();
        let chip_private = PrivateKey::from_bytes(&chip.private_key().to_vec_padded(24).unwrap());
        let chip_secret = chip_group.shared_secret(&chip_private, &data[2..]).unwrap();
        assert_eq!(*prepared.secret, *chip_secret);
        assert_eq!(prepared.channel().cipher(), Cipher::Tdes);
    }

    #[test]
    fn aes_uses_set_at_and_general_authenticate() {
        let group = EcGroup::from_curve_name(Nid::BRAINPOOL_P256R1).unwrap();
        let chip = EcKey::generate(&group).unwrap();
        let info = ChipAuthenticationInfo {
            oid: const_oid::ObjectIdentifier::new_unwrap("0.4.0.127.0.7.2.2.3.2.2"),
            key_agreement: KeyAgreement::Ecdh,
            cipher: Cipher::Aes128,
            version: 2,
            key_id: Some(0x41),
        };
        let prepared = prepare(&info, &chip.public_key_to_der().unwrap(), &mut Fixed(vec![7; 32])).unwrap();
        let encoded: Vec<String> = prepared.commands.iter().map(|c| hex::encode_upper(c.encode().unwrap())).collect();
        assert_eq!(encoded[0], "002241A40F800A04007F00070202030202840141");
        assert!(encoded[1].starts_with("00860000457C438041"));
    }
}
