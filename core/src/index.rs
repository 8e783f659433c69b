//! The fleet's 1:N index: every face template in PostgreSQL, in memory as the kiosk's own
//! int8 gallery (`kiosk::vision::Gallery`: a scan reading 128 bytes a template, then an exact
//! re-score of the best candidates). Rebuilt from the database at start; caught up from
//! `face_templates.seq` under the admission lock, so every gateway's admission sees every
//! committed template.
//!
//! Split by birth date as the kiosk's `BucketedGallery` is: a probe is compared only with the
//! templates of holders born the same day, so the false-block rate depends on how many share a
//! birth date, not on the fleet's size (docs/CORE.md, docs/FACE-MATCHING.md).
//!
//! Admission is exact across gateways: the bucket's search runs outside the admission lock,
//! then, under it, the index is caught up and only the templates added since are searched
//! (`admission`).

use deadpool_postgres::GenericClient;
use std::collections::HashMap;
use crate::error::CoreError;
use crate::keys::CoreKeys;
use kiosk::vision::{Embedding, Gallery, EMBEDDING_LEN};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use uuid::Uuid;
use zeroize::Zeroizing;

/// The templates of one birth date, in `seq` order.
#[derive(Default)]
struct Bucket {
    gallery: Gallery,
    accounts: Vec<Uuid>,
}

#[derive(Default)]
struct Inner {
    buckets: HashMap<BirthIndex, Bucket>,
    len: usize,
    last_seq: i64,
}

/// The keyed hash of a birth date (`CoreKeys::birth_index`).
pub type BirthIndex = [u8; 32];

#[derive(Default)]
pub struct FleetIndex {
    inner: RwLock<Inner>,
    /// One catch-up at a time per process (two would push the same rows twice).
    catching_up: tokio::sync::Mutex<()>,
}

/// The best match of a probe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    pub account_id: Uuid,
    pub score: f32,
}

/// The template bytes as stored and sent: 128 little-endian f32.
pub fn decode_template(bytes: &[u8]) -> Option<Embedding> {
    if bytes.len() != EMBEDDING_LEN * 4 {
        return None;
    }
    let values = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    Embedding::from_values(values)
}

pub fn encode_template(template: &Embedding) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(template.as_slice().iter().flat_map(|v| v.to_le_bytes()).collect())
}

impl FleetIndex {
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // Only pushes happen under the write lock; a panic cannot leave half a row.
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn len(&self) -> usize {
        self.read().len
    }

    /// Templates in the fullest bucket (the comparisons of the worst-placed search).
    pub fn largest_bucket(&self) -> usize {
        self.read().buckets.values().map(|b| b.accounts.len()).max().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Loads every template committed since the last call (all of them the first time).
    /// Returns how many were added.
    pub async fn catch_up(&self, client: &impl GenericClient, keys: &CoreKeys) -> Result<usize, CoreError> {
        let _one = self.catching_up.lock().await;
        let mut added = 0;
        loop {
            let last = self.read().last_seq;
            let rows = client
                .query(
                    "SELECT f.seq, f.account_id, f.template_sealed, f.birth_index,
                            CASE WHEN f.birth_index IS NULL THEN a.personal_sealed END
                     FROM face_templates f JOIN accounts a USING (account_id)
                     WHERE f.seq > $1 ORDER BY f.seq LIMIT 50000",
                    &[&last],
                )
                .await?;
            if rows.is_empty() {
                return Ok(added);
            }
            let mut batch = Vec::with_capacity(rows.len());
            for row in &rows {
                let seq: i64 = row.get(0);
                let account: Uuid = row.get(1);
                let sealed: Vec<u8> = row.get(2);
                let plain = keys.open("face_templates", "template_sealed", &account.to_string(), &sealed)?;
                let template = decode_template(&plain)
                    .ok_or_else(|| CoreError::Corrupt(format!("face template of account {account}")))?;
                let stored: Option<Vec<u8>> = row.get(3);
                let bucket = match stored {
                    Some(b) => BirthIndex::try_from(b.as_slice())
                        .map_err(|_| CoreError::Corrupt(format!("birth index of account {account}")))?,
                    // Admitted before migration 3: the birth date from the sealed personal data.
                    None => {
                        let sealed: Option<Vec<u8>> = row.get(4);
                        let personal = keys.open("accounts", "personal_sealed", &account.to_string(), &sealed.unwrap_or_default())?;
                        let birth = serde_json::from_slice::<serde_json::Value>(&personal)
                            .ok()
                            .and_then(|v| v.get("birth_date").and_then(|d| d.as_str()).map(str::to_owned))
                            .ok_or_else(|| CoreError::Corrupt(format!("personal data of account {account}")))?;
                        keys.birth_index(&birth)?
                    }
                };
                batch.push((seq, account, bucket, template));
            }
            let mut inner = self.write();
            for (seq, account, bucket, template) in batch {
                let b = inner.buckets.entry(bucket).or_default();
                b.gallery.push(&template);
                b.accounts.push(account);
                inner.len += 1;
                inner.last_seq = seq;
                added += 1;
            }
        }
    }

    /// How many templates of `bucket` a search with `start = 0` sees now: a later
    /// [`FleetIndex::search_from`] from this mark searches only what was added since.
    pub fn mark(&self, bucket: &BirthIndex) -> usize {
        self.read().buckets.get(bucket).map_or(0, |b| b.accounts.len())
    }

    /// The best match in `bucket` among its templates at position `start` or later (0: all).
    /// Returns it with the number of templates compared.
    pub fn search_from(&self, bucket: &BirthIndex, start: usize, probe: &Embedding) -> (Option<Match>, usize) {
        let inner = self.read();
        let Some(b) = inner.buckets.get(bucket) else { return (None, 0) };
        let compared = b.accounts.len().saturating_sub(start);
        let hit = b.gallery.search_from(start, probe).and_then(|hit| Some(Match { account_id: *b.accounts.get(hit.index)?, score: hit.score }));
        (hit, compared)
    }
}

/// Whether `b` is a better match than `a`.
pub fn best(a: Option<Match>, b: Option<Match>) -> Option<Match> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if y.score > x.score { y } else { x }),
        (x, None) => x,
        (None, y) => y,
    }
}
