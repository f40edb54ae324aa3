-- 0001 v2 baseline: exactly the tables the tandem.watch v2.0 Node.js server created for itself.
--
-- Every statement is IF NOT EXISTS, so this migration is a no-op on a database that v2.0 already
-- used (adoption: every existing row is kept) and creates the v2.0 shape on an empty one. Later
-- migrations bring both to tandem's schema; never edit this file (its checksum is recorded).
--
-- v2.0 column types are reproduced as v2.0 declared them (TIMESTAMP without time zone, SERIAL
-- ids, VARCHAR ids); 0002 converts the timestamps to timestamptz wherever they are still
-- "timestamp without time zone", so a v2.0 database that used other types is adopted too.

CREATE TABLE IF NOT EXISTS rooms (
  id VARCHAR(255) PRIMARY KEY,
  host_user_id VARCHAR(255),
  current_url TEXT,
  "current_time" DOUBLE PRECISION DEFAULT 0,
  is_playing BOOLEAN DEFAULT FALSE,
  guest_control_enabled BOOLEAN DEFAULT FALSE,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  archived_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS users (
  id VARCHAR(255) PRIMARY KEY,
  room_id VARCHAR(255) REFERENCES rooms(id) ON DELETE CASCADE,
  username VARCHAR(255),
  "current_time" DOUBLE PRECISION DEFAULT 0,
  is_playing BOOLEAN DEFAULT FALSE,
  connection_quality VARCHAR(50) DEFAULT 'good',
  last_heartbeat TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS room_events (
  id SERIAL PRIMARY KEY,
  room_id VARCHAR(255) REFERENCES rooms(id) ON DELETE CASCADE,
  event_type VARCHAR(50) NOT NULL,
  user_id VARCHAR(255),
  data JSONB,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX IF NOT EXISTS idx_users_room_id ON users(room_id);
CREATE INDEX IF NOT EXISTS idx_room_events_room_id ON room_events(room_id);
CREATE INDEX IF NOT EXISTS idx_room_events_created_at ON room_events(created_at);
