-- The client-IP index leads with the event's hour. Keyed `(client_ip, ts)`, every batch of
-- events touched a leaf page per distinct client anywhere in the index: at a million events
-- a 16k-event batch rewrote nearly the whole index into the WAL, a third of a replay's time,
-- and more as the table grew. Keyed `(hour, client_ip, ts)`, a batch rewrites only the pages
-- of the hours it holds. A lookup by client names the hours it visits (`client_ip_hours` in
-- `rampart-store/sql/store.rs`): one seek per hour of the range.
DROP INDEX IF EXISTS events_client_ip_ts;
CREATE INDEX events_hour_client_ip_ts ON events ((ts / 3600000), client_ip, ts);
