-- 0004 short ids: the 8-character ids of PROTOCOL.md §7, kept for the operator's view
-- (`tandem rooms show`) and for rooms that outlive a node.
--
--   short_id    8 characters of [a-z0-9], primary key.
--   room_id     the room it names; one short id per room.
--   created_at  when it was minted.
--   expires_at  room's last activity + rooms.short_id_ttl; rows past it are dead and may be
--               deleted by anyone.

CREATE TABLE IF NOT EXISTS short_ids (
  short_id TEXT PRIMARY KEY,
  room_id TEXT NOT NULL UNIQUE,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  expires_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_short_ids_expires_at ON short_ids(expires_at);
