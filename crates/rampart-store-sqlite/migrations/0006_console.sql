-- Console users (argon2id password hashes, never passwords), server-side sessions (the SHA-256
-- of the cookie's secret, never the secret), failed sign-ins for the lockout, and saved queue
-- views. Sessions are in the store so that every node sharing it accepts them.

CREATE TABLE IF NOT EXISTS users (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    disabled_at   INTEGER,
    last_login_at INTEGER
);

CREATE TABLE IF NOT EXISTS sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id);

CREATE TABLE IF NOT EXISTS login_failures (
    id      INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    source  TEXT NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_account ON login_failures (account, at);
CREATE INDEX IF NOT EXISTS login_failures_source ON login_failures (source, at);

CREATE TABLE IF NOT EXISTS saved_views (
    id         INTEGER PRIMARY KEY,
    user_name  TEXT NOT NULL,
    name       TEXT NOT NULL,
    query      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (user_name, name)
);

-- The queue sorts by these with the id as tie-break (keyset pagination).
CREATE INDEX IF NOT EXISTS incidents_priority_id ON incidents (priority, id);
CREATE INDEX IF NOT EXISTS incidents_severity_id ON incidents (severity_rank, id);
CREATE INDEX IF NOT EXISTS incidents_status ON incidents (status);

-- The first-incident walkthrough: per user, the incident it uses and the steps seen (the
-- steps that follow from stored state, such as an assignment, are not kept here).
CREATE TABLE IF NOT EXISTS walkthrough (
    user_name TEXT NOT NULL,
    step      TEXT NOT NULL,
    value     TEXT NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (user_name, step)
);

-- What the queue filters incidents by beyond their own columns: the detectors and the MITRE
-- ATT&CK techniques of their alerts (a sub-technique is kept with its parent: `T1110.004`
-- and `T1110`), written with each alert and moved by merges, so the filter reads an index
-- instead of every alert.
CREATE TABLE IF NOT EXISTS incident_facets (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    facet       TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (incident_id, facet, value)
);
CREATE INDEX IF NOT EXISTS incident_facets_value ON incident_facets (facet, value, incident_id);
INSERT INTO incident_facets (incident_id, facet, value)
    SELECT DISTINCT incident_id, 'detector', detector FROM alerts WHERE incident_id IS NOT NULL
    ON CONFLICT DO NOTHING;
-- The queue's counts by status and severity read this index alone.
CREATE INDEX IF NOT EXISTS incidents_status_severity ON incidents (status, severity);
INSERT INTO incident_facets (incident_id, facet, value)
    SELECT DISTINCT a.incident_id, 'technique', t.value FROM alerts a, json_each(a.draft, '$.mitre') t
    WHERE a.incident_id IS NOT NULL
    ON CONFLICT DO NOTHING;
INSERT INTO incident_facets (incident_id, facet, value)
    SELECT DISTINCT a.incident_id, 'technique', substr(t.value, 1, instr(t.value, '.') - 1)
    FROM alerts a, json_each(a.draft, '$.mitre') t
    WHERE a.incident_id IS NOT NULL AND instr(t.value, '.') > 0
    ON CONFLICT DO NOTHING;

-- The queue's free-text search: each incident's title, tags and entity values, one per line,
-- lower-cased, in an FTS5 trigram index (rowid = incident id) that answers `GLOB '*text*'`.
CREATE VIRTUAL TABLE IF NOT EXISTS incident_search USING fts5(text, tokenize = 'trigram');
INSERT INTO incident_search (rowid, text)
    SELECT id, lower(title
        || coalesce((SELECT group_concat(char(10) || t.value, '') FROM json_each(incidents.tags) t), '')
        || coalesce((SELECT group_concat(char(10) || json_extract(e.value, '$.value'), '') FROM json_each(incidents.entities) e), ''))
    FROM incidents;
