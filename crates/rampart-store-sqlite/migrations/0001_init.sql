-- Rampart SQLite schema, version 1. Timestamps are INTEGER milliseconds since the epoch (UTC).

CREATE TABLE events (
    id             INTEGER PRIMARY KEY,
    ts             INTEGER NOT NULL,
    client_ip      TEXT,
    method         TEXT NOT NULL,
    host           TEXT NOT NULL,
    path           TEXT NOT NULL,
    query          TEXT NOT NULL,
    status         INTEGER NOT NULL,
    request_bytes  INTEGER,
    response_bytes INTEGER,
    latency_us     INTEGER,
    user_agent     TEXT NOT NULL,
    principal      TEXT,
    api_key_id     TEXT,
    service        TEXT,
    kind           TEXT NOT NULL,
    source_format  TEXT NOT NULL,
    -- peer ip, scheme, protocol, referer, authenticated, headers, bodies, message
    extra          TEXT NOT NULL,
    raw            TEXT NOT NULL
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_client_ip_ts ON events (client_ip, ts);

CREATE TABLE checkpoints (
    source   TEXT PRIMARY KEY,
    file_id  TEXT NOT NULL,
    "offset" INTEGER NOT NULL
);

CREATE TABLE endpoints (
    host          TEXT NOT NULL,
    method        TEXT NOT NULL,
    path_template TEXT NOT NULL,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    calls         INTEGER NOT NULL,
    data          TEXT NOT NULL,
    PRIMARY KEY (host, method, path_template)
);

CREATE TABLE incidents (
    id               INTEGER PRIMARY KEY,
    title            TEXT NOT NULL,
    severity         TEXT NOT NULL,
    severity_rank    INTEGER NOT NULL,
    status           TEXT NOT NULL,
    assigned_to      TEXT,
    classification   TEXT NOT NULL,
    determination    TEXT NOT NULL,
    tags             TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    first_activity   INTEGER NOT NULL,
    last_activity    INTEGER NOT NULL,
    priority         INTEGER NOT NULL,
    priority_reasons TEXT NOT NULL,
    entities         TEXT NOT NULL,
    alert_count      INTEGER NOT NULL,
    redirect_to      INTEGER REFERENCES incidents (id)
);
CREATE INDEX incidents_last_activity ON incidents (last_activity);
CREATE INDEX incidents_priority ON incidents (priority);
CREATE INDEX incidents_created_at ON incidents (created_at);
CREATE INDEX incidents_updated_at ON incidents (updated_at);

CREATE TABLE incident_tags (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    tag         TEXT NOT NULL,
    PRIMARY KEY (incident_id, tag)
);
CREATE INDEX incident_tags_tag ON incident_tags (tag);

CREATE TABLE incident_entities (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (incident_id, kind, value)
);
CREATE INDEX incident_entities_value ON incident_entities (value);

CREATE TABLE alerts (
    id            INTEGER PRIMARY KEY,
    incident_id   INTEGER REFERENCES incidents (id),
    status        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    detector      TEXT NOT NULL,
    severity      TEXT NOT NULL,
    severity_rank INTEGER NOT NULL,
    stage         TEXT NOT NULL,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    draft         TEXT NOT NULL
);
CREATE INDEX alerts_incident ON alerts (incident_id);
CREATE INDEX alerts_detector ON alerts (detector);

CREATE TABLE alert_entities (
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    kind     TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (alert_id, kind, value)
);
CREATE INDEX alert_entities_value ON alert_entities (value);

CREATE TABLE comments (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    author      TEXT NOT NULL,
    text        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX comments_incident ON comments (incident_id);

CREATE TABLE audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    details     TEXT NOT NULL
);
CREATE INDEX audit_object ON audit (object_type, object_id);
CREATE INDEX audit_actor ON audit (actor);

-- The audit log is append-only.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_used_at INTEGER
);
