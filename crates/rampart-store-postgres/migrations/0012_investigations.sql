-- The automated investigation of each incident, kept: a node claims an incident that has
-- none (owner, lease_until: a compare-and-set, so nodes sharing the store investigate each
-- incident once; a claim whose node died is taken again once its lease expired), then stores
-- the result (verdict, evidence, what it resolved) as JSON. A manual re-run replaces it.
CREATE TABLE IF NOT EXISTS investigations (
    incident_id BIGINT PRIMARY KEY,
    owner       TEXT NOT NULL,
    lease_until BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    result      TEXT NOT NULL
);
