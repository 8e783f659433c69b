//! Basic Access Control (ICAO 9303 Part 11 §4.3): document basic access keys from the MRZ,
//! mutual authentication, and the session keys that start secure messaging.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::des3::{self, Key};
use super::mrz::Mrz;
use super::sm::SecureChannel;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BacError {
    #[error("the chip's authentication answer has {0} bytes, expected 40")]
    AnswerLength(usize),
    #[error("the chip's authentication answer carries a wrong MAC")]
    BadMac,
    #[error("the chip did not return our challenge: it is not the chip of this document")]
    ChallengeMismatch,
    #[error("the authentication cryptogram could not be processed")]
    Crypto,
}

/// K.enc and K.mac derived from the MRZ.
pub struct AccessKeys {
    pub k_enc: Key,
    pub k_mac: Key,
}

/// "MRZ information": document number, birth date and expiry date, each with its check digit.
pub fn mrz_information(mrz: &Mrz) -> Zeroizing<String> {
    let line2 = mrz.raw().get(44..).unwrap_or_default();
    let mut info = Zeroizing::new(String::with_capacity(24));
    for range in [0..10, 13..20, 21..28] {
        info.push_str(line2.get(range).unwrap_or_default());
    }
    info
}

/// K.seed = SHA-1(MRZ information)[0..16]; K.enc, K.mac from it.
pub fn access_keys(mrz_information: &str) -> AccessKeys {
    use sha1::{Digest, Sha1};
    let mut digest = Sha1::digest(mrz_information.as_bytes());
    let seed = Zeroizing::new(digest.get(..16).unwrap_or_default().to_vec());
    digest.as_mut_slice().zeroize();
    AccessKeys { k_enc: des3::derive_key(&seed, 1), k_mac: des3::derive_key(&seed, 2) }
}

/// The terminal's side of one mutual authentication.
pub struct Authentication {
    keys: AccessKeys,
    rnd_ic: [u8; 8],
    rnd_ifd: [u8; 8],
    k_ifd: Zeroizing<[u8; 16]>,
}

impl Authentication {
    pub fn new(keys: AccessKeys, rnd_ic: [u8; 8], rnd_ifd: [u8; 8], k_ifd: [u8; 16]) -> Self {
        Self { keys, rnd_ic, rnd_ifd, k_ifd: Zeroizing::new(k_ifd) }
    }

    /// The 40 bytes of EXTERNAL AUTHENTICATE: E.IFD ‖ M.IFD.
    pub fn command_data(&self) -> Result<Vec<u8>, BacError> {
        let mut s = Zeroizing::new(Vec::with_capacity(32));
        s.extend_from_slice(&self.rnd_ifd);
        s.extend_from_slice(&self.rnd_ic);
        s.extend_from_slice(self.k_ifd.as_slice());
        let mut out = des3::encrypt(&self.keys.k_enc, &s).ok_or(BacError::Crypto)?;
        let mac = des3::mac(&self.keys.k_mac, &des3::pad(&out)).ok_or(BacError::Crypto)?;
        out.extend_from_slice(&mac);
        Ok(out)
    }

    /// Checks the chip's E.IC ‖ M.IC and derives the secure messaging session.
    pub fn finish(self, answer: &[u8]) -> Result<SecureChannel, BacError> {
        let (e_ic, m_ic) = match answer.split_at_checked(32) {
            Some((e, m)) if m.len() == 8 => (e, m),
            _ => return Err(BacError::AnswerLength(answer.len())),
        };
        let expected = des3::mac(&self.keys.k_mac, &des3::pad(e_ic)).ok_or(BacError::Crypto)?;
        if !bool::from(expected.ct_eq(m_ic)) {
            return Err(BacError::BadMac);
        }
        let r = Zeroizing::new(des3::decrypt(&self.keys.k_enc, e_ic).ok_or(BacError::Crypto)?);
        let (rnd_ic, rnd_ifd, k_ic) = match (r.get(..8), r.get(8..16), r.get(16..32)) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => return Err(BacError::Crypto),
        };
        if rnd_ic != self.rnd_ic || rnd_ifd != self.rnd_ifd {
            return Err(BacError::ChallengeMismatch);
        }
        let seed: Zeroizing<Vec<u8>> = Zeroizing::new(self.k_ifd.iter().zip(k_ic).map(|(a, b)| a ^ b).collect());
        let mut ssc = [0u8; 8];
        ssc[..4].copy_from_slice(&self.rnd_ic[4..]);
        ssc[4..].copy_from_slice(&self.rnd_ifd[4..]);
        Ok(SecureChannel::new(des3::derive_key(&seed, 1), des3::derive_key(&seed, 2), ssc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::apdu::{CommandApdu, ResponseApdu};

    fn h(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn arr<const N: usize>(s: &str) -> [u8; N] {
        h(s).try_into().unwrap()
    }

    /// ICAO Doc 9303 Part 11, Appendix D: the whole worked example, byte for byte.
    #[test]
    fn appendix_d_worked_example() {
        // D.2: keys from the MRZ information.
        use crate::identity::mrz::check_digit;
        let head = "L898902C<3UTO6908061F9406236ZE184226B<<<<<";
        let optional = check_digit("ZE184226B<<<<<").unwrap();
        let composite = check_digit(&format!("L898902C<369080619406236ZE184226B<<<<<{optional}")).unwrap();
        let line2 = format!("{head}{optional}{composite}");
        let mrz = Mrz::from_lines(&["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", line2.as_str()]).unwrap();
        assert_eq!(mrz_information(&mrz).as_str(), "L898902C<369080619406236");
        let keys = access_keys("L898902C<369080619406236");
        assert_eq!(*keys.k_enc, arr::<16>("AB94FDECF2674FDFB9B391F85D7F76F2"));
        assert_eq!(*keys.k_mac, arr::<16>("7962D9ECE03D1ACD4C76089DCE131543"));

        // D.3: mutual authentication.
        let auth = Authentication::new(
            keys,
            arr("4608F91988702212"),
            arr("781723860C06C226"),
            arr("0B795240CB7049B01C19B33E32804F0B"),
        );
        assert_eq!(
            auth.command_data().unwrap(),
            h("72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2 5F1448EEA8AD90A7")
        );
        let mut sm = auth
            .finish(&h("46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F 2F2D235D074D7449"))
            .unwrap();
        assert_eq!(sm.ssc(), arr::<8>("887022120C06C226"));
        assert_eq!(sm.ks_enc_for_test(), arr::<16>("979EC13B1CBFE9DCD01AB0FED307EAE5"));
        assert_eq!(sm.ks_mac_for_test(), arr::<16>("F1CB1F1FB5ADF208806B89DC579DC1F8"));

        // D.4: SELECT EF.COM, READ BINARY of its first 4 bytes, then of the remaining 18.
        let select = CommandApdu::new(0x00, 0xA4, 0x02, 0x0C).with_data(vec![0x01, 0x1E]);
        let wrapped = sm.wrap(&select).unwrap();
        assert_eq!(wrapped.encode().unwrap(), h("0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800"));
        let answer = sm.unwrap(&ResponseApdu::parse(&h("990290008E08FA855A5D4C50A8ED9000")).unwrap()).unwrap();
        assert_eq!((answer.data.len(), answer.sw), (0, 0x9000));

        let read = CommandApdu::new(0x00, 0xB0, 0x00, 0x00).with_le(4);
        assert_eq!(sm.wrap(&read).unwrap().encode().unwrap(), h("0CB000000D9701048E08ED6705417E96BA5500"));
        let answer = sm
            .unwrap(&ResponseApdu::parse(&h("8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000")).unwrap())
            .unwrap();
        assert_eq!((answer.data, answer.sw), (h("60145F01"), 0x9000));

        let read = CommandApdu::new(0x00, 0xB0, 0x00, 0x04).with_le(0x12);
        assert_eq!(sm.wrap(&read).unwrap().encode().unwrap(), h("0CB000040D9701128E082EA28A70F3C7B53500"));
        let answer = sm
            .unwrap(
                &ResponseApdu::parse(&h(
                    "871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000",
                ))
                .unwrap(),
            )
            .unwrap();
        assert_eq!(answer.data, h("04303130365F36063034303030305C026175"));
        assert_eq!(sm.ssc(), arr::<8>("887022120C06C22C"));
    }

    #[test]
    fn altered_answer_is_refused() {
        let keys = access_keys("L898902C<369080619406236");
        let auth = Authentication::new(keys, [1; 8], [2; 8], [3; 16]);
        let mut answer = h("46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F 2F2D235D074D7449");
        assert!(matches!(auth.finish(&answer), Err(BacError::ChallengeMismatch)));
        answer[0] ^= 1;
        let auth = Authentication::new(access_keys("L898902C<369080619406236"), [1; 8], [2; 8], [3; 16]);
        assert_eq!(auth.finish(&answer).err(), Some(BacError::BadMac));
    }
}
