// The cluster engine's room lookups in PostgreSQL (core/store/pg_room_reader.hpp), against the
// real database (TANDEM_TEST_PG_*, see scripts/services): what a room Redis lost is rebuilt from.
#include <catch2/catch.hpp>

#include <future>
#include <map>
#include <mutex>
#include <vector>

#include "core/metrics/metrics.hpp"
#include "core/store/migrator.hpp"
#include "core/store/pg_room_reader.hpp"
#include "core/store/pg_writer.hpp"
#include "tests/integration/fixtures.hpp"
#include "tests/integration/store/support.hpp"

using namespace tandem;
using namespace tandem::store_test;

namespace {

constexpr auto kTimeout = std::chrono::seconds(30);

engine::AuditEvent event(const std::string& room_id, const std::string& uid, std::uint64_t seq) {
  engine::AuditEvent e;
  e.uid = uid;
  e.room_id = room_id;
  e.type = "USERNAME_UPDATED";
  e.user_id = "user_a";
  e.detail = R"({"username":"Ann"})";
  e.node_id = "node-t";
  e.seq = seq;
  e.at = now_ms();
  return e;
}

engine::RoomSnapshot snapshot(const std::string& id, const std::string& state, std::uint64_t seq) {
  engine::RoomSnapshot r;
  r.room_id = id;
  r.state = state;
  r.url = "https://www.netflix.com/watch/1";
  r.seq = seq;
  r.created_at = now_ms();
  r.last_activity = r.created_at;
  r.document = R"({"room_id":")" + id + R"(","seq":)" + std::to_string(seq) + "}";
  return r;
}

struct Counters {
  metrics::Registry registry;
  metrics::Counter& errors = registry.counter("test_errors_total", "failures");
  metrics::Counter& dead_letters = registry.counter_family("tandem_dead_letters_total", "set aside", {"store"}).with("t");
};

// Looks up `ids` at once (queued together) and waits for every answer.
std::map<std::string, store::RoomLookup> find_all(store::PgRoomReader& reader, const std::vector<std::string>& ids) {
  std::mutex mutex;
  std::map<std::string, store::RoomLookup> answers;
  std::vector<std::future<void>> pending;
  std::vector<std::shared_ptr<std::promise<void>>> promises;
  for (const auto& id : ids) {
    auto p = std::make_shared<std::promise<void>>();
    pending.push_back(p->get_future());
    reader.find(id, [&mutex, &answers, id, p](store::RoomLookup found) {
      {
        std::lock_guard lock(mutex);
        answers[id] = std::move(found);
      }
      p->set_value();
    });
  }
  for (auto& f : pending) REQUIRE(f.wait_for(kTimeout) == std::future_status::ready);
  return answers;
}

}  // namespace

TEST_CASE("PostgreSQL room reader: a room not archived is found with the highest seq of its snapshot and its events, archived and unknown rooms are absent",
          "[store][postgres]") {
  PgSchema schema;
  auto db = schema.connect();
  store::Migrator(*db).up();
  testing::PgSearchPath search_path(schema.name());  // the writer and the reader open their own connections
  Counters counters;
  {
    store::PgWriter writer(schema.settings(), "node-t~abc123", counters.errors, counters.dead_letters);
    store::PgBatch batch;
    // The snapshot was copied at seq 5; events up to seq 9 were copied after it.
    batch.rooms = {snapshot("r-live", "live", 5), snapshot("r-idle", "idle", 3), snapshot("r-ended", "archived", 7)};
    batch.events = {event("r-live", "u1", 4), event("r-live", "u2", 9), event("r-ended", "u3", 8)};
    std::promise<bool> written;
    writer.write(batch, [&](bool ok) { written.set_value(ok); });
    auto result = written.get_future();
    REQUIRE(result.wait_for(kTimeout) == std::future_status::ready);
    REQUIRE(result.get());
  }

  store::PgRoomReader reader(schema.settings(), counters.errors);
  const auto answers = find_all(reader, {"r-live", "r-idle", "r-ended", "r-unknown", "r-live"});
  using Status = store::RoomLookup::Status;
  REQUIRE(answers.at("r-live").status == Status::found);
  CHECK(answers.at("r-live").room.seq == 9);
  CHECK(answers.at("r-live").room.document.find(R"("room_id": "r-live")") != std::string::npos);
  REQUIRE(answers.at("r-idle").status == Status::found);
  CHECK(answers.at("r-idle").room.seq == 3);
  CHECK(answers.at("r-ended").status == Status::absent);
  CHECK(answers.at("r-unknown").status == Status::absent);
  CHECK(counters.errors.value() == 0);
}

TEST_CASE("PostgreSQL room reader: an unreachable database answers unavailable, then at once without trying for a while",
          "[store][postgres]") {
  config::Postgres settings = test_pg_settings();
  settings.port = 1;  // nothing listens there
  Counters counters;
  store::PgRoomReader reader(settings, counters.errors);
  CHECK(find_all(reader, {"r-1"}).at("r-1").status == store::RoomLookup::Status::unavailable);
  CHECK(counters.errors.value() == 1);
  // Within kRetryAfter: answered on the caller's thread, no second attempt.
  bool answered = false;
  reader.find("r-2", [&](store::RoomLookup found) {
    answered = true;
    CHECK(found.status == store::RoomLookup::Status::unavailable);
  });
  CHECK(answered);
  CHECK(counters.errors.value() == 1);
}

TEST_CASE("PostgreSQL room reader: lookups still queued at stop are answered unavailable", "[store][postgres]") {
  config::Postgres settings = test_pg_settings();
  Counters counters;
  store::PgRoomReader reader(settings, counters.errors);
  reader.stop();
  bool answered = false;
  reader.find("r-1", [&](store::RoomLookup found) {
    answered = true;
    CHECK(found.status == store::RoomLookup::Status::unavailable);
  });
  CHECK(answered);
}

TEST_CASE("PostgreSQL writer: a room's snapshot copied late never replaces a newer one, also when only seq tells them apart",
          "[store][postgres]") {
  PgSchema schema;
  auto db = schema.connect();
  store::Migrator(*db).up();
  testing::PgSearchPath search_path(schema.name());
  Counters counters;
  store::PgWriter writer(schema.settings(), "node-t~abc123", counters.errors, counters.dead_letters);
  const auto write = [&](engine::RoomSnapshot room) {
    store::PgBatch batch;
    batch.rooms = {std::move(room)};
    std::promise<bool> written;
    writer.write(batch, [&](bool ok) { written.set_value(ok); });
    auto result = written.get_future();
    REQUIRE(result.wait_for(kTimeout) == std::future_status::ready);
    REQUIRE(result.get());
  };
  // Two members left one after the other, committed by two nodes: last_activity (the last frame)
  // is the same in both snapshots, seq tells the later one. The later arrives first.
  engine::RoomSnapshot later = snapshot("r-left", "idle", 6);
  later.member_count = 0;
  engine::RoomSnapshot earlier = later;
  earlier.seq = 5;
  earlier.member_count = 1;
  write(later);
  write(earlier);
  auto rows = db->query("SELECT seq, member_count FROM rooms WHERE id = 'r-left'");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].integer(0) == 6);
  CHECK(rows[0].integer(1) == 0);
  // A newer last_activity wins whatever its seq (the same seq: a heartbeat moved the position).
  engine::RoomSnapshot newer = later;
  newer.last_activity += 1000;
  newer.member_count = 2;
  write(newer);
  rows = db->query("SELECT seq, member_count FROM rooms WHERE id = 'r-left'");
  CHECK(rows[0].integer(1) == 2);
}
