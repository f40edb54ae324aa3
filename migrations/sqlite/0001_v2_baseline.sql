-- 0001 v2 baseline: the tables of the tandem.watch v2.0 server (see migrations/postgres/0001),
-- in SQLite types, so that both backends share one logical schema and one migration history.
--
-- Times are INTEGER epoch milliseconds (UTC) everywhere in SQLite; `tandem rooms` normalises
-- PostgreSQL timestamptz to the same, so both backends print identical output.
-- JSON columns are TEXT holding one JSON value.

CREATE TABLE IF NOT EXISTS rooms (
  id TEXT PRIMARY KEY,
  host_user_id TEXT,
  current_url TEXT,
  "current_time" REAL DEFAULT 0,
  is_playing INTEGER DEFAULT 0,
  guest_control_enabled INTEGER DEFAULT 0,
  created_at INTEGER DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
  updated_at INTEGER DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
  archived_at INTEGER
);

CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY,
  room_id TEXT REFERENCES rooms(id) ON DELETE CASCADE,
  username TEXT,
  "current_time" REAL DEFAULT 0,
  is_playing INTEGER DEFAULT 0,
  connection_quality TEXT DEFAULT 'good',
  last_heartbeat INTEGER DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
  created_at INTEGER DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
  updated_at INTEGER DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
);

CREATE TABLE IF NOT EXISTS room_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  room_id TEXT,
  event_type TEXT NOT NULL,
  user_id TEXT,
  data TEXT,
  created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
);

CREATE INDEX IF NOT EXISTS idx_users_room_id ON users(room_id);
CREATE INDEX IF NOT EXISTS idx_room_events_room_id ON room_events(room_id);
CREATE INDEX IF NOT EXISTS idx_room_events_created_at ON room_events(created_at);
