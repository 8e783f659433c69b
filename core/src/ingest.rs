//! `POST /v1/kiosk-messages` (docs/openapi/core-sync.yaml): who sent it (registered kiosk,
//! Ed25519 body signature), what it is (strict envelope and payload checks), and its effect
//! in one PostgreSQL transaction together with its Idempotency-Key. Bad input changes nothing.

use crate::db::is_race;
use crate::error::CoreError;
use crate::http::Answer;
use crate::index::{decode_template, encode_template};
use crate::server::Core;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use kiosk::account::LimitsPolicy;
use kiosk::sync::protocol;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop};

pub const KIND_ACCOUNT_OPENED: &str = "account_opened";
pub const KIND_CHOICE: &str = "social_payments_choice";
pub const KIND_HEARTBEAT: &str = "heartbeat";
const ENDPOINT: &str = "kiosk-messages";

/// What arrived, as the HTTP layer read it.
pub struct Delivery<'a> {
    pub path: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub kiosk_id: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub body: &'a [u8],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    message_id: String,
    kind: String,
    kiosk_id: String,
    #[allow(dead_code)]
    created_at_ms: i64,
    payload: serde_json::Value,
}

#[derive(Deserialize, Serialize, Zeroize, ZeroizeOnDrop)]
struct Personal {
    surname: String,
    given_names: String,
    document_number: String,
    nationality: String,
    birth_date: String,
    expiry_date: String,
}

#[derive(Deserialize)]
struct AccountOpened {
    onboarding_id: Uuid,
    account_id: Uuid,
    created_at_ms: i64,
    limits: LimitsPolicy,
    activation_token_id: String,
    consent_version: String,
    consent_sha256: String,
    personal: Personal,
    /// base64 of 128 little-endian f32 (kiosks before the fleet-wide check send none).
    #[serde(default)]
    face_template: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Choice {
    choice_id: Uuid,
    account_id: Uuid,
    decided_at_ms: i64,
    rules_version: String,
    credit_to_account: bool,
    categories: Vec<String>,
    kinds_offered: Vec<String>,
}

fn refused(core: &Core, status: u16, reason: &'static str, message: String) -> Answer {
    core.metrics.refusal(ENDPOINT, reason);
    Answer::error(status, message)
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_id(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Handles one delivery; never fails (a database outage is a 503 the kiosk retries).
pub async fn deliver(core: &Arc<Core>, d: Delivery<'_>) -> Answer {
    let key_text = d.idempotency_key.unwrap_or_default();
    let answer = match checked(core, &d).await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::error!(%error, "kiosk message not applied; answered 503");
            Answer::unavailable(&error)
        }
    };
    // A registered kiosk's refusals feed the fleet page's refusal-spike alert (425 is normal).
    if (400..500).contains(&answer.status) && answer.status != 425 {
        if let Some(kiosk_id) = d.kiosk_id {
            if !matches!(core.kiosk_key(kiosk_id).await, Ok(Some(_))) {
                return answer.echo(key_text);
            }
            let reason = String::from_utf8_lossy(&answer.body).chars().take(200).collect::<String>();
            crate::fleet::note_refusal(core, kiosk_id, answer.status, &reason).await;
        }
    }
    answer.echo(key_text)
}

async fn checked(core: &Arc<Core>, d: &Delivery<'_>) -> Result<Answer, CoreError> {
    let Some(key_text) = d.idempotency_key else {
        return Ok(refused(core, 400, "no_idempotency_key", "Idempotency-Key header missing; send the outbox row id".into()));
    };
    let Ok(key) = Uuid::parse_str(key_text) else {
        return Ok(refused(core, 400, "bad_idempotency_key", "Idempotency-Key is not a UUID".into()));
    };
    let Some(kiosk_id) = d.kiosk_id.filter(|k| (1..=64).contains(&k.len())) else {
        return Ok(refused(core, 400, "no_kiosk_id", "Kiosk-Id header missing or longer than 64 characters".into()));
    };
    let Some(signature) = d.signature else {
        return Ok(refused(core, 401, "no_signature", "Kiosk-Signature header missing; every body is signed with the kiosk key".into()));
    };
    let Some((public_key, seen)) = core.kiosk_key_and_seen(kiosk_id, key).await? else {
        return Ok(refused(
            core,
            401,
            "unknown_kiosk",
            format!("kiosk `{kiosk_id}` is not registered with the bank; register it with `kiosk-core kiosks register`"),
        ));
    };
    if !protocol::verify(&public_key, signature, "POST", d.path, key_text, kiosk_id, d.body) {
        return Ok(refused(
            core,
            401,
            "bad_signature",
            format!("Kiosk-Signature does not verify with the key registered for kiosk `{kiosk_id}`"),
        ));
    }
    let envelope: Envelope = match serde_json::from_slice(d.body) {
        Ok(e) => e,
        Err(e) => return Ok(refused(core, 400, "malformed_body", format!("body is not a message envelope: {e}"))),
    };
    if Uuid::parse_str(&envelope.message_id).ok() != Some(key) {
        return Ok(refused(core, 400, "message_id_mismatch", "message_id differs from Idempotency-Key".into()));
    }
    if envelope.kiosk_id != kiosk_id {
        return Ok(refused(core, 400, "kiosk_id_mismatch", "kiosk_id in the body differs from the Kiosk-Id header".into()));
    }
    let hash: [u8; 32] = Sha256::digest(d.body).into();
    // A retransmission (the common case after a lost answer) needs no lock and no parsing. A
    // key not seen a moment ago but taken meanwhile is found again in the effect's transaction.
    if seen {
        if let Some(answer) = repeat(core, key, &hash, &envelope.kind).await? {
            return Ok(answer);
        }
    }
    let work = match envelope.kind.as_str() {
        KIND_ACCOUNT_OPENED => match serde_json::from_value::<AccountOpened>(envelope.payload) {
            Ok(p) => match validate_account(&p) {
                Ok(()) => Work::Account(Box::new(p)),
                Err(why) => return Ok(refused(core, 422, "invalid_account", why)),
            },
            Err(e) => return Ok(refused(core, 422, "invalid_account", format!("account_opened payload: {e}"))),
        },
        KIND_CHOICE => match serde_json::from_value::<Choice>(envelope.payload) {
            Ok(p) => match validate_choice(&p) {
                Ok(()) => Work::Choice(p),
                Err(why) => return Ok(refused(core, 422, "invalid_choice", why)),
            },
            Err(e) => return Ok(refused(core, 422, "invalid_choice", format!("social_payments_choice payload: {e}"))),
        },
        KIND_HEARTBEAT => match crate::fleet::parse(envelope.payload) {
            Ok(h) => Work::Heartbeat(Box::new(h)),
            Err(why) => return Ok(refused(core, 422, "invalid_heartbeat", why)),
        },
        other => {
            return Ok(refused(core, 422, "unknown_kind", format!("unknown message kind `{other}`; expected account_opened, social_payments_choice or heartbeat")))
        }
    };
    // A race with another gateway (the same key, the same account) is settled by running again:
    // the second run sees what the first committed.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = match &work {
            Work::Account(p) => admit(core, kiosk_id, key, &hash, p).await,
            Work::Choice(p) => record_choice(core, kiosk_id, key, &hash, p).await,
            Work::Heartbeat(h) => crate::fleet::record(core, kiosk_id, key, h).await,
        };
        match result {
            Err(e) if attempt < 5 && is_race(&e) => continue,
            other => return other,
        }
    }
}

enum Work {
    Account(Box<AccountOpened>),
    Choice(Choice),
    Heartbeat(Box<crate::fleet::Heartbeat>),
}

fn validate_account(p: &AccountOpened) -> Result<(), String> {
    if !is_hex(&p.activation_token_id, 32) {
        return Err("activation_token_id must be 32 lowercase hex characters".into());
    }
    if !is_hex(&p.consent_sha256, 64) {
        return Err("consent_sha256 must be 64 lowercase hex characters".into());
    }
    if p.personal.nationality.chars().count() != 3 {
        return Err("personal.nationality must be a 3-letter code".into());
    }
    if p.personal.document_number.trim().is_empty() {
        return Err("personal.document_number is empty".into());
    }
    // The face search's bucket: every passport's data page has a birth date.
    if p.personal.birth_date.trim().is_empty() {
        return Err("personal.birth_date is empty".into());
    }
    if let Some(t) = &p.face_template {
        let ok = STANDARD.decode(t).ok().and_then(|b| decode_template(&b)).is_some();
        if !ok {
            return Err("face_template must be base64 of 128 finite little-endian f32 values, not all zero".into());
        }
    }
    Ok(())
}

fn validate_choice(p: &Choice) -> Result<(), String> {
    if p.rules_version.is_empty() || p.rules_version.len() > 32 {
        return Err("rules_version must have 1 to 32 characters".into());
    }
    if !p.categories.iter().chain(&p.kinds_offered).all(|s| is_id(s)) {
        return Err("categories and kinds_offered must be ids like `old_age_pension`".into());
    }
    let lists_empty = p.categories.is_empty() && p.kinds_offered.is_empty();
    if !p.credit_to_account && !lists_empty {
        return Err("credit_to_account is false but categories or kinds are listed".into());
    }
    Ok(())
}

/// The stored answer for a key already taken: 200 with the same body, 409 with another.
async fn repeat(core: &Core, key: Uuid, hash: &[u8; 32], kind: &str) -> Result<Option<Answer>, CoreError> {
    let client = core.pool.get().await?;
    let row = client
        .query_opt(
            "UPDATE idempotency_keys SET deliveries = deliveries + 1 WHERE idempotency_key = $1 RETURNING body_sha256, answer",
            &[&key],
        )
        .await?;
    Ok(row.map(|row| stored_answer(core, &row.get::<_, Vec<u8>>(0), row.get(1), hash, kind)))
}

pub(crate) fn stored_answer(core: &Core, stored_hash: &[u8], mut answer: serde_json::Value, hash: &[u8; 32], kind: &str) -> Answer {
    if stored_hash != hash {
        return refused(core, 409, "key_reused", "this Idempotency-Key was used with another body".into());
    }
    core.metrics.messages_duplicate.get_or_create(&crate::metrics::Kind { kind: kind.to_owned() }).inc();
    answer["status"] = json!("duplicate");
    Answer::json(200, answer)
}

/// A new account, checked as the kiosk checks its own enrolments (docs/CORE.md): first
/// exactly, by the keyed hash of the passport anywhere in the fleet (`blocked_document`); then
/// by face among the fleet's templates of the same birth date only, at the kiosks'
/// `face.duplicate_threshold` (`blocked_duplicate`). The bucket is searched and the rows
/// sealed here, outside the lock; the admission task then decides it with its batch under the
/// admission lock and commits the account, its template and the key together
/// (`admission::run`).
async fn admit(core: &Arc<Core>, kiosk_id: &str, key: Uuid, hash: &[u8; 32], p: &AccountOpened) -> Result<Answer, CoreError> {
    let template = p.face_template.as_deref().and_then(|t| STANDARD.decode(t).ok()).and_then(|b| decode_template(&b));
    let document_index = core.keys.document_index(&p.personal.nationality, &p.personal.document_number)?;
    let bucket = core.keys.birth_index(&p.personal.birth_date)?;
    // The bucket as this gateway holds it now; under the lock, only what was added since.
    let (mark, outside) = match &template {
        Some(t) => {
            let mark = core.index.mark(&bucket);
            (mark, core.search(&bucket, t, 0).await.0)
        }
        None => (0, None),
    };
    let account = p.account_id.to_string();
    let personal = zeroize::Zeroizing::new(serde_json::to_vec(&p.personal).map_err(|e| CoreError::Corrupt(e.to_string()))?);
    let personal_sealed = core.keys.seal("accounts", "personal_sealed", &account, &personal)?;
    let face = match template {
        Some(t) => {
            let sealed = core.keys.seal("face_templates", "template_sealed", &account, &encode_template(&t))?;
            Some((t, sealed))
        }
        None => None,
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    let pending = crate::admission::Pending {
        key,
        kiosk_id: kiosk_id.to_owned(),
        hash: *hash,
        account_id: p.account_id,
        onboarding_id: p.onboarding_id,
        opened_at_ms: p.created_at_ms,
        activation_token_id: p.activation_token_id.clone(),
        consent_version: p.consent_version.clone(),
        consent_sha256: p.consent_sha256.clone(),
        limits: serde_json::to_value(&p.limits).map_err(|e| CoreError::Corrupt(e.to_string()))?,
        personal_sealed,
        document_index,
        bucket,
        face,
        mark,
        outside,
        reply,
    };
    core.admissions.send(pending).await.map_err(|_| CoreError::Stopped("its queue is closed"))?;
    match answer.await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(error)) => {
            tracing::error!(%error, "admission batch not committed; answered 503");
            Ok(Answer::unavailable(&error))
        }
        Err(_) => Err(CoreError::Stopped("it dropped the admission")),
    }
}

async fn record_choice(core: &Arc<Core>, kiosk_id: &str, key: Uuid, hash: &[u8; 32], p: &Choice) -> Result<Answer, CoreError> {
    let mut client = core.pool.get().await?;
    let tx = client.transaction().await?;
    if let Some(row) = tx.query_opt("SELECT body_sha256, answer FROM idempotency_keys WHERE idempotency_key = $1", &[&key]).await? {
        return Ok(stored_answer(core, &row.get::<_, Vec<u8>>(0), row.get(1), hash, KIND_CHOICE));
    }
    let Some(row) = tx.query_opt("SELECT kiosk_id FROM accounts WHERE account_id = $1 FOR SHARE", &[&p.account_id]).await? else {
        core.metrics.refusal(ENDPOINT, "account_not_yet_known");
        return Ok(Answer::error(425, format!("account {} not known yet; send its account_opened first", p.account_id)).retry_after(5));
    };
    let owner: String = row.get(0);
    if owner != kiosk_id {
        return Ok(refused(core, 422, "foreign_account", format!("account {} was opened by another kiosk", p.account_id)));
    }
    if tx.query_opt("SELECT 1 FROM social_payments_choices WHERE account_id = $1", &[&p.account_id]).await?.is_some() {
        return Ok(refused(core, 409, "choice_exists", "a social payments choice is already recorded for this account".into()));
    }
    let account = p.account_id.to_string();
    let payload = zeroize::Zeroizing::new(serde_json::to_vec(p).map_err(|e| CoreError::Corrupt(e.to_string()))?);
    let sealed = core.keys.seal("social_payments_choices", "payload_sealed", &account, &payload)?;
    tx.execute(
        "INSERT INTO social_payments_choices (account_id, message_id, choice_id, rules_version, payload_sealed) VALUES ($1, $2, $3, $4, $5)",
        &[&p.account_id, &key, &p.choice_id, &p.rules_version, &sealed],
    )
    .await?;
    let answer = json!({ "message_id": key, "status": "accepted" });
    tx.execute(
        "INSERT INTO idempotency_keys (idempotency_key, kiosk_id, body_sha256, kind, answer) VALUES ($1, $2, $3, $4, $5)",
        &[&key, &kiosk_id, &hash.as_slice(), &KIND_CHOICE, &answer],
    )
    .await?;
    tx.commit().await?;
    core.metrics.messages_accepted.get_or_create(&crate::metrics::Kind { kind: KIND_CHOICE.into() }).inc();
    Ok(Answer::json(201, answer))
}

/// Deletes idempotency keys older than the retention (run hourly by every gateway; cheap).
pub async fn purge_keys(core: &Core) -> Result<u64, CoreError> {
    let client = core.pool.get().await?;
    let days = i32::try_from(core.settings.key_retention_days).unwrap_or(i32::MAX);
    Ok(client.execute("DELETE FROM idempotency_keys WHERE first_seen_at < now() - $1::int * interval '1 day'", &[&days]).await?)
}
