// `tandem migrate` adopts a database written by the tandem.watch v2.0 server: every row
// survives, and `tandem rooms` reads it.
#include <catch2/catch.hpp>

#include "tests/integration/store/support.hpp"

using namespace tandem;
using namespace tandem::store_test;

namespace {

// The tables as the v2.0 server created them (with its own CREATE TABLE IF NOT EXISTS).
constexpr const char* kV2Schema = R"(
CREATE TABLE IF NOT EXISTS rooms (
  id VARCHAR(255) PRIMARY KEY,
  host_user_id VARCHAR(255) NOT NULL,
  current_url TEXT,
  "current_time" DECIMAL DEFAULT 0,
  is_playing BOOLEAN DEFAULT false,
  guest_control_enabled BOOLEAN DEFAULT false,
  created_at TIMESTAMP DEFAULT NOW(),
  updated_at TIMESTAMP DEFAULT NOW(),
  archived_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS users (
  id VARCHAR(255) PRIMARY KEY,
  room_id VARCHAR(255) REFERENCES rooms(id) ON DELETE CASCADE,
  username VARCHAR(255),
  "current_time" DECIMAL DEFAULT 0,
  is_playing BOOLEAN DEFAULT false,
  connection_quality VARCHAR(50) DEFAULT 'good',
  last_heartbeat TIMESTAMP DEFAULT NOW(),
  created_at TIMESTAMP DEFAULT NOW(),
  updated_at TIMESTAMP DEFAULT NOW()
);
CREATE TABLE IF NOT EXISTS room_events (
  id SERIAL PRIMARY KEY,
  room_id VARCHAR(255) REFERENCES rooms(id) ON DELETE CASCADE,
  event_type VARCHAR(50) NOT NULL,
  user_id VARCHAR(255),
  data JSONB,
  created_at TIMESTAMP DEFAULT NOW()
);
CREATE INDEX IF NOT EXISTS idx_users_room_id ON users(room_id);
CREATE INDEX IF NOT EXISTS idx_room_events_room_id ON room_events(room_id);
CREATE INDEX IF NOT EXISTS idx_room_events_created_at ON room_events(created_at);
)";

constexpr const char* kV2Rows = R"(
INSERT INTO rooms (id, host_user_id, current_url, "current_time", is_playing, guest_control_enabled,
                   created_at, updated_at, archived_at) VALUES
  ('default_room_1732665600000', 'user_k3j2h1g', 'https://www.netflix.com/watch/80057281', 1234.5, true, false,
   '2024-11-27 00:00:00', '2024-11-27 01:30:00', NULL),
  ('room:with{odd}*/chars', 'user_x', NULL, 0, false, true, '2024-11-26 10:00:00', '2024-11-26 10:05:00', NULL),
  ('old_room', 'user_old', 'https://www.netflix.com/watch/1', 60, false, false,
   '2024-10-01 12:00:00', '2024-10-01 13:00:00', '2024-10-01 13:00:00');
INSERT INTO users (id, room_id, username, "current_time", is_playing, connection_quality, last_heartbeat,
                   created_at, updated_at) VALUES
  ('user_k3j2h1g', 'default_room_1732665600000', 'Ann', 1234.5, true, 'good', '2024-11-27 01:30:00',
   '2024-11-27 00:00:00', '2024-11-27 01:30:00'),
  ('user_guest', 'default_room_1732665600000', NULL, 1230, true, 'poor', '2024-11-27 01:29:00',
   '2024-11-27 00:10:00', '2024-11-27 01:29:00'),
  ('user_x', 'room:with{odd}*/chars', 'Ximena', 0, false, 'good', '2024-11-26 10:05:00',
   '2024-11-26 10:00:00', '2024-11-26 10:05:00');
INSERT INTO room_events (room_id, event_type, user_id, data, created_at) VALUES
  ('default_room_1732665600000', 'ROOM_CREATED', 'user_k3j2h1g', '{"url": ""}', '2024-11-27 00:00:00'),
  ('default_room_1732665600000', 'USER_JOINED', 'user_guest', NULL, '2024-11-27 00:10:00'),
  ('default_room_1732665600000', 'PLAY_PAUSE', 'user_k3j2h1g', '{"isPlaying": true, "currentTime": 1200.25}',
   '2024-11-27 01:00:00'),
  ('room:with{odd}*/chars', 'ROOM_CREATED', 'user_x', '{}', '2024-11-26 10:00:00'),
  ('old_room', 'ROOM_ARCHIVED', NULL, '{"reason": "empty"}', '2024-10-01 13:00:00');
)";

// Every v2.0 column of every row, as text, times as epoch milliseconds read as UTC: the same
// query answers before (timestamp) and after (timestamptz) the migration.
std::vector<std::string> snapshot(store::Connection& db) {
  std::vector<std::string> rows;
  auto ms = [](const char* c) {
    return std::string("floor(extract(epoch FROM ") + c + ") * 1000)::bigint";
  };
  for (const auto& row : db.query(
           "SELECT id, host_user_id, current_url, \"current_time\"::text, is_playing::text, guest_control_enabled::text, " +
           ms("created_at") + ", " + ms("updated_at") + ", " + ms("archived_at") + " FROM rooms ORDER BY id")) {
    std::string line = "room";
    for (std::size_t i = 0; i < row.cells.size(); ++i) line += "|" + (row.is_null(i) ? "NULL" : row.text(i));
    rows.push_back(line);
  }
  for (const auto& row : db.query(
           "SELECT id, room_id, username, \"current_time\"::text, is_playing::text, connection_quality, " +
           ms("last_heartbeat") + ", " + ms("created_at") + ", " + ms("updated_at") + " FROM users ORDER BY id")) {
    std::string line = "user";
    for (std::size_t i = 0; i < row.cells.size(); ++i) line += "|" + (row.is_null(i) ? "NULL" : row.text(i));
    rows.push_back(line);
  }
  for (const auto& row : db.query("SELECT id, room_id, event_type, user_id, data::text, " + ms("created_at") +
                                  " FROM room_events ORDER BY id")) {
    std::string line = "event";
    for (std::size_t i = 0; i < row.cells.size(); ++i) line += "|" + (row.is_null(i) ? "NULL" : row.text(i));
    rows.push_back(line);
  }
  return rows;
}

}  // namespace

TEST_CASE("migrate adopts a v2.0 database keeping every row, and rooms reads it", "[store][adoption]") {
  PgSchema schema;
  {
    auto db = schema.connect();
    db->execute_script("SET TIME ZONE 'UTC'");
    db->execute_script(kV2Schema);
    db->execute_script(kV2Rows);
  }
  std::vector<std::string> before;
  {
    auto db = schema.connect();
    db->execute_script("SET TIME ZONE 'UTC'");
    before = snapshot(*db);
  }
  REQUIRE(before.size() == 11);

  const auto migrate = run_tandem({"migrate"}, schema.env());
  INFO(migrate.err);
  REQUIRE(migrate.code == 0);
  CHECK(count_of(migrate.out, "applied ") == 5);

  auto db = schema.connect();
  db->execute_script("SET TIME ZONE 'UTC'");
  CHECK(snapshot(*db) == before);
  CHECK(db->query("SELECT state FROM rooms WHERE id = 'old_room'").front().text(0) == "archived");
  CHECK(db->query("SELECT state FROM rooms WHERE id = 'room:with{odd}*/chars'").front().text(0) == "idle");

  const auto list = run_tandem({"rooms", "list", "--format", "csv"}, schema.env());
  INFO(list.err);
  REQUIRE(list.code == 0);
  CHECK(list.out ==
        "id,state,members,host,created_at,last_activity\r\n"
        "default_room_1732665600000,idle,0,user_k3j2h1g,2024-11-27T00:00:00.000Z,2024-11-27T01:30:00.000Z\r\n"
        "room:with{odd}*/chars,idle,0,user_x,2024-11-26T10:00:00.000Z,2024-11-26T10:05:00.000Z\r\n"
        "old_room,archived,0,user_old,2024-10-01T12:00:00.000Z,2024-10-01T13:00:00.000Z\r\n");

  const auto show = run_tandem({"rooms", "show", "default_room_1732665600000"}, schema.env());
  REQUIRE(show.code == 0);
  CHECK(show.out.find("position       1234.5 s, playing") != std::string::npos);
  CHECK(show.out.find("members (2)") != std::string::npos);
  CHECK(show.out.find("user_k3j2h1g  Ann") != std::string::npos);
  CHECK(show.out.find("user_guest    -") != std::string::npos);
  CHECK(show.out.find("last 3 events") != std::string::npos);

  const auto events = run_tandem({"rooms", "events", "default_room_1732665600000", "--format", "json"}, schema.env());
  REQUIRE(events.code == 0);
  CHECK(events.out ==
        R"({"id":1,"room":"default_room_1732665600000","seq":null,"type":"ROOM_CREATED","user":"user_k3j2h1g","node":null,"time":"2024-11-27T00:00:00.000Z","data":{"url":""}})"
        "\n"
        R"({"id":2,"room":"default_room_1732665600000","seq":null,"type":"USER_JOINED","user":"user_guest","node":null,"time":"2024-11-27T00:10:00.000Z","data":null})"
        "\n"
        R"({"id":3,"room":"default_room_1732665600000","seq":null,"type":"PLAY_PAUSE","user":"user_k3j2h1g","node":null,"time":"2024-11-27T01:00:00.000Z","data":{"currentTime":1200.25,"isPlaying":true}})"
        "\n");

  const auto odd = run_tandem({"rooms", "events", "room:with{odd}*/chars", "--format", "csv"}, schema.env());
  REQUIRE(odd.code == 0);
  CHECK(lines_of(odd.out).size() == 2);

  // tandem writes on top of adopted data: an idempotent event insert with seq and event_uid.
  db->execute_script(
      "INSERT INTO room_events (room_id, event_type, user_id, data, seq, node_id, event_uid) VALUES "
      "('default_room_1732665600000', 'SEEK', 'user_k3j2h1g', '{}', 1, 'n1', 'u-1') ON CONFLICT (event_uid) DO NOTHING");
  db->execute_script(
      "INSERT INTO room_events (room_id, event_type, user_id, data, seq, node_id, event_uid) VALUES "
      "('default_room_1732665600000', 'SEEK', 'user_k3j2h1g', '{}', 1, 'n1', 'u-1') ON CONFLICT (event_uid) DO NOTHING");
  CHECK(db->query("SELECT COUNT(*) FROM room_events").front().integer(0) == 6);
}
