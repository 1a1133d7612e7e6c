-- Automation objects (rules; playbooks and webhooks later) by kind and name, each one's
-- document as JSON. Every node sharing the store reads them from here.
CREATE TABLE IF NOT EXISTS automation (
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    body       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
