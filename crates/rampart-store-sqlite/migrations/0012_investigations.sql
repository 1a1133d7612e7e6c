-- The automated investigation of each incident, kept: a node claims an incident that has
-- none (owner, lease_until: a compare-and-set, so nodes sharing the store investigate each
-- incident once; a claim whose node died is taken again once its lease expired), then stores
-- the result (verdict, evidence, what it resolved) as JSON. A manual re-run replaces it.
CREATE TABLE IF NOT EXISTS investigations (
    incident_id INTEGER PRIMARY KEY,
    owner       TEXT NOT NULL,
    lease_until INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    result      TEXT NOT NULL
);
