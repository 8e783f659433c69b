//! Versioned schema: migration N brings `PRAGMA user_version` from N to N+1. Append new
//! migrations; never edit a released one.
//!
//! Times are INTEGER milliseconds since the Unix epoch, UTC. Ids are UUID text. `*_sealed`
//! columns hold `seal` output only; nothing personal is stored in clear.

use rusqlite::Connection;
use thiserror::Error;

pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: initial schema
    r#"
    CREATE TABLE data_keys (
        key_id      INTEGER PRIMARY KEY,
        wrapped_key BLOB NOT NULL,
        created_at  INTEGER NOT NULL,
        retired_at  INTEGER
    );
    CREATE TABLE onboardings (
        id              TEXT PRIMARY KEY,
        started_at      INTEGER NOT NULL,
        finished_at     INTEGER NOT NULL,
        outcome         TEXT NOT NULL CHECK (outcome IN ('account_issued', 'refused')),
        consent_version TEXT NOT NULL,
        consent_sha256  TEXT NOT NULL,
        document_sealed BLOB,
        refusal_reason  TEXT
    );
    CREATE TABLE accounts (
        id                  TEXT PRIMARY KEY,
        onboarding_id       TEXT NOT NULL UNIQUE REFERENCES onboardings(id),
        created_at          INTEGER NOT NULL,
        limits_json         TEXT NOT NULL,
        activation_token_id TEXT NOT NULL UNIQUE,
        token_consumed_at   INTEGER
    );
    CREATE TABLE face_templates (
        id              TEXT PRIMARY KEY,
        account_id      TEXT NOT NULL REFERENCES accounts(id),
        created_at      INTEGER NOT NULL,
        template_sealed BLOB NOT NULL
    );
    CREATE TABLE audit_log (
        seq          INTEGER PRIMARY KEY,
        at           INTEGER NOT NULL,
        event        TEXT NOT NULL,
        details_json TEXT NOT NULL,
        prev_hash    TEXT NOT NULL,
        hash         TEXT NOT NULL
    );
    -- Append-only for the application; the hash chain catches anyone who drops these.
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    CREATE TABLE outbox (
        id             TEXT PRIMARY KEY,
        kind           TEXT NOT NULL,
        payload_sealed BLOB NOT NULL,
        created_at     INTEGER NOT NULL,
        sent_at        INTEGER,
        attempts       INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_unsent ON outbox(created_at) WHERE sent_at IS NULL;
    "#,
    // 2: sync state of the outbox (the row id is the idempotency key, persisted with the
    // onboarding, so it exists before the first send), quarantine, and retention bookkeeping.
    r#"
    ALTER TABLE outbox ADD COLUMN account_id TEXT;
    ALTER TABLE outbox ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN last_error TEXT;
    ALTER TABLE outbox ADD COLUMN quarantined_at INTEGER;
    ALTER TABLE onboardings ADD COLUMN purged_at INTEGER;
    DROP INDEX outbox_unsent;
    CREATE INDEX outbox_due ON outbox(next_attempt_at, created_at)
        WHERE sent_at IS NULL AND quarantined_at IS NULL;
    CREATE INDEX outbox_account ON outbox(account_id);
    "#,
    // 3: the face checks of each session (scores and verdicts, no biometric data), kept with
    // the onboarding so a disputed decision can be explained.
    r#"
    ALTER TABLE onboardings ADD COLUMN face_checks_json TEXT;
    "#,
    // 4: the person's answer to the state social payments offer, one per account. What they
    // selected and were offered can reveal a disability, so it is sealed with the decision
    // (`choice_sealed`, NULL once retention purged it); in clear only the rules version and
    // the times. `outbox_id` is the `social_payments_choice` message that carries it.
    r#"
    CREATE TABLE social_payments_choices (
        id            TEXT PRIMARY KEY,
        account_id    TEXT NOT NULL UNIQUE REFERENCES accounts(id),
        decided_at    INTEGER NOT NULL,
        rules_version TEXT NOT NULL,
        choice_sealed BLOB,
        outbox_id     TEXT NOT NULL UNIQUE REFERENCES outbox(id),
        purged_at     INTEGER
    );
    "#,
    // 5: a keyed audit chain (rows before it stay SHA-256, `keyed = 0`), the heads anchored at
    // the bank core (signed by the kiosk key; `acknowledged_at` once the core stored it,
    // `refused_at` when it refused it for good), and when the core said each activation token
    // was redeemed (`token_consumed_at` is the kiosk's record of that).
    r#"
    ALTER TABLE audit_log ADD COLUMN keyed INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE audit_anchors (
        id              TEXT PRIMARY KEY,
        seq             INTEGER NOT NULL,
        head            TEXT NOT NULL,
        anchored_at     INTEGER NOT NULL,
        signature       TEXT NOT NULL,
        acknowledged_at INTEGER,
        refused_at      INTEGER,
        refusal         TEXT
    );
    CREATE INDEX audit_anchors_acknowledged ON audit_anchors(seq) WHERE acknowledged_at IS NOT NULL;
    "#,
    // 6: the duplicate check's keyed hashes (HMAC-SHA256 under a key derived from the KEK; no
    // personal data in clear): `enrolment_keys` finds an earlier enrolment of the same document
    // (`document`: issuing state + number) or holder (`holder`: name + birth date);
    // `face_templates.birth_key` puts each template in its birth date's 1:N search bucket (NULL
    // for templates enrolled before: searched every time). Purged with the templates.
    r#"
    CREATE TABLE enrolment_keys (
        kind       TEXT NOT NULL CHECK (kind IN ('document', 'holder')),
        digest     BLOB NOT NULL,
        account_id TEXT NOT NULL REFERENCES accounts(id),
        created_at INTEGER NOT NULL,
        PRIMARY KEY (kind, digest)
    );
    CREATE INDEX enrolment_keys_account ON enrolment_keys(account_id);
    ALTER TABLE face_templates ADD COLUMN birth_key BLOB;
    "#,
    // 7: what the bank core answered about each account (`account_state` of its
    // `account_opened` acknowledgement): blocked there when the person already has a demo
    // account at another kiosk. NULL until the core answered (or for a core that does not say).
    r#"
    ALTER TABLE accounts ADD COLUMN core_state TEXT
        CHECK (core_state IN ('provisional', 'active', 'blocked_duplicate', 'blocked_document'));
    ALTER TABLE accounts ADD COLUMN core_state_at INTEGER;
    "#,
];

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MigrationError {
    #[error("database schema version {found} is newer than this kiosk software knows ({known}); update the software, do not downgrade")]
    TooNew { found: i64, known: i64 },
    #[error("migration to schema version {version} failed: {source}")]
    Failed { version: i64, source: rusqlite::Error },
    #[error("cannot read schema version: {0}")]
    Database(#[from] rusqlite::Error),
}

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Applies the missing migrations, each in its own transaction with its version bump.
pub fn migrate(conn: &mut Connection) -> Result<i64, MigrationError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(MigrationError::TooNew { found, known: SCHEMA_VERSION });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(found).unwrap_or(0)) {
        let version = index as i64 + 1;
        let apply = |conn: &mut Connection| -> Result<(), rusqlite::Error> {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", version)?;
            tx.commit()
        };
        apply(conn).map_err(|source| MigrationError::Failed { version, source })?;
        tracing::info!(version, "applied database migration");
    }
    Ok(SCHEMA_VERSION)
}
