//! Secure messaging (ICAO 9303 Part 11 §9.8) with 3DES or AES session keys: wrapping command
//! APDUs and unwrapping and checking response APDUs. Pure: bytes in, bytes out, the send
//! sequence counter kept in the channel. 3DES: zero IV, retail MAC, 8-byte SSC; AES: IV =
//! E(KSenc, SSC), CMAC cut to 8 bytes, 16-byte SSC.

use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::apdu::{ApduError, CommandApdu, ResponseApdu};
use super::cipher::{Cipher, SecretKey};
use super::des3::Key;
use super::tlv;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SmError {
    #[error("the chip's answer carries a wrong MAC: it was altered on the way or the session is out of step")]
    BadMac,
    #[error("the chip's answer lacks the secure messaging object {0:#04x}")]
    MissingObject(u8),
    #[error("the chip's secure messaging objects are malformed")]
    Malformed,
    #[error("the chip answered {0:04X} without secure messaging: it ended the session")]
    Unprotected(u16),
    #[error("the command cannot be protected: {0}")]
    Command(String),
}

/// An established secure messaging session.
pub struct SecureChannel {
    cipher: Cipher,
    ks_enc: SecretKey,
    ks_mac: SecretKey,
    ssc: Vec<u8>,
    /// An answer of more than 0xE7 bytes is asked for with an extended outer Le; without it
    /// (a chip that does not announce extended length) with short `00`, the chip then
    /// chaining the rest with `61xx`.
    extended_le: bool,
}

impl Drop for SecureChannel {
    fn drop(&mut self) {
        self.ssc.zeroize();
    }
}

// Keys: never shown.
impl std::fmt::Debug for SecureChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecureChannel { .. }")
    }
}

/// SSC + 1, big-endian, wrapping over its whole width.
fn increment(ssc: &mut [u8]) {
    for byte in ssc.iter_mut().rev() {
        *byte = byte.wrapping_add(1);
        if *byte != 0 {
            break;
        }
    }
}

/// BER length as used in SM data objects.
fn push_len(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
        _ => {
            out.push(0x82);
            out.extend_from_slice(&((len & 0xFFFF) as u16).to_be_bytes());
        }
    }
}

/// Bytes of a BER length field for `len`.
fn der_len_len(len: usize) -> usize {
    match len {
        0..=0x7F => 1,
        0x80..=0xFF => 2,
        _ => 3,
    }
}

fn data_object(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    push_len(&mut out, value.len());
    out.extend_from_slice(value);
    out
}

impl SecureChannel {
/// A 3DES session (BAC) with its starting counter.
    pub fn new(ks_enc: Key, ks_mac: Key, ssc: [u8; 8]) -> Self {
        Self::with_cipher(Cipher::Tdes, SecretKey::new(ks_enc.to_vec()), SecretKey::new(ks_mac.to_vec()), ssc.to_vec())
    }

    /// A session with any cipher; `ssc` has the cipher's block length (zero after PACE and
    /// Chip Authentication).
    pub fn with_cipher(cipher: Cipher, ks_enc: SecretKey, ks_mac: SecretKey, ssc: Vec<u8>) -> Self {
        Self { cipher, ks_enc, ks_mac, ssc, extended_le: true }
    }

    /// Whether protected commands may ask for a long answer with an extended outer Le.
    pub fn set_extended_length(&mut self, allowed: bool) {
        self.extended_le = allowed;
    }

    /// The number of data bytes [`Self::wrap`] gives `cmd` (DO87/DO85, DO97, DO8E), known
    /// before wrapping (which advances the counter).
    pub fn protected_data_len(&self, cmd: &CommandApdu) -> usize {
        let block = self.cipher.block_len();
        let mut len = 0;
        if !cmd.data.is_empty() {
            let cryptogram = (cmd.data.len() / block + 1) * block;
            let value = cryptogram + usize::from(cmd.ins & 1 == 0);
            len += 1 + der_len_len(value) + value;
        }
        if let Some(le) = cmd.le {
            len += 2 + if le <= 256 { 1 } else { 2 };
        }
        len + 2 + 8
    }

    /// A session started from a shared secret: KSenc/KSmac by the KDF, SSC zero.
    pub fn from_secret(cipher: Cipher, secret: &[u8]) -> Self {
        let enc = cipher.kdf(secret, super::cipher::KDF_ENC);
        let mac = cipher.kdf(secret, super::cipher::KDF_MAC);
        Self::with_cipher(cipher, enc, mac, vec![0; cipher.block_len()])
    }

    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// The current send sequence counter (for tests against the worked example).
    pub fn ssc(&self) -> &[u8] {
        &self.ssc
    }

    fn mac(&self, data: &[u8]) -> Result<[u8; 8], SmError> {
        self.cipher.mac(&self.ks_mac, &self.cipher.pad(data)).map_err(|_| SmError::Malformed)
    }

    fn encrypt(&self, data: &[u8]) -> Result<Vec<u8>, SmError> {
        let iv = self.cipher.sm_iv(&self.ks_enc, &self.ssc).map_err(|_| SmError::Malformed)?;
        self.cipher.encrypt(&self.ks_enc, &iv, &self.cipher.pad(data)).map_err(|_| SmError::Malformed)
    }

    fn decrypt(&self, data: &[u8]) -> Result<Vec<u8>, SmError> {
        let iv = self.cipher.sm_iv(&self.ks_enc, &self.ssc).map_err(|_| SmError::Malformed)?;
        let mut plain = self.cipher.decrypt(&self.ks_enc, &iv, data).map_err(|_| SmError::Malformed)?;
        let data = self.cipher.unpad(&plain).map(<[u8]>::to_vec);
        plain.zeroize();
        data.ok_or(SmError::Malformed)
    }

    /// Protects `cmd`: data in DO87 (DO85 for an odd INS), Le in DO97, MAC in DO8E.
    pub fn wrap(&mut self, cmd: &CommandApdu) -> Result<CommandApdu, SmError> {
        let cla = cmd.cla | 0x0C;
        let mut objects = Vec::new();
        // The AES IV is E(KSenc, SSC) of this command's counter value.
        increment(&mut self.ssc);
        if !cmd.data.is_empty() {
            let cryptogram = self.encrypt(&cmd.data)?;
            if cmd.ins & 1 == 1 {
                objects.extend(data_object(0x85, &cryptogram));
            } else {
                let mut value = Vec::with_capacity(cryptogram.len() + 1);
                value.push(0x01);
                value.extend(cryptogram);
                objects.extend(data_object(0x87, &value));
            }
        }
        if let Some(le) = cmd.le {
            let encoded = match le {
                1..=255 => vec![le as u8],
                256 => vec![0],
                257..=65535 => ((le & 0xFFFF) as u16).to_be_bytes().to_vec(),
                65536 => vec![0, 0],
                _ => return Err(SmError::Command(format!("Le {le} out of range"))),
            };
            objects.extend(data_object(0x97, &encoded));
        }
        let mut n = self.ssc.to_vec();
        n.extend(self.cipher.pad(&[cla, cmd.ins, cmd.p1, cmd.p2]));
        n.extend_from_slice(&objects);
        let mac = self.mac(&n)?;
        objects.extend(data_object(0x8E, &mac));
        // Outer Le: short 00 ("up to 256") unless the answer may be longer.
        let outer_le = if self.extended_le && cmd.le.is_some_and(|le| le > 0xE7) { 65536 } else { 256 };
        Ok(CommandApdu { cla, ins: cmd.ins, p1: cmd.p1, p2: cmd.p2, data: objects, le: Some(outer_le) })
    }

    /// Checks and decrypts a protected answer; the inner status word comes from DO99.
    pub fn unwrap(&mut self, response: &ResponseApdu) -> Result<ResponseApdu, SmError> {
        if response.data.is_empty() {
            return Err(SmError::Unprotected(response.sw));
        }
        increment(&mut self.ssc);
        let objects = tlv::parse_all(&response.data).map_err(|_| SmError::Malformed)?;
        let mut covered = self.ssc.to_vec();
        let mut cryptogram: Option<(u32, &[u8])> = None;
        let mut status = None;
        let mut mac = None;
        let mut rest = response.data.as_slice();
        for object in &objects {
            let (_, after) = tlv::parse_one(rest).map_err(|_| SmError::Malformed)?;
            let encoded = rest.get(..rest.len() - after.len()).ok_or(SmError::Malformed)?;
            rest = after;
            match object.tag {
                0x85 | 0x87 => {
                    covered.extend_from_slice(encoded);
                    cryptogram = Some((object.tag, object.value));
                }
                0x99 => {
                    covered.extend_from_slice(encoded);
                    status = Some(object.value);
                }
                0x8E => mac = Some(object.value),
                _ => return Err(SmError::Malformed),
            }
        }
        let mac = mac.ok_or(SmError::MissingObject(0x8E))?;
        let expected = self.mac(&covered)?;
        if !bool::from(expected.ct_eq(mac)) {
            return Err(SmError::BadMac);
        }
        let sw = match status.ok_or(SmError::MissingObject(0x99))? {
            [sw1, sw2] => u16::from_be_bytes([*sw1, *sw2]),
            _ => return Err(SmError::Malformed),
        };
        let data = match cryptogram {
            None => Vec::new(),
            Some((tag, value)) => {
                let encrypted = match (tag, value) {
                    (0x87, [0x01, encrypted @ ..]) => encrypted,
                    (0x85, encrypted) => encrypted,
                    _ => return Err(SmError::Malformed),
                };
                self.decrypt(encrypted)?
            }
        };
        Ok(ResponseApdu { data, sw })
    }
}

impl From<ApduError> for SmError {
    fn from(error: ApduError) -> Self {
        SmError::Command(error.to_string())
    }
}

#[cfg(test)]
impl SecureChannel {
    pub(crate) fn ks_enc_for_test(&self) -> &[u8] {
        &self.ks_enc
    }
    pub(crate) fn ks_mac_for_test(&self) -> &[u8] {
        &self.ks_mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use zeroize::Zeroizing;

    fn pair() -> (SecureChannel, SecureChannel) {
        let k = || (Zeroizing::new([0x11u8; 16]), Zeroizing::new([0x22u8; 16]));
        let (a, b) = k();
        let (c, d) = k();
        (SecureChannel::new(a, b, [0; 8]), SecureChannel::new(c, d, [0; 8]))
    }

    /// AES-128 secure messaging (9303-11 §9.8: IV = E(KSenc, SSC), CMAC over the padded input)
    /// with the session keys of Appendix G.1, SSC from zero. ICAO prints no AES trace; these
    /// protected APDUs were computed independently with OpenSSL by the Proxmark3 project.
    #[test]
    fn aes_secure_messaging() {
        use crate::identity::cipher::h;
        let mut sm = SecureChannel::with_cipher(
            Cipher::Aes128,
            SecretKey::new(h("F5F0E35C0D7161EE6724EE513A0D9A7F")),
            SecretKey::new(h("FE251C7858B356B24514B3BD5F4297D1")),
            vec![0; 16],
        );
        let select = CommandApdu::new(0x00, 0xA4, 0x02, 0x0C).with_data(vec![0x01, 0x1E]);
        assert_eq!(
            sm.wrap(&select).unwrap().encode().unwrap(),
            h("0CA4020C1D871101EE0E4724F4465C1BE9C2F73ABDD73A3D8E08835D1B54575C955F00")
        );
        let answer = sm.unwrap(&ResponseApdu::parse(&h("990290008E08BEA7B381C494A0799000")).unwrap()).unwrap();
        assert_eq!((answer.data.len(), answer.sw), (0, 0x9000));
        let read = CommandApdu::new(0x00, 0xB0, 0x00, 0x00).with_le(4);
        assert_eq!(sm.wrap(&read).unwrap().encode().unwrap(), h("0CB000000D9701048E08AA6BA54F44DF836400"));
        let answer = sm
            .unwrap(&ResponseApdu::parse(&h("871101645C0B1F998A088278D07942BBE94B60990290008E0894A33C6AA2D8CCC89000")).unwrap())
            .unwrap();
        assert_eq!((answer.data, answer.sw), (h("60145F01"), 0x9000));
        assert_eq!(sm.ssc(), h("00000000000000000000000000000004"));
    }

    /// The protected length known before wrapping is the wrapped command's, for 3DES and AES,
    /// even and odd INS; without extended length a long answer is asked for with short `00`.
    #[test]
    fn protected_length_is_known_before_wrapping() {
        let aes = || SecureChannel::from_secret(Cipher::Aes128, &[7; 16]);
        for mut sm in [pair().0, aes()] {
            for len in [0, 1, 7, 8, 15, 16, 100, 111, 112, 200, 232, 233, 255, 300] {
                for (ins, le) in [(0xB0, None), (0x86, Some(256)), (0xB1, Some(0xE7)), (0x2A, Some(1000))] {
                    let cmd = CommandApdu::new(0x00, ins, 0, 0).with_data(vec![0x5A; len]);
                    let cmd = match le {
                        Some(le) => cmd.with_le(le),
                        None => cmd,
                    };
                    assert_eq!(sm.protected_data_len(&cmd), sm.wrap(&cmd).unwrap().data.len(), "len {len} ins {ins:02X}");
                }
            }
        }
        let mut sm = aes();
        let aa = CommandApdu::new(0x00, 0x88, 0, 0).with_data(vec![1; 8]).with_le(256);
        assert_eq!(sm.wrap(&aa).unwrap().le, Some(65536));
        sm.set_extended_length(false);
        assert_eq!(sm.wrap(&aa).unwrap().le, Some(256));
    }

    #[test]
    fn ssc_carries_over_its_whole_width() {
        let mut ssc = [0xFFu8; 16];
        increment(&mut ssc);
        assert_eq!(ssc, [0; 16]);
        let mut ssc = [0, 0, 0, 0, 0, 0, 0, 0xFF];
        increment(&mut ssc);
        assert_eq!(ssc, [0, 0, 0, 0, 0, 0, 1, 0]);
    }

    proptest! {
        /// Whatever bytes the chip sends, unwrap returns a typed result, never panics.
        #[test]
        fn unwrap_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300), sw in any::<u16>()) {
            let (mut host, _) = pair();
            let _ = host.unwrap(&ResponseApdu { data, sw });
        }

        /// A tampered protected answer is always refused.
        #[test]
        fn any_flipped_bit_is_refused(payload in proptest::collection::vec(any::<u8>(), 1..64), bit in 0usize..512) {
            let (mut host, mut chip) = pair();
            // The chip side builds DO87 ‖ DO99 ‖ DO8E with the same keys and counter.
            increment(&mut chip.ssc);
            let mut body = data_object(0x87, &[&[0x01][..], &chip.encrypt(&payload).unwrap()].concat());
            body.extend(data_object(0x99, &[0x90, 0x00]));
            let mut n = chip.ssc.to_vec();
            n.extend_from_slice(&body);
            body.extend(data_object(0x8E, &chip.mac(&n).unwrap()));
            let good = ResponseApdu { data: body.clone(), sw: 0x9000 };
            let (mut host2, _) = pair();
            prop_assert_eq!(host2.unwrap(&good).unwrap().data, payload);
            let i = bit % (body.len() * 8);
            body[i / 8] ^= 1 << (i % 8);
            let tampered = ResponseApdu { data: body, sw: 0x9000 };
            prop_assert!(host.unwrap(&tampered).is_err());
        }
    }
}
