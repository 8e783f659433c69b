//! The 3DES primitives of ICAO 9303 Part 11 §9.7–9.8: key derivation, 3DES-CBC with a zero IV,
//! ISO/IEC 9797-1 padding method 2 and MAC algorithm 3 (the "retail MAC").

use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use des::{Des, TdesEde2};
use sha1::{Digest, Sha1};
use zeroize::Zeroizing;

/// A two-key 3DES key (K1 ‖ K2), wiped when dropped.
pub type Key = Zeroizing<[u8; 16]>;

pub const BLOCK: usize = 8;

/// KDF(K, c) for 3DES: the first 16 bytes of SHA-1(K ‖ c), parity bits adjusted.
/// `c` = 1 gives the encryption key, 2 the MAC key.
pub fn derive_key(seed: &[u8], counter: u32) -> Key {
    let mut hash = Sha1::new();
    hash.update(seed);
    hash.update(counter.to_be_bytes());
    let mut digest = hash.finalize();
    let mut key = Zeroizing::new([0u8; 16]);
    for (k, d) in key.iter_mut().zip(digest.iter()) {
        *k = with_odd_parity(*d);
    }
    digest.as_mut_slice().fill(0);
    key
}

/// DES keys carry odd parity in each byte's low bit (DES itself ignores it).
fn with_odd_parity(byte: u8) -> u8 {
    let high = byte & 0xFE;
    if high.count_ones() % 2 == 0 {
        high | 1
    } else {
        high
    }
}

/// Padding method 2: 0x80, then zeros up to a whole block.
pub fn pad(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + BLOCK);
    out.extend_from_slice(data);
    out.push(0x80);
    while out.len() % BLOCK != 0 {
        out.push(0);
    }
    out
}

/// Strips padding method 2; `None` when it is absent or malformed.
pub fn unpad(data: &[u8]) -> Option<&[u8]> {
    let marker = data.iter().rposition(|&b| b != 0)?;
    if data.len() - marker > BLOCK || data.get(marker) != Some(&0x80) {
        return None;
    }
    data.get(..marker)
}

fn xor_block(a: &[u8], b: &[u8]) -> [u8; BLOCK] {
    let mut out = [0u8; BLOCK];
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x ^ y;
    }
    out
}

/// 3DES-CBC encryption, zero IV. `None` unless `data` is whole blocks.
pub fn encrypt(key: &[u8; 16], data: &[u8]) -> Option<Vec<u8>> {
    cbc(key, data, |cipher, chain, block| {
        let mut b = GenericArray::from(xor_block(chain, block));
        cipher.encrypt_block(&mut b);
        chain.copy_from_slice(&b);
        b.into()
    })
}

/// 3DES-CBC decryption, zero IV. `None` unless `data` is whole blocks.
pub fn decrypt(key: &[u8; 16], data: &[u8]) -> Option<Vec<u8>> {
    cbc(key, data, |cipher, chain, block| {
        let mut b = GenericArray::clone_from_slice(block);
        cipher.decrypt_block(&mut b);
        let plain = xor_block(chain, &b);
        chain.copy_from_slice(block);
        plain
    })
}

/// Runs `step` (one block in, one out, updating the chaining value) over whole blocks.
fn cbc(
    key: &[u8; 16],
    data: &[u8],
    mut step: impl FnMut(&TdesEde2, &mut [u8; BLOCK], &[u8]) -> [u8; BLOCK],
) -> Option<Vec<u8>> {
    if data.len() % BLOCK != 0 {
        return None;
    }
    let cipher = TdesEde2::new_from_slice(key).ok()?;
    let mut chain = [0u8; BLOCK];
    let mut out = Vec::with_capacity(data.len());
    for block in data.chunks_exact(BLOCK) {
        out.extend_from_slice(&step(&cipher, &mut chain, block));
    }
    Some(out)
}

/// Retail MAC over `data`, which the caller has padded. `None` unless whole blocks.
pub fn mac(key: &[u8; 16], data: &[u8]) -> Option<[u8; BLOCK]> {
    if data.len() % BLOCK != 0 {
        return None;
    }
    let ka = Des::new_from_slice(key.get(..8)?).ok()?;
    let kb = Des::new_from_slice(key.get(8..)?).ok()?;
    let mut h = [0u8; BLOCK];
    for block in data.chunks_exact(BLOCK) {
        let mut b = GenericArray::from(xor_block(&h, block));
        ka.encrypt_block(&mut b);
        h.copy_from_slice(&b);
    }
    let mut b = GenericArray::from(h);
    kb.decrypt_block(&mut b);
    ka.encrypt_block(&mut b);
    h.copy_from_slice(&b);
    Some(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pad_unpad_round_trip(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let padded = pad(&data);
            prop_assert_eq!(padded.len() % BLOCK, 0);
            prop_assert_eq!(unpad(&padded), Some(&data[..]));
        }

        #[test]
        fn unpad_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = unpad(&data);
        }

        #[test]
        fn encrypt_decrypt_round_trip(key in any::<[u8; 16]>(), data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let padded = pad(&data);
            let enc = encrypt(&key, &padded).unwrap();
            prop_assert_eq!(decrypt(&key, &enc).unwrap(), padded);
        }
    }
}
