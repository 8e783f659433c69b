//! The block ciphers of ICAO 9303 Part 11 §9.7–9.8 behind one type: 3DES (BAC, PACE and Chip
//! Authentication with 3DES) and AES-128/192/256 (PACE and Chip Authentication with AES).
//! Key derivation, CBC encryption without padding, the send-sequence-counter IV of AES secure
//! messaging, and the MAC (retail MAC for 3DES, AES-CMAC truncated to 8 bytes).

use openssl::pkey::PKey;
use openssl::sign::Signer;
use openssl::symm::{Cipher as OsslCipher, Crypter, Mode};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::des3;

/// A symmetric session cipher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cipher {
    Tdes,
    Aes128,
    Aes192,
    Aes256,
}

/// Key derivation counters (9303-11 §9.7.1).
pub const KDF_ENC: u32 = 1;
pub const KDF_MAC: u32 = 2;
pub const KDF_PACE: u32 = 3;

/// A secret key, wiped when dropped.
pub type SecretKey = Zeroizing<Vec<u8>>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {0:?} operation failed: bad key or data length")]
pub struct CipherError(pub &'static str);

impl Cipher {
    pub fn block_len(self) -> usize {
        match self {
            Self::Tdes => 8,
            _ => 16,
        }
    }

    pub fn key_len(self) -> usize {
        match self {
            Self::Tdes | Self::Aes128 => 16,
            Self::Aes192 => 24,
            Self::Aes256 => 32,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Tdes => "3DES",
            Self::Aes128 => "AES-128",
            Self::Aes192 => "AES-192",
            Self::Aes256 => "AES-256",
        }
    }

    /// KDF(K, c): SHA-1 for 3DES and AES-128, SHA-256 for AES-192/256, cut to the key length;
    /// 3DES keys get their parity bits set.
    pub fn kdf(self, secret: &[u8], counter: u32) -> SecretKey {
        if self == Self::Tdes {
            return Zeroizing::new(des3::derive_key(secret, counter).to_vec());
        }
        let mut digest = match self {
            Self::Aes128 => {
                let mut h = Sha1::new();
                h.update(secret);
                h.update(counter.to_be_bytes());
                h.finalize().to_vec()
            }
            _ => {
                let mut h = Sha256::new();
                h.update(secret);
                h.update(counter.to_be_bytes());
                h.finalize().to_vec()
            }
        };
        let key = Zeroizing::new(digest.get(..self.key_len()).unwrap_or_default().to_vec());
        zeroize::Zeroize::zeroize(&mut digest);
        key
    }

    fn openssl_cbc(self) -> OsslCipher {
        match self {
            Self::Tdes => OsslCipher::des_ede3_cbc(),
            Self::Aes128 => OsslCipher::aes_128_cbc(),
            Self::Aes192 => OsslCipher::aes_192_cbc(),
            Self::Aes256 => OsslCipher::aes_256_cbc(),
        }
    }

    fn openssl_key(self, key: &[u8]) -> Result<SecretKey, CipherError> {
        if key.len() != self.key_len() {
            return Err(CipherError("key"));
        }
        Ok(match self {
            // Two-key 3DES: K1 ‖ K2 ‖ K1.
            Self::Tdes => Zeroizing::new([key, key.get(..8).unwrap_or_default()].concat()),
            _ => Zeroizing::new(key.to_vec()),
        })
    }

    fn cbc(self, mode: Mode, key: &[u8], iv: &[u8], data: &[u8]) -> Result<Vec<u8>, CipherError> {
        if data.len() % self.block_len() != 0 || iv.len() != self.block_len() {
            return Err(CipherError("CBC"));
        }
        let key = self.openssl_key(key)?;
        let mut crypter =
            Crypter::new(self.openssl_cbc(), mode, &key, Some(iv)).map_err(|_| CipherError("CBC"))?;
        crypter.pad(false);
        let mut out = vec![0u8; data.len() + self.block_len()];
        let n = crypter.update(data, &mut out).map_err(|_| CipherError("CBC"))?;
        let m = crypter.finalize(out.get_mut(n..).unwrap_or_default()).map_err(|_| CipherError("CBC"))?;
        out.truncate(n + m);
        Ok(out)
    }

    /// CBC encryption of whole blocks with `iv`.
    pub fn encrypt(self, key: &[u8], iv: &[u8], data: &[u8]) -> Result<Vec<u8>, CipherError> {
        self.cbc(Mode::Encrypt, key, iv, data)
    }

    /// CBC decryption of whole blocks with `iv`.
    pub fn decrypt(self, key: &[u8], iv: &[u8], data: &[u8]) -> Result<Vec<u8>, CipherError> {
        self.cbc(Mode::Decrypt, key, iv, data)
    }

    /// The all-zero IV (PACE nonce, 3DES secure messaging).
    pub fn zero_iv(self) -> Vec<u8> {
        vec![0; self.block_len()]
    }

    /// The IV of secure messaging: zero for 3DES, E(KSenc, SSC) for AES (§9.8.6.1).
    pub fn sm_iv(self, ks_enc: &[u8], ssc: &[u8]) -> Result<Vec<u8>, CipherError> {
        match self {
            Self::Tdes => Ok(self.zero_iv()),
            _ => self.encrypt(ks_enc, &self.zero_iv(), ssc),
        }
    }

    /// Padding method 2 to this cipher's block.
    pub fn pad(self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + self.block_len());
        out.extend_from_slice(data);
        out.push(0x80);
        while out.len() % self.block_len() != 0 {
            out.push(0);
        }
        out
    }

    /// Strips padding method 2; `None` when absent or malformed.
    pub fn unpad(self, data: &[u8]) -> Option<&[u8]> {
        let marker = data.iter().rposition(|&b| b != 0)?;
        if data.len() - marker > self.block_len() || data.get(marker) != Some(&0x80) {
            return None;
        }
        data.get(..marker)
    }

    /// The 8-byte MAC over `data`, which the caller has padded: retail MAC (3DES) or AES-CMAC.
    pub fn mac(self, key: &[u8], data: &[u8]) -> Result<[u8; 8], CipherError> {
        match self {
            Self::Tdes => {
                let key: &[u8; 16] = key.try_into().map_err(|_| CipherError("MAC key"))?;
                des3::mac(key, data).ok_or(CipherError("MAC"))
            }
            _ => {
                let full = self.cmac(key, data)?;
                let mut out = [0u8; 8];
                out.copy_from_slice(full.get(..8).ok_or(CipherError("CMAC"))?);
                Ok(out)
            }
        }
    }

    /// AES-CMAC (NIST SP 800-38B), all 16 bytes.
    pub fn cmac(self, key: &[u8], data: &[u8]) -> Result<Vec<u8>, CipherError> {
        let key = self.openssl_key(key)?;
        let pkey = PKey::cmac(&self.openssl_cbc(), &key).map_err(|_| CipherError("CMAC"))?;
        let mut signer = Signer::new_without_digest(&pkey).map_err(|_| CipherError("CMAC"))?;
        signer.update(data).map_err(|_| CipherError("CMAC"))?;
        signer.sign_to_vec().map_err(|_| CipherError("CMAC"))
    }
}

#[cfg(test)]
pub(crate) fn h(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    hex::decode(s).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 9303-11 Appendix D: the 3DES KDF agrees with BAC's.
    #[test]
    fn kdf_3des_is_bacs() {
        let seed = h("0036D272F5C350ACAC50C3F572D23600");
        assert_eq!(*Cipher::Tdes.kdf(&seed, KDF_ENC), h("979EC13B1CBFE9DCD01AB0FED307EAE5"));
        assert_eq!(*Cipher::Tdes.kdf(&seed, KDF_MAC), h("F1CB1F1FB5ADF208806B89DC579DC1F8"));
    }

    /// RFC 4493 example 2 (AES-128 CMAC of one block).
    #[test]
    fn cmac_rfc4493() {
        let key = h("2b7e151628aed2a6abf7158809cf4f3c");
        let mac = Cipher::Aes128.cmac(&key, &h("6bc1bee22e409f96e93d7e117393172a")).unwrap();
        assert_eq!(mac, h("070a16b46b4d4144f79bdd9dd04a287c"));
    }

    /// The 3DES retail MAC of Appendix D.4 through this type.
    #[test]
    fn retail_mac_appendix_d() {
        let key = h("F1CB1F1FB5ADF208806B89DC579DC1F8");
        let n = h("887022120C06C2270CA4020C800000008709016375432908C044F68000000000");
        assert_eq!(Cipher::Tdes.mac(&key, &n).unwrap().to_vec(), h("BF8B92D635FF24F8"));
        let enc = Cipher::Tdes.encrypt(&h("979EC13B1CBFE9DCD01AB0FED307EAE5"), &[0; 8], &h("011E800000000000"));
        assert_eq!(enc.unwrap(), h("6375432908C044F6"));
    }

    proptest! {
        #[test]
        fn cbc_round_trip(key in any::<[u8; 32]>(), data in proptest::collection::vec(any::<u8>(), 0..80), which in 0usize..4) {
            let cipher = [Cipher::Tdes, Cipher::Aes128, Cipher::Aes192, Cipher::Aes256][which];
            let key = &key[..cipher.key_len()];
            let padded = cipher.pad(&data);
            let iv = vec![7u8; cipher.block_len()];
            let enc = cipher.encrypt(key, &iv, &padded).unwrap();
            let dec = cipher.decrypt(key, &iv, &enc).unwrap();
            prop_assert_eq!(cipher.unpad(&dec), Some(&data[..]));
        }

        #[test]
        fn unpad_never_panics(data in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = Cipher::Aes128.unpad(&data);
            let _ = Cipher::Tdes.unpad(&data);
        }
    }
}
