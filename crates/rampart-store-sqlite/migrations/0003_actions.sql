-- Containment actions (block an IP, disable a key, isolate an endpoint, ...). The columns are
-- what lists filter and state changes compare on; `record` is the whole action as JSON (the
-- model's `Action`). A state change is a compare-and-set on `status`, audited in the same
-- transaction, so two nodes cannot both approve or revert one action.

CREATE TABLE IF NOT EXISTS actions (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    target       TEXT NOT NULL,
    status       TEXT NOT NULL,
    incident_id  INTEGER,
    requested_by TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    record       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_status_expires_at ON actions (status, expires_at);
CREATE INDEX IF NOT EXISTS actions_incident_id ON actions (incident_id);
