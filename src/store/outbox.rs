//! The outbox the sync drains: what is due, attempts and back-off, acknowledgement,
//! quarantine. The row id is the idempotency key; it is written in the onboarding's own
//! transaction, so it exists before the first send and survives any crash.

use super::audit;
use super::store::{ctx, parse_uuid, unix_ms, Store, StoreError};
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

/// Longest failure reason kept; a core's error body can be anything.
const MAX_REASON_LEN: usize = 300;

/// SQL condition on an `outbox` row: it is not held back. A message about an account (such
/// as `social_payments_choice`) waits until the core has acknowledged the account's own
/// `account_opened` message, so the core never hears of an account's choice before the
/// account, whatever the back-off did to the order. Such a row still counts as pending.
const NOT_HELD: &str = "NOT EXISTS (SELECT 1 FROM outbox AS opened
    WHERE opened.account_id = outbox.account_id AND opened.kind = 'account_opened'
      AND opened.id <> outbox.id AND opened.sent_at IS NULL)";

/// One unsent outbox row, payload opened.
#[derive(Debug)]
pub struct OutboxItem {
    /// Also the idempotency key sent to the core.
    pub id: Uuid,
    pub kind: String,
    /// JSON for the bank core; holds personal data, so keep it in memory only.
    pub payload: Zeroizing<Vec<u8>>,
    pub created_at_ms: i64,
    /// Failed attempts so far.
    pub attempts: u32,
}

/// Where the outbox stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStatus {
    pub pending: u64,
    pub sent: u64,
    pub quarantined: u64,
    /// When the earliest pending row is due (ms since the epoch).
    pub next_due_ms: Option<i64>,
}

/// The outbox figures monitoring shows, readable without the data key: the health endpoint
/// and `kiosk diag` read them on a read-only connection of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxGauges {
    /// Unsent rows that are not quarantined (held-back ones included).
    pub pending: i64,
    pub quarantined: i64,
    /// Creation time of the oldest pending row, ms since the epoch.
    pub oldest_unsent_ms: Option<i64>,
    /// Time of the latest acknowledgement by the core, ms since the epoch.
    pub last_sent_ms: Option<i64>,
}

/// Reads [`OutboxGauges`] on any connection to a kiosk database.
pub fn read_outbox_gauges(conn: &rusqlite::Connection) -> rusqlite::Result<OutboxGauges> {
    conn.query_row(
        "SELECT
            COUNT(*) FILTER (WHERE sent_at IS NULL AND quarantined_at IS NULL),
            COUNT(*) FILTER (WHERE sent_at IS NULL AND quarantined_at IS NOT NULL),
            MIN(created_at) FILTER (WHERE sent_at IS NULL AND quarantined_at IS NULL),
            MAX(sent_at)
         FROM outbox",
        [],
        |r| {
            Ok(OutboxGauges {
                pending: r.get(0)?,
                quarantined: r.get(1)?,
                oldest_unsent_ms: r.get(2)?,
                last_sent_ms: r.get(3)?,
            })
        },
    )
}

/// A row the core refused for good, kept for staff to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantinedItem {
    pub id: Uuid,
    pub kind: String,
    pub quarantined_at_ms: i64,
    pub reason: String,
}

/// An account's state at the bank core, as its acknowledgement of `account_opened` said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoreAccountState {
    Provisional,
    Active,
    /// The same face already has a demo account at some kiosk of the fleet.
    BlockedDuplicate,
    /// The same passport already has one.
    BlockedDocument,
}

impl CoreAccountState {
    pub fn as_str(self) -> &'static str {
        match self {
            CoreAccountState::Provisional => "provisional",
            CoreAccountState::Active => "active",
            CoreAccountState::BlockedDuplicate => "blocked_duplicate",
            CoreAccountState::BlockedDocument => "blocked_document",
        }
    }

    /// `None` for anything else (a newer core's state is not guessed at).
    pub fn parse(s: &str) -> Option<CoreAccountState> {
        [Self::Provisional, Self::Active, Self::BlockedDuplicate, Self::BlockedDocument].into_iter().find(|v| v.as_str() == s)
    }

    pub fn is_blocked(self) -> bool {
        matches!(self, CoreAccountState::BlockedDuplicate | CoreAccountState::BlockedDocument)
    }
}

/// Reasons come from the network; keep them short and printable.
fn clean_reason(reason: &str) -> String {
    reason.chars().filter(|c| !c.is_control()).take(MAX_REASON_LEN).collect()
}

impl Store {
    fn outbox_rows(&self, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<OutboxItem>, StoreError> {
        let mut stmt = self.conn.prepare(sql)?;
        let rows: Vec<(String, String, Vec<u8>, i64, i64)> = stmt
            .query_map(args, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(id, kind, sealed, created_at_ms, attempts)| {
                let payload =
                    self.open_sealed("outbox payload", &ctx("outbox", "payload_sealed", &id), &sealed)?;
                Ok(OutboxItem {
                    id: parse_uuid(&id, "outbox")?,
                    kind,
                    payload,
                    created_at_ms,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    /// Every unsent, unquarantined row, oldest first, whatever its back-off says (a drain
    /// asked for by staff).
    pub fn pending_outbox(&self, limit: u32) -> Result<Vec<OutboxItem>, StoreError> {
        self.outbox_rows(
            &format!(
                "SELECT id, kind, payload_sealed, created_at, attempts FROM outbox
                 WHERE sent_at IS NULL AND quarantined_at IS NULL AND {NOT_HELD} ORDER BY created_at, id LIMIT ?1"
            ),
            &[&limit],
        )
    }

    /// Unsent rows whose back-off has elapsed at `now`, oldest first.
    pub fn due_outbox(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<OutboxItem>, StoreError> {
        self.outbox_rows(
            &format!(
                "SELECT id, kind, payload_sealed, created_at, attempts FROM outbox
                 WHERE sent_at IS NULL AND quarantined_at IS NULL AND next_attempt_at <= ?1 AND {NOT_HELD}
                 ORDER BY created_at, id LIMIT ?2"
            ),
            &[&unix_ms(now), &limit],
        )
    }

    /// A failed attempt: count it and try again at `next_attempt` (the sync's back-off).
    /// Attempts are counted when they fail, not before they start: a write before every send
    /// would cost an fsync per message, and an attempt cut short by a crash needs no count
    /// (the idempotency key, not the counter, is what makes the resend safe).
    pub fn schedule_outbox_retry(
        &mut self,
        id: Uuid,
        next_attempt: OffsetDateTime,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?1, last_error = ?2 WHERE id = ?3 AND sent_at IS NULL",
            params![unix_ms(next_attempt), clean_reason(reason), id.to_string()],
        )?;
        Ok(())
    }

    /// The core acknowledged the row: mark it sent and drop its sealed payload (the core has
    /// the data now; the local copy of personal data stays only in the sealed onboarding until
    /// retention purges it). Its own transaction, with the audit event. Idempotent.
    pub fn mark_outbox_sent(&mut self, id: Uuid, now: OffsetDateTime) -> Result<(), StoreError> {
        self.mark_outbox_sent_with_state(id, now, None)
    }

    /// [`Store::mark_outbox_sent`], recording the account's state at the core when the
    /// acknowledgement gave one (in the same transaction, and in the audit event).
    pub fn mark_outbox_sent_with_state(
        &mut self,
        id: Uuid,
        now: OffsetDateTime,
        core_state: Option<CoreAccountState>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let at = unix_ms(now);
        let account: Option<Option<String>> = tx
            .query_row("SELECT account_id FROM outbox WHERE id = ?1 AND sent_at IS NULL", [id.to_string()], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(account_id) = account {
            tx.execute(
                "UPDATE outbox SET sent_at = ?1, payload_sealed = X'', last_error = NULL WHERE id = ?2",
                params![at, id.to_string()],
            )?;
            let mut details = json!({ "outbox_id": id.to_string(), "account_id": account_id });
            if let (Some(state), Some(account)) = (core_state, &account_id) {
                tx.execute(
                    "UPDATE accounts SET core_state = ?1, core_state_at = ?2 WHERE id = ?3",
                    params![state.as_str(), at, account],
                )?;
                details["core_account_state"] = json!(state.as_str());
            }
            audit::append(&tx, &self.audit_key, at, "sync_acknowledged", &details)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The core refused the row for good: keep it out of the drain, for staff to resolve.
    pub fn quarantine_outbox(&mut self, id: Uuid, now: OffsetDateTime, reason: &str) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let at = unix_ms(now);
        let reason = clean_reason(reason);
        let changed = tx.execute(
            "UPDATE outbox SET attempts = attempts + 1, quarantined_at = ?1, last_error = ?2 WHERE id = ?3 AND sent_at IS NULL AND quarantined_at IS NULL",
            params![at, reason, id.to_string()],
        )?;
        if changed == 1 {
            audit::append(
                &tx,
                &self.audit_key,
                at,
                "sync_quarantined",
                &json!({ "outbox_id": id.to_string(), "reason": reason }),
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn outbox_status(&self) -> Result<OutboxStatus, StoreError> {
        let (pending, sent, quarantined, next_due): (i64, i64, i64, Option<i64>) = self.conn.query_row(
            &format!(
                "SELECT
                    COUNT(*) FILTER (WHERE sent_at IS NULL AND quarantined_at IS NULL),
                    COUNT(*) FILTER (WHERE sent_at IS NOT NULL),
                    COUNT(*) FILTER (WHERE sent_at IS NULL AND quarantined_at IS NOT NULL),
                    MIN(next_attempt_at) FILTER (WHERE sent_at IS NULL AND quarantined_at IS NULL AND {NOT_HELD})
                 FROM outbox"
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(OutboxStatus { pending: n(pending), sent: n(sent), quarantined: n(quarantined), next_due_ms: next_due })
    }

    pub fn quarantined_outbox(&self) -> Result<Vec<QuarantinedItem>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, kind, quarantined_at, COALESCE(last_error, '') FROM outbox
             WHERE sent_at IS NULL AND quarantined_at IS NOT NULL ORDER BY quarantined_at, id",
        )?;
        let rows: Vec<(String, String, i64, String)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(id, kind, quarantined_at_ms, reason)| {
                Ok(QuarantinedItem { id: parse_uuid(&id, "outbox")?, kind, quarantined_at_ms, reason })
            })
            .collect()
    }

    /// Every account the core gave a state for, oldest first: (account, state, when).
    pub fn core_account_states(&self) -> Result<Vec<(Uuid, CoreAccountState, i64)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, core_state, core_state_at FROM accounts WHERE core_state IS NOT NULL ORDER BY created_at, id",
        )?;
        let rows: Vec<(String, String, i64)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(id, state, at)| {
                let state = CoreAccountState::parse(&state)
                    .ok_or(StoreError::Corrupt { table: "accounts", what: "core_state" })?;
                Ok((parse_uuid(&id, "accounts")?, state, at))
            })
            .collect()
    }

    /// Ids of every issued account, oldest first (what the core must end up with).
    pub fn account_ids(&self) -> Result<Vec<Uuid>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT id FROM accounts ORDER BY created_at, id")?;
        let ids: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        ids.iter().map(|id| parse_uuid(id, "accounts")).collect()
    }

    /// `PRAGMA integrity_check`: `Ok` when SQLite finds nothing wrong, else its findings.
    pub fn integrity_check(&self) -> Result<Result<(), String>, StoreError> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let lines: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(if lines == ["ok"] { Ok(()) } else { Err(lines.join("; ")) })
    }
}
