-- Events keep in their row only the columns hunting and the entity pages filter on. The raw
-- line and the extra fields (JSON) of each run of up to 1,000 events written together are
-- packed and compressed (zstd) into one `event_blobs` row (`rampart_store::blob`); a new
-- event names its blob and position and stores '' in `extra` and `raw`. Rows written before
-- this migration keep theirs inline (`blob_id` NULL). Retention drops a blob once every event
-- left is newer than its newest (`ts_max`).
CREATE TABLE event_blobs (
    id     INTEGER PRIMARY KEY,
    ts_max INTEGER NOT NULL,
    data   BLOB NOT NULL
);
CREATE INDEX event_blobs_ts_max ON event_blobs (ts_max);
ALTER TABLE events ADD COLUMN blob_id INTEGER;
ALTER TABLE events ADD COLUMN blob_pos INTEGER;
