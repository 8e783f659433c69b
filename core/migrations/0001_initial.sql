-- Kiosks the bank registered (`kiosk-core kiosks register`): the Ed25519 key that signs
-- their sync bodies and activation tokens.
CREATE TABLE kiosks (
    kiosk_id      TEXT PRIMARY KEY CHECK (length(kiosk_id) BETWEEN 1 AND 64),
    site          TEXT NOT NULL,
    public_key    BYTEA NOT NULL CHECK (length(public_key) = 32),
    fingerprint   TEXT NOT NULL,
    registered_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Data keys, each wrapped by the key-encryption key (a root-only file, never in the database).
CREATE TABLE data_keys (
    key_id      INTEGER PRIMARY KEY CHECK (key_id > 0),
    wrapped_key BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The key of the blind index over document numbers, sealed by a data key.
CREATE TABLE index_keys (
    name       TEXT PRIMARY KEY,
    key_sealed BYTEA NOT NULL
);

-- Every Idempotency-Key taken, with the body's hash and the answer given, written in the
-- transaction of the message's effect. Kept `--key-retention-days` (at least 30).
CREATE TABLE idempotency_keys (
    idempotency_key UUID PRIMARY KEY,
    kiosk_id        TEXT NOT NULL REFERENCES kiosks,
    body_sha256     BYTEA NOT NULL CHECK (length(body_sha256) = 32),
    kind            TEXT NOT NULL,
    answer          JSONB NOT NULL,
    first_seen_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    deliveries      INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX idempotency_keys_first_seen ON idempotency_keys (first_seen_at);

CREATE TABLE accounts (
    account_id          UUID PRIMARY KEY,
    kiosk_id            TEXT NOT NULL REFERENCES kiosks,
    message_id          UUID NOT NULL UNIQUE,
    onboarding_id       UUID NOT NULL,
    opened_at_ms        BIGINT NOT NULL,
    activation_token_id TEXT NOT NULL UNIQUE,
    consent_version     TEXT NOT NULL,
    consent_sha256      TEXT NOT NULL,
    limits              JSONB NOT NULL,
    -- DG1 fields as JSON, sealed (XChaCha20-Poly1305, bound to this row).
    personal_sealed     BYTEA NOT NULL,
    -- HMAC-SHA256 of nationality and document number under the index key: finds the same
    -- passport across the fleet without holding the number in clear.
    document_index      BYTEA NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('provisional', 'active', 'blocked_duplicate', 'blocked_document')),
    -- For a blocked account: the earlier account of the same person.
    blocked_because     UUID REFERENCES accounts,
    match_score         REAL,
    balance_kopecks     BIGINT NOT NULL DEFAULT 0 CHECK (balance_kopecks >= 0),
    received_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    activated_at        TIMESTAMPTZ
);
CREATE INDEX accounts_document_index ON accounts (document_index);
CREATE INDEX accounts_kiosk ON accounts (kiosk_id);

-- Face templates, sealed; `seq` orders them for the gateways' in-memory 1:N index (inserted
-- only under the ingestion lock, so commits come in `seq` order).
CREATE TABLE face_templates (
    seq             BIGSERIAL PRIMARY KEY,
    account_id      UUID NOT NULL UNIQUE REFERENCES accounts,
    template_sealed BYTEA NOT NULL
);

CREATE TABLE social_payments_choices (
    account_id     UUID PRIMARY KEY REFERENCES accounts,
    message_id     UUID NOT NULL UNIQUE,
    choice_id      UUID NOT NULL,
    rules_version  TEXT NOT NULL,
    payload_sealed BYTEA NOT NULL,
    received_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A redeemed activation token: the primary key is what makes it single use.
CREATE TABLE activations (
    token_id     TEXT PRIMARY KEY,
    account_id   UUID NOT NULL UNIQUE REFERENCES accounts,
    activated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Authorisations asked by the bank's processing, approved or not; the approved ones are the
-- account's history for the limits.
CREATE TABLE authorisations (
    authorisation_id UUID PRIMARY KEY,
    account_id       UUID NOT NULL REFERENCES accounts,
    operation        TEXT NOT NULL,
    amount_kopecks   BIGINT NOT NULL CHECK (amount_kopecks >= 0),
    at               TIMESTAMPTZ NOT NULL,
    approved         BOOLEAN NOT NULL,
    refusal          TEXT
);
CREATE INDEX authorisations_account_at ON authorisations (account_id, at) WHERE approved;
