#include <catch2/catch.hpp>
#include <sqlite3.h>

#include "core/store/dead_letter.hpp"

using namespace tandem;
using namespace std::string_literals;

TEST_CASE("PostgreSQL data exceptions and constraint violations are the data's fault", "[store]") {
  CHECK(store::postgres_rejects_data("22P05"));  // jsonb: unsupported Unicode escape sequence
  CHECK(store::postgres_rejects_data("22021"));  // invalid byte sequence for encoding
  CHECK(store::postgres_rejects_data("23505"));  // unique violation
  CHECK(store::postgres_rejects_data("23514"));  // check violation
}

TEST_CASE("PostgreSQL connection, shutdown and other failures are retried, not set aside", "[store]") {
  CHECK_FALSE(store::postgres_rejects_data(""));       // no SQLSTATE: broken connection
  CHECK_FALSE(store::postgres_rejects_data("08006"));  // connection failure
  CHECK_FALSE(store::postgres_rejects_data("57P01"));  // admin shutdown
  CHECK_FALSE(store::postgres_rejects_data("57P03"));  // cannot connect now
  CHECK_FALSE(store::postgres_rejects_data("53100"));  // disk full
  CHECK_FALSE(store::postgres_rejects_data("42P01"));  // undefined table: the schema, not the record
  CHECK_FALSE(store::postgres_rejects_data("40001"));  // serialization failure
}

TEST_CASE("SQLite constraint, type and size refusals are the data's fault, primary or extended", "[store]") {
  CHECK(store::sqlite_rejects_data(SQLITE_CONSTRAINT));
  CHECK(store::sqlite_rejects_data(SQLITE_CONSTRAINT_CHECK));
  CHECK(store::sqlite_rejects_data(SQLITE_CONSTRAINT_NOTNULL));
  CHECK(store::sqlite_rejects_data(SQLITE_MISMATCH));
  CHECK(store::sqlite_rejects_data(SQLITE_TOOBIG));
}

TEST_CASE("SQLite busy, locked, I/O and full are retried, not set aside", "[store]") {
  CHECK_FALSE(store::sqlite_rejects_data(SQLITE_OK));
  CHECK_FALSE(store::sqlite_rejects_data(SQLITE_BUSY));
  CHECK_FALSE(store::sqlite_rejects_data(SQLITE_BUSY_SNAPSHOT));
  CHECK_FALSE(store::sqlite_rejects_data(SQLITE_LOCKED));
  CHECK_FALSE(store::sqlite_rejects_data(SQLITE_IOERR_WRITE));
  CHECK_FALSE(store::sqlite_rejects_data(SQLITE_FULL));
  CHECK_FALSE(store::sqlite_rejects_data(SQLITE_ERROR));  // e.g. no such table
}

TEST_CASE("a dead-letter record keeps every field, a NUL escaped", "[store]") {
  engine::AuditEvent event;
  event.uid = "n1-7";
  event.room_id = "party";
  event.type = "USER_JOINED";
  event.detail = "{\"username\":\"a\0b\"}"s;  // the s suffix keeps the NUL
  event.seq = 3;
  event.at = 1700000000000;
  const std::string record = store::dead_letter_record(event);
  CHECK(record.find('\0') == std::string::npos);
  CHECK(record.find(R"("uid":"n1-7")") != std::string::npos);
  CHECK(record.find(R"(a\u0000b)") != std::string::npos);
  CHECK(record.find(R"("at":1700000000000)") != std::string::npos);
}
