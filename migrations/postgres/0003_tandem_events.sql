-- 0003 tandem events: room_events gains seq, node_id and event_uid; ids become 64-bit.
--
-- room_events, added columns (all NULL for v2.0 rows):
--   seq        the seq of the broadcast the event caused (PROTOCOL.md §10).
--   node_id    the node that produced the event.
--   event_uid  a globally unique id chosen by the producer; the unique index makes
--              INSERT ... ON CONFLICT (event_uid) DO NOTHING idempotent, so an audit batch can be
--              retried after a failure without duplicates. NULLs do not conflict.
--
-- The v2.0 foreign key room_events.room_id -> rooms(id) is dropped: an audit batch may reach the
-- database before the room row, and `tandem rooms purge` deletes a room's events itself.

DO $$
DECLARE
  fk record;
  id_seq text;
BEGIN
  FOR fk IN
    SELECT con.conname
    FROM pg_constraint con
    JOIN pg_class rel ON rel.oid = con.conrelid
    JOIN pg_namespace ns ON ns.oid = rel.relnamespace
    WHERE con.contype = 'f' AND rel.relname = 'room_events' AND ns.nspname = current_schema()
  LOOP
    EXECUTE format('ALTER TABLE room_events DROP CONSTRAINT %I', fk.conname);
  END LOOP;

  id_seq := pg_get_serial_sequence(quote_ident(current_schema()) || '.room_events', 'id');
  IF id_seq IS NOT NULL THEN
    EXECUTE format('ALTER SEQUENCE %s AS bigint', id_seq);
  END IF;
END
$$;

ALTER TABLE room_events ALTER COLUMN id TYPE BIGINT;
ALTER TABLE room_events ADD COLUMN IF NOT EXISTS seq BIGINT;
ALTER TABLE room_events ADD COLUMN IF NOT EXISTS node_id TEXT;
ALTER TABLE room_events ADD COLUMN IF NOT EXISTS event_uid TEXT;
ALTER TABLE room_events ALTER COLUMN created_at SET DEFAULT now();
UPDATE room_events SET created_at = now() WHERE created_at IS NULL;
ALTER TABLE room_events ALTER COLUMN created_at SET NOT NULL;

CREATE UNIQUE INDEX IF NOT EXISTS room_events_event_uid_key ON room_events(event_uid);
CREATE INDEX IF NOT EXISTS idx_room_events_room_id_id ON room_events(room_id, id);
