#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <spdlog/details/log_msg.h>
#include <spdlog/formatter.h>

#include <chrono>
#include <string>

#include "core/log/log.hpp"
#include "core/util/text.hpp"

namespace {

std::string format(std::string_view payload, spdlog::level::level_enum level = spdlog::level::info) {
  const auto formatter = tandem::log::make_json_formatter();
  spdlog::details::log_msg msg(spdlog::source_loc{}, "tandem", level,
                               spdlog::string_view_t(payload.data(), payload.size()));
  spdlog::memory_buf_t out;
  formatter->format(msg, out);
  return std::string(out.data(), out.size());
}

// One line ending in '\n' that parses as a JSON object.
boost::json::object parse_line(const std::string& line) {
  REQUIRE(!line.empty());
  REQUIRE(line.back() == '\n');
  REQUIRE(line.find('\n') == line.size() - 1);
  boost::json::error_code ec;
  boost::json::value value = boost::json::parse(line, ec);
  REQUIRE_FALSE(ec);
  REQUIRE(value.is_object());
  return value.as_object();
}

}  // namespace

TEST_CASE("json lines carry ts, level, logger and msg in that order", "[log]") {
  const std::string line = format("hello", spdlog::level::warn);
  const auto object = parse_line(line);
  CHECK(line.starts_with("{\"ts\":\""));
  CHECK(line.find("\",\"level\":\"warn\",\"logger\":\"tandem\",\"msg\":\"hello\"}") != std::string::npos);
  CHECK(object.at("level") == "warn");
  CHECK(object.at("logger") == "tandem");
  CHECK(object.at("msg") == "hello");
}

TEST_CASE("json timestamps are UTC with milliseconds", "[log]") {
  using namespace std::chrono;
  const auto formatter = tandem::log::make_json_formatter();
  const auto when = sys_days{year{2026} / 11 / 27} + 3h + 4min + 5s + 123ms;
  spdlog::details::log_msg msg(time_point_cast<spdlog::log_clock::duration>(when), spdlog::source_loc{},
                               "tandem", spdlog::level::err, "x");
  spdlog::memory_buf_t out;
  formatter->format(msg, out);
  const auto object = parse_line(std::string(out.data(), out.size()));
  CHECK(object.at("ts") == "2026-11-27T03:04:05.123Z");
  CHECK(object.at("level") == "error");
}

TEST_CASE("json lines stay valid whatever the message holds", "[log]") {
  const std::string cases[] = {
      "say \"hi\"",
      "C:\\path\\to",
      "two\nlines\r\n",
      std::string("nul \0 byte", 10),
      "ctrl \x01\x02\x1f\x7f end",
      "bad utf8 \xff\xfe here",
      "truncated \xe2\x82",
      "emoji 😀🎬 and ünïcödé",
      std::string(10 * 1024, 'x') + "\"\\\n",
      "",
  };
  for (const auto& payload : cases) {
    INFO(payload.substr(0, 40));
    const auto object = parse_line(format(payload));
    CHECK(object.at("msg").as_string() == tandem::util::sanitize_utf8(payload));
  }
}

TEST_CASE("invalid UTF-8 becomes U+FFFD in json lines", "[log]") {
  const auto object = parse_line(format("a\xff" "b"));
  CHECK(object.at("msg") == "a\xEF\xBF\xBD" "b");
}

TEST_CASE("a cloned json formatter formats the same way", "[log]") {
  const auto formatter = tandem::log::make_json_formatter();
  const auto copy = formatter->clone();
  spdlog::details::log_msg msg(spdlog::source_loc{}, "other", spdlog::level::debug, "m");
  spdlog::memory_buf_t a;
  spdlog::memory_buf_t b;
  formatter->format(msg, a);
  copy->format(msg, b);
  CHECK(std::string(a.data(), a.size()) == std::string(b.data(), b.size()));
  CHECK(parse_line(std::string(b.data(), b.size())).at("logger") == "other");
}
