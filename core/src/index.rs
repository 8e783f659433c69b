//! The fleet's 1:N index: every face template in PostgreSQL, in memory as the kiosk's own
//! int8 gallery (`kiosk::vision::Gallery`: a scan reading 128 bytes a template, then an exact
//! re-score of the best candidates). Rebuilt from the database at start; caught up from
//! `face_templates.seq` before each search, so every gateway sees every committed template.
//!
//! Admission is exact across gateways: the full search runs outside the admission lock, then,
//! under it, the index is caught up again and only the templates added since are searched.

use deadpool_postgres::GenericClient;
use crate::error::CoreError;
use crate::keys::CoreKeys;
use kiosk::vision::{Embedding, Gallery, EMBEDDING_LEN};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use uuid::Uuid;
use zeroize::Zeroizing;

#[derive(Default)]
struct Inner {
    gallery: Gallery,
    accounts: Vec<Uuid>,
    last_seq: i64,
}

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
        self.read().accounts.len()
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
                    "SELECT seq, account_id, template_sealed FROM face_templates WHERE seq > $1 ORDER BY seq LIMIT 50000",
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
                batch.push((seq, account, template));
            }
            let mut inner = self.write();
            for (seq, account, template) in batch {
                inner.gallery.push(&template);
                inner.accounts.push(account);
                inner.last_seq = seq;
                added += 1;
            }
        }
    }

    /// How many templates are searched by [`FleetIndex::search_from`] with `start = 0`.
    pub fn mark(&self) -> usize {
        self.len()
    }

    /// The best match among the templates at position `start` or later (0: all of them).
    pub fn search_from(&self, start: usize, probe: &Embedding) -> Option<Match> {
        let inner = self.read();
        let hit = inner.gallery.search_from(start, probe)?;
        Some(Match { account_id: *inner.accounts.get(hit.index)?, score: hit.score })
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
