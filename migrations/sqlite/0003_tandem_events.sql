-- 0003 tandem events: room_events gains seq, node_id and event_uid (same meaning as
-- migrations/postgres/0003). The unique index on event_uid makes
-- INSERT ... ON CONFLICT (event_uid) DO NOTHING idempotent; NULLs (v2.0 rows) do not conflict.

ALTER TABLE room_events ADD COLUMN seq INTEGER;
ALTER TABLE room_events ADD COLUMN node_id TEXT;
ALTER TABLE room_events ADD COLUMN event_uid TEXT;

CREATE UNIQUE INDEX IF NOT EXISTS room_events_event_uid_key ON room_events(event_uid);
CREATE INDEX IF NOT EXISTS idx_room_events_room_id_id ON room_events(room_id, id);
