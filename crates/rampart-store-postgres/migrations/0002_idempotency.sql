-- Idempotency keys of pushed requests (`Idempotency-Key`): one row per caller and key, written in
-- the same transaction as the request's events and alerts. The primary key is the arbiter when
-- several nodes race on one key. Rows expire (`expires_at`) and are deleted lazily.

CREATE TABLE IF NOT EXISTS idempotency_keys (
    caller       TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       BIGINT NOT NULL,
    response     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (caller, idem_key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_expires_at ON idempotency_keys (expires_at);
