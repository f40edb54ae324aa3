#include <catch2/catch.hpp>

#include "core/store/json_text.hpp"

using tandem::store::normalize_json;

TEST_CASE("normalised JSON sorts keys and drops spacing, as PostgreSQL JSONB and SQLite text agree", "[store]") {
  CHECK(normalize_json(R"({"b": 1, "a": {"z": true, "y": null}})") == R"({"a":{"y":null,"z":true},"b":1})");
  CHECK(normalize_json(R"({"a":1,"b":{"y":null,"z":true}})") == normalize_json(R"({"b": {"z": true, "y": null}, "a": 1})"));
}

TEST_CASE("normalised JSON prints numbers in their shortest form", "[store]") {
  CHECK(normalize_json(R"({"t": 12.50})") == R"({"t":12.5})");
  CHECK(normalize_json("[1732665600000, -3, 0.1, 1e300]") == "[1732665600000,-3,0.1,1e+300]");
}

TEST_CASE("normalised JSON keeps text that is not JSON as a string and empty as null", "[store]") {
  CHECK(normalize_json("") == "null");
  CHECK(normalize_json("not json") == R"("not json")");
  CHECK(normalize_json(R"("quote \" and \u00e9")") == "\"quote \\\" and \xc3\xa9\"");
}
