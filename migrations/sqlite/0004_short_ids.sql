-- 0004 short ids (same meaning as migrations/postgres/0004; times in epoch milliseconds).

CREATE TABLE IF NOT EXISTS short_ids (
  short_id TEXT PRIMARY KEY,
  room_id TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
  expires_at INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_short_ids_expires_at ON short_ids(expires_at);
