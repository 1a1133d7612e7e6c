-- Custom detections (saved hunting queries with a schedule; the query documents are
-- automation objects of kind hunt_query). One row per detection: the window end (slot) of the
-- latest run claimed, who holds it (owner, lease_until: a compare-and-set, so nodes sharing
-- the store never run one slot twice at once; an expired lease is claimed again), and the
-- outcome of the run once finished. A row raises its alert once per window: the dedup key is
-- an idempotency key committed with the alert (idempotency_keys, caller custom:<name>).
CREATE TABLE IF NOT EXISTS detection_runs (
    name        TEXT PRIMARY KEY,
    slot        BIGINT NOT NULL,
    owner       TEXT NOT NULL,
    lease_until BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    outcome     TEXT NOT NULL
);
