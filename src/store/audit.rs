//! Append-only audit log as a hash chain: each row's hash covers the previous row's hash, so
//! changing, removing or reordering rows breaks the chain at the first affected row.
//!
//! hash = SHA-256(prev_hash (32 bytes) || seq (i64 BE) || at (i64 BE) || len(event) (u32 BE) ||
//! event || len(details_json) (u32 BE) || details_json); the first row's prev_hash is 32 zero
//! bytes. Lengths make the encoding unambiguous. Removing the newest rows cannot be seen from
//! the chain alone; the head hash in [`AuditReport`] is what to anchor elsewhere (e.g. the sync).
//! Details must never hold personal data.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use sha2::{Digest, Sha256};
use std::fmt;
use thiserror::Error;

const GENESIS: [u8; 32] = [0u8; 32];

/// What broke at the first bad row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakKind {
    /// The row's content no longer matches its hash.
    Changed,
    /// Sequence numbers jump: the row(s) before this one were removed.
    Removed,
    /// The row is intact but does not follow the previous one: moved or reordered.
    Reordered,
}

impl fmt::Display for BreakKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BreakKind::Changed => "changed",
            BreakKind::Removed => "removed",
            BreakKind::Reordered => "reordered or moved",
        })
    }
}

#[derive(Debug, Error)]
pub enum AuditError {
    #[error("audit log broken at seq {seq}: row {kind}; the log was tampered with (keep this database for investigation)")]
    Broken { seq: i64, kind: BreakKind },
    #[error("audit log row {seq} is unreadable ({what}); the log was tampered with or is corrupt")]
    Corrupt { seq: i64, what: &'static str },
    #[error("audit log: {0}")]
    Database(#[from] rusqlite::Error),
}

/// An intact chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    pub rows: u64,
    /// Hex hash of the newest row (zeros for an empty log).
    pub head_hash: String,
}

fn chain_hash(prev: &[u8; 32], seq: i64, at: i64, event: &str, details: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(at.to_be_bytes());
    for field in [event, details] {
        // Audit fields are small; saturating keeps this total rather than panicking.
        h.update(u32::try_from(field.len()).unwrap_or(u32::MAX).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.finalize().into()
}

/// Appends one event inside the caller's transaction, so it commits or rolls back with the
/// change it describes.
pub fn append(
    tx: &Transaction<'_>,
    at_ms: i64,
    event: &str,
    details: &serde_json::Value,
) -> Result<i64, AuditError> {
    let last: Option<(i64, String)> = tx
        .query_row("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let (seq, prev) = match last {
        None => (1, GENESIS),
        Some((seq, hash)) => (seq + 1, decode_hash(&hash).ok_or(AuditError::Corrupt { seq, what: "hash" })?),
    };
    let details = details.to_string();
    let hash = chain_hash(&prev, seq, at_ms, event, &details);
    tx.execute(
        "INSERT INTO audit_log (seq, at, event, details_json, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![seq, at_ms, event, details, hex::encode(prev), hex::encode(hash)],
    )?;
    Ok(seq)
}

fn decode_hash(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// Walks the whole log in seq order and names the first row that does not fit.
pub fn verify_chain(conn: &Connection) -> Result<AuditReport, AuditError> {
    let mut stmt =
        conn.prepare("SELECT seq, at, event, details_json, prev_hash, hash FROM audit_log ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    let mut expected_seq = 1i64;
    let mut expected_prev = GENESIS;
    let mut count = 0u64;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let at: i64 = row.get(1)?;
        let event: String = row.get(2)?;
        let details: String = row.get(3)?;
        let prev =
            decode_hash(&row.get::<_, String>(4)?).ok_or(AuditError::Corrupt { seq, what: "prev_hash" })?;
        let stored =
            decode_hash(&row.get::<_, String>(5)?).ok_or(AuditError::Corrupt { seq, what: "hash" })?;
        if seq != expected_seq {
            let kind = if seq > expected_seq { BreakKind::Removed } else { BreakKind::Reordered };
            return Err(AuditError::Broken { seq: expected_seq, kind });
        }
        let self_consistent = chain_hash(&prev, seq, at, &event, &details) == stored;
        let follows = prev == expected_prev;
        match (self_consistent, follows) {
            (true, true) => {}
            (false, true) => return Err(AuditError::Broken { seq, kind: BreakKind::Changed }),
            // Intact content that does not link: the row before it was removed and the seqs
            // renumbered, or rows were moved.
            (true, false) | (false, false) => {
                return Err(AuditError::Broken { seq, kind: BreakKind::Reordered })
            }
        }
        expected_seq += 1;
        expected_prev = stored;
        count += 1;
    }
    Ok(AuditReport { rows: count, head_hash: hex::encode(expected_prev) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn log_with(n: i64) -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrations::migrate(&mut conn).unwrap();
        let tx = conn.transaction().unwrap();
        for i in 1..=n {
            append(&tx, 1_000 * i, "test_event", &json!({ "n": i })).unwrap();
        }
        tx.commit().unwrap();
        // Play the attacker with file access: the append-only triggers go first.
        conn.execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;").unwrap();
        conn
    }

    fn broken_at(conn: &Connection) -> (i64, BreakKind) {
        match verify_chain(conn) {
            Err(AuditError::Broken { seq, kind }) => (seq, kind),
            other => panic!("expected a broken chain, got {other:?}"),
        }
    }

    #[test]
    fn intact_chain_verifies() {
        let conn = log_with(5);
        let report = verify_chain(&conn).unwrap();
        assert_eq!(report.rows, 5);
        assert_ne!(report.head_hash, hex::encode(GENESIS));
        assert_eq!(verify_chain(&log_with(0)).unwrap().rows, 0);
    }

    #[test]
    fn append_only_triggers_refuse_changes() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrations::migrate(&mut conn).unwrap();
        let tx = conn.transaction().unwrap();
        append(&tx, 1, "e", &json!({})).unwrap();
        tx.commit().unwrap();
        assert!(conn.execute("UPDATE audit_log SET event = 'x'", []).is_err());
        assert!(conn.execute("DELETE FROM audit_log", []).is_err());
    }

    #[test]
    fn changed_details_detected() {
        let conn = log_with(5);
        conn.execute("UPDATE audit_log SET details_json = '{\"n\":99}' WHERE seq = 3", []).unwrap();
        assert_eq!(broken_at(&conn), (3, BreakKind::Changed));
    }

    #[test]
    fn removed_row_detected() {
        let conn = log_with(5);
        conn.execute("DELETE FROM audit_log WHERE seq = 2", []).unwrap();
        assert_eq!(broken_at(&conn), (2, BreakKind::Removed));
        // Renumbering to hide the gap is caught by the link.
        conn.execute("UPDATE audit_log SET seq = seq - 1 WHERE seq > 2", []).unwrap();
        assert_eq!(broken_at(&conn).0, 2);
    }

    #[test]
    fn swapped_rows_detected() {
        let conn = log_with(5);
        // Swap the contents of rows 2 and 4, keeping their seqs.
        conn.execute_batch(
            "UPDATE audit_log SET seq = -2 WHERE seq = 2;
             UPDATE audit_log SET seq = 2 WHERE seq = 4;
             UPDATE audit_log SET seq = 4 WHERE seq = -2;",
        )
        .unwrap();
        assert_eq!(broken_at(&conn), (2, BreakKind::Reordered));
    }
}
