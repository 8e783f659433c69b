//! Envelope encryption at rest, as on the kiosk: the key-encryption key (KEK) comes from a
//! root-only file (`--kek`, 32 bytes, mode 0600; `kiosk::store::KeyStore` refuses anything
//! looser), data keys live in `data_keys` wrapped by it, and every sealed value
//! (XChaCha20-Poly1305, `kiosk::store::seal`) is bound to its table, column and row.
//! The document-number blind index uses an HMAC key sealed by a data key.

use crate::db::{locks, Client};
use crate::error::CoreError;
use hmac::{Hmac, Mac};
use kiosk::store::seal::{KeyRing, SealContext};
use kiosk::store::{DataKey, KeyId, KeyStore};
use rand::RngCore;
use sha2::Sha256;
use std::path::Path;
use zeroize::Zeroizing;

pub struct CoreKeys {
    ring: KeyRing,
    index_key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for CoreKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CoreKeys(<redacted>)")
    }
}

const INDEX_KEY: &str = "document_index";

impl CoreKeys {
    /// Unwraps every data key with the KEK at `kek_path`; the first gateway on a new database
    /// creates data key 1 and the index key (under an advisory lock: two starting at once agree).
    pub async fn load(client: &mut Client, kek_path: &Path) -> Result<CoreKeys, CoreError> {
        let kek = KeyStore::open(kek_path)?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&locks::KEYS]).await?;
        let mut ring = KeyRing::default();
        for row in tx.query("SELECT key_id, wrapped_key FROM data_keys ORDER BY key_id", &[]).await? {
            let id: i32 = row.get(0);
            let wrapped: Vec<u8> = row.get(1);
            let id = KeyId(u32::try_from(id).map_err(|_| CoreError::Corrupt(format!("data key id {id}")))?);
            ring.insert(id, kek.unwrap_key(id, &wrapped)?);
        }
        if ring.is_empty() {
            let key = DataKey::generate();
            let wrapped = kek.wrap(KeyId(1), &key)?;
            tx.execute("INSERT INTO data_keys (key_id, wrapped_key) VALUES (1, $1)", &[&wrapped]).await?;
            ring.insert(KeyId(1), key);
            tracing::info!("created the first data key");
        }
        let ctx = SealContext { table: "index_keys", column: "key_sealed", record_id: INDEX_KEY };
        let sealed: Option<Vec<u8>> = tx
            .query_opt("SELECT key_sealed FROM index_keys WHERE name = $1", &[&INDEX_KEY])
            .await?
            .map(|r| r.get(0));
        let index_key = match sealed {
            Some(sealed) => ring.open(&ctx, &sealed)?,
            None => {
                let mut fresh = Zeroizing::new(vec![0u8; 32]);
                rand::rngs::OsRng.fill_bytes(&mut fresh);
                let sealed = ring.seal(&ctx, &fresh)?;
                tx.execute("INSERT INTO index_keys (name, key_sealed) VALUES ($1, $2)", &[&INDEX_KEY, &sealed]).await?;
                fresh
            }
        };
        tx.commit().await?;
        Ok(CoreKeys { ring, index_key })
    }

    pub fn seal(&self, table: &str, column: &str, record_id: &str, plain: &[u8]) -> Result<Vec<u8>, CoreError> {
        Ok(self.ring.seal(&SealContext { table, column, record_id }, plain)?)
    }

    pub fn open(&self, table: &str, column: &str, record_id: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CoreError> {
        Ok(self.ring.open(&SealContext { table, column, record_id }, sealed)?)
    }

    /// The blind index of a passport: the same nationality and number give the same value,
    /// which says nothing about the number without the index key.
    pub fn document_index(&self, nationality: &str, document_number: &str) -> Result<Vec<u8>, CoreError> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.index_key)
            .map_err(|_| CoreError::Corrupt("document index key".into()))?;
        mac.update(b"doc\0");
        mac.update(nationality.trim().to_ascii_uppercase().as_bytes());
        mac.update(b"\0");
        mac.update(document_number.trim().to_ascii_uppercase().as_bytes());
        Ok(mac.finalize().into_bytes().to_vec())
    }

    /// The 1:N search bucket of a birth date (as the kiosk splits its gallery): the same date
    /// gives the same value, which says nothing about the date without the index key.
    pub fn birth_index(&self, birth_date: &str) -> Result<[u8; 32], CoreError> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.index_key)
            .map_err(|_| CoreError::Corrupt("document index key".into()))?;
        mac.update(b"birth\0");
        mac.update(birth_date.trim().to_ascii_uppercase().as_bytes());
        Ok(mac.finalize().into_bytes().into())
    }
}
