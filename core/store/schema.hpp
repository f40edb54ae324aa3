#pragma once

// The tables `tandem serve` writes and `tandem rooms` reads: the contract between them.
// Created by migrations/{postgres,sqlite}/NNNN_*.sql; the same logical schema in both backends.
// Times: timestamptz in PostgreSQL, INTEGER epoch milliseconds (UTC) in SQLite. JSON: JSONB in
// PostgreSQL, TEXT holding one JSON value in SQLite.
//
// rooms — one row per room, upserted by serve on every state change it persists
//   id                     TEXT PK    the room id (1-64 characters, opaque)
//   host_user_id           TEXT       the current host (v2.0 column)
//   current_url            TEXT       v2.0 column: the room's url
//   "current_time"         REAL       v2.0 column: position in seconds (quote the name: keyword)
//   is_playing             BOOLEAN    v2.0 column (SQLite: 0/1)
//   guest_control_enabled  BOOLEAN    v2.0 column (SQLite: 0/1)
//   created_at             time       when the room was created (keep it on upsert)
//   updated_at             time       v2.0 column: last write; serve sets it = last_activity
//   archived_at            time       set when the room is archived, else NULL
//   state                  TEXT       'live' (has members) | 'idle' (empty, not archived yet)
//                                     | 'archived'
//   member_count           INTEGER    members connected now
//   seq                    BIGINT     the room's last broadcast seq (docs/protocol.md §10)
//   snapshot               JSON       the room state, see kSnapshotShape below
//   last_activity          time       last state change (sort key of `tandem rooms list`)
//
// room_events — the audit trail (docs/protocol.md §8), appended by serve, never updated
//   id          BIGINT PK   assigned by the database; `tandem rooms events` prints events in id
//                           order and `--follow` waits for higher ids, so serve must insert a
//                           room's events in seq order (one batch writer, rows in order)
//   room_id     TEXT
//   event_type  TEXT        ROOM_CREATED, USER_JOINED, ... (docs/protocol.md §8)
//   user_id     TEXT        the acting user, NULL when none
//   data        JSON        the event's detail object
//   created_at  time        the server time of the event
//   seq         BIGINT      the seq of the broadcast it caused (NULL only for v2.0 rows)
//   node_id     TEXT        the node that produced it
//   event_uid   TEXT UNIQUE the producer's unique id of the event (e.g. "<node>:<room>:<seq>:<n>"
//                           or a random 128-bit hex); insert with ON CONFLICT (event_uid) DO
//                           NOTHING so that a retried batch never duplicates
//
// short_ids — short_id TEXT PK (8 of [a-z0-9]), room_id TEXT UNIQUE, created_at time,
//   expires_at time (room's last activity + rooms.short_id_ttl). Upsert on room_id.
//
// users — the v2.0 member table (id, room_id, username, "current_time", is_playing,
//   connection_quality, last_heartbeat, created_at, updated_at). Read for v2.0 rooms that have no
//   snapshot; serve need not write it (members live in rooms.snapshot).
//
// dead_letters — records a writer could not store because the database refused them as data
//   (core/store/dead_letter.hpp), for the operator; serve only inserts. id PK, kind ('event' |
//   'room' | 'short_id'), record (the record as JSON, as bytes: BYTEA / BLOB), error, error_code
//   (SQLSTATE / SQLite extended result code), node_id, failed_at time.
//
// schema_migrations — owned by the migrator (core/store/migrator.hpp).
//
// SQLite specifics: foreign keys are not enforced (`tandem rooms purge` deletes a room's events,
// users and short id itself); the file is in WAL mode, and writers must set a busy timeout.

#include <filesystem>
#include <string_view>

#include "core/config/config.hpp"

namespace tandem::store {

// rooms.snapshot: a JSON object. `tandem rooms show` reads "members"; the other keys are for
// serve (restoring an idle room) and are passed through untouched.
inline constexpr std::string_view kSnapshotShape = R"({
  "url": "https://www.netflix.com/watch/1", "currentTime": 12.5, "isPlaying": true,
  "hostUserId": "user_a", "guestControlEnabled": false,
  "members": [{"userId": "user_a", "username": "Ann"}, {"userId": "user_b", "username": null}]
})";

// Room upsert, SQLite. Parameters: ?1 id, ?2 host_user_id, ?3 current_url, ?4 current_time
// (seconds), ?5 is_playing (0/1), ?6 guest_control_enabled (0/1), ?7 created_at ms,
// ?8 last_activity ms, ?9 archived_at ms or NULL, ?10 state, ?11 member_count, ?12 seq,
// ?13 snapshot (JSON text). created_at of an existing row is kept.
inline constexpr std::string_view kSqliteUpsertRoom = R"(INSERT INTO rooms
  (id, host_user_id, current_url, "current_time", is_playing, guest_control_enabled, created_at,
   updated_at, archived_at, state, member_count, seq, snapshot, last_activity)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?8)
ON CONFLICT (id) DO UPDATE SET
  host_user_id = excluded.host_user_id, current_url = excluded.current_url,
  "current_time" = excluded."current_time", is_playing = excluded.is_playing,
  guest_control_enabled = excluded.guest_control_enabled, updated_at = excluded.updated_at,
  archived_at = excluded.archived_at, state = excluded.state,
  member_count = excluded.member_count, seq = excluded.seq, snapshot = excluded.snapshot,
  last_activity = excluded.last_activity)";

// The same for PostgreSQL: $1..$13 as above, times as epoch milliseconds (bigint).
inline constexpr std::string_view kPostgresUpsertRoom = R"(INSERT INTO rooms
  (id, host_user_id, current_url, "current_time", is_playing, guest_control_enabled, created_at,
   updated_at, archived_at, state, member_count, seq, snapshot, last_activity)
VALUES ($1, $2, $3, $4::double precision, $5::int <> 0, $6::int <> 0,
        to_timestamp($7::bigint / 1000.0), to_timestamp($8::bigint / 1000.0),
        to_timestamp($9::bigint / 1000.0), $10, $11::int, $12::bigint, $13::jsonb,
        to_timestamp($8::bigint / 1000.0))
ON CONFLICT (id) DO UPDATE SET
  host_user_id = excluded.host_user_id, current_url = excluded.current_url,
  "current_time" = excluded."current_time", is_playing = excluded.is_playing,
  guest_control_enabled = excluded.guest_control_enabled, updated_at = excluded.updated_at,
  archived_at = excluded.archived_at, state = excluded.state,
  member_count = excluded.member_count, seq = excluded.seq, snapshot = excluded.snapshot,
  last_activity = excluded.last_activity)";

// Event insert, SQLite. ?1 room_id, ?2 event_type, ?3 user_id or NULL, ?4 data (JSON text),
// ?5 created_at ms, ?6 seq, ?7 node_id, ?8 event_uid.
inline constexpr std::string_view kSqliteInsertEvent = R"(INSERT INTO room_events
  (room_id, event_type, user_id, data, created_at, seq, node_id, event_uid)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
ON CONFLICT (event_uid) DO NOTHING)";

// The same for PostgreSQL ($1..$8, created_at as epoch milliseconds).
inline constexpr std::string_view kPostgresInsertEvent = R"(INSERT INTO room_events
  (room_id, event_type, user_id, data, created_at, seq, node_id, event_uid)
VALUES ($1, $2, $3, $4::jsonb, to_timestamp($5::bigint / 1000.0), $6::bigint, $7, $8)
ON CONFLICT (event_uid) DO NOTHING)";

// Short id upsert, keyed by room (room_id is UNIQUE: a room has one short id; a new one replaces
// it). SQLite: ?1 short_id, ?2 room_id, ?3 created_at ms, ?4 expires_at ms.
inline constexpr std::string_view kSqliteUpsertShortId = R"(INSERT INTO short_ids
  (short_id, room_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (room_id) DO UPDATE SET
  created_at = CASE WHEN short_ids.short_id = excluded.short_id THEN short_ids.created_at
                    ELSE excluded.created_at END,
  short_id = excluded.short_id, expires_at = excluded.expires_at)";

inline constexpr std::string_view kPostgresUpsertShortId = R"(INSERT INTO short_ids
  (short_id, room_id, created_at, expires_at)
VALUES ($1, $2, to_timestamp($3::bigint / 1000.0), to_timestamp($4::bigint / 1000.0))
ON CONFLICT (room_id) DO UPDATE SET
  created_at = CASE WHEN short_ids.short_id = excluded.short_id THEN short_ids.created_at
                    ELSE excluded.created_at END,
  short_id = excluded.short_id, expires_at = excluded.expires_at)";

// The embedded database file: server.data_dir/tandem.db.
std::filesystem::path sqlite_path(const config::Config& config);

// Opens or creates `db_file` (and its directory), switches it to WAL mode and applies the
// pending embedded migrations with the same migrator as `tandem migrate`, so `tandem serve`
// migrates its embedded database at start. Safe against a concurrent `tandem migrate`.
// Throws StoreError (schema: the file is newer than this binary or was migrated with edited
// migrations; connection/query: the file cannot be opened or written).
void ensure_sqlite_schema(const std::filesystem::path& db_file);

}  // namespace tandem::store
