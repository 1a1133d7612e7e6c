-- Playbook runs and their steps. A run keeps the playbook body it started with (a later
-- version of the playbook does not change a running run). A runner holds a run by its lease
-- (lease_owner, lease_until), taken by compare-and-set, so several nodes sharing a store never
-- run one run at the same time; a run whose lease expired (its node died) is claimed again and
-- continues from its steps. A step key is unique per run: a completed step is never run again.
CREATE TABLE IF NOT EXISTS playbook_runs (
    id            INTEGER PRIMARY KEY,
    playbook      TEXT NOT NULL,
    version       INTEGER NOT NULL,
    body          TEXT NOT NULL,
    subject_kind  TEXT NOT NULL,
    subject_id    INTEGER,
    entity_kind   TEXT,
    entity_value  TEXT,
    incident_id   INTEGER,
    status        TEXT NOT NULL,
    wake_at       INTEGER,
    requested_by  TEXT NOT NULL,
    lease_owner   TEXT,
    lease_until   INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    error         TEXT
);
CREATE INDEX IF NOT EXISTS playbook_runs_incident ON playbook_runs (incident_id, id);
CREATE INDEX IF NOT EXISTS playbook_runs_status ON playbook_runs (status, wake_at);

CREATE TABLE IF NOT EXISTS playbook_run_steps (
    run_id      INTEGER NOT NULL REFERENCES playbook_runs (id),
    step_key    TEXT NOT NULL,
    step_id     TEXT NOT NULL,
    status      TEXT NOT NULL,
    input       TEXT NOT NULL,
    output      TEXT NOT NULL,
    error       TEXT,
    attempt     INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    seq         INTEGER NOT NULL,
    PRIMARY KEY (run_id, step_key)
);
