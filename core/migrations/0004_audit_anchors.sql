-- The kiosks' audit chain heads (`POST /v1/kiosk-audit-heads`), each with the kiosk's
-- signature: the bank's evidence of what each kiosk's log held when. `anchor_id` is the
-- Idempotency-Key; `body_sha256` tells a repeat from a reused key.
CREATE TABLE audit_anchors (
    anchor_id      UUID PRIMARY KEY,
    kiosk_id       TEXT NOT NULL REFERENCES kiosks,
    seq            BIGINT NOT NULL CHECK (seq >= 0),
    head           TEXT NOT NULL CHECK (length(head) = 64),
    anchored_at_ms BIGINT NOT NULL,
    head_signature TEXT NOT NULL,
    body_sha256    BYTEA NOT NULL CHECK (length(body_sha256) = 32),
    received_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_anchors_kiosk_seq ON audit_anchors (kiosk_id, seq);
CREATE INDEX activations_activated_at ON activations (activated_at);
