//! The simulated chip's own ICAO 9303 Part 11 symmetric cryptography: BAC's 3DES, the KDF of
//! §9.7 for 3DES and AES, and secure messaging with either cipher (§9.8).
//!
//! Written independently of the host's `identity::bac`/`identity::sm`, so that a mistake made
//! on one side is not silently mirrored on the other; both are checked against Appendices D, G.

use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use des::{Des, TdesEde2};
use sha1::{Digest, Sha1};

/// Two-key 3DES key (K1 ‖ K2).
pub type Key16 = [u8; 16];

/// KDF of Part 11 §9.7.1 for 3DES: the first 16 bytes of SHA-1(seed ‖ counter).
pub fn derive_key(seed: &[u8], counter: u32) -> Key16 {
    let mut h = Sha1::new();
    h.update(seed);
    h.update(counter.to_be_bytes());
    let digest = h.finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// ISO/IEC 9797-1 padding method 2: 0x80 then zeros to a multiple of 8.
pub fn pad(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    out.push(0x80);
    while out.len() % 8 != 0 {
        out.push(0);
    }
    out
}

/// Removes method-2 padding; `None` when it is malformed.
pub fn unpad(data: &[u8]) -> Option<Vec<u8>> {
    let end = data.iter().rposition(|&b| b != 0)?;
    (data.get(end) == Some(&0x80)).then(|| data.get(..end).unwrap_or_default().to_vec())
}

/// 3DES-CBC with a zero IV; `data` must be whole blocks (it is, after `pad`).
pub fn encrypt(key: &Key16, data: &[u8]) -> Vec<u8> {
    let Ok(cipher) = TdesEde2::new_from_slice(key) else { return Vec::new() };
    let mut chain = [0u8; 8];
    let mut out = Vec::with_capacity(data.len());
    for block in data.chunks(8) {
        let mut b = GenericArray::clone_from_slice(&xor8(&chain, block));
        cipher.encrypt_block(&mut b);
        chain.copy_from_slice(&b);
        out.extend_from_slice(&b);
    }
    out
}

pub fn decrypt(key: &Key16, data: &[u8]) -> Vec<u8> {
    let Ok(cipher) = TdesEde2::new_from_slice(key) else { return Vec::new() };
    let mut chain = [0u8; 8];
    let mut out = Vec::with_capacity(data.len());
    for block in data.chunks(8) {
        let mut b = GenericArray::clone_from_slice(&xor8(&[0; 8], block));
        cipher.decrypt_block(&mut b);
        out.extend_from_slice(&xor8(&chain, &b));
        chain = xor8(&[0; 8], block);
    }
    out
}

/// ISO/IEC 9797-1 MAC algorithm 3 (retail MAC) with DES, over already padded `data`.
pub fn retail_mac(key: &Key16, data: &[u8]) -> [u8; 8] {
    let (Ok(ka), Ok(kb)) = (Des::new_from_slice(&key[..8]), Des::new_from_slice(&key[8..])) else {
        return [0; 8];
    };
    let mut h = [0u8; 8];
    for block in data.chunks(8) {
        let mut b = GenericArray::clone_from_slice(&xor8(&h, block));
        ka.encrypt_block(&mut b);
        h.copy_from_slice(&b);
    }
    let mut b = GenericArray::clone_from_slice(&h);
    kb.decrypt_block(&mut b);
    ka.encrypt_block(&mut b);
    h.copy_from_slice(&b);
    h
}

/// XOR of two blocks; a short `b` is zero-extended.
fn xor8(a: &[u8; 8], b: &[u8]) -> [u8; 8] {
    let mut out = *a;
    for (o, x) in out.iter_mut().zip(b) {
        *o ^= x;
    }
    out
}

/// The block cipher of a PACE or Chip Authentication suite (Part 11 Tables 2, 3, 5, 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    Tdes,
    Aes128,
    Aes192,
    Aes256,
}

impl Cipher {
    pub fn key_len(self) -> usize {
        match self {
            Self::Tdes | Self::Aes128 => 16,
            Self::Aes192 => 24,
            Self::Aes256 => 32,
        }
    }

    pub fn block_len(self) -> usize {
        if self == Self::Tdes {
            8
        } else {
            16
        }
    }

    /// KDF(K, c) of §9.7.1: SHA-1 for 3DES and AES-128, SHA-256 for AES-192/256, truncated.
    pub fn kdf(self, secret: &[u8], counter: u32) -> Vec<u8> {
        let digest = match self {
            Self::Tdes | Self::Aes128 => {
                let mut h = Sha1::new();
                h.update(secret);
                h.update(counter.to_be_bytes());
                h.finalize().to_vec()
            }
            Self::Aes192 | Self::Aes256 => {
                let mut h = sha2::Sha256::new();
                h.update(secret);
                h.update(counter.to_be_bytes());
                h.finalize().to_vec()
            }
        };
        digest.get(..self.key_len()).unwrap_or_default().to_vec()
    }

    fn openssl_cbc(self) -> openssl::symm::Cipher {
        use openssl::symm::Cipher as C;
        match self {
            // Two-key 3DES as three-key K1 ‖ K2 ‖ K1 (in `cbc`).
            Self::Tdes => C::des_ede3_cbc(),
            Self::Aes128 => C::aes_128_cbc(),
            Self::Aes192 => C::aes_192_cbc(),
            Self::Aes256 => C::aes_256_cbc(),
        }
    }

    /// CBC over whole blocks with `iv`, no padding; empty on a wrong key length or a partial
    /// block (the simulator's own data always fits).
    fn cbc(self, mode: openssl::symm::Mode, key: &[u8], iv: &[u8], data: &[u8]) -> Vec<u8> {
        let run = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
            let key: Vec<u8> = match self {
                Self::Tdes => key.iter().chain(key.get(..8).unwrap_or_default()).copied().collect(),
                _ => key.to_vec(),
            };
            let mut crypter = openssl::symm::Crypter::new(self.openssl_cbc(), mode, &key, Some(iv))?;
            crypter.pad(false);
            let mut out = vec![0; data.len() + self.block_len()];
            let mut n = crypter.update(data, &mut out)?;
            n += crypter.finalize(&mut out[n..])?;
            out.truncate(n);
            Ok(out)
        };
        if key.len() != self.key_len() || data.len() % self.block_len() != 0 {
            return Vec::new();
        }
        run().unwrap_or_default()
    }

    pub fn cbc_encrypt(self, key: &[u8], iv: &[u8], data: &[u8]) -> Vec<u8> {
        self.cbc(openssl::symm::Mode::Encrypt, key, iv, data)
    }

    pub fn cbc_decrypt(self, key: &[u8], iv: &[u8], data: &[u8]) -> Vec<u8> {
        self.cbc(openssl::symm::Mode::Decrypt, key, iv, data)
    }

    /// The 8-byte MAC of the suite: retail MAC over `data` padded (3DES), or AES-CMAC
    /// (SP 800-38B) truncated; the caller pads for secure messaging, tokens are MACed as they
    /// are (§4.4.3.4).
    pub fn mac(self, key: &[u8], data: &[u8]) -> [u8; 8] {
        if self == Self::Tdes {
            return key.try_into().map(|k: Key16| retail_mac(&k, &pad(data))).unwrap_or([0; 8]);
        }
        let cmac = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
            let pkey = openssl::pkey::PKey::cmac(&self.openssl_cbc(), key)?;
            let mut signer = openssl::sign::Signer::new_without_digest(&pkey)?;
            signer.update(data)?;
            signer.sign_to_vec()
        };
        let mut out = [0u8; 8];
        if let Some(tag) = cmac().ok().as_deref().and_then(|t| t.get(..8)) {
            out.copy_from_slice(tag);
        }
        out
    }
}

/// ISO/IEC 9797-1 padding method 2 to a multiple of `block` bytes.
pub fn pad_to(data: &[u8], block: usize) -> Vec<u8> {
    let mut out = data.to_vec();
    out.push(0x80);
    while out.len() % block.max(1) != 0 {
        out.push(0);
    }
    out
}

/// Secure messaging session keys and send sequence counter (§9.8): 3DES with an 8-byte SSC
/// and a zero IV, or AES with a 16-byte SSC, IV = E(KS_enc, SSC) and CMAC.
#[derive(Clone)]
pub struct SmSession {
    pub cipher: Cipher,
    pub ks_enc: Vec<u8>,
    pub ks_mac: Vec<u8>,
    pub ssc: Vec<u8>,
}

impl SmSession {
    /// Keys from a shared secret (PACE, Chip Authentication): KDF counters 1 and 2, SSC zero.
    pub fn from_secret(cipher: Cipher, secret: &[u8]) -> Self {
        Self::new(cipher, cipher.kdf(secret, 1), cipher.kdf(secret, 2), vec![0; cipher.block_len()])
    }

    pub fn new(cipher: Cipher, ks_enc: Vec<u8>, ks_mac: Vec<u8>, ssc: Vec<u8>) -> Self {
        Self { cipher, ks_enc, ks_mac, ssc }
    }

    pub fn increment(&mut self) {
        for byte in self.ssc.iter_mut().rev() {
            let (next, carry) = byte.overflowing_add(1);
            *byte = next;
            if !carry {
                break;
            }
        }
    }

    fn iv(&self) -> Vec<u8> {
        match self.cipher {
            Cipher::Tdes => vec![0; 8],
            aes => aes.cbc_encrypt(&self.ks_enc, &[0; 16], &self.ssc),
        }
    }

    /// Encrypts padded plain data under the current SSC.
    pub fn encrypt(&self, plain: &[u8]) -> Vec<u8> {
        let block = self.cipher.block_len();
        self.cipher.cbc_encrypt(&self.ks_enc, &self.iv(), &pad_to(plain, block))
    }

    /// Decrypts and unpads; `None` when malformed.
    pub fn decrypt(&self, cryptogram: &[u8]) -> Option<Vec<u8>> {
        if cryptogram.is_empty() || cryptogram.len() % self.cipher.block_len() != 0 {
            return None;
        }
        unpad(&self.cipher.cbc_decrypt(&self.ks_enc, &self.iv(), cryptogram))
    }

    /// MAC over SSC ‖ `data`, padded to the block length.
    pub fn mac(&self, data: &[u8]) -> [u8; 8] {
        let mut n = self.ssc.clone();
        n.extend_from_slice(data);
        let n = pad_to(&n, self.cipher.block_len());
        match self.cipher {
            // retail_mac pads itself in Cipher::mac; here the data is padded already.
            Cipher::Tdes => self.ks_mac.as_slice().try_into().map(|k: Key16| retail_mac(&k, &n)).unwrap_or([0; 8]),
            aes => aes.mac(&self.ks_mac, &n),
        }
    }

    /// The command header padded to a block, as it enters the MAC.
    pub fn padded_header(&self, header: &[u8]) -> Vec<u8> {
        pad_to(header, self.cipher.block_len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// Doc 9303 Part 11 Appendix D.1/D.3: the chip's side of the worked example.
    #[test]
    fn appendix_d_chip_side() {
        let seed = h("239AB9CB282DAF66231DC5A4DF6BFBAE");
        let k_enc = derive_key(&seed, 1);
        let k_mac = derive_key(&seed, 2);
        // Appendix D prints parity-adjusted keys; DES ignores the parity bits.
        let parity = |k: Key16| k.map(|b| b & 0xFE);
        assert_eq!(parity(k_enc).to_vec(), parity(h("AB94FDECF2674FDFB9B391F85D7F76F2").try_into().unwrap()));
        assert_eq!(parity(k_mac).to_vec(), parity(h("7962D9ECE03D1ACD4C76089DCE131543").try_into().unwrap()));
        let s = h("781723860C06C2264608F919887022120B795240CB7049B01C19B33E32804F0B");
        let e_ifd = encrypt(&k_enc, &s);
        assert_eq!(e_ifd, h("72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2"));
        assert_eq!(retail_mac(&k_mac, &pad(&e_ifd)).to_vec(), h("5F1448EEA8AD90A7"));
        let r = h("4608F91988702212781723860C06C2260B4F80323EB3191CB04970CB4052790B");
        let e_ic = encrypt(&k_enc, &r);
        assert_eq!(e_ic, h("46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F"));
        assert_eq!(retail_mac(&k_mac, &pad(&e_ic)).to_vec(), h("2F2D235D074D7449"));
        assert_eq!(decrypt(&k_enc, &e_ic), r);
    }

    /// Appendix G.1: the chip's nonce encryption under Kπ from the MRZ, and AES session keys.
    #[test]
    fn appendix_g1_nonce_and_keys() {
        let k = h("7E2D2A41C74EA0B38CD36F863939BFA8E9032AAD");
        let k_pi = Cipher::Aes128.kdf(&k, 3);
        assert_eq!(k_pi, h("89DED1B26624EC1E634C1989302849DD"));
        let s = h("3F00C4D39D153F2B2A214A078D899B22");
        assert_eq!(Cipher::Aes128.cbc_encrypt(&k_pi, &[0; 16], &s), h("95A3A016522EE98D01E76CB6B98B42C3"));
        let sm = SmSession::from_secret(
            Cipher::Aes128,
            &h("28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925"),
        );
        assert_eq!(sm.ks_enc, h("F5F0E35C0D7161EE6724EE513A0D9A7F"));
        assert_eq!(sm.ks_mac, h("FE251C7858B356B24514B3BD5F4297D1"));
        assert_eq!(sm.ssc, vec![0; 16]);
    }

    /// Appendix H: Kπ from the CAN 123456 (the appendix calls it MRZ-derived; it is not).
    #[test]
    fn appendix_h_kpi_from_can() {
        assert_eq!(Cipher::Aes128.kdf(b"123456", 3), h("591468CDA83D65219CCCB8560233600F"));
        let z = Cipher::Aes128.cbc_encrypt(&h("591468CDA83D65219CCCB8560233600F"), &[0; 16], &h("2923BE84E16CD6AE529049F1F1BBE9EB"));
        assert_eq!(z, h("143DC40C08C8E891FBED7DEDB92B64AD"));
    }

    /// Appendix D.4 with the generic session: 3DES secure messaging of SELECT EF.COM.
    #[test]
    fn appendix_d4_with_session() {
        let mut sm = SmSession::new(
            Cipher::Tdes,
            h("979EC13B1CBFE9DCD01AB0FED307EAE5"),
            h("F1CB1F1FB5ADF208806B89DC579DC1F8"),
            h("887022120C06C226"),
        );
        assert_eq!(sm.encrypt(&h("011E")), h("6375432908C044F6"));
        sm.increment();
        let mut m = sm.padded_header(&h("0CA4020C"));
        m.extend(h("8709016375432908C044F6"));
        assert_eq!(sm.mac(&m).to_vec(), h("BF8B92D635FF24F8"));
        sm.increment();
        assert_eq!(sm.mac(&h("99029000")).to_vec(), h("FA855A5D4C50A8ED"));
        assert_eq!(sm.decrypt(&h("6375432908C044F6")), Some(h("011E")));
    }

    #[test]
    fn ssc_increment_carries() {
        let mut sm = SmSession::new(Cipher::Aes128, vec![0; 16], vec![0; 16], vec![0, 0xFF, 0xFF]);
        sm.increment();
        assert_eq!(sm.ssc, vec![1, 0, 0]);
    }

    #[test]
    fn padding_round_trip() {
        for n in 0..20 {
            let data: Vec<u8> = (0..n).map(|i| i as u8 + 1).collect();
            assert_eq!(unpad(&pad(&data)).unwrap(), data);
        }
        assert_eq!(unpad(&[1, 2, 0, 0]), None);
    }
}
