#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <optional>
#include <string>

#include "tests/integration/fixtures.hpp"

using tandem::testing::PgFixture;

TEST_CASE("postgres stores parameterised rows in the fixture's schema and reads them back", "[integration][postgres]") {
  PgFixture pg;
  const std::string tricky = "it's \"quoted\"; DROP TABLE notes; -- ünïcode ✓";
  {
    pqxx::connection writer{pg.connection_string()};
    pqxx::work tx{writer};
    tx.exec0("CREATE TABLE notes (id bigint PRIMARY KEY, body text NOT NULL, score double precision)");
    tx.exec_params0("INSERT INTO notes (id, body, score) VALUES ($1, $2, $3)", 1, tricky, 2.5);
    tx.exec_params0("INSERT INTO notes (id, body, score) VALUES ($1, $2, $3)", 2, "second", std::optional<double>{});
    tx.commit();
  }

  pqxx::connection reader{pg.connection_string()};
  pqxx::work tx{reader};
  const pqxx::result rows = tx.exec("SELECT id, body, score FROM notes ORDER BY id");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0][0].as<long>() == 1);
  CHECK(rows[0][1].as<std::string>() == tricky);
  CHECK(rows[0][2].as<double>() == 2.5);
  CHECK(rows[1][1].as<std::string>() == "second");
  CHECK(rows[1][2].is_null());

  const pqxx::row where = tx.exec_params1(
      "SELECT count(*) FROM information_schema.tables WHERE table_name = 'notes' AND table_schema = $1", pg.schema());
  CHECK(where[0].as<int>() == 1);
}

TEST_CASE("postgres fixture drops its schema and everything in it", "[integration][postgres]") {
  std::string schema;
  std::string base;
  {
    PgFixture pg;
    schema = pg.schema();
    base = pg.base_connection_string();
    pqxx::connection connection{pg.connection_string()};
    pqxx::work tx{connection};
    tx.exec0("CREATE TABLE leftovers (id int)");
    tx.commit();
  }
  pqxx::connection connection{base};
  pqxx::work tx{connection};
  const pqxx::row count =
      tx.exec_params1("SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", schema);
  CHECK(count[0].as<int>() == 0);
}
