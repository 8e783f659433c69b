//! Sealed columns: XChaCha20-Poly1305 with a fresh random 192-bit nonce per record (random
//! nonces of that size cannot collide in practice), bound to where the value lives.
//!
//! Format: `version (1) || key id (4, big-endian) || nonce (24) || ciphertext+tag`.
//! Associated data: `kiosk-seal-v1 \0 table \0 column \0 record id \0 header`, so a sealed value
//! copied to another row, column or table, or relabelled with another key id, fails to open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use std::collections::BTreeMap;
use std::fmt;
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;

/// Identifies a data key in the `data_keys` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u32);

/// A 32-byte data key. Zeroized on drop; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; 32]);

impl DataKey {
    pub fn generate() -> DataKey {
        let mut key = DataKey([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(&mut key.0);
        key
    }

    pub(crate) fn from_bytes(bytes: &[u8; 32]) -> DataKey {
        DataKey(*bytes)
    }

    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// Where a sealed value lives; part of the associated data.
#[derive(Debug, Clone, Copy)]
pub struct SealContext<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub record_id: &'a str,
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SealError {
    #[error("sealed value is too short or has unknown format version; the database may be corrupt")]
    Malformed,
    #[error("sealed value uses data key {0:?}, which this kiosk does not have; restore the data_keys table or the key-encryption key")]
    UnknownKey(KeyId),
    #[error(
        "sealed value failed authentication: wrong key, or the value was altered or moved to another row"
    )]
    Authentication,
    #[error("value too large to seal")]
    TooLarge,
}

fn associated_data(ctx: &SealContext<'_>, header: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(64 + header.len());
    for part in ["kiosk-seal-v1", ctx.table, ctx.column, ctx.record_id] {
        aad.extend_from_slice(part.as_bytes());
        aad.push(0);
    }
    aad.extend_from_slice(header);
    aad
}

/// Encrypts under `key`, labelled `key_id`.
pub fn seal(
    key_id: KeyId,
    key: &DataKey,
    ctx: &SealContext<'_>,
    plaintext: &[u8],
) -> Result<Vec<u8>, SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + 16);
    out.push(VERSION);
    out.extend_from_slice(&key_id.0.to_be_bytes());
    out.extend_from_slice(&nonce);
    let aad = associated_data(ctx, &out);
    let ciphertext = key
        .cipher()
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad })
        .map_err(|_| SealError::TooLarge)?;
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// The key id a sealed value names, without opening it.
pub fn sealed_key_id(sealed: &[u8]) -> Result<KeyId, SealError> {
    if sealed.len() < HEADER_LEN + 16 || sealed[0] != VERSION {
        return Err(SealError::Malformed);
    }
    let mut id = [0u8; 4];
    id.copy_from_slice(&sealed[1..5]);
    Ok(KeyId(u32::from_be_bytes(id)))
}

/// All data keys this kiosk holds; the newest seals, any of them opens. Rotation adds a key
/// while old records stay readable until purged.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: BTreeMap<KeyId, DataKey>,
}

impl KeyRing {
    pub fn insert(&mut self, id: KeyId, key: DataKey) {
        self.keys.insert(id, key);
    }

    pub fn remove(&mut self, id: KeyId) {
        self.keys.remove(&id);
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn active_id(&self) -> Option<KeyId> {
        self.keys.keys().next_back().copied()
    }

    /// Seals with the newest key.
    pub fn seal(&self, ctx: &SealContext<'_>, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let (id, key) = self.keys.iter().next_back().ok_or(SealError::UnknownKey(KeyId(0)))?;
        seal(*id, key, ctx, plaintext)
    }

    pub fn open(&self, ctx: &SealContext<'_>, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let id = sealed_key_id(sealed)?;
        let key = self.keys.get(&id).ok_or(SealError::UnknownKey(id))?;
        let (header, ciphertext) = sealed.split_at(HEADER_LEN);
        let aad = associated_data(ctx, header);
        key.cipher()
            .decrypt(XNonce::from_slice(&header[5..]), Payload { msg: ciphertext, aad: &aad })
            .map(Zeroizing::new)
            .map_err(|_| SealError::Authentication)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: SealContext<'static> = SealContext { table: "t", column: "c", record_id: "r1" };

    #[test]
    fn roundtrip_fresh_nonce_and_binding() {
        let mut ring = KeyRing::default();
        ring.insert(KeyId(1), DataKey::generate());
        let a = ring.seal(&CTX, b"secret").unwrap();
        let b = ring.seal(&CTX, b"secret").unwrap();
        assert_ne!(a, b, "nonce must be fresh");
        assert_eq!(&ring.open(&CTX, &a).unwrap()[..], b"secret");
        let other_row = SealContext { record_id: "r2", ..CTX };
        assert!(matches!(ring.open(&other_row, &a), Err(SealError::Authentication)));
        let other_col = SealContext { column: "d", ..CTX };
        assert!(matches!(ring.open(&other_col, &a), Err(SealError::Authentication)));
        let mut flipped = a.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(matches!(ring.open(&CTX, &flipped), Err(SealError::Authentication)));
        assert!(matches!(ring.open(&CTX, &a[..10]), Err(SealError::Malformed)));
    }

    #[test]
    fn old_keys_still_open_after_rotation() {
        let mut ring = KeyRing::default();
        ring.insert(KeyId(1), DataKey::generate());
        let old = ring.seal(&CTX, b"old").unwrap();
        ring.insert(KeyId(2), DataKey::generate());
        let new = ring.seal(&CTX, b"new").unwrap();
        assert_eq!(sealed_key_id(&old).unwrap(), KeyId(1));
        assert_eq!(sealed_key_id(&new).unwrap(), KeyId(2));
        assert_eq!(&ring.open(&CTX, &old).unwrap()[..], b"old");
        let mut relabelled = old.clone();
        relabelled[1..5].copy_from_slice(&2u32.to_be_bytes());
        assert!(matches!(ring.open(&CTX, &relabelled), Err(SealError::Authentication)));
        assert!(!format!("{ring:?}").contains("0x"));
    }
}
