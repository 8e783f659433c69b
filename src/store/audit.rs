//! Append-only audit log as a keyed hash chain: each row's value covers the previous row's, so
//! changing, removing or reordering rows breaks the chain at the first affected row, and
//! without the audit key (derived from the key-encryption key) nobody can recompute it.
//!
//! hash = HMAC-SHA256(audit key, prev_hash (32 bytes) || seq (i64 BE) || at (i64 BE) ||
//! len(event) (u32 BE) || event || len(details_json) (u32 BE) || details_json); the first row's
//! prev_hash is 32 zero bytes. Lengths make the encoding unambiguous. Rows written before the
//! chain was keyed (`keyed = 0`, schema 4 and older) use SHA-256 of the same bytes and may only
//! come before keyed rows. Removing the newest rows cannot be seen from the chain alone: the
//! head is signed and anchored at the bank core after each sync batch (`audit_anchors`).
//! Details must never hold personal data.

use super::keystore::AuditKey;
use hmac::{Hmac, Mac};
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
#[non_exhaustive]
pub enum AuditError {
    #[error("audit log broken at seq {seq}: row {kind}; the log was tampered with (keep this database for investigation)")]
    Broken { seq: i64, kind: BreakKind },
    #[error("audit log row {seq} is unreadable ({what}); the log was tampered with or is corrupt")]
    Corrupt { seq: i64, what: &'static str },
    #[error("audit log row {seq} is not keyed but follows keyed rows; the log was tampered with (keep this database for investigation)")]
    UnkeyedAfterKeyed { seq: i64 },
    #[error("the audit chain at seq {seq} is {local}, but the head anchored at the bank core for that row is {anchored}: the log was rewritten (keep this database for investigation)")]
    AnchorMismatch { seq: i64, local: String, anchored: String },
    #[error("the audit log ends at seq {rows} but the bank core holds an anchored head at seq {seq}: rows were removed (keep this database for investigation)")]
    AnchorBeyondEnd { seq: i64, rows: u64 },
    #[error("audit log: {0}")]
    Database(#[from] rusqlite::Error),
}

/// An intact chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    pub rows: u64,
    /// Hex hash of the newest row (zeros for an empty log).
    pub head_hash: String,
    /// Rows from before the chain was keyed (all at the start).
    pub unkeyed_rows: u64,
    /// The newest head the bank core acknowledged, checked against the local chain.
    pub last_anchor: Option<Anchor>,
}

/// A head anchored at the bank core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub seq: i64,
    pub head: String,
    pub anchored_at_ms: i64,
    pub acknowledged_at_ms: i64,
}

/// The chain value of the empty log.
pub const EMPTY_HEAD: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn chain_input(prev: &[u8; 32], seq: i64, at: i64, event: &str, details: &str) -> Vec<u8> {
    let mut input = Vec::with_capacity(56 + event.len() + details.len());
    input.extend_from_slice(prev);
    input.extend_from_slice(&seq.to_be_bytes());
    input.extend_from_slice(&at.to_be_bytes());
    for field in [event, details] {
        // Audit fields are small; saturating keeps this total rather than panicking.
        input.extend_from_slice(&u32::try_from(field.len()).unwrap_or(u32::MAX).to_be_bytes());
        input.extend_from_slice(field.as_bytes());
    }
    input
}

/// The row's chain value: keyed (HMAC-SHA256) or, for rows from before schema 5, SHA-256.
fn chain_hash(key: Option<&AuditKey>, prev: &[u8; 32], seq: i64, at: i64, event: &str, details: &str) -> [u8; 32] {
    let input = chain_input(prev, seq, at, event, details);
    match key {
        Some(key) => {
            // HMAC takes a key of any length; 32 bytes cannot fail.
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key.0[..]) else { return [0u8; 32] };
            mac.update(&input);
            mac.finalize().into_bytes().into()
        }
        None => Sha256::digest(&input).into(),
    }
}

/// Appends one event inside the caller's transaction, so it commits or rolls back with the
/// change it describes.
pub fn append(
    tx: &Transaction<'_>,
    key: &AuditKey,
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
    let hash = chain_hash(Some(key), &prev, seq, at_ms, event, &details);
    tx.execute(
        "INSERT INTO audit_log (seq, at, event, details_json, prev_hash, hash, keyed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1)",
        params![seq, at_ms, event, details, hex::encode(prev), hex::encode(hash)],
    )?;
    Ok(seq)
}

fn decode_hash(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// The newest head and its seq (0 and zeros for an empty log), for anchoring.
pub fn head(conn: &Connection) -> Result<(i64, String), AuditError> {
    Ok(conn
        .query_row("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, EMPTY_HEAD.to_owned())))
}

/// The newest anchor the core acknowledged.
pub fn last_anchor(conn: &Connection) -> Result<Option<Anchor>, AuditError> {
    Ok(conn
        .query_row(
            "SELECT seq, head, anchored_at, acknowledged_at FROM audit_anchors
             WHERE acknowledged_at IS NOT NULL ORDER BY seq DESC, acknowledged_at DESC LIMIT 1",
            [],
            |r| Ok(Anchor { seq: r.get(0)?, head: r.get(1)?, anchored_at_ms: r.get(2)?, acknowledged_at_ms: r.get(3)? }),
        )
        .optional()?)
}

/// Walks the whole log in seq order and names the first row that does not fit, then checks
/// that the local chain still has, at the last anchored row, the head the core acknowledged.
pub fn verify_chain(conn: &Connection, key: &AuditKey) -> Result<AuditReport, AuditError> {
    let mut stmt = conn
        .prepare("SELECT seq, at, event, details_json, prev_hash, hash, keyed FROM audit_log ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    let anchor = last_anchor(conn)?;
    let mut expected_seq = 1i64;
    let mut expected_prev = GENESIS;
    let mut count = 0u64;
    let mut unkeyed_rows = 0u64;
    let mut seen_keyed = false;
    let mut at_anchor = None;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let at: i64 = row.get(1)?;
        let event: String = row.get(2)?;
        let details: String = row.get(3)?;
        let prev =
            decode_hash(&row.get::<_, String>(4)?).ok_or(AuditError::Corrupt { seq, what: "prev_hash" })?;
        let stored =
            decode_hash(&row.get::<_, String>(5)?).ok_or(AuditError::Corrupt { seq, what: "hash" })?;
        let keyed: bool = row.get(6)?;
        if seq != expected_seq {
            let kind = if seq > expected_seq { BreakKind::Removed } else { BreakKind::Reordered };
            return Err(AuditError::Broken { seq: expected_seq, kind });
        }
        if keyed {
            seen_keyed = true;
        } else if seen_keyed {
            return Err(AuditError::UnkeyedAfterKeyed { seq });
        } else {
            unkeyed_rows += 1;
        }
        let self_consistent = chain_hash(keyed.then_some(key), &prev, seq, at, &event, &details) == stored;
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
        if anchor.as_ref().is_some_and(|a| a.seq == seq) {
            at_anchor = Some(hex::encode(stored));
        }
        expected_seq += 1;
        expected_prev = stored;
        count += 1;
    }
    if let Some(a) = &anchor {
        let local = if a.seq == 0 { Some(EMPTY_HEAD.to_owned()) } else { at_anchor };
        match local {
            None => return Err(AuditError::AnchorBeyondEnd { seq: a.seq, rows: count }),
            Some(local) if local != a.head => {
                return Err(AuditError::AnchorMismatch { seq: a.seq, local, anchored: a.head.clone() })
            }
            Some(_) => {}
        }
    }
    Ok(AuditReport { rows: count, head_hash: hex::encode(expected_prev), unkeyed_rows, last_anchor: anchor })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use zeroize::Zeroizing;

    fn key(byte: u8) -> AuditKey {
        AuditKey(Zeroizing::new([byte; 32]))
    }

    /// The log's rows as stored: (seq, at, event, details_json).
    fn rows(conn: &Connection) -> Vec<(i64, i64, String, String)> {
        conn.prepare("SELECT seq, at, event, details_json FROM audit_log ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn log_with(n: i64) -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrations::migrate(&mut conn).unwrap();
        let tx = conn.transaction().unwrap();
        for i in 1..=n {
            append(&tx, &key(1), 1_000 * i, "test_event", &json!({ "n": i })).unwrap();
        }
        tx.commit().unwrap();
        // Play the attacker with file access: the append-only triggers go first.
        conn.execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;").unwrap();
        conn
    }

    fn broken_at(conn: &Connection) -> (i64, BreakKind) {
        match verify_chain(conn, &key(1)) {
            Err(AuditError::Broken { seq, kind }) => (seq, kind),
            other => panic!("expected a broken chain, got {other:?}"),
        }
    }

    #[test]
    fn intact_chain_verifies() {
        let conn = log_with(5);
        let report = verify_chain(&conn, &key(1)).unwrap();
        assert_eq!((report.rows, report.unkeyed_rows), (5, 0));
        assert_ne!(report.head_hash, hex::encode(GENESIS));
        assert_eq!(head(&conn).unwrap(), (5, report.head_hash));
        assert_eq!(verify_chain(&log_with(0), &key(1)).unwrap().rows, 0);
        assert_eq!(head(&log_with(0)).unwrap(), (0, EMPTY_HEAD.to_owned()));
    }

    #[test]
    fn append_only_triggers_refuse_changes() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrations::migrate(&mut conn).unwrap();
        let tx = conn.transaction().unwrap();
        append(&tx, &key(1), 1, "e", &json!({})).unwrap();
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

    /// What the unkeyed chain allowed: change a row and recompute every hash after it. Without
    /// the audit key the recomputed chain does not verify.
    #[test]
    fn a_chain_rewritten_without_the_key_does_not_verify() {
        let conn = log_with(5);
        let rows = rows(&conn);
        for guess in [None, Some(key(2))] {
            let mut prev = GENESIS;
            for (seq, at, event, details) in &rows {
                let details = if *seq == 3 { "{\"n\":99}".to_owned() } else { details.clone() };
                let hash = chain_hash(guess.as_ref(), &prev, *seq, *at, event, &details);
                conn.execute(
                    "UPDATE audit_log SET details_json = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
                    params![details, hex::encode(prev), hex::encode(hash), seq],
                )
                .unwrap();
                prev = hash;
            }
            assert_eq!(broken_at(&conn), (1, BreakKind::Changed), "rewritten with {guess:?}");
        }
    }

    #[test]
    fn unkeyed_rows_only_before_keyed_ones() {
        let conn = log_with(0);
        // Two rows as schema 4 wrote them, then keyed rows.
        let mut prev = GENESIS;
        for seq in 1..=2i64 {
            let hash = chain_hash(None, &prev, seq, seq, "old", "{}");
            conn.execute(
                "INSERT INTO audit_log (seq, at, event, details_json, prev_hash, hash, keyed) VALUES (?1, ?1, 'old', '{}', ?2, ?3, 0)",
                params![seq, hex::encode(prev), hex::encode(hash)],
            )
            .unwrap();
            prev = hash;
        }
        let mut conn = conn;
        let tx = conn.transaction().unwrap();
        append(&tx, &key(1), 3, "new", &json!({})).unwrap();
        tx.commit().unwrap();
        let report = verify_chain(&conn, &key(1)).unwrap();
        assert_eq!((report.rows, report.unkeyed_rows), (3, 2));
        // An unkeyed row appended after keyed ones (someone without the key) is refused.
        let (_, last) = head(&conn).unwrap();
        let mut last_bytes = [0u8; 32];
        hex::decode_to_slice(&last, &mut last_bytes).unwrap();
        let hash = chain_hash(None, &last_bytes, 4, 4, "forged", "{}");
        conn.execute(
            "INSERT INTO audit_log (seq, at, event, details_json, prev_hash, hash, keyed) VALUES (4, 4, 'forged', '{}', ?1, ?2, 0)",
            params![last, hex::encode(hash)],
        )
        .unwrap();
        assert!(matches!(verify_chain(&conn, &key(1)), Err(AuditError::UnkeyedAfterKeyed { seq: 4 })));
    }

    #[test]
    fn the_anchored_head_must_still_be_in_the_chain() {
        let conn = log_with(5);
        let (_, head3) = conn
            .query_row("SELECT seq, hash FROM audit_log WHERE seq = 3", [], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .unwrap();
        conn.execute(
            "INSERT INTO audit_anchors (id, seq, head, anchored_at, signature, acknowledged_at) VALUES ('a', 3, ?1, 10, 'sig', 11)",
            [&head3],
        )
        .unwrap();
        let report = verify_chain(&conn, &key(1)).unwrap();
        assert_eq!(report.last_anchor.as_ref().map(|a| (a.seq, a.head.clone())), Some((3, head3.clone())));
        // Someone with the key rewrites the whole chain from row 2: it verifies on its own,
        // but no longer has the anchored value at row 3.
        let rows = rows(&conn);
        let mut prev = GENESIS;
        for (seq, at, event, details) in &rows {
            let details = if *seq == 2 { "{}".to_owned() } else { details.clone() };
            let hash = chain_hash(Some(&key(1)), &prev, *seq, *at, event, &details);
            conn.execute(
                "UPDATE audit_log SET details_json = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
                params![details, hex::encode(prev), hex::encode(hash), seq],
            )
            .unwrap();
            prev = hash;
        }
        assert!(matches!(verify_chain(&conn, &key(1)), Err(AuditError::AnchorMismatch { seq: 3, .. })));
        // And rows removed below an anchored one are seen too.
        conn.execute("DELETE FROM audit_log WHERE seq >= 3", []).unwrap();
        assert!(matches!(verify_chain(&conn, &key(1)), Err(AuditError::AnchorBeyondEnd { seq: 3, rows: 2 })));
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
