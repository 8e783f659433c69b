//! Data-key rotation and retention: a new data key once the active one reaches its lifetime
//! (three years at most); personal data and face templates purged a set time after the core
//! confirmed them; retired keys destroyed once nothing sealed under them is left.

use super::audit;
use super::keystore::KeyStore;
use super::seal::KeyId;
use super::store::{unix_ms, Store, StoreError};
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde_json::json;
use time::{Duration, OffsetDateTime};

/// The longest a data key may seal new records.
pub const MAX_KEY_LIFETIME: Duration = Duration::days(3 * 365);

/// A retired key is kept at least this long even when nothing uses it any more: another
/// connection that loaded the ring before the rotation may still seal with it for a while.
const RETIRED_KEY_GRACE: Duration = Duration::days(1);

/// Every sealed column, for finding what a key still protects. Zero-length values are
/// payloads already dropped.
const SEALED_COLUMNS: &[(&str, &str)] = &[
    ("onboardings", "document_sealed"),
    ("face_templates", "template_sealed"),
    ("outbox", "payload_sealed"),
    ("social_payments_choices", "choice_sealed"),
];

/// What a retention pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub face_templates: u64,
    pub documents: u64,
    /// Sealed answers to the social payments offer.
    pub social_payments_choices: u64,
    pub keys_destroyed: Vec<KeyId>,
}

impl PurgeReport {
    pub fn is_empty(&self) -> bool {
        self.face_templates == 0
            && self.documents == 0
            && self.social_payments_choices == 0
            && self.keys_destroyed.is_empty()
    }
}

impl Store {
    /// Adds a new data key and retires the active one when it is `lifetime` old (capped at
    /// [`MAX_KEY_LIFETIME`]). New records are sealed with the new key; old ones still open.
    pub fn rotate_data_key_if_due(
        &mut self,
        kek: &KeyStore,
        now: OffsetDateTime,
        lifetime: Duration,
    ) -> Result<Option<KeyId>, StoreError> {
        let lifetime = lifetime.min(MAX_KEY_LIFETIME);
        let at = unix_ms(now);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let active: Option<(i64, i64)> = tx
            .query_row(
                "SELECT key_id, created_at FROM data_keys WHERE retired_at IS NULL ORDER BY key_id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let due = match active {
            None => true,
            Some((_, created)) => created.saturating_add(unix_ms(OffsetDateTime::UNIX_EPOCH + lifetime)) <= at,
        };
        if !due {
            return Ok(None);
        }
        let newest: i64 = tx.query_row("SELECT COALESCE(MAX(key_id), 0) FROM data_keys", [], |r| r.get(0))?;
        let new_id = u32::try_from(newest + 1)
            .map(KeyId)
            .map_err(|_| StoreError::Corrupt { table: "data_keys", what: "key id out of range" })?;
        let key = kek.add_data_key(&tx, new_id, at)?;
        tx.execute("UPDATE data_keys SET retired_at = ?1 WHERE retired_at IS NULL AND key_id < ?2", params![at, new_id.0])?;
        audit::append(
            &tx,
            &self.audit_key,
            at,
            "data_key_rotated",
            &json!({ "new_key_id": new_id.0, "retired_key_id": active.map(|(id, _)| id) }),
        )?;
        tx.commit()?;
        self.keys.insert(new_id, key);
        tracing::info!(key_id = new_id.0, "rotated data key");
        Ok(Some(new_id))
    }

    /// Purges face templates, sealed document data and sealed social payments choices `retention` after the core confirmed
    /// the account (or after a refused onboarding finished), then destroys retired data keys
    /// that protect nothing any more. One transaction; the WAL is checkpointed afterwards so
    /// the old pages leave it too (`secure_delete` zeroes freed pages in the main file).
    pub fn purge_expired(&mut self, now: OffsetDateTime, retention: Duration) -> Result<PurgeReport, StoreError> {
        let at = unix_ms(now);
        let cutoff = unix_ms(now - retention);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let face_templates = tx.execute(
            "DELETE FROM face_templates WHERE account_id IN
                (SELECT account_id FROM outbox WHERE sent_at IS NOT NULL AND sent_at <= ?1)",
            [cutoff],
        )?;
        // The duplicate check's keyed hashes go with the templates: derived from personal data.
        let enrolment_keys = tx.execute(
            "DELETE FROM enrolment_keys WHERE account_id IN
                (SELECT account_id FROM outbox WHERE sent_at IS NOT NULL AND sent_at <= ?1)",
            [cutoff],
        )?;
        let documents = tx.execute(
            "UPDATE onboardings SET document_sealed = NULL, purged_at = ?1
             WHERE document_sealed IS NOT NULL AND (
                (outcome = 'refused' AND finished_at <= ?2) OR
                id IN (SELECT a.onboarding_id FROM accounts a JOIN outbox o ON o.account_id = a.id
                       WHERE o.sent_at IS NOT NULL AND o.sent_at <= ?2))",
            params![at, cutoff],
        )?;
        // The answer to the social payments offer: `retention` after the core acknowledged it.
        let social_payments_choices = tx.execute(
            "UPDATE social_payments_choices SET choice_sealed = NULL, purged_at = ?1
             WHERE choice_sealed IS NOT NULL AND outbox_id IN
                (SELECT id FROM outbox WHERE sent_at IS NOT NULL AND sent_at <= ?2)",
            params![at, cutoff],
        )?;
        if face_templates + enrolment_keys + documents + social_payments_choices > 0 {
            audit::append(
                &tx,
                &self.audit_key,
                at,
                "personal_data_purged",
                &json!({
                    "face_templates": face_templates,
                    "enrolment_keys": enrolment_keys,
                    "documents": documents,
                    "social_payments_choices": social_payments_choices,
                    "confirmed_before_ms": cutoff,
                }),
            )?;
        }
        let grace_cutoff = unix_ms(now - RETIRED_KEY_GRACE);
        let retired: Vec<i64> = tx
            .prepare("SELECT key_id FROM data_keys WHERE retired_at IS NOT NULL AND retired_at <= ?1")?
            .query_map([grace_cutoff], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut keys_destroyed = Vec::new();
        for key_id in retired {
            let Ok(id) = u32::try_from(key_id) else { continue };
            let header = id.to_be_bytes().to_vec();
            let mut in_use = false;
            for (table, column) in SEALED_COLUMNS {
                // Header: version (1 byte) then the key id (4 bytes, big-endian).
                let sql = format!(
                    "SELECT EXISTS(SELECT 1 FROM {table} WHERE length({column}) > 0 AND substr({column}, 2, 4) = ?1)"
                );
                in_use |= tx.query_row(&sql, [&header], |r| r.get::<_, bool>(0))?;
            }
            if !in_use {
                tx.execute("DELETE FROM data_keys WHERE key_id = ?1", [key_id])?;
                audit::append(&tx, &self.audit_key, at, "data_key_destroyed", &json!({ "key_id": id }))?;
                keys_destroyed.push(KeyId(id));
            }
        }
        tx.commit()?;
        for id in &keys_destroyed {
            self.keys.remove(*id);
        }
        let report = PurgeReport {
            face_templates: u64::try_from(face_templates).unwrap_or(0),
            documents: u64::try_from(documents).unwrap_or(0),
            social_payments_choices: u64::try_from(social_payments_choices).unwrap_or(0),
            keys_destroyed,
        };
        if !report.is_empty() {
            self.checkpoint()?;
            tracing::info!(
                face_templates = report.face_templates,
                documents = report.documents,
                social_payments_choices = report.social_payments_choices,
                keys_destroyed = report.keys_destroyed.len(),
                "retention purge"
            );
        }
        Ok(report)
    }

    /// Copies the WAL into the database and empties it.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}
