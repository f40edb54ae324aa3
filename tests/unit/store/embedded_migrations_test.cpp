#include <catch2/catch.hpp>

#include "core/store/migration.hpp"

using namespace tandem::store;

TEST_CASE("both backends embed the same migrations numbered from 1 without gaps", "[store]") {
  const auto pg = embedded_migrations(Backend::postgres);
  const auto lite = embedded_migrations(Backend::sqlite);
  REQUIRE(pg.size() == lite.size());
  REQUIRE(pg.size() >= 4);
  for (std::size_t i = 0; i < pg.size(); ++i) {
    CHECK(pg[i].version == static_cast<int>(i + 1));
    CHECK(lite[i].version == pg[i].version);
    CHECK(lite[i].name == pg[i].name);
    CHECK_FALSE(pg[i].sql.empty());
    CHECK_FALSE(lite[i].sql.empty());
  }
  CHECK(pg[0].label() == "0001_v2_baseline");
}

TEST_CASE("the first migration recreates the v2.0 tables only if they do not exist", "[store]") {
  for (auto backend : {Backend::postgres, Backend::sqlite}) {
    const auto sql = embedded_migrations(backend)[0].sql;
    for (const char* table : {"rooms (", "users (", "room_events ("}) {
      CHECK(sql.find(std::string("CREATE TABLE IF NOT EXISTS ") + table) != std::string_view::npos);
    }
  }
}

TEST_CASE("a migration checksum is the SHA-256 of its SQL in lower-case hex", "[store]") {
  const Migration empty{1, "x", ""};
  CHECK(empty.checksum() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const Migration abc{1, "x", "abc"};
  CHECK(abc.checksum() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const auto m = embedded_migrations(Backend::postgres)[1];
  CHECK(m.checksum() == m.checksum());
  CHECK(m.checksum() != embedded_migrations(Backend::sqlite)[1].checksum());
}
