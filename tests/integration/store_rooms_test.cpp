// `tandem rooms` against real PostgreSQL and SQLite: list, show, events (filters, formats,
// --follow), purge, errors — rows written with the statements core/store/schema.hpp gives serve.
#include <catch2/catch.hpp>

#include "core/store/room_format.hpp"
#include "core/store/schema.hpp"
#include "tests/integration/store/support.hpp"

using namespace tandem;
using namespace tandem::store_test;

namespace {

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kDay = 24 * kHour;

struct RoomRow {
  std::string id;
  std::string host;
  std::string state;
  std::int64_t members;
  std::int64_t seq;
  std::int64_t created;
  std::int64_t last_activity;
  std::optional<std::int64_t> archived;
  std::string snapshot;
};

void upsert_room(store::Connection& db, const RoomRow& r) {
  const auto sql = db.backend() == store::Backend::postgres ? store::kPostgresUpsertRoom : store::kSqliteUpsertRoom;
  db.query(sql, {r.id, r.host, std::string("https://www.netflix.com/watch/80057281"), 12.5, std::int64_t{1},
                 std::int64_t{0}, r.created, r.last_activity,
                 r.archived ? store::Value(*r.archived) : store::Value(std::monostate{}), r.state, r.members, r.seq,
                 r.snapshot});
}

void insert_event(store::Connection& db, const std::string& room, const std::string& type,
                  std::optional<std::string> user, const std::string& data, std::int64_t at, std::int64_t seq) {
  const auto sql = db.backend() == store::Backend::postgres ? store::kPostgresInsertEvent : store::kSqliteInsertEvent;
  db.query(sql, {room, type, user ? store::Value(*user) : store::Value(std::monostate{}), data, at, seq,
                 std::string("node-1"), room + ":" + std::to_string(seq) + ":" + type});
}

// Four rooms around `now`: live, idle, archived 40 days ago (purgeable), archived yesterday.
void seed(store::Connection& db, std::int64_t now) {
  upsert_room(db, {"party-live", "user_a", "live", 2, 5, now - 3 * kHour, now - kMinute, std::nullopt,
                   R"({"members":[{"userId":"user_a","username":"Ann"},{"userId":"user_b","username":null}],"url":"x"})"});
  upsert_room(db, {"party-idle", "user_c", "idle", 0, 2, now - 5 * kHour, now - 2 * kHour, std::nullopt,
                   R"({"members":[]})"});
  upsert_room(db, {"party-old", "user_d", "archived", 0, 3, now - 41 * kDay, now - 40 * kDay, now - 40 * kDay,
                   R"({"members":[]})"});
  upsert_room(db, {"party-recent", "user_e", "archived", 0, 1, now - 2 * kDay, now - kDay, now - kDay,
                   R"({"members":[]})"});

  insert_event(db, "party-live", "ROOM_CREATED", "user_a", R"({"pin":false})", now - 3 * kHour, 0);
  insert_event(db, "party-live", "USER_JOINED", "user_a", R"({"username":"Ann"})", now - 3 * kHour + 1, 1);
  insert_event(db, "party-live", "USER_JOINED", "user_b", R"({"username":null})", now - 2 * kHour, 2);
  insert_event(db, "party-live", "PLAY_PAUSE", "user_a", R"({"isPlaying":true,"currentTime":12.5})", now - 90 * kMinute, 3);
  insert_event(db, "party-live", "SEEK", "user_b", R"({"currentTime":42,"eventTimestamp":1732665600000})", now - 30 * kMinute, 4);
  insert_event(db, "party-live", "URL_CHANGE", "user_a", R"({"url":"https://www.netflix.com/watch/1, \"2\""})", now - kMinute, 5);
  for (std::int64_t seq = 1; seq <= 3; ++seq) {
    insert_event(db, "party-old", "USER_JOINED", "user_d", "{}", now - 41 * kDay + seq, seq);
  }
  const auto short_id = db.backend() == store::Backend::postgres ? store::kPostgresUpsertShortId : store::kSqliteUpsertShortId;
  db.query(short_id, {std::string("ab12cd34"), std::string("party-live"), now - 3 * kHour, now + 4 * kHour + 30 * kMinute});
  db.query(short_id, {std::string("zz99yy88"), std::string("party-old"), now - 41 * kDay, now - 40 * kDay});
}

struct Seeded {
  explicit Seeded(store::Backend backend) : database(backend) {
    const auto migrate = run_tandem({"migrate"}, database.env());
    INFO(migrate.err);
    REQUIRE(migrate.code == 0);
    auto db = database.connect();
    seed(*db, now);
  }
  std::int64_t now = now_ms();
  TestDatabase database;
};

}  // namespace

TEST_CASE("rooms list shows rooms by last activity with state, members, host and ages", "[store][rooms]") {
  const auto backend = GENERATE(store::Backend::sqlite, store::Backend::postgres);
  INFO(name_of(backend));
  Seeded s(backend);

  const auto r = run_tandem({"rooms", "list"}, s.database.env());
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto lines = lines_of(r.out);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0].starts_with("ROOM"));
  CHECK(lines[0].find("LAST ACTIVITY") != std::string::npos);
  CHECK(lines[1].starts_with("party-live"));
  CHECK(lines[1].find("live") != std::string::npos);
  CHECK(lines[1].find("user_a") != std::string::npos);
  CHECK(lines[1].find("3h ago") != std::string::npos);
  CHECK(lines[1].find("1m ago") != std::string::npos);
  CHECK(lines[2].starts_with("party-idle"));
  CHECK(lines[3].starts_with("party-recent"));
  CHECK(lines[4].starts_with("party-old"));
  CHECK(lines[4].find("40d ago") != std::string::npos);
  for (const auto& line : lines) CHECK(line.size() <= store::kTableWidth);
}

TEST_CASE("rooms list filters by state, activity and limit", "[store][rooms]") {
  const auto backend = GENERATE(store::Backend::sqlite, store::Backend::postgres);
  INFO(name_of(backend));
  Seeded s(backend);

  const auto archived = run_tandem({"rooms", "list", "--state", "archived", "--format", "csv"}, s.database.env());
  REQUIRE(archived.code == 0);
  CHECK(lines_of(archived.out).size() == 3);
  CHECK(archived.out.find("party-old") != std::string::npos);
  CHECK(archived.out.find("party-live") == std::string::npos);

  const auto recent = run_tandem({"rooms", "list", "--since", "3h", "--format", "json"}, s.database.env());
  REQUIRE(recent.code == 0);
  const auto lines = lines_of(recent.out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].starts_with(R"({"id":"party-live","state":"live","members":2,"host":"user_a","created_at":")"));
  CHECK(lines[1].starts_with(R"({"id":"party-idle")"));

  const auto one = run_tandem({"rooms", "list", "--limit", "1", "--format", "json"}, s.database.env());
  REQUIRE(one.code == 0);
  CHECK(lines_of(one.out).size() == 1);

  const auto since_time = run_tandem({"rooms", "list", "--since", store::format_iso(s.now - 3 * kDay), "--format", "json"},
                                     s.database.env());
  REQUIRE(since_time.code == 0);
  CHECK(lines_of(since_time.out).size() == 3);
}

TEST_CASE("rooms list rejects a bad state, duration or format with exit 2 and the accepted forms", "[store][rooms]") {
  Seeded s(store::Backend::sqlite);
  const auto format = run_tandem({"rooms", "list", "--format", "xml"}, s.database.env());
  CHECK(format.code == 2);
  CHECK(format.err.find("table, json or csv") != std::string::npos);

  const auto since = run_tandem({"rooms", "list", "--since", "yesterday"}, s.database.env());
  CHECK(since.code == 2);
  CHECK(since.err.find("15m") != std::string::npos);
  CHECK(since.err.find("2024-11-27T18:30:00Z") != std::string::npos);

  const auto state = run_tandem({"rooms", "list", "--state", "open"}, s.database.env());
  CHECK(state.code == 2);
  CHECK(state.err.find("live, idle or archived") != std::string::npos);

  const auto purge = run_tandem({"rooms", "purge", "--older-than", "a month"}, s.database.env());
  CHECK(purge.code == 2);
  CHECK(purge.err.find("30d") != std::string::npos);
}

TEST_CASE("rooms show prints state, members, short id and the last events", "[store][rooms]") {
  const auto backend = GENERATE(store::Backend::sqlite, store::Backend::postgres);
  INFO(name_of(backend));
  Seeded s(backend);

  const auto r = run_tandem({"rooms", "show", "party-live"}, s.database.env());
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("state          live (2 members)") != std::string::npos);
  CHECK(r.out.find("short id       ab12cd34 (expires in 4h)") != std::string::npos);
  CHECK(r.out.find("position       12.5 s, playing") != std::string::npos);
  CHECK(r.out.find("members (2)") != std::string::npos);
  CHECK(r.out.find("user_a  Ann") != std::string::npos);
  CHECK(r.out.find("last 6 events") != std::string::npos);
  CHECK(r.out.find("URL_CHANGE") != std::string::npos);
  for (const auto& line : lines_of(r.out)) CHECK(line.size() <= store::kTableWidth + 2);  // "…" is 3 bytes

  const auto json = run_tandem({"rooms", "show", "party-live", "--format", "json"}, s.database.env());
  REQUIRE(json.code == 0);
  CHECK(json.out.find(R"("member_list":[{"userId":"user_a","username":"Ann"},{"userId":"user_b","username":null}])") !=
        std::string::npos);
  CHECK(json.out.find(R"("short_id":"ab12cd34")") != std::string::npos);
}

TEST_CASE("rooms show and events of an unknown room exit 1 with room not found", "[store][rooms]") {
  const auto backend = GENERATE(store::Backend::sqlite, store::Backend::postgres);
  INFO(name_of(backend));
  Seeded s(backend);
  for (const char* command : {"show", "events"}) {
    const auto r = run_tandem({"rooms", command, "no-such-room"}, s.database.env());
    CHECK(r.code == 1);
    CHECK(r.err == "tandem rooms: room not found: no-such-room\n");
  }
}

TEST_CASE("rooms events prints the audit trail in seq order with filters", "[store][rooms]") {
  const auto backend = GENERATE(store::Backend::sqlite, store::Backend::postgres);
  INFO(name_of(backend));
  Seeded s(backend);
  const auto env = s.database.env();

  const auto all = run_tandem({"rooms", "events", "party-live", "--format", "json"}, env);
  INFO(all.err);
  REQUIRE(all.code == 0);
  const auto lines = lines_of(all.out);
  REQUIRE(lines.size() == 6);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    CHECK(lines[i].find("\"seq\":" + std::to_string(i) + ",") != std::string::npos);
  }
  CHECK(lines[3].find(R"("data":{"currentTime":12.5,"isPlaying":true})") != std::string::npos);

  const auto seeks = run_tandem({"rooms", "events", "party-live", "--type", "seek", "--format", "json"}, env);
  REQUIRE(lines_of(seeks.out).size() == 1);
  CHECK(seeks.out.find("\"type\":\"SEEK\"") != std::string::npos);

  const auto by_user = run_tandem({"rooms", "events", "party-live", "--user", "user_b", "--format", "json"}, env);
  CHECK(lines_of(by_user.out).size() == 2);

  const auto window = run_tandem({"rooms", "events", "party-live", "--since", "100m", "--until", "10m", "--format", "json"}, env);
  REQUIRE(lines_of(window.out).size() == 2);
  CHECK(window.out.find("PLAY_PAUSE") != std::string::npos);
  CHECK(window.out.find("SEEK") != std::string::npos);

  const auto last_two = run_tandem({"rooms", "events", "party-live", "--limit", "2", "--format", "json"}, env);
  const auto last_lines = lines_of(last_two.out);
  REQUIRE(last_lines.size() == 2);
  CHECK(last_lines[0].find("\"seq\":4,") != std::string::npos);
  CHECK(last_lines[1].find("\"seq\":5,") != std::string::npos);

  const auto csv = run_tandem({"rooms", "events", "party-live", "--format", "csv"}, env);
  const auto csv_lines = lines_of(csv.out);
  REQUIRE(csv_lines.size() == 7);
  CHECK(csv_lines[0] == "id,room,seq,type,user,node,time,data\r");
  CHECK(csv.out.find(R"("{""url"":""https://www.netflix.com/watch/1, \""2\""""}")") != std::string::npos);

  const auto table = run_tandem({"rooms", "events", "party-live"}, env);
  const auto table_lines = lines_of(table.out);
  REQUIRE(table_lines.size() == 7);
  CHECK(table_lines[0].starts_with("TIME (UTC)"));
  for (const auto& line : table_lines) CHECK(line.size() <= store::kTableWidth + 2);
}

TEST_CASE("rooms events --follow prints events written after it started", "[store][rooms]") {
  const auto backend = GENERATE(store::Backend::sqlite, store::Backend::postgres);
  INFO(name_of(backend));
  Seeded s(backend);

  Process follow({"rooms", "events", "party-live", "--follow", "--format", "json"}, s.database.env());
  REQUIRE(follow.read_until([](const std::string& out) { return count_of(out, "\n") >= 6; }, std::chrono::seconds(20)));

  auto db = s.database.connect();
  insert_event(*db, "party-live", "SEEK", "user_a", R"({"currentTime":100})", now_ms(), 6);
  insert_event(*db, "party-live", "PLAY_PAUSE", "user_a", R"({"isPlaying":false})", now_ms(), 7);
  CHECK(follow.read_until([](const std::string& out) { return count_of(out, "\n") >= 8; }, std::chrono::seconds(10)));

  follow.signal(SIGINT);
  const auto r = follow.finish(std::chrono::seconds(10));
  CHECK(r.code == 0);
  const auto lines = lines_of(r.out);
  REQUIRE(lines.size() == 8);
  CHECK(lines[6].find("\"seq\":6,") != std::string::npos);
  CHECK(lines[7].find("\"seq\":7,") != std::string::npos);
}

TEST_CASE("rooms purge deletes archived rooms beyond the retention with their events", "[store][rooms]") {
  const auto backend = GENERATE(store::Backend::sqlite, store::Backend::postgres);
  INFO(name_of(backend));
  Seeded s(backend);
  const auto env = s.database.env();

  const auto dry = run_tandem({"rooms", "purge", "--older-than", "30d", "--dry-run"}, env);
  INFO(dry.err);
  REQUIRE(dry.code == 0);
  CHECK(dry.out == "would purge 1 archived room inactive for more than 30d (3 events, 0 members, 1 short id)\n");
  CHECK(run_tandem({"rooms", "show", "party-old"}, env).code == 0);

  const auto purge = run_tandem({"rooms", "purge", "--older-than", "30d"}, env);
  REQUIRE(purge.code == 0);
  CHECK(purge.out == "purged 1 archived room inactive for more than 30d (3 events, 0 members, 1 short id)\n");
  CHECK(run_tandem({"rooms", "show", "party-old"}, env).code == 1);
  CHECK(run_tandem({"rooms", "events", "party-old"}, env).code == 1);
  CHECK(run_tandem({"rooms", "show", "party-recent"}, env).code == 0);
  CHECK(run_tandem({"rooms", "show", "party-live"}, env).code == 0);

  auto db = s.database.connect();
  CHECK(db->query("SELECT COUNT(*) FROM room_events").front().integer(0) == 6);
  CHECK(db->query("SELECT COUNT(*) FROM short_ids").front().integer(0) == 1);
}

TEST_CASE("rooms on an unmigrated database says to run tandem migrate and exits 1", "[store][rooms]") {
  const auto backend = GENERATE(store::Backend::sqlite, store::Backend::postgres);
  INFO(name_of(backend));
  TestDatabase database(backend);
  if (backend == store::Backend::sqlite) {
    const auto missing = run_tandem({"rooms", "list"}, database.env());
    CHECK(missing.code == 1);
    CHECK(missing.err.find("run tandem migrate") != std::string::npos);
  }
  REQUIRE(run_tandem({"migrate", "--to", "2"}, database.env()).code == 0);
  const auto behind = run_tandem({"rooms", "list"}, database.env());
  CHECK(behind.code == 1);
  CHECK(behind.err.find("run tandem migrate") != std::string::npos);
  CHECK(lines_of(behind.err).size() == 1);
}

TEST_CASE("rooms prints identical output from SQLite and PostgreSQL", "[store][rooms]") {
  const std::int64_t now = now_ms();
  TestDatabase lite(store::Backend::sqlite);
  TestDatabase pg(store::Backend::postgres);
  for (auto* database : {&lite, &pg}) {
    REQUIRE(run_tandem({"migrate"}, database->env()).code == 0);
    seed(*database->connect(), now);
  }
  const std::vector<std::vector<std::string>> commands = {
      {"rooms", "list", "--format", "json"},
      {"rooms", "list", "--format", "csv"},
      {"rooms", "show", "party-live", "--format", "json"},
      {"rooms", "events", "party-live", "--format", "csv"},
      {"rooms", "events", "party-live"},
      {"rooms", "events", "party-old", "--format", "json"},
  };
  for (const auto& command : commands) {
    const auto a = run_tandem(command, lite.env());
    const auto b = run_tandem(command, pg.env());
    INFO(command[1] << " " << command[2] << "\n" << a.err << b.err);
    CHECK(a.code == 0);
    CHECK(b.code == 0);
    CHECK(a.out == b.out);
  }
}
