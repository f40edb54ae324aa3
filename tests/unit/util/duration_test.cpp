#include <catch2/catch.hpp>

#include "core/util/duration.hpp"

using tandem::util::format_duration;
using tandem::util::parse_duration;
using namespace std::chrono_literals;

TEST_CASE("durations parse with every unit", "[util]") {
  CHECK(parse_duration("500ms") == 500ms);
  CHECK(parse_duration("15s") == 15s);
  CHECK(parse_duration("10m") == 10min);
  CHECK(parse_duration("4h") == 4h);
  CHECK(parse_duration("30d") == std::chrono::hours(24 * 30));
  CHECK(parse_duration("1h30m") == 90min);
  CHECK(parse_duration("0s") == 0ms);
}

TEST_CASE("malformed durations are refused", "[util]") {
  for (const char* bad : {"", "15", "s", "-1s", "1.5s", "15 s", "15sec", "1y", "99999999999999999999d"}) {
    INFO(bad);
    CHECK_FALSE(parse_duration(bad).has_value());
  }
}

TEST_CASE("durations format in their shortest exact unit", "[util]") {
  CHECK(format_duration(500ms) == "500ms");
  CHECK(format_duration(90s) == "90s");
  CHECK(format_duration(10min) == "10m");
  CHECK(format_duration(4h) == "4h");
  CHECK(format_duration(1500ms) == "1500ms");
  CHECK(parse_duration(format_duration(36h)) == 36h);
}
