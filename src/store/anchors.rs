//! The audit chain heads sent to the bank core (`audit_anchors`), and the activation token
//! redemptions the core reports in its answers.

use super::audit;
use super::store::{parse_uuid, unix_ms, Store, StoreError};
use crate::account::demo_account::uuid_v7_at;
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// A head to send: its id is the request's idempotency key, so a resend after a lost answer
/// is the same anchor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAnchor {
    pub id: Uuid,
    pub seq: i64,
    pub head: String,
    pub anchored_at_ms: i64,
    pub signature: String,
}

/// For `/metrics` and `kiosk diag` (read by any connection).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnchorGauges {
    /// Seq of the newest head the core acknowledged (0: none yet).
    pub anchored_seq: i64,
    /// When the core acknowledged it, ms since the epoch.
    pub anchored_at_ms: Option<i64>,
    /// Heads the core refused for good (`audit_rewound`, `audit_rewritten`): an alert.
    pub refused: u64,
}

pub fn read_anchor_gauges(conn: &rusqlite::Connection) -> rusqlite::Result<AnchorGauges> {
    let (seq, at): (Option<i64>, Option<i64>) = conn
        .query_row(
            "SELECT seq, acknowledged_at FROM audit_anchors WHERE acknowledged_at IS NOT NULL ORDER BY seq DESC, acknowledged_at DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .unwrap_or((None, None));
    let refused: i64 = conn.query_row("SELECT COUNT(*) FROM audit_anchors WHERE refused_at IS NOT NULL", [], |r| r.get(0))?;
    Ok(AnchorGauges { anchored_seq: seq.unwrap_or(0), anchored_at_ms: at, refused: u64::try_from(refused).unwrap_or(0) })
}

impl Store {
    pub fn anchor_gauges(&self) -> Result<AnchorGauges, StoreError> {
        Ok(read_anchor_gauges(&self.conn)?)
    }

    /// The head to anchor now, or `None` when the core already acknowledged this head less
    /// than `max_age` ago, or refused it for good. A pending anchor of the same head is reused;
    /// otherwise a new one is signed with `sign(seq, head, anchored_at_ms)` and stored.
    pub fn next_audit_anchor(
        &mut self,
        now: OffsetDateTime,
        max_age: Duration,
        sign: impl FnOnce(i64, &str, i64) -> String,
    ) -> Result<Option<PendingAnchor>, StoreError> {
        let at = unix_ms(now);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (seq, head) = audit::head(&tx)?;
        let acknowledged: Option<i64> = tx
            .query_row(
                "SELECT MAX(acknowledged_at) FROM audit_anchors WHERE seq = ?1 AND head = ?2",
                params![seq, head],
                |r| r.get(0),
            )?;
        if acknowledged.is_some_and(|ack| at.saturating_sub(ack) < unix_ms(OffsetDateTime::UNIX_EPOCH + max_age)) {
            return Ok(None);
        }
        let refused: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM audit_anchors WHERE seq = ?1 AND head = ?2 AND refused_at IS NOT NULL)",
            params![seq, head],
            |r| r.get(0),
        )?;
        if refused {
            return Ok(None);
        }
        let pending: Option<(String, i64, String)> = tx
            .query_row(
                "SELECT id, anchored_at, signature FROM audit_anchors
                 WHERE seq = ?1 AND head = ?2 AND acknowledged_at IS NULL AND refused_at IS NULL
                 ORDER BY anchored_at DESC LIMIT 1",
                params![seq, head],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let anchor = match pending {
            Some((id, anchored_at_ms, signature)) => {
                PendingAnchor { id: parse_uuid(&id, "audit_anchors")?, seq, head, anchored_at_ms, signature }
            }
            None => {
                let id = uuid_v7_at(now);
                let signature = sign(seq, &head, at);
                tx.execute(
                    "INSERT INTO audit_anchors (id, seq, head, anchored_at, signature) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![id.to_string(), seq, head, at, signature],
                )?;
                PendingAnchor { id, seq, head, anchored_at_ms: at, signature }
            }
        };
        tx.commit()?;
        Ok(Some(anchor))
    }

    /// The newest redemption time recorded (0: none), from which the core lists redemptions.
    pub fn redemptions_since_ms(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("SELECT COALESCE(MAX(token_consumed_at), 0) FROM accounts", [], |r| r.get(0))?)
    }

    /// The core stored the head. In the same transaction, each redemption it reported is
    /// recorded once (`activation_token_consumed`); tokens this kiosk did not issue are
    /// counted and skipped. Returns (recorded, unknown).
    pub fn audit_anchor_acknowledged(
        &mut self,
        id: Uuid,
        now: OffsetDateTime,
        redemptions: &[(String, i64)],
    ) -> Result<(u64, u64), StoreError> {
        let at = unix_ms(now);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE audit_anchors SET acknowledged_at = ?1 WHERE id = ?2 AND acknowledged_at IS NULL",
            params![at, id.to_string()],
        )?;
        let (mut recorded, mut unknown) = (0u64, 0u64);
        for (token, redeemed_at) in redemptions {
            let account: Option<(String, Option<i64>)> = tx
                .query_row(
                    "SELECT id, token_consumed_at FROM accounts WHERE activation_token_id = ?1",
                    [token],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            match account {
                None => unknown += 1,
                Some((_, Some(_))) => {}
                Some((account_id, None)) => {
                    tx.execute(
                        "UPDATE accounts SET token_consumed_at = ?1 WHERE id = ?2 AND token_consumed_at IS NULL",
                        params![redeemed_at, account_id],
                    )?;
                    audit::append(
                        &tx,
                        &self.audit_key,
                        at,
                        "activation_token_consumed",
                        &json!({ "account_id": account_id, "redeemed_at_ms": redeemed_at, "reported_by": "core" }),
                    )?;
                    recorded += 1;
                }
            }
        }
        tx.commit()?;
        if unknown > 0 {
            tracing::warn!(unknown, "the core reported redemptions of tokens this kiosk did not issue");
        }
        Ok((recorded, unknown))
    }

    /// The core refused the head for good: kept with the reason, never sent again.
    pub fn audit_anchor_refused(&mut self, id: Uuid, now: OffsetDateTime, reason: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE audit_anchors SET refused_at = ?1, refusal = ?2 WHERE id = ?3",
            params![unix_ms(now), reason.chars().take(500).collect::<String>(), id.to_string()],
        )?;
        Ok(())
    }

    /// Whether the core has redeemed this account's token (as last reported).
    pub fn token_redeemed_at(&self, token_id: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT token_consumed_at FROM accounts WHERE activation_token_id = ?1", [token_id], |r| r.get(0))
            .optional()?
            .flatten())
    }
}
