-- 0005 dead letters: records the database refused as data (SQLSTATE class 22 or 23, e.g. a
-- \u0000 that jsonb cannot store), set aside by `tandem serve` so that one bad record cannot
-- stop the audit trail. Written once, never read by serve: for the operator.
--
--   id          assigned by the database.
--   kind        'event' (room_events), 'room' (rooms) or 'short_id' (short_ids).
--   record      the record's fields as one JSON object, stored as bytes so that the bytes that
--               were refused cannot make this insert fail too
--               (read: convert_from(record, 'UTF8') or encode(record, 'escape')).
--   error       the database's message.
--   error_code  the SQLSTATE.
--   node_id     the node that set it aside (server.node_id).
--   failed_at   when.

CREATE TABLE IF NOT EXISTS dead_letters (
  id BIGSERIAL PRIMARY KEY,
  kind TEXT NOT NULL,
  record BYTEA NOT NULL,
  error TEXT NOT NULL,
  error_code TEXT,
  node_id TEXT,
  failed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
