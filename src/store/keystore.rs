//! The key-encryption key (KEK) — a systemd credential on a kiosk (`crate::keys::credential`),
//! a 0600 file in the demo and tests — and the data keys it wraps, which live in the
//! `data_keys` table. The audit chain's key is derived from the KEK. Rotation (`Store::rotate_data_key_if_due`) inserts a new row and
//! retires the old one, which stays openable so old records remain readable until purged.

use crate::keys::file::{read_secret, write_new_secret, KeyFileError};
use super::seal::{seal, DataKey, KeyId, KeyRing, SealContext};
use rusqlite::{params, Connection, TransactionBehavior};
use std::path::Path;
use zeroize::Zeroizing;
use thiserror::Error;

/// Marks sealed values made with the KEK itself.
const KEK_ID: KeyId = KeyId(0);

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyStoreError {
    #[error("key-encryption key: {0}")]
    File(#[from] KeyFileError),
    #[error("the key-encryption key {origin} does not open data key {key_id} of this database: it is the wrong key for this database; restore the right one (without it the sealed data cannot be read)")]
    WrongKek { origin: String, key_id: u32 },
    #[error("data_keys row {key_id} is corrupt; restore the database from backup")]
    CorruptKeyRow { key_id: i64 },
    #[error("cannot wrap a data key: {0}")]
    Seal(#[from] super::seal::SealError),
    #[error("data_keys table: {0}")]
    Database(#[from] rusqlite::Error),
}

/// HKDF label of the audit chain key.
const AUDIT_KEY_INFO: &[u8] = b"kiosk audit chain v1";
/// HKDF label of the enrolment look-up key (the duplicate check's keyed hashes).
const LOOKUP_KEY_INFO: &[u8] = b"kiosk enrolment lookup v1";

/// Holds the KEK (zeroized on drop via `DataKey`).
#[derive(Clone)]
pub struct KeyStore {
    kek: DataKey,
    /// Where the KEK came from, for messages (a path or a credential name; never the key).
    origin: String,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore").field("kek", &self.origin).finish_non_exhaustive()
    }
}

/// The key of the audit hash chain (HMAC-SHA256), derived from the KEK: whoever holds only the
/// database cannot recompute the chain. Zeroized on drop.
#[derive(Clone)]
pub struct AuditKey(pub(crate) Zeroizing<[u8; 32]>);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

impl KeyStore {
    /// Creates a new KEK file (mode 0600); fails if one exists.
    pub fn create(kek_path: &Path) -> Result<KeyStore, KeyStoreError> {
        let kek = DataKey::generate();
        write_new_secret(kek_path, kek.as_bytes())?;
        tracing::info!(path = %kek_path.display(), "created key-encryption key");
        Ok(KeyStore { kek, origin: kek_path.display().to_string() })
    }

    /// A KEK obtained elsewhere (a systemd credential); `origin` names it in messages.
    pub fn from_secret(secret: &[u8; 32], origin: impl Into<String>) -> KeyStore {
        KeyStore { kek: DataKey::from_bytes(secret), origin: origin.into() }
    }

    /// The KEK's bytes, to seal it for a credential at provisioning (zeroized on drop).
    pub fn kek_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(*self.kek.as_bytes())
    }

    /// HKDF-SHA256(KEK, info = "kiosk audit chain v1").
    pub fn audit_key(&self) -> AuditKey {
        let mut out = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
        let _ = hkdf::Hkdf::<sha2::Sha256>::new(None, self.kek.as_bytes()).expand(AUDIT_KEY_INFO, &mut out[..]);
        AuditKey(out)
    }

    /// HKDF-SHA256(KEK, info = "kiosk enrolment lookup v1"): stable across data-key rotations,
    /// so an enrolment stays findable until retention purges it.
    pub fn lookup_key(&self) -> super::LookupKey {
        let mut out = Zeroizing::new([0u8; 32]);
        let _ = hkdf::Hkdf::<sha2::Sha256>::new(None, self.kek.as_bytes()).expand(LOOKUP_KEY_INFO, &mut out[..]);
        super::LookupKey(out)
    }

    /// Opens an existing KEK file, refusing one readable by group or others.
    pub fn open(kek_path: &Path) -> Result<KeyStore, KeyStoreError> {
        let secret = read_secret(kek_path)?;
        Ok(KeyStore { kek: DataKey::from_bytes(&secret), origin: kek_path.display().to_string() })
    }

    pub fn open_or_create(kek_path: &Path) -> Result<KeyStore, KeyStoreError> {
        match KeyStore::open(kek_path) {
            Err(KeyStoreError::File(KeyFileError::NotFound { .. })) => KeyStore::create(kek_path),
            other => other,
        }
    }

    fn context(key_id: &str) -> SealContext<'_> {
        SealContext { table: "data_keys", column: "wrapped_key", record_id: key_id }
    }

    /// Wraps a data key for storage as row `key_id` (also kiosk-core's PostgreSQL `data_keys`).
    pub fn wrap(&self, key_id: KeyId, key: &DataKey) -> Result<Vec<u8>, KeyStoreError> {
        let id = key_id.0.to_string();
        Ok(seal(KEK_ID, &self.kek, &KeyStore::context(&id), key.as_bytes())?)
    }

    /// Unwraps what [`KeyStore::wrap`] made for row `key_id`.
    pub fn unwrap_key(&self, key_id: KeyId, wrapped: &[u8]) -> Result<DataKey, KeyStoreError> {
        let id = key_id.0.to_string();
        let mut ring = KeyRing::default();
        ring.insert(KEK_ID, self.kek.clone());
        let plain = ring
            .open(&KeyStore::context(&id), wrapped)
            .map_err(|_| KeyStoreError::WrongKek { origin: self.origin.clone(), key_id: key_id.0 })?;
        let bytes: &[u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| KeyStoreError::CorruptKeyRow { key_id: i64::from(key_id.0) })?;
        Ok(DataKey::from_bytes(bytes))
    }

    /// Generates a data key and stores it wrapped as row `key_id`, inside the caller's
    /// transaction.
    pub(crate) fn add_data_key(
        &self,
        tx: &rusqlite::Transaction<'_>,
        key_id: KeyId,
        now_ms: i64,
    ) -> Result<DataKey, KeyStoreError> {
        let key = DataKey::generate();
        tx.execute(
            "INSERT INTO data_keys (key_id, wrapped_key, created_at) VALUES (?1, ?2, ?3)",
            params![key_id.0, self.wrap(key_id, &key)?, now_ms],
        )?;
        Ok(key)
    }

    /// Unwraps every data key; creates the first one for a new database.
    pub(crate) fn load_ring(&self, conn: &mut Connection, now_ms: i64) -> Result<KeyRing, KeyStoreError> {
        // Immediate: two processes opening a new database must not both create key 1.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rows: Vec<(i64, Vec<u8>)> = tx
            .prepare("SELECT key_id, wrapped_key FROM data_keys ORDER BY key_id")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut ring = KeyRing::default();
        for (id, wrapped) in rows {
            let key_id = u32::try_from(id).map_err(|_| KeyStoreError::CorruptKeyRow { key_id: id })?;
            ring.insert(KeyId(key_id), self.unwrap_key(KeyId(key_id), &wrapped)?);
        }
        if ring.is_empty() {
            let key_id = KeyId(1);
            let key = self.add_data_key(&tx, key_id, now_ms)?;
            ring.insert(key_id, key);
            tracing::info!(key_id = key_id.0, "created first data key");
        }
        tx.commit()?;
        Ok(ring)
    }
}
