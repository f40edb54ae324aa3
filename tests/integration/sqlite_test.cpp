#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <string>

#include "tests/integration/fixtures.hpp"

using tandem::testing::TempDir;

namespace {

using Database = std::unique_ptr<sqlite3, decltype(&sqlite3_close_v2)>;
using Statement = std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)>;

Database open(const std::filesystem::path& file, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &raw, flags, nullptr);
  Database db(raw, &sqlite3_close_v2);
  INFO(sqlite3_errstr(rc));
  REQUIRE(rc == SQLITE_OK);
  sqlite3_busy_timeout(db.get(), 5000);
  return db;
}

Statement prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr);
  INFO(sql << ": " << sqlite3_errmsg(db));
  REQUIRE(rc == SQLITE_OK);
  return Statement(raw, &sqlite3_finalize);
}

std::string text_column(sqlite3_stmt* statement, int column) {
  const auto* bytes = sqlite3_column_blob(statement, column);
  return std::string(static_cast<const char*>(bytes), static_cast<std::size_t>(sqlite3_column_bytes(statement, column)));
}

}  // namespace

TEST_CASE("sqlite in WAL mode shows a committed write to another connection", "[integration][sqlite]") {
  TempDir dir;
  const std::filesystem::path file = dir.path() / "tandem.db";
  Database writer = open(file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);

  Statement mode = prepare(writer.get(), "PRAGMA journal_mode=WAL");
  REQUIRE(sqlite3_step(mode.get()) == SQLITE_ROW);
  CHECK(text_column(mode.get(), 0) == "wal");
  mode.reset();

  REQUIRE(sqlite3_exec(writer.get(), "CREATE TABLE events (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)", nullptr,
                       nullptr, nullptr) == SQLITE_OK);
  const std::string body("hello\0wörld", 12);
  Statement insert = prepare(writer.get(), "INSERT INTO events (seq, body) VALUES (?1, ?2)");
  sqlite3_bind_int64(insert.get(), 1, 7);
  sqlite3_bind_blob(insert.get(), 2, body.data(), static_cast<int>(body.size()), SQLITE_TRANSIENT);
  REQUIRE(sqlite3_step(insert.get()) == SQLITE_DONE);
  insert.reset();
  CHECK(std::filesystem::exists(dir.path() / "tandem.db-wal"));

  // The writer stays open: the reader sees the row through the WAL, not a checkpointed file.
  Database reader = open(file, SQLITE_OPEN_READONLY);
  Statement select = prepare(reader.get(), "SELECT seq, body FROM events");
  REQUIRE(sqlite3_step(select.get()) == SQLITE_ROW);
  CHECK(sqlite3_column_int64(select.get(), 0) == 7);
  CHECK(text_column(select.get(), 1) == body);
  CHECK(sqlite3_step(select.get()) == SQLITE_DONE);
}
