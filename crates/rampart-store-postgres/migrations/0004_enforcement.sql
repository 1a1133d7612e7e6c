-- Enforcement: what the gateways' decision path and the CrowdSec bouncer API need of actions.
-- `changed_at` is when the action last entered a status (created, approved, ended): bouncers
-- pull the changes since their last pull, and nodes notice another node's changes by it.
-- `denied`/`last_denied` are the hit counters, added to in batches by every node.
-- `enforcer_pulls` keeps each bouncer key's last pull, so any node answers its next delta.

ALTER TABLE actions ADD COLUMN changed_at BIGINT;
ALTER TABLE actions ADD COLUMN denied BIGINT NOT NULL DEFAULT 0;
ALTER TABLE actions ADD COLUMN last_denied BIGINT;
UPDATE actions SET changed_at = created_at WHERE changed_at IS NULL;
CREATE INDEX IF NOT EXISTS actions_changed_at ON actions (changed_at);

CREATE TABLE IF NOT EXISTS enforcer_pulls (
    token_id  BIGINT PRIMARY KEY,
    last_pull BIGINT NOT NULL
);
