-- 0005 dead letters (same meaning as migrations/postgres/0005): records SQLite refused as data
-- (SQLITE_CONSTRAINT, SQLITE_MISMATCH, SQLITE_TOOBIG). record is a BLOB; error_code is SQLite's
-- extended result code; failed_at is epoch milliseconds.

CREATE TABLE IF NOT EXISTS dead_letters (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  record BLOB NOT NULL,
  error TEXT NOT NULL,
  error_code TEXT,
  node_id TEXT,
  failed_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
);
