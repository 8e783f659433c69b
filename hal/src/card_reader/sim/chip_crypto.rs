//! The simulated chip's own ICAO 9303 Part 11 cryptography (BAC, secure messaging).
//!
//! Written independently of the host's `identity::bac`/`identity::sm`, so that a mistake made
//! on one side is not silently mirrored on the other; both are checked against Appendix D.

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

/// Increments the send sequence counter (big-endian, wrapping).
pub fn increment(ssc: &mut [u8; 8]) {
    let next = u64::from_be_bytes(*ssc).wrapping_add(1);
    *ssc = next.to_be_bytes();
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

    #[test]
    fn padding_round_trip() {
        for n in 0..20 {
            let data: Vec<u8> = (0..n).map(|i| i as u8 + 1).collect();
            assert_eq!(unpad(&pad(&data)).unwrap(), data);
        }
        assert_eq!(unpad(&[1, 2, 0, 0]), None);
    }
}
