-- The fleet: each kiosk's last heartbeat, and every heartbeat for its history page.
-- Heartbeats are idempotent by their message id here, not in idempotency_keys (one a minute
-- per kiosk would swamp it); kept 30 days.
CREATE TABLE heartbeats (
    id          BIGSERIAL PRIMARY KEY,
    message_id  UUID NOT NULL UNIQUE,
    kiosk_id    TEXT NOT NULL REFERENCES kiosks,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    report      JSONB NOT NULL
);
CREATE INDEX heartbeats_kiosk_time ON heartbeats (kiosk_id, received_at DESC);

CREATE TABLE kiosk_status (
    kiosk_id       TEXT PRIMARY KEY REFERENCES kiosks,
    last_seen_at   TIMESTAMPTZ NOT NULL,
    report         JSONB NOT NULL
);

-- Requests refused per registered kiosk (bad signature, malformed, ...): an operations log for
-- the fleet page's refusal-spike alert, no effect on any account; kept 30 days.
CREATE TABLE refusals (
    id        BIGSERIAL PRIMARY KEY,
    kiosk_id  TEXT NOT NULL,
    at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    status    INTEGER NOT NULL,
    reason    TEXT NOT NULL
);
CREATE INDEX refusals_kiosk_at ON refusals (kiosk_id, at);
