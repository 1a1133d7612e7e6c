-- Recovery tasks of incidents (rotate a key, reset a password, review what an actor read,
-- undo containment, or a person's own). `dedupe_key` is the kind and entity of a seeded task
-- (NULL for custom tasks): seeding again stores nothing new. Every change is audited in the
-- same transaction.

CREATE TABLE IF NOT EXISTS tasks (
    id           INTEGER PRIMARY KEY,
    incident_id  INTEGER NOT NULL REFERENCES incidents (id),
    kind         TEXT NOT NULL,
    title        TEXT NOT NULL,
    detail       TEXT NOT NULL,
    entity_kind  TEXT,
    entity_value TEXT,
    dedupe_key   TEXT,
    done         INTEGER NOT NULL DEFAULT 0,
    done_by      TEXT,
    done_at      INTEGER,
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_incident_id ON tasks (incident_id);
CREATE UNIQUE INDEX IF NOT EXISTS tasks_dedupe ON tasks (incident_id, dedupe_key);

-- What an actor did, for the containment verdict and the review tasks: events by principal
-- and by API key (by client IP exists since 0001).
CREATE INDEX IF NOT EXISTS events_principal_ts ON events (principal, ts);
CREATE INDEX IF NOT EXISTS events_api_key_id_ts ON events (api_key_id, ts);
