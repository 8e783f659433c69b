//! `POST /v1/kiosk-audit-heads` (docs/openapi/core-sync.yaml, "Audit anchor"): the head of a
//! kiosk's keyed audit chain, signed by its key, at the end of each sync batch. Stored with the
//! signature (the bank's evidence); a head that goes back (`audit_rewound`) or differs at a seq
//! already held (`audit_rewritten`) is refused with 409. The answer lists the kiosk's
//! activation tokens redeemed here since `redemptions_since_ms`, which the kiosk records.

use crate::error::CoreError;
use crate::http::Answer;
use crate::ingest::Delivery;
use crate::server::Core;
use kiosk::sync::protocol::{self, AuditHead, MAX_REDEMPTIONS};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use uuid::Uuid;

const ENDPOINT: &str = "kiosk-audit-heads";

fn refused(core: &Core, status: u16, reason: &'static str, message: String) -> Answer {
    core.metrics.refusal(ENDPOINT, reason);
    Answer::error(status, message)
}

/// Handles one anchor; a database outage is a 503 the kiosk retries.
pub async fn anchor(core: &Arc<Core>, d: Delivery<'_>) -> Answer {
    let key_text = d.idempotency_key.unwrap_or_default().to_owned();
    match checked(core, &d).await {
        Ok(answer) => answer.echo(&key_text),
        Err(error) => {
            tracing::error!(%error, "audit head not stored; answered 503");
            Answer::unavailable(&error).echo(&key_text)
        }
    }
}

async fn checked(core: &Arc<Core>, d: &Delivery<'_>) -> Result<Answer, CoreError> {
    let Some(key) = d.idempotency_key.and_then(|k| Uuid::parse_str(k).ok()) else {
        return Ok(refused(core, 400, "bad_idempotency_key", "Idempotency-Key missing or not a UUID; send the anchor_id".into()));
    };
    let Some(kiosk_id) = d.kiosk_id.filter(|k| (1..=64).contains(&k.len())) else {
        return Ok(refused(core, 400, "no_kiosk_id", "Kiosk-Id header missing or longer than 64 characters".into()));
    };
    let Some(signature) = d.signature else {
        return Ok(refused(core, 401, "no_signature", "Kiosk-Signature header missing; every body is signed with the kiosk key".into()));
    };
    let Some(public_key) = core.kiosk_key(kiosk_id).await? else {
        return Ok(refused(core, 401, "unknown_kiosk", format!("kiosk `{kiosk_id}` is not registered with the bank; register it with `kiosk-core kiosks register`")));
    };
    if !protocol::verify(&public_key, signature, "POST", d.path, &key.to_string(), kiosk_id, d.body) {
        return Ok(refused(core, 401, "bad_signature", format!("Kiosk-Signature does not verify with the key registered for kiosk `{kiosk_id}`")));
    }
    let head: AuditHead = match serde_json::from_slice(d.body) {
        Ok(h) => h,
        Err(e) => return Ok(refused(core, 400, "malformed_body", format!("body is not an audit head: {e}"))),
    };
    if head.anchor_id != key || head.kiosk_id != kiosk_id {
        return Ok(refused(core, 400, "anchor_mismatch", "anchor_id or kiosk_id differs from the Idempotency-Key or Kiosk-Id header".into()));
    }
    let hex64 = head.head.len() == 64 && head.head.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if head.seq < 0 || head.redemptions_since_ms < 0 || !hex64 {
        return Ok(refused(core, 422, "invalid_head", "seq and redemptions_since_ms must be ≥ 0 and head 64 lowercase hex characters".into()));
    }
    if !protocol::verify_head(&public_key, &head.head_signature, kiosk_id, head.seq, &head.head, head.anchored_at_ms) {
        return Ok(refused(core, 422, "bad_head_signature", "head_signature does not verify with the kiosk's registered key".into()));
    }
    let hash: [u8; 32] = Sha256::digest(d.body).into();
    let mut client = core.pool.get().await?;
    let tx = client.transaction().await?;
    // One kiosk's anchors in order: its row is the lock.
    tx.execute("SELECT 1 FROM kiosks WHERE kiosk_id = $1 FOR UPDATE", &[&kiosk_id]).await?;
    let status = match tx.query_opt("SELECT body_sha256 FROM audit_anchors WHERE anchor_id = $1", &[&key]).await? {
        Some(row) if row.get::<_, Vec<u8>>(0) != hash => {
            return Ok(refused(core, 409, "key_reused", "this Idempotency-Key was used with another audit head".into()));
        }
        Some(_) => (200, "duplicate"),
        None => {
            let held = tx
                .query_opt(
                    "SELECT max(seq), bool_or(seq = $2 AND head <> $3) FROM audit_anchors WHERE kiosk_id = $1",
                    &[&kiosk_id, &head.seq, &head.head],
                )
                .await?;
            let (max_seq, rewritten) = held.map_or((None, None), |r| (r.get::<_, Option<i64>>(0), r.get::<_, Option<bool>>(1)));
            if max_seq.is_some_and(|m| m > head.seq) {
                tracing::error!(kiosk_id, seq = head.seq, "audit head older than one held: the kiosk's log was rewound");
                return Ok(refused(core, 409, "audit_rewound", "audit_rewound: the core holds a later head of this kiosk's audit chain".into()));
            }
            if rewritten == Some(true) {
                tracing::error!(kiosk_id, seq = head.seq, "audit head differs from the one held at this seq: the kiosk's log was rewritten");
                return Ok(refused(core, 409, "audit_rewritten", "audit_rewritten: the core holds another head at this seq".into()));
            }
            tx.execute(
                "INSERT INTO audit_anchors (anchor_id, kiosk_id, seq, head, anchored_at_ms, head_signature, body_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&key, &kiosk_id, &head.seq, &head.head, &head.anchored_at_ms, &head.head_signature, &hash.as_slice()],
            )
            .await?;
            (201, "accepted")
        }
    };
    let limit = MAX_REDEMPTIONS as i64;
    let redeemed: Vec<serde_json::Value> = tx
        .query(
            "SELECT v.token_id, v.at_ms FROM (
                 SELECT a.token_id, (extract(epoch FROM a.activated_at) * 1000)::bigint AS at_ms
                 FROM activations a JOIN accounts c USING (account_id) WHERE c.kiosk_id = $1) v
             WHERE v.at_ms >= $2 ORDER BY v.at_ms, v.token_id LIMIT $3",
            &[&kiosk_id, &head.redemptions_since_ms, &limit],
        )
        .await?
        .iter()
        .map(|r| json!({ "activation_token_id": r.get::<_, String>(0), "redeemed_at_ms": r.get::<_, i64>(1) }))
        .collect();
    tx.commit().await?;
    Ok(Answer::json(status.0, json!({ "anchor_id": key, "status": status.1, "redeemed_tokens": redeemed })))
}
