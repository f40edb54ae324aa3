#include <catch2/catch.hpp>

#include <sstream>

#include "core/store/room_format.hpp"

using namespace tandem::store;

namespace {

constexpr std::int64_t kNow = 1732665600000;  // 2024-11-27T00:00:00Z

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::size_t code_points(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

TEST_CASE("ages read as people say them", "[store]") {
  CHECK(format_age(kNow, kNow) == "now");
  CHECK(format_age(kNow, kNow + 5000) == "now");
  CHECK(format_age(kNow, kNow - 42'000) == "42s ago");
  CHECK(format_age(kNow, kNow - 5 * 60'000 - 59'000) == "5m ago");
  CHECK(format_age(kNow, kNow - 3 * 3'600'000) == "3h ago");
  CHECK(format_age(kNow, kNow - 47 * 3'600'000) == "47h ago");
  CHECK(format_age(kNow, kNow - 12LL * 86'400'000) == "12d ago");
}

TEST_CASE("ISO times print in UTC with milliseconds and parse back", "[store]") {
  CHECK(format_iso(kNow + 123) == "2024-11-27T00:00:00.123Z");
  CHECK(parse_iso("2024-11-27T00:00:00.123Z") == kNow + 123);
  CHECK(parse_iso("2024-11-27T00:00:00Z") == kNow);
  CHECK(parse_iso("2024-11-27 00:00:00Z") == kNow);
  CHECK_FALSE(parse_iso("2024-11-27T00:00:00"));
  CHECK_FALSE(parse_iso("yesterday"));
  CHECK_FALSE(parse_iso("2024-13-01T00:00:00Z"));
}

TEST_CASE("formats are table, json or csv", "[store]") {
  CHECK(parse_format("table") == Format::table);
  CHECK(parse_format("json") == Format::json);
  CHECK(parse_format("csv") == Format::csv);
  CHECK_FALSE(parse_format("xml"));
  CHECK_FALSE(parse_format("JSON"));
}

TEST_CASE("the room table fits 100 columns whatever the ids", "[store]") {
  const std::string long_id(64, 'r');
  const std::string accented = "salle-\xc3\xa9t\xc3\xa9-" + std::string(60, 'x');
  std::vector<RoomSummary> rooms = {
      {long_id, "archived", 50, std::string(64, 'h'), kNow - 400LL * 86'400'000, kNow - 3'000},
      {accented, "live", 3, "user_a", kNow - 3'600'000, kNow},
  };
  const auto lines = lines_of(format_rooms(rooms, Format::table, kNow));
  REQUIRE(lines.size() == 3);
  for (const auto& line : lines) CHECK(code_points(line) <= kTableWidth);
  CHECK(lines[1].find("\xe2\x80\xa6") != std::string::npos);  // cut with an ellipsis
  CHECK(lines[1].find("400d ago") != std::string::npos);
  CHECK(lines[2].find("1h ago") != std::string::npos);
  CHECK(lines[2].find("salle-\xc3\xa9t\xc3\xa9-") == 0);
}

TEST_CASE("room json is one object per line with ISO times", "[store]") {
  std::vector<RoomSummary> rooms = {{"a", "live", 2, "u", kNow, kNow + 1}, {"b", "idle", 0, "", kNow, kNow}};
  CHECK(format_rooms(rooms, Format::json, kNow) ==
        R"({"id":"a","state":"live","members":2,"host":"u","created_at":"2024-11-27T00:00:00.000Z","last_activity":"2024-11-27T00:00:00.001Z"})"
        "\n"
        R"({"id":"b","state":"idle","members":0,"host":null,"created_at":"2024-11-27T00:00:00.000Z","last_activity":"2024-11-27T00:00:00.000Z"})"
        "\n");
}

TEST_CASE("csv quotes fields holding commas, quotes or line breaks", "[store]") {
  std::vector<RoomSummary> rooms = {{"a,b", "live", 1, "say \"hi\"", kNow, kNow}};
  CHECK(format_rooms(rooms, Format::csv, kNow) ==
        "id,state,members,host,created_at,last_activity\r\n"
        "\"a,b\",live,1,\"say \"\"hi\"\"\",2024-11-27T00:00:00.000Z,2024-11-27T00:00:00.000Z\r\n");
}

TEST_CASE("the event table has fixed columns within 100 and a header only when asked", "[store]") {
  Event e;
  e.id = 7;
  e.room_id = "r";
  e.seq = 12;
  e.type = "USERNAME_UPDATED";
  e.user_id = std::string(40, 'u');
  e.data = R"({"username":")" + std::string(80, 'n') + "\"}";
  e.at_ms = kNow;
  const auto with_header = lines_of(format_events({e}, Format::table, true));
  REQUIRE(with_header.size() == 2);
  CHECK(with_header[0].starts_with("TIME (UTC)"));
  CHECK(with_header[1].starts_with("2024-11-27 00:00:00      12  USERNAME_UPDATED  "));
  for (const auto& line : with_header) CHECK(code_points(line) <= kTableWidth);
  CHECK(lines_of(format_events({e}, Format::table, false)).size() == 1);
}

TEST_CASE("event json carries null seq, user and node for v2.0 events", "[store]") {
  Event e;
  e.id = 1;
  e.room_id = "r";
  e.type = "ROOM_CREATED";
  e.data = "null";
  e.at_ms = kNow;
  CHECK(format_events({e}, Format::json, true) ==
        R"({"id":1,"room":"r","seq":null,"type":"ROOM_CREATED","user":null,"node":null,"time":"2024-11-27T00:00:00.000Z","data":null})"
        "\n");
}

TEST_CASE("nothing a client sent reaches the terminal as a control: ESC, DEL and C1 in every format", "[store]") {
  // ESC [2J (clear screen), a C1 CSI (U+009B) and DEL, as a v2.0-era room id and a username.
  const std::string hostile = "r\x1b[2J\xc2\x9b" "31m\x7fx";
  Event e;
  e.id = 3;
  e.room_id = hostile;
  e.seq = 1;
  e.type = "USERNAME_UPDATED";
  e.user_id = "u";
  e.data = "{\"username\":\"a\\u001b[31m\xc2\x9b\x7f\"}";
  e.at_ms = kNow;
  const auto no_controls = [](const std::string& text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      if ((c < 0x20 && c != '\n' && c != '\r') || c == 0x7f) return false;  // CSV lines end in CRLF
      if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) <= 0x9f) return false;
    }
    return true;
  };
  for (const auto format : {Format::table, Format::csv, Format::json}) {
    const std::string events = format_events({e}, format, true);
    CHECK(no_controls(events));
    const std::string rooms = format_rooms({{hostile, "live", 1, hostile, kNow, kNow}}, format, kNow);
    CHECK(no_controls(rooms));
  }
  CHECK(format_rooms({{hostile, "live", 1, "h", kNow, kNow}}, Format::csv, kNow).find("r?[2J?31m?x") != std::string::npos);
  // JSON keeps the text, escaped: it parses back to the same string.
  const std::string json = format_rooms({{hostile, "live", 1, "h", kNow, kNow}}, Format::json, kNow);
  CHECK(json.find(R"("r\u001b[2J\u009b31m\u007fx")") != std::string::npos);
}
