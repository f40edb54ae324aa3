// `tandem migrate` against real PostgreSQL and SQLite: up, --to, status, --dry-run, checksum and
// newer-database errors, concurrent runs, connection failures and --wait.
#include <catch2/catch.hpp>

#include "core/store/migration.hpp"
#include "core/store/migrator.hpp"
#include "core/store/schema.hpp"
#include "tests/integration/store/support.hpp"

using namespace tandem;
using namespace tandem::store_test;

namespace {

int latest_version() { return static_cast<int>(store::embedded_migrations(store::Backend::sqlite).size()); }

std::int64_t recorded_count(store::Connection& db) {
  return db.query("SELECT COUNT(*) FROM schema_migrations").front().integer(0);
}

}  // namespace

TEST_CASE("migrate applies every embedded migration once and a second run has nothing to do", "[store][migrate]") {
  const auto backend = GENERATE(store::Backend::sqlite, store::Backend::postgres);
  INFO(name_of(backend));
  TestDatabase database(backend);

  const auto first = run_tandem({"migrate"}, database.env());
  INFO(first.err);
  REQUIRE(first.code == 0);
  for (const auto& m : store::embedded_migrations(backend)) CHECK(count_of(first.out, "applied " + m.label()) == 1);
  CHECK(first.out.find("database is at version " + std::to_string(latest_version())) != std::string::npos);

  auto db = database.connect();
  CHECK(recorded_count(*db) == latest_version());
  for (const char* table : {"rooms", "users", "room_events", "short_ids", "dead_letters"}) CHECK(db->has_table(table));

  const auto second = run_tandem({"migrate", "up"}, database.env());
  REQUIRE(second.code == 0);
  CHECK(second.out.find("nothing to do") != std::string::npos);
  CHECK(count_of(second.out, "applied ") == 0);
  CHECK(recorded_count(*db) == latest_version());
}

TEST_CASE("migrate --to stops at the given version and status lists applied and pending", "[store][migrate]") {
  const auto backend = GENERATE(store::Backend::sqlite, store::Backend::postgres);
  INFO(name_of(backend));
  TestDatabase database(backend);

  const auto partial = run_tandem({"migrate", "--to", "2"}, database.env());
  INFO(partial.err);
  REQUIRE(partial.code == 0);
  CHECK(count_of(partial.out, "applied ") == 2);

  const auto status = run_tandem({"migrate", "status"}, database.env());
  REQUIRE(status.code == 0);
  CHECK(count_of(status.out, " applied ") == 2);
  CHECK(count_of(status.out, " pending ") == static_cast<std::size_t>(latest_version() - 2));
  CHECK(status.out.find("0003     tandem_events") != std::string::npos);

  const auto rest = run_tandem({"migrate"}, database.env());
  REQUIRE(rest.code == 0);
  CHECK(count_of(rest.out, "applied ") == static_cast<std::size_t>(latest_version() - 2));
}

TEST_CASE("migrate --dry-run prints the pending SQL and applies nothing", "[store][migrate]") {
  const auto backend = GENERATE(store::Backend::sqlite, store::Backend::postgres);
  INFO(name_of(backend));
  TestDatabase database(backend);

  const auto dry = run_tandem({"migrate", "--dry-run", "--to", "3"}, database.env());
  INFO(dry.err);
  REQUIRE(dry.code == 0);
  CHECK(dry.out.find("CREATE TABLE IF NOT EXISTS rooms") != std::string::npos);
  CHECK(dry.out.find("-- 0003_tandem_events (sha256 ") != std::string::npos);
  CHECK(dry.out.find("0004_short_ids") == std::string::npos);

  auto db = database.connect();
  CHECK_FALSE(db->has_table("rooms"));
  CHECK((!db->has_table("schema_migrations") || recorded_count(*db) == 0));
}

TEST_CASE("migrate refuses a database whose applied migration was edited", "[store][migrate]") {
  const auto backend = GENERATE(store::Backend::sqlite, store::Backend::postgres);
  INFO(name_of(backend));
  TestDatabase database(backend);
  REQUIRE(run_tandem({"migrate", "--to", "2"}, database.env()).code == 0);
  database.connect()->execute_script("UPDATE schema_migrations SET checksum = 'abc123' WHERE version = 2");

  const auto up = run_tandem({"migrate"}, database.env());
  CHECK(up.code == 1);
  CHECK(up.err.find("migration 0002_tandem_rooms was changed after it was applied") != std::string::npos);
  CHECK(lines_of(up.err).size() == 1);
  auto db = database.connect();
  CHECK(recorded_count(*db) == 2);  // nothing more applied

  const auto status = run_tandem({"migrate", "status"}, database.env());
  CHECK(status.code == 1);
  CHECK(status.out.find("CHANGED") != std::string::npos);
}

TEST_CASE("migrate refuses a database newer than the binary", "[store][migrate]") {
  const auto backend = GENERATE(store::Backend::sqlite, store::Backend::postgres);
  INFO(name_of(backend));
  TestDatabase database(backend);
  REQUIRE(run_tandem({"migrate"}, database.env()).code == 0);
  database.connect()->execute_script(
      "INSERT INTO schema_migrations (version, name, checksum) VALUES (99, 'from_the_future', 'ff')");

  const auto up = run_tandem({"migrate"}, database.env());
  CHECK(up.code == 1);
  CHECK(up.err.find("0099_from_the_future") != std::string::npos);
  CHECK(up.err.find("newer than this binary") != std::string::npos);

  const auto status = run_tandem({"migrate", "status"}, database.env());
  CHECK(status.code == 1);
  CHECK(status.out.find("UNKNOWN") != std::string::npos);
}

TEST_CASE("five concurrent migrate processes all succeed and apply each migration once", "[store][migrate]") {
  const auto backend = GENERATE(store::Backend::sqlite, store::Backend::postgres);
  INFO(name_of(backend));
  TestDatabase database(backend);

  std::vector<std::unique_ptr<Process>> processes;
  for (int i = 0; i < 5; ++i) processes.push_back(std::make_unique<Process>(std::vector<std::string>{"migrate"}, database.env()));
  std::string all_out;
  for (auto& p : processes) {
    const auto r = p->finish();
    INFO(r.err);
    CHECK(r.code == 0);
    all_out += r.out;
  }
  for (const auto& m : store::embedded_migrations(backend)) CHECK(count_of(all_out, "applied " + m.label()) == 1);
  auto db = database.connect();
  CHECK(recorded_count(*db) == latest_version());
}

TEST_CASE("migrate --to outside the known versions is a usage error", "[store][migrate]") {
  SqliteDir dir;
  const auto r = run_tandem({"migrate", "--to", "999"}, dir.env());
  CHECK(r.code == 2);
  CHECK(r.err.find("this tandem knows versions 1 to") != std::string::npos);
}

TEST_CASE("migrate --wait with a bad duration exits 2 naming the accepted forms", "[store][migrate]") {
  SqliteDir dir;
  const auto r = run_tandem({"migrate", "--wait", "soon"}, dir.env());
  CHECK(r.code == 2);
  CHECK(r.err.find("--wait 'soon'") != std::string::npos);
  CHECK(r.err.find("500ms, 15s, 10m, 4h, 30d") != std::string::npos);
}

TEST_CASE("migrate reports an unreachable server on one line and exits 1", "[store][migrate]") {
  auto pg = test_pg_settings();
  pg.port = 1;  // nothing listens there
  pg.password = "s3cret-do-not-print";
  const auto r = run_tandem({"migrate"}, pg_env(pg, ""));
  CHECK(r.code == 1);
  CHECK(lines_of(r.err).size() == 1);
  CHECK(r.err.find("tandem migrate: cannot connect to postgres") != std::string::npos);
  CHECK(r.err.find("refused") != std::string::npos);
  CHECK(r.err.find("s3cret") == std::string::npos);
}

TEST_CASE("postgres.sslmode and postgres.sslrootcert reach libpq, a bad sslmode is a configuration error", "[store][migrate]") {
  PgSchema schema;
  // verify-full with a CA file that does not exist cannot connect, whether or not the server
  // offers TLS: libpq names the certificate file or the missing TLS support.
  Env strict = schema.env();
  strict["TANDEM_POSTGRES_SSLMODE"] = "verify-full";
  strict["TANDEM_POSTGRES_SSLROOTCERT"] = "/nonexistent/tandem-ca.pem";
  const auto refused = run_tandem({"migrate"}, strict);
  CHECK(refused.code == 1);
  CHECK(lines_of(refused.err).size() == 1);
  CHECK((refused.err.find("/nonexistent/tandem-ca.pem") != std::string::npos ||
         refused.err.find("SSL") != std::string::npos));
  // disable: a plain connection, as the test server offers.
  Env plain = schema.env();
  plain["TANDEM_POSTGRES_SSLMODE"] = "disable";
  const auto applied = run_tandem({"migrate"}, plain);
  INFO(applied.err);
  CHECK(applied.code == 0);

  Env bad = schema.env();
  bad["TANDEM_POSTGRES_SSLMODE"] = "always";
  const auto usage = run_tandem({"migrate"}, bad);
  CHECK(usage.code == 2);
  // The error names the setting as the operator gave it: the variable, not the key.
  CHECK(usage.err.find("env TANDEM_POSTGRES_SSLMODE: ") != std::string::npos);
  CHECK(usage.err.find("expected disable, allow, prefer, require, verify-ca, verify-full or empty") != std::string::npos);
}

TEST_CASE("migrate reports a missing database on one line and exits 1", "[store][migrate]") {
  auto pg = test_pg_settings();
  pg.database = "tandem_missing_" + random_hex(8);
  const auto r = run_tandem({"migrate"}, pg_env(pg, ""));
  CHECK(r.code == 1);
  CHECK(lines_of(r.err).size() == 1);
  CHECK(r.err.find("database \"" + pg.database + "\" does not exist") != std::string::npos);
}

TEST_CASE("migrate reports rejected credentials on one line without the password", "[store][migrate]") {
  auto pg = test_pg_settings();
  pg.user = "tandem_nobody_" + random_hex(8);
  pg.password = "s3cret-do-not-print";
  const auto r = run_tandem({"migrate"}, pg_env(pg, ""));
  CHECK(r.code == 1);
  CHECK(lines_of(r.err).size() == 1);
  CHECK(r.err.find(pg.user) != std::string::npos);
  CHECK(r.err.find("s3cret") == std::string::npos);
}

TEST_CASE("migrate --wait retries with backoff until the deadline, then fails", "[store][migrate]") {
  auto pg = test_pg_settings();
  pg.port = 1;
  const auto started = std::chrono::steady_clock::now();
  auto env = pg_env(pg, "");
  env["TANDEM_LOG_FORMAT"] = "text";
  const auto r = run_tandem({"migrate", "--wait", "2s"}, env);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(r.code == 1);
  CHECK(elapsed >= std::chrono::seconds(2));
  CHECK(elapsed < std::chrono::seconds(20));
  CHECK(count_of(r.err, "retrying in") >= 3);  // 250ms, 500ms, 1s, ...
  CHECK(r.err.find("tandem migrate: cannot connect to postgres") != std::string::npos);
}

TEST_CASE("ensure_sqlite_schema creates a WAL database at the latest version and is idempotent", "[store][migrate]") {
  TempDir dir;
  const auto file = dir.path() / "nested" / "tandem.db";
  store::ensure_sqlite_schema(file);
  store::ensure_sqlite_schema(file);
  auto db = store::open_sqlite(file, store::OpenMode::existing);
  CHECK(recorded_count(*db) == latest_version());
  CHECK(db->query("PRAGMA journal_mode").front().text(0) == "wal");
  CHECK_NOTHROW(store::require_current_schema(*db));
}

TEST_CASE("the room and event statements of schema.hpp write rows tandem rooms reads", "[store][migrate]") {
  const auto backend = GENERATE(store::Backend::sqlite, store::Backend::postgres);
  INFO(name_of(backend));
  TestDatabase database(backend);
  REQUIRE(run_tandem({"migrate"}, database.env()).code == 0);
  auto db = database.connect();
  const bool pg = backend == store::Backend::postgres;
  const std::int64_t t = 1732665600000;
  for (int i = 0; i < 2; ++i) {  // the second upsert updates, the second insert is ignored
    db->query(pg ? store::kPostgresUpsertRoom : store::kSqliteUpsertRoom,
              {std::string("r1"), std::string("u1"), std::string("https://www.netflix.com/watch/1"), 3.5,
               std::int64_t{1}, std::int64_t{0}, t + i, t + 1000 * i, std::monostate{}, std::string("live"),
               std::int64_t{1}, std::int64_t{i}, std::string(R"({"members":[{"userId":"u1","username":"Ann"}]})")});
    db->query(pg ? store::kPostgresInsertEvent : store::kSqliteInsertEvent,
              {std::string("r1"), std::string("USER_JOINED"), std::string("u1"), std::string("{}"), t, std::int64_t{1},
               std::string("n1"), std::string("n1:r1:1")});
  }
  const auto r = run_tandem({"rooms", "list", "--format", "csv"}, database.env());
  INFO(r.err);
  CHECK(r.out == "id,state,members,host,created_at,last_activity\r\nr1,live,1,u1,2024-11-27T00:00:00.000Z,"
                 "2024-11-27T00:00:01.000Z\r\n");
  CHECK(db->query("SELECT COUNT(*) FROM room_events").front().integer(0) == 1);
  CHECK(db->query("SELECT seq FROM rooms").front().integer(0) == 1);
}

TEST_CASE("a room's new short id replaces its old one through the schema.hpp upsert", "[store][migrate]") {
  const auto backend = GENERATE(store::Backend::sqlite, store::Backend::postgres);
  INFO(name_of(backend));
  TestDatabase database(backend);
  REQUIRE(run_tandem({"migrate"}, database.env()).code == 0);
  auto db = database.connect();
  const auto sql = backend == store::Backend::postgres ? store::kPostgresUpsertShortId : store::kSqliteUpsertShortId;
  const std::int64_t t = 1732665600000;
  db->query(sql, {std::string("aaaa1111"), std::string("r1"), t, t + 1000});
  db->query(sql, {std::string("aaaa1111"), std::string("r1"), t + 5, t + 2000});  // extend
  db->query(sql, {std::string("bbbb2222"), std::string("r1"), t + 9, t + 3000});  // replace
  const auto rows = db->query("SELECT short_id, " + db->epoch_ms("created_at") + ", " + db->epoch_ms("expires_at") +
                              " FROM short_ids");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].text(0) == "bbbb2222");
  CHECK(rows[0].integer(1) == t + 9);
  CHECK(rows[0].integer(2) == t + 3000);
}
