// Writers set aside what the database refuses as data (core/store/dead_letter.hpp): the
// PostgreSQL writer of the cluster engine and the SQLite journal of the embedded one, against
// the real databases (TANDEM_TEST_PG_*, see scripts/services).
#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <future>
#include <thread>

#include "core/metrics/metrics.hpp"
#include "core/store/migrator.hpp"
#include "core/store/pg_writer.hpp"
#include "core/store/schema.hpp"
#include "core/store/sqlite_journal.hpp"
#include "tests/integration/fixtures.hpp"
#include "tests/integration/store/support.hpp"

using namespace tandem;
using namespace tandem::store_test;

namespace {

constexpr auto kWriteTimeout = std::chrono::seconds(30);

engine::AuditEvent event(const std::string& uid, std::int64_t seq, std::string detail) {
  engine::AuditEvent e;
  e.uid = uid;
  e.room_id = "party";
  e.type = "USER_JOINED";
  e.user_id = "user_a";
  e.detail = std::move(detail);
  e.node_id = "node-t";
  e.seq = seq;
  e.at = now_ms();
  return e;
}

engine::RoomSnapshot room(const std::string& id, const std::string& state) {
  engine::RoomSnapshot r;
  r.room_id = id;
  r.state = state;
  r.url = "https://www.netflix.com/watch/1";
  r.created_at = now_ms();
  r.last_activity = r.created_at;
  r.document = R"({"members":[]})";
  return r;
}

struct Counters {
  metrics::Registry registry;
  metrics::Counter& errors = registry.counter("test_write_errors_total", "failed batches");
  metrics::Counter& dead_letters =
      registry.counter_family("tandem_dead_letters_total", "set aside", {"store"}).with("test");
};

// A SQLite database at the latest schema, in a directory removed with it.
struct SqliteFile {
  TempDir dir;
  std::filesystem::path file = dir.path() / "tandem.db";
  SqliteFile() { store::ensure_sqlite_schema(file); }
};

store::SqliteJournalOptions journal_options() {
  store::SqliteJournalOptions options;
  options.node_id = "node-t";
  return options;
}

}  // namespace

TEST_CASE("PostgreSQL writer sets aside an event jsonb refuses and writes the others in order", "[store][postgres]") {
  PgSchema schema;
  auto db = schema.connect();
  store::Migrator(*db).up();
  testing::PgSearchPath search_path(schema.name());  // PgWriter opens its own connections
  Counters counters;
  store::PgWriter writer(schema.settings(), "node-t~abc123", counters.errors, counters.dead_letters);

  store::PgBatch batch;
  batch.events = {event("good-1", 1, R"({"username":"Ann"})"), event("poison", 2, R"({"username":"a\u0000b"})"),
                  event("good-2", 3, R"({"username":"Bob"})")};
  batch.rooms = {room("party", "live")};
  std::promise<bool> written;
  int answers = 0;
  writer.write(batch, [&](bool ok) {
    if (++answers == 1) written.set_value(ok);
  });
  auto result = written.get_future();
  REQUIRE(result.wait_for(kWriteTimeout) == std::future_status::ready);
  CHECK(result.get());  // written, not failed: the caller acknowledges the batch, no retry
  CHECK(answers == 1);
  CHECK(writer.healthy());

  const auto events = db->query("SELECT event_uid FROM room_events ORDER BY id");
  REQUIRE(events.size() == 2);
  CHECK(events[0].text(0) == "good-1");
  CHECK(events[1].text(0) == "good-2");
  CHECK(db->query("SELECT 1 FROM rooms WHERE id = 'party'").size() == 1);
  const auto dead = db->query(
      "SELECT kind, encode(record, 'escape'), error_code, node_id, error FROM dead_letters");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].text(0) == "event");
  CHECK(dead[0].text(1).find(R"("uid":"poison")") != std::string::npos);
  CHECK(dead[0].text(2) == "22P05");
  CHECK(dead[0].text(3) == "node-t~abc123");
  CHECK_FALSE(dead[0].text(4).empty());
  CHECK(counters.dead_letters.value() == 1);
  CHECK(counters.errors.value() == 0);

  // The writer goes on with the next batch.
  std::promise<bool> next;
  writer.write(store::PgBatch{{event("good-3", 4, "{}")}, {}, {}}, [&](bool ok) { next.set_value(ok); });
  auto next_result = next.get_future();
  REQUIRE(next_result.wait_for(kWriteTimeout) == std::future_status::ready);
  CHECK(next_result.get());
  CHECK(db->query("SELECT 1 FROM room_events").size() == 3);
  writer.stop();
}

TEST_CASE("PostgreSQL writer retries, never sets aside, when the database cannot be reached", "[store][postgres]") {
  config::Postgres unreachable = test_pg_settings();
  unreachable.port = 1;  // nothing listens there
  Counters counters;
  store::PgWriter writer(unreachable, "node-t", counters.errors, counters.dead_letters);
  std::promise<bool> written;
  writer.write(store::PgBatch{{event("e-1", 1, "{}")}, {}, {}}, [&](bool ok) { written.set_value(ok); });
  auto result = written.get_future();
  REQUIRE(result.wait_for(kWriteTimeout) == std::future_status::ready);
  CHECK_FALSE(result.get());  // failed: the caller keeps the batch and retries it
  CHECK(counters.dead_letters.value() == 0);
  CHECK(counters.errors.value() == 1);
  writer.stop();
}

TEST_CASE("SQLite journal sets aside a room snapshot the schema refuses and writes the rest", "[store][sqlite]") {
  const SqliteFile sqlite;
  const auto& file = sqlite.file;
  Counters counters;
  {
    store::SqliteJournal journal(file, journal_options(), counters.errors, counters.dead_letters);
    journal.put_room(room("party", "live"));
    journal.put_room(room("poison", "gone"));  // rooms.state CHECK (state IN ('live', 'idle', 'archived'))
    journal.append({event("good-1", 1, "{}"), event("good-2", 2, "{}")});
    CHECK(journal.drain(kWriteTimeout));
    CHECK(journal.backlog() == 0);
    CHECK(journal.healthy());
    journal.append({event("good-3", 3, "{}")});
    CHECK(journal.drain(kWriteTimeout));
  }
  auto db = store::open_sqlite(file, store::OpenMode::existing);
  const auto events = db->query("SELECT event_uid FROM room_events ORDER BY id");
  REQUIRE(events.size() == 3);
  CHECK(events[0].text(0) == "good-1");
  CHECK(events[2].text(0) == "good-3");
  const auto rooms = db->query("SELECT id FROM rooms");
  REQUIRE(rooms.size() == 1);
  CHECK(rooms[0].text(0) == "party");
  const auto dead = db->query("SELECT kind, CAST(record AS TEXT), error_code, node_id FROM dead_letters");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].text(0) == "room");
  CHECK(dead[0].text(1).find(R"("room_id":"poison")") != std::string::npos);
  CHECK(dead[0].text(2) == std::to_string(SQLITE_CONSTRAINT_CHECK));
  CHECK(dead[0].text(3) == "node-t");
  CHECK(counters.dead_letters.value() == 1);
  CHECK(counters.errors.value() == 0);
}

TEST_CASE("SQLite journal writes a full batch of events at once, and what waits with it", "[store][sqlite]") {
  const SqliteFile sqlite;
  Counters counters;
  auto options = journal_options();
  options.batch_size = 2;
  options.flush_interval = std::chrono::minutes(10);  // longer than the test: only a full batch writes
  store::SqliteJournal journal(sqlite.file, options, counters.errors, counters.dead_letters);
  auto db = store::open_sqlite(sqlite.file, store::OpenMode::existing);
  const auto rows = [&](const char* sql) { return db->query(sql).size(); };

  journal.put_room(room("party", "live"));
  journal.append({event("e-1", 1, "{}")});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(rows("SELECT 1 FROM room_events") == 0);  // one event of a batch of two waits for the flush
  CHECK(rows("SELECT 1 FROM rooms") == 0);

  journal.append({event("e-2", 2, "{}")});  // the batch is full: the writer wakes for it
  // The backlog counts a batch until the writer is back from its transaction.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((rows("SELECT 1 FROM room_events") < 2 || journal.backlog() != 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(journal.backlog() == 0);
  CHECK(rows("SELECT 1 FROM room_events") == 2);
  CHECK(rows("SELECT 1 FROM rooms WHERE id = 'party'") == 1);  // the snapshot went with the batch
}
