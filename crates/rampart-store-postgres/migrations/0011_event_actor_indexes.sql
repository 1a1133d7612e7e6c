-- Events by principal and by API key: only the events that carry one are indexed. Most
-- access-log formats carry neither, and every stored event paid an insert into both indexes
-- for a NULL key no query looks up (`principal = $1` and `api_key_id = $1` imply IS NOT NULL,
-- so both planners still read these indexes for them).
DROP INDEX IF EXISTS events_principal_ts;
DROP INDEX IF EXISTS events_api_key_id_ts;
CREATE INDEX events_principal_ts ON events (principal, ts) WHERE principal IS NOT NULL;
CREATE INDEX events_api_key_id_ts ON events (api_key_id, ts) WHERE api_key_id IS NOT NULL;
