-- Webhook deliveries: the durable outbox of outgoing notifications. A row is claimed under a
-- lease (`claimed_until`) by one statement that re-checks the lease, so nodes sharing the
-- store never send one delivery at the same time; `attempts` / `next_attempt_at` carry the
-- backoff, `status` becomes `dead` after `max_attempts` (a dead letter, retried by a person).
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    webhook         TEXT NOT NULL,
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER,
    last_error      TEXT,
    last_status     INTEGER,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_webhook ON webhook_deliveries (webhook, status, id);
