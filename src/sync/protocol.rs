//! The wire protocol with the bank core (docs/openapi/core-sync.yaml), as pure functions:
//! the request body, the signature over it, and what a response means for the outbox row.
//!
//! Signature: Ed25519 by the kiosk key over
//! `KS1\n<METHOD>\n<path>\n<idempotency key>\n<kiosk id>\n<hex sha256(body)>`, sent base64url
//! (unpadded) in `Kiosk-Signature`. It binds the body to the key and the target, so a body
//! replayed under another idempotency key or to another endpoint does not verify.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::time::Duration;
use uuid::Uuid;
use zeroize::Zeroizing;

/// Where messages are posted, below the configured core URL.
pub const MESSAGES_PATH: &str = "/v1/kiosk-messages";
/// Where the signed audit chain head goes at the end of each sync batch.
pub const AUDIT_HEADS_PATH: &str = "/v1/kiosk-audit-heads";
const HEAD_SIGNATURE_SCHEME: &str = "KA1";
/// Most redemptions one answer may list (the OpenAPI's `maxItems`).
pub const MAX_REDEMPTIONS: usize = 500;
pub const HEADER_IDEMPOTENCY_KEY: &str = "idempotency-key";
pub const HEADER_KIOSK_ID: &str = "kiosk-id";
pub const HEADER_SIGNATURE: &str = "kiosk-signature";
const SIGNATURE_SCHEME: &str = "KS1";
/// Longest `Retry-After` honoured; a core asking for more is capped by the back-off maximum.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The JSON body for one outbox row: an envelope around the row's payload (already JSON).
/// Holds personal data, so it is zeroized when dropped.
pub fn request_body(
    message_id: Uuid,
    kind: &str,
    kiosk_id: &str,
    created_at_ms: i64,
    payload: &[u8],
) -> Zeroizing<Vec<u8>> {
    let mut body = Zeroizing::new(Vec::with_capacity(payload.len() + 200));
    body.extend_from_slice(b"{\"message_id\":\"");
    body.extend_from_slice(message_id.to_string().as_bytes());
    body.extend_from_slice(b"\",\"kind\":");
    body.extend_from_slice(serde_json::Value::from(kind).to_string().as_bytes());
    body.extend_from_slice(b",\"kiosk_id\":");
    body.extend_from_slice(serde_json::Value::from(kiosk_id).to_string().as_bytes());
    body.extend_from_slice(b",\"created_at_ms\":");
    body.extend_from_slice(created_at_ms.to_string().as_bytes());
    body.extend_from_slice(b",\"payload\":");
    body.extend_from_slice(payload);
    body.push(b'}');
    body
}

fn signing_input(method: &str, path: &str, idempotency_key: &str, kiosk_id: &str, body: &[u8]) -> Vec<u8> {
    format!(
        "{SIGNATURE_SCHEME}\n{method}\n{path}\n{idempotency_key}\n{kiosk_id}\n{}",
        hex::encode(Sha256::digest(body))
    )
    .into_bytes()
}

/// The `Kiosk-Signature` header value.
pub fn sign(key: &SigningKey, method: &str, path: &str, idempotency_key: &str, kiosk_id: &str, body: &[u8]) -> String {
    let signature = key.sign(&signing_input(method, path, idempotency_key, kiosk_id, body));
    URL_SAFE_NO_PAD.encode(signature.to_bytes())
}

/// What the core does with `Kiosk-Signature` (the simulator uses it; so can the bank).
pub fn verify(
    key: &VerifyingKey,
    signature: &str,
    method: &str,
    path: &str,
    idempotency_key: &str,
    kiosk_id: &str,
    body: &[u8],
) -> bool {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(signature) else { return false };
    let Ok(signature) = Signature::from_slice(&bytes) else { return false };
    key.verify_strict(&signing_input(method, path, idempotency_key, kiosk_id, body), &signature).is_ok()
}

/// The bytes the kiosk key signs for an audit head: `KA1\n<kiosk id>\n<seq>\n<head>\n<at ms>`.
fn head_signing_input(kiosk_id: &str, seq: i64, head: &str, anchored_at_ms: i64) -> Vec<u8> {
    format!("{HEAD_SIGNATURE_SCHEME}\n{kiosk_id}\n{seq}\n{head}\n{anchored_at_ms}").into_bytes()
}

/// `head_signature`: the kiosk's signed statement of its audit chain head, which the core keeps.
pub fn sign_head(key: &SigningKey, kiosk_id: &str, seq: i64, head: &str, anchored_at_ms: i64) -> String {
    URL_SAFE_NO_PAD.encode(key.sign(&head_signing_input(kiosk_id, seq, head, anchored_at_ms)).to_bytes())
}

/// What the core (and anyone holding the kiosk's public key) checks of `head_signature`.
pub fn verify_head(key: &VerifyingKey, signature: &str, kiosk_id: &str, seq: i64, head: &str, anchored_at_ms: i64) -> bool {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(signature) else { return false };
    let Ok(signature) = Signature::from_slice(&bytes) else { return false };
    key.verify_strict(&head_signing_input(kiosk_id, seq, head, anchored_at_ms), &signature).is_ok()
}

/// The `AuditHead` body (no personal data).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditHead {
    pub anchor_id: Uuid,
    pub kiosk_id: String,
    pub seq: i64,
    pub head: String,
    pub anchored_at_ms: i64,
    pub head_signature: String,
    pub redemptions_since_ms: i64,
}

/// One activation token the core saw redeemed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Redemption {
    pub activation_token_id: String,
    pub redeemed_at_ms: i64,
}

/// The core's answer to an audit head.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditHeadAck {
    pub anchor_id: Uuid,
    pub status: String,
    pub redeemed_tokens: Vec<Redemption>,
}

/// Reads an acknowledgement body; `None` when it is not one for `anchor_id` (then the answer
/// is not taken: the anchor is sent again).
pub fn parse_head_ack(body: &[u8], anchor_id: Uuid) -> Option<AuditHeadAck> {
    let ack: AuditHeadAck = serde_json::from_slice(body).ok()?;
    (ack.anchor_id == anchor_id && ack.redeemed_tokens.len() <= MAX_REDEMPTIONS).then_some(ack)
}

/// The account's state at the core in an `Ack` for `message_id` (`account_state`, sent for
/// `account_opened`); `None` when the body is not such an answer or names no known state.
pub fn parse_account_state(body: &[u8], message_id: Uuid) -> Option<crate::store::CoreAccountState> {
    #[derive(serde::Deserialize)]
    struct Ack {
        message_id: Uuid,
        account_state: Option<String>,
    }
    let ack: Ack = serde_json::from_slice(body).ok()?;
    if ack.message_id != message_id {
        return None;
    }
    crate::store::CoreAccountState::parse(ack.account_state.as_deref()?)
}

/// What a response means for the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// 201 (new) or 200 (the core already had it): mark sent.
    Acknowledged { duplicate: bool },
    /// Try again later (network trouble, 408, 425, 429, 5xx, a response that does not match).
    Transient { reason: String, retry_after: Option<Duration> },
    /// The core will never take this message (400, 409, 422, other 4xx): quarantine.
    Permanent { status: u16, reason: String },
    /// The core does not trust this kiosk (401, 403): nothing can be delivered until staff fix
    /// the certificate or key registration; rows are left as they are.
    Unauthorized { status: u16, reason: String },
}

/// Classifies a response. `echoed_key` is the response's `Idempotency-Key`; a response for
/// another message (a stale or doubled answer on the connection) is never taken as an
/// acknowledgement.
pub fn classify(
    status: u16,
    echoed_key: Option<&str>,
    expected_key: &str,
    retry_after: Option<&str>,
    body: &str,
) -> Verdict {
    let reason = format!("core answered {status}: {}", body.trim());
    match status {
        200 | 201 => match echoed_key {
            Some(key) if key == expected_key => Verdict::Acknowledged { duplicate: status == 200 },
            _ => Verdict::Transient {
                reason: format!("core answered {status} for another message (Idempotency-Key not echoed)"),
                retry_after: None,
            },
        },
        401 | 403 => Verdict::Unauthorized { status, reason },
        408 | 425 | 429 | 500..=599 => Verdict::Transient {
            reason,
            retry_after: retry_after
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER)),
        },
        400..=499 => Verdict::Permanent { status, reason },
        _ => Verdict::Transient { reason: format!("unexpected status {status} from core"), retry_after: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(status: u16, echoed: Option<&str>, expect: &str) {
        let verdict = classify(status, echoed, "k1", Some("7"), "x");
        let got = match verdict {
            Verdict::Acknowledged { duplicate: false } => "new",
            Verdict::Acknowledged { duplicate: true } => "dup",
            Verdict::Transient { .. } => "retry",
            Verdict::Permanent { .. } => "quarantine",
            Verdict::Unauthorized { .. } => "stop",
        };
        assert_eq!(got, expect, "status {status} echoed {echoed:?}");
    }

    #[test]
    fn statuses_map_to_actions() {
        check(201, Some("k1"), "new");
        check(200, Some("k1"), "dup");
        check(201, Some("k2"), "retry");
        check(200, None, "retry");
        for s in [408, 425, 429, 500, 502, 503, 504, 302, 100] {
            check(s, Some("k1"), "retry");
        }
        for s in [400, 404, 409, 413, 422] {
            check(s, Some("k1"), "quarantine");
        }
        check(401, None, "stop");
        check(403, None, "stop");
        assert_eq!(
            classify(503, None, "k", Some(" 7 "), ""),
            Verdict::Transient { reason: "core answered 503: ".into(), retry_after: Some(Duration::from_secs(7)) }
        );
    }

    #[test]
    fn the_account_state_is_read_only_from_an_answer_for_this_message() {
        use crate::store::CoreAccountState;
        let id = Uuid::now_v7();
        let ack = |id: Uuid, state: &str| format!(r#"{{"message_id":"{id}","status":"accepted","account_state":"{state}"}}"#);
        assert_eq!(parse_account_state(ack(id, "blocked_duplicate").as_bytes(), id), Some(CoreAccountState::BlockedDuplicate));
        assert_eq!(parse_account_state(ack(id, "blocked_document").as_bytes(), id), Some(CoreAccountState::BlockedDocument));
        assert_eq!(parse_account_state(ack(id, "provisional").as_bytes(), id), Some(CoreAccountState::Provisional));
        assert_eq!(parse_account_state(ack(Uuid::now_v7(), "active").as_bytes(), id), None, "another message's answer");
        assert_eq!(parse_account_state(ack(id, "frozen").as_bytes(), id), None, "a state this kiosk does not know");
        assert_eq!(parse_account_state(format!(r#"{{"message_id":"{id}","status":"accepted"}}"#).as_bytes(), id), None);
        assert_eq!(parse_account_state(b"{", id), None);
    }

    #[test]
    fn head_signature_binds_kiosk_seq_head_and_time() {
        let key = SigningKey::from_bytes(&[9u8; 32]);
        let vk = key.verifying_key();
        let head = "ab".repeat(32);
        let sig = sign_head(&key, "K1", 7, &head, 1000);
        assert_eq!(sig.len(), 86);
        assert!(verify_head(&vk, &sig, "K1", 7, &head, 1000));
        assert!(!verify_head(&vk, &sig, "K2", 7, &head, 1000));
        assert!(!verify_head(&vk, &sig, "K1", 8, &head, 1000));
        assert!(!verify_head(&vk, &sig, "K1", 7, &"cd".repeat(32), 1000));
        assert!(!verify_head(&vk, &sig, "K1", 7, &head, 1001));
        assert!(!verify_head(&SigningKey::from_bytes(&[1u8; 32]).verifying_key(), &sig, "K1", 7, &head, 1000));
        let id = Uuid::now_v7();
        let ack = format!(r#"{{"anchor_id":"{id}","status":"accepted","redeemed_tokens":[{{"activation_token_id":"{}","redeemed_at_ms":5}}]}}"#, "0".repeat(32));
        assert_eq!(parse_head_ack(ack.as_bytes(), id).unwrap().redeemed_tokens[0].redeemed_at_ms, 5);
        assert!(parse_head_ack(ack.as_bytes(), Uuid::now_v7()).is_none(), "an answer for another anchor");
        assert!(parse_head_ack(b"not json", id).is_none());
    }

    #[test]
    fn body_is_json_and_signature_binds_everything() {
        let id = Uuid::nil();
        let body = request_body(id, "account_opened", "KIOSK \"1\"", 42, br#"{"a":1}"#);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["kiosk_id"], "KIOSK \"1\"");
        assert_eq!(v["payload"]["a"], 1);
        assert_eq!(v["created_at_ms"], 42);

        let key = SigningKey::from_bytes(&[7u8; 32]);
        let vk = key.verifying_key();
        let sig = sign(&key, "POST", "/p", "k", "K1", &body);
        assert!(verify(&vk, &sig, "POST", "/p", "k", "K1", &body));
        assert!(!verify(&vk, &sig, "POST", "/p", "k2", "K1", &body));
        assert!(!verify(&vk, &sig, "POST", "/q", "k", "K1", &body));
        assert!(!verify(&vk, &sig, "POST", "/p", "k", "K2", &body));
        assert!(!verify(&vk, &sig, "POST", "/p", "k", "K1", b"{}"));
        assert!(!verify(&vk, "not base64!", "POST", "/p", "k", "K1", &body));
    }
}
