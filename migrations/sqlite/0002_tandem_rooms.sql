-- 0002 tandem rooms: the columns tandem adds to rooms (same meaning as
-- migrations/postgres/0002; times are INTEGER epoch milliseconds).
--
--   state          'live' | 'idle' | 'archived'
--   member_count   members connected right now
--   seq            the room's last broadcast sequence number
--   snapshot       TEXT, JSON of the room state as tandem serve last wrote it (core/store/schema.hpp)
--   last_activity  last state change

ALTER TABLE rooms ADD COLUMN state TEXT NOT NULL DEFAULT 'idle'
  CHECK (state IN ('live', 'idle', 'archived'));
ALTER TABLE rooms ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN snapshot TEXT;
ALTER TABLE rooms ADD COLUMN last_activity INTEGER NOT NULL DEFAULT 0;

UPDATE rooms SET state = 'archived' WHERE archived_at IS NOT NULL;
UPDATE rooms SET created_at = COALESCE(updated_at, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
  WHERE created_at IS NULL;
UPDATE rooms SET last_activity = COALESCE(updated_at, created_at);

CREATE INDEX IF NOT EXISTS idx_rooms_last_activity ON rooms(last_activity);
CREATE INDEX IF NOT EXISTS idx_rooms_state ON rooms(state);
