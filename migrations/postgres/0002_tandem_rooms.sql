-- 0002 tandem rooms: times become timestamptz; rooms gain tandem's columns.
--
-- Timestamps: every v2.0 "timestamp without time zone" column is converted to timestamptz,
-- reading the stored value as UTC (v2.0 wrote NOW() on servers running in UTC). Columns that
-- are already timestamptz are left alone.
--
-- rooms, added columns:
--   state          'live' | 'idle' | 'archived'. v2.0 rows: 'archived' when archived_at is set,
--                  else 'idle' (no v2.0 node is left to hold them live).
--   member_count   members connected right now (0 for v2.0 rows).
--   seq            the room's last broadcast sequence number (PROTOCOL.md §10).
--   snapshot       JSONB, the room state as tandem serve last wrote it (see core/store/schema.hpp);
--                  NULL for v2.0 rows, whose members are in the v2.0 users table.
--   last_activity  last state change; v2.0 rows take updated_at (else created_at).

DO $$
DECLARE
  col record;
BEGIN
  FOR col IN
    SELECT c.table_name, c.column_name
    FROM information_schema.columns c
    WHERE c.table_schema = current_schema()
      AND c.table_name IN ('rooms', 'users', 'room_events')
      AND c.data_type = 'timestamp without time zone'
  LOOP
    EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE timestamptz USING %I AT TIME ZONE ''UTC''',
                   col.table_name, col.column_name, col.column_name);
  END LOOP;
END
$$;

ALTER TABLE rooms ADD COLUMN IF NOT EXISTS state TEXT NOT NULL DEFAULT 'idle'
  CHECK (state IN ('live', 'idle', 'archived'));
ALTER TABLE rooms ADD COLUMN IF NOT EXISTS member_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN IF NOT EXISTS seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN IF NOT EXISTS snapshot JSONB;
ALTER TABLE rooms ADD COLUMN IF NOT EXISTS last_activity TIMESTAMPTZ;

UPDATE rooms SET state = 'archived' WHERE archived_at IS NOT NULL AND state <> 'archived';
UPDATE rooms SET last_activity = COALESCE(updated_at, created_at, now()) WHERE last_activity IS NULL;
UPDATE rooms SET created_at = COALESCE(updated_at, now()) WHERE created_at IS NULL;

ALTER TABLE rooms ALTER COLUMN last_activity SET DEFAULT now();
ALTER TABLE rooms ALTER COLUMN last_activity SET NOT NULL;
ALTER TABLE rooms ALTER COLUMN created_at SET DEFAULT now();
ALTER TABLE rooms ALTER COLUMN created_at SET NOT NULL;

CREATE INDEX IF NOT EXISTS idx_rooms_last_activity ON rooms(last_activity);
CREATE INDEX IF NOT EXISTS idx_rooms_state ON rooms(state);
