//! Admission of new accounts in groups (group commit). Every gateway hands its admissions to
//! one task, which decides a whole batch under one fleet-wide advisory lock and commits it in
//! one transaction: the lock, the index catch-up, the checks and the commit are paid once per
//! batch instead of once per account, while the proof stays that of one admission at a time —
//! templates are inserted only under the lock, so commits arrive in `face_templates.seq` order
//! and a catch-up under the lock sees every template committed before it (docs/CORE.md).
//!
//! In a batch, the admissions are decided in arrival order: each is compared with the fleet's
//! templates (the bucket's search outside the lock plus the templates committed since) and with
//! the earlier ones of the same batch and birth date. A batch holds at most one admission per
//! idempotency key, account, activation token and passport; a second one waits for the next
//! batch, which sees the first committed.

use crate::db::{is_race, locks};
use crate::error::CoreError;
use crate::http::Answer;
use crate::index::{best, BirthIndex, Match};
use crate::ingest::{stored_answer, KIND_ACCOUNT_OPENED};
use crate::server::Core;
use kiosk::vision::{cosine_similarity, Embedding};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::ToSql;

type Param<'a> = dyn ToSql + Sync + 'a;
use uuid::Uuid;

/// Most admissions decided and committed together.
const MAX_BATCH: usize = 256;
/// Admissions waiting for a batch before handlers wait to hand theirs over.
const QUEUE: usize = 4096;
/// Runs of a batch that raced another transaction (a key taken meanwhile by another kind).
const ATTEMPTS: usize = 5;

/// An `account_opened` checked, sealed and searched outside the lock, waiting for its batch.
pub struct Pending {
    pub key: Uuid,
    pub kiosk_id: String,
    pub hash: [u8; 32],
    pub account_id: Uuid,
    pub onboarding_id: Uuid,
    pub opened_at_ms: i64,
    pub activation_token_id: String,
    pub consent_version: String,
    pub consent_sha256: String,
    pub limits: serde_json::Value,
    pub personal_sealed: Vec<u8>,
    pub document_index: Vec<u8>,
    pub bucket: BirthIndex,
    /// The template and its sealed bytes (kiosks before the fleet-wide check send none).
    pub face: Option<(Embedding, Vec<u8>)>,
    /// The bucket's size when it was searched outside the lock, and the best match then.
    pub mark: usize,
    pub outside: Option<Match>,
    pub reply: oneshot::Sender<Result<Answer, Arc<CoreError>>>,
}

pub type Queue = mpsc::Sender<Pending>;

pub fn queue() -> (Queue, mpsc::Receiver<Pending>) {
    mpsc::channel(QUEUE)
}

/// What was decided for one admission; turned into its answer once the batch is committed.
enum Outcome {
    /// The key was taken before: the stored answer (or 409 with another body).
    Repeat { stored_hash: Vec<u8>, answer: serde_json::Value },
    /// The account is there under this message id (its key expired): 200 with its state.
    Delivered(String),
    /// The account or its token arrived under another key: 409.
    Exists,
    Admitted { state: &'static str },
}

/// Decides and commits batches until the gateway stops.
pub async fn run(core: Arc<Core>, mut queue: mpsc::Receiver<Pending>) {
    let mut carried: Vec<Pending> = Vec::new();
    loop {
        if carried.is_empty() {
            match queue.recv().await {
                Some(p) => carried.push(p),
                None => return,
            }
        }
        let mut batch = std::mem::take(&mut carried);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let (now, later) = split(batch);
        carried = later;
        settle(&core, now).await;
    }
}

/// The batch without a second admission of the same key, account, token or passport (those
/// are returned to go first into the next batch). The first item always stays: progress.
fn split(batch: Vec<Pending>) -> (Vec<Pending>, Vec<Pending>) {
    let (mut keys, mut accounts, mut tokens, mut documents) = (HashSet::new(), HashSet::new(), HashSet::new(), HashSet::new());
    let (mut now, mut later) = (Vec::with_capacity(batch.len()), Vec::new());
    for p in batch {
        let clash = keys.contains(&p.key)
            || accounts.contains(&p.account_id)
            || tokens.contains(&p.activation_token_id)
            || documents.contains(&p.document_index);
        if clash {
            later.push(p);
        } else {
            keys.insert(p.key);
            accounts.insert(p.account_id);
            tokens.insert(p.activation_token_id.clone());
            documents.insert(p.document_index.clone());
            now.push(p);
        }
    }
    (now, later)
}

async fn settle(core: &Arc<Core>, batch: Vec<Pending>) {
    let mut attempt = 0;
    let result = loop {
        attempt += 1;
        match decide_and_commit(core, &batch).await {
            Err(e) if attempt < ATTEMPTS && is_race(&e) => continue,
            other => break other,
        }
    };
    match result {
        Ok(outcomes) => {
            core.metrics.admission_batch.observe(batch.len() as f64);
            for (p, outcome) in batch.into_iter().zip(outcomes) {
                let answer = answer(core, &p, outcome);
                let _ = p.reply.send(Ok(answer));
            }
        }
        Err(error) => {
            let error = Arc::new(error);
            for p in batch {
                let _ = p.reply.send(Err(Arc::clone(&error)));
            }
        }
    }
}

fn answer(core: &Core, p: &Pending, outcome: Outcome) -> Answer {
    match outcome {
        Outcome::Repeat { stored_hash, answer } => stored_answer(core, &stored_hash, answer, &p.hash, KIND_ACCOUNT_OPENED),
        Outcome::Delivered(state) => Answer::json(200, json!({ "message_id": p.key, "status": "duplicate", "account_state": state })),
        Outcome::Exists => {
            core.metrics.refusal("kiosk-messages", "account_exists");
            Answer::error(409, format!("account {} or its activation token was already delivered under another Idempotency-Key", p.account_id))
        }
        Outcome::Admitted { state } => {
            core.metrics.messages_accepted.get_or_create(&crate::metrics::Kind { kind: KIND_ACCOUNT_OPENED.into() }).inc();
            core.metrics.accounts_admitted.get_or_create(&crate::metrics::State { state: state.into() }).inc();
            if state != "provisional" {
                tracing::warn!(account_id = %p.account_id, kiosk_id = %p.kiosk_id, state, "account blocked at admission: the person already has a demo account");
            }
            Answer::json(201, admitted_answer(p.key, state))
        }
    }
}

fn admitted_answer(key: Uuid, state: &str) -> serde_json::Value {
    json!({ "message_id": key, "status": "accepted", "account_state": state })
}

/// One run of a batch: under the admission lock, what is already there, then each admission
/// in order, then every row in one transaction.
async fn decide_and_commit(core: &Arc<Core>, batch: &[Pending]) -> Result<Vec<Outcome>, CoreError> {
    let mut client = core.pool.get().await?;
    let tx = client.transaction().await?;
    let lock = tx.prepare_cached("SELECT pg_advisory_xact_lock($1)").await?;
    tx.execute(&lock, &[&locks::ADMISSION]).await?;
    let keys: Vec<Uuid> = batch.iter().map(|p| p.key).collect();
    let accounts: Vec<Uuid> = batch.iter().map(|p| p.account_id).collect();
    let tokens: Vec<&str> = batch.iter().map(|p| p.activation_token_id.as_str()).collect();
    let documents: Vec<&[u8]> = batch.iter().map(|p| p.document_index.as_slice()).collect();
    let (taken_keys, taken_accounts, same_documents) = (
        tx.prepare_cached("SELECT idempotency_key, body_sha256, answer FROM idempotency_keys WHERE idempotency_key = ANY($1)").await?,
        tx.prepare_cached("SELECT account_id, activation_token_id, message_id, state FROM accounts WHERE account_id = ANY($1) OR activation_token_id = ANY($2)").await?,
        // The earliest account of each passport (the one a block names).
        tx.prepare_cached(
            "SELECT DISTINCT ON (document_index) document_index, account_id FROM accounts
             WHERE document_index = ANY($1) ORDER BY document_index, received_at, account_id",
        )
        .await?,
    );
    // Pipelined on the one connection: one round trip for the three reads.
    let by_key: [&Param<'_>; 1] = [&keys];
    let by_account: [&Param<'_>; 2] = [&accounts, &tokens];
    let by_document: [&Param<'_>; 1] = [&documents];
    let (taken_keys, taken_accounts, same_documents) = tokio::try_join!(
        tx.query(&taken_keys, &by_key),
        tx.query(&taken_accounts, &by_account),
        tx.query(&same_documents, &by_document),
    )?;
    core.index.catch_up(&tx, &core.keys).await?;

    let taken_keys: HashMap<Uuid, (Vec<u8>, serde_json::Value)> = taken_keys.iter().map(|r| (r.get(0), (r.get(1), r.get(2)))).collect();
    let taken_accounts: Vec<(Uuid, String, Uuid, String)> = taken_accounts.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect();
    let same_documents: HashMap<Vec<u8>, Uuid> = same_documents.iter().map(|r| (r.get(0), r.get(1))).collect();

    let mut outcomes = Vec::with_capacity(batch.len());
    let mut admitted = Admitted::default();
    // The templates admitted earlier in this batch (not in any index yet), each with the
    // person's first account: a block names that one, not another blocked copy.
    let mut earlier: Vec<(&BirthIndex, &Embedding, Uuid)> = Vec::new();
    for p in batch {
        if let Some((stored_hash, answer)) = taken_keys.get(&p.key) {
            outcomes.push(Outcome::Repeat { stored_hash: stored_hash.clone(), answer: answer.clone() });
            continue;
        }
        if let Some((_, _, message, state)) = taken_accounts.iter().find(|(a, t, _, _)| *a == p.account_id || *t == p.activation_token_id) {
            outcomes.push(if *message == p.key { Outcome::Delivered(state.clone()) } else { Outcome::Exists });
            continue;
        }
        let same_document = same_documents.get(&p.document_index).copied();
        let mut found: Option<Match> = None;
        if let (Some((template, _)), None) = (&p.face, same_document) {
            // The bucket's templates committed since the search outside the lock.
            let (since, compared) = core.index.search_from(&p.bucket, p.mark, template);
            found = best(p.outside, since);
            for (bucket, other, first) in &earlier {
                if *bucket == &p.bucket {
                    found = best(found, Some(Match { account_id: *first, score: cosine_similarity(template, other) }));
                }
            }
            tracing::debug!(compared_under_lock = compared, "face searched among the same birth date");
        }
        let mut duplicate = found.filter(|m| m.score >= core.settings.duplicate_threshold);
        if let Some(m) = duplicate.as_mut() {
            // A committed match may itself be blocked: name the account it names.
            if !earlier.iter().any(|(_, _, first)| *first == m.account_id) {
                let first = tx.prepare_cached("SELECT COALESCE(blocked_because, account_id) FROM accounts WHERE account_id = $1").await?;
                if let Some(row) = tx.query_opt(&first, &[&m.account_id]).await? {
                    m.account_id = row.get(0);
                }
            }
        }
        let (state, because, score) = match (same_document, duplicate) {
            (Some(first), _) => ("blocked_document", Some(first), None),
            (None, Some(m)) => ("blocked_duplicate", Some(m.account_id), Some(m.score)),
            (None, None) => ("provisional", None, found.map(|m| m.score)),
        };
        if let Some((template, _)) = &p.face {
            earlier.push((&p.bucket, template, because.unwrap_or(p.account_id)));
        }
        admitted.push(p, state, because, score);
        outcomes.push(Outcome::Admitted { state });
    }
    if !admitted.accounts.is_empty() {
        admitted.insert(&tx).await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// The rows of a batch's new accounts, as the columns' arrays (one INSERT each).
#[derive(Default)]
struct Admitted<'a> {
    accounts: Vec<Uuid>,
    kiosks: Vec<&'a str>,
    messages: Vec<Uuid>,
    onboardings: Vec<Uuid>,
    opened: Vec<i64>,
    tokens: Vec<&'a str>,
    consent_versions: Vec<&'a str>,
    consent_hashes: Vec<&'a str>,
    limits: Vec<&'a serde_json::Value>,
    personal: Vec<&'a [u8]>,
    documents: Vec<&'a [u8]>,
    states: Vec<&'static str>,
    because: Vec<Option<Uuid>>,
    scores: Vec<Option<f32>>,
    template_accounts: Vec<Uuid>,
    templates: Vec<&'a [u8]>,
    buckets: Vec<&'a [u8]>,
    hashes: Vec<&'a [u8]>,
    answers: Vec<serde_json::Value>,
}

impl<'a> Admitted<'a> {
    fn push(&mut self, p: &'a Pending, state: &'static str, because: Option<Uuid>, score: Option<f32>) {
        self.accounts.push(p.account_id);
        self.kiosks.push(&p.kiosk_id);
        self.messages.push(p.key);
        self.onboardings.push(p.onboarding_id);
        self.opened.push(p.opened_at_ms);
        self.tokens.push(&p.activation_token_id);
        self.consent_versions.push(&p.consent_version);
        self.consent_hashes.push(&p.consent_sha256);
        self.limits.push(&p.limits);
        self.personal.push(&p.personal_sealed);
        self.documents.push(&p.document_index);
        self.states.push(state);
        self.because.push(because);
        self.scores.push(score);
        if let Some((_, sealed)) = &p.face {
            self.template_accounts.push(p.account_id);
            self.templates.push(sealed);
            self.buckets.push(&p.bucket);
        }
        self.hashes.push(&p.hash);
        self.answers.push(admitted_answer(p.key, state));
    }

    async fn insert(&self, tx: &deadpool_postgres::Transaction<'_>) -> Result<(), CoreError> {
        let accounts = tx
            .prepare_cached(
                "INSERT INTO accounts (account_id, kiosk_id, message_id, onboarding_id, opened_at_ms, activation_token_id, consent_version, consent_sha256, limits, personal_sealed, document_index, state, blocked_because, match_score)
                 SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::int8[], $6::text[], $7::text[], $8::text[], $9::jsonb[], $10::bytea[], $11::bytea[], $12::text[], $13::uuid[], $14::real[])",
            )
            .await?;
        tx.execute(
            &accounts,
            &[
                &self.accounts, &self.kiosks, &self.messages, &self.onboardings, &self.opened, &self.tokens, &self.consent_versions,
                &self.consent_hashes, &self.limits, &self.personal, &self.documents, &self.states, &self.because, &self.scores,
            ],
        )
        .await?;
        if !self.template_accounts.is_empty() {
            // In the batch's order: `seq` follows the order the admissions were decided in.
            let templates = tx
                .prepare_cached(
                    "INSERT INTO face_templates (account_id, template_sealed, birth_index)
                     SELECT a, t, b FROM UNNEST($1::uuid[], $2::bytea[], $3::bytea[]) WITH ORDINALITY AS u(a, t, b, n) ORDER BY n",
                )
                .await?;
            tx.execute(&templates, &[&self.template_accounts, &self.templates, &self.buckets]).await?;
        }
        let keys = tx
            .prepare_cached(
                "INSERT INTO idempotency_keys (idempotency_key, kiosk_id, body_sha256, kind, answer)
                 SELECT k, i, h, $5::text, a FROM UNNEST($1::uuid[], $2::text[], $3::bytea[], $4::jsonb[]) AS u(k, i, h, a)",
            )
            .await?;
        tx.execute(&keys, &[&self.messages, &self.kiosks, &self.hashes, &self.answers, &KIND_ACCOUNT_OPENED]).await?;
        Ok(())
    }
}
