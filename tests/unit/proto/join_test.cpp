#include <catch2/catch.hpp>

#include <string>

#include "core/proto/frame.hpp"

using namespace tandem::proto;

namespace {

struct ParsedJoin {
  Join join;
  std::optional<ErrorCode> error;
};

ParsedJoin parse_join(const std::string& fields) {
  const std::string text = R"({"type":"JOIN")" + (fields.empty() ? "" : "," + fields) + "}";
  INFO(text);
  ParseResult result = parse(text);
  REQUIRE(std::holds_alternative<Frame>(result));
  Frame frame = std::get<Frame>(std::move(result));
  REQUIRE(std::holds_alternative<Join>(frame.body));
  return {std::get<Join>(std::move(frame.body)), frame.field_error};
}

std::optional<ErrorCode> join_error(const std::string& fields) { return parse_join(fields).error; }

const std::string kIds = R"("roomId":"room-1","userId":"user_k3j2h1g")";

}  // namespace

TEST_CASE("JOIN with valid ids parses its fields", "[proto][join]") {
  const ParsedJoin parsed = parse_join(
      R"("userId":"user_k3j2h1g","roomId":"default_room_1732665600000","username":"Ann","pin":"123456","timestamp":1732665600000,"token":"abc")");
  CHECK_FALSE(parsed.error);
  CHECK(parsed.join.room_id == "default_room_1732665600000");
  CHECK(parsed.join.user_id == "user_k3j2h1g");
  CHECK(parsed.join.username == "Ann");
  CHECK(parsed.join.pin == "123456");
  CHECK_FALSE(parsed.join.pin_invalid);
  CHECK(parsed.join.token == "abc");
}

TEST_CASE("JOIN id rules: missing, wrong type, length, control characters", "[proto][join]") {
  struct Case {
    std::string fields;
    std::optional<ErrorCode> error;
  };
  const std::string id64(64, 'a');
  const std::string id65(65, 'a');
  std::string accents64;
  for (int i = 0; i < 64; ++i) accents64 += "\xC3\xA9";  // 64 code points, 128 bytes
  const Case cases[] = {
      {R"("userId":"u")", ErrorCode::missing_fields},
      {R"("roomId":"r")", ErrorCode::missing_fields},
      {R"("roomId":null,"userId":"u")", ErrorCode::missing_fields},
      {R"("roomId":"","userId":"u")", ErrorCode::missing_fields},
      {R"("roomId":"r","userId":"")", ErrorCode::missing_fields},
      {R"("roomId":"r","userId":null)", ErrorCode::missing_fields},
      {R"("roomId":5,"userId":"u")", ErrorCode::invalid_room_id},
      {R"("roomId":{},"userId":"u")", ErrorCode::invalid_room_id},
      {R"("roomId":"r","userId":true)", ErrorCode::invalid_user_id},
      {R"("roomId":"r","userId":["u"])", ErrorCode::invalid_user_id},
      {R"("roomId":")" + id64 + R"(","userId":")" + id64 + "\"", std::nullopt},
      {R"("roomId":")" + accents64 + R"(","userId":"u")", std::nullopt},
      {R"("roomId":")" + id65 + R"(","userId":"u")", ErrorCode::invalid_room_id},
      {R"("roomId":"r","userId":")" + id65 + "\"", ErrorCode::invalid_user_id},
      {R"("roomId":"a\nb","userId":"u")", ErrorCode::invalid_room_id},
      {R"("roomId":"r","userId":"a\u0000b")", ErrorCode::invalid_user_id},
      {R"("roomId":"r","userId":"a\u0085b")", ErrorCode::invalid_user_id},  // C1 control
      {R"("roomId":"room:{x}*/y","userId":"u:1{*}/")", std::nullopt},      // opaque ids
      {R"("roomId":" ","userId":"u")", std::nullopt},
  };
  for (const Case& c : cases) {
    INFO(c.fields);
    CHECK(join_error(c.fields) == c.error);
  }
}

TEST_CASE("fix: JOIN usernames are cleaned, null is no name and long names are cut", "[proto][join]") {
  CHECK_FALSE(parse_join(kIds + R"(,"username":null)").join.username);
  CHECK_FALSE(parse_join(kIds + R"(,"username":null)").error);
  CHECK_FALSE(parse_join(kIds).join.username);
  CHECK_FALSE(parse_join(kIds + R"(,"username":"")").join.username);
  CHECK_FALSE(parse_join(kIds + R"(,"username":" \t\u0001 ")").join.username);
  CHECK(parse_join(kIds + R"(,"username":"  Ann \n")").join.username == "Ann");
  CHECK(parse_join(kIds + R"(,"username":"A\u0007nn")").join.username == "Ann");
  const std::string long_name(120, 'z');
  const ParsedJoin parsed = parse_join(kIds + R"(,"username":")" + long_name + "\"");
  CHECK_FALSE(parsed.error);
  CHECK(parsed.join.username == std::string(50, 'z'));
  CHECK(join_error(kIds + R"(,"username":5)") == ErrorCode::invalid_username);
  CHECK(join_error(kIds + R"(,"username":{"a":1})") == ErrorCode::invalid_username);
  CHECK(join_error(kIds + R"(,"username":false)") == ErrorCode::invalid_username);
}

TEST_CASE("JOIN PIN rules: none, string, integer, malformed", "[proto][join]") {
  struct Case {
    std::string pin;  // JSON text
    std::optional<std::string> expected;
    bool invalid;
  };
  const Case cases[] = {
      {"null", std::nullopt, false},
      {"\"\"", std::nullopt, false},
      {"\"1234\"", "1234", false},
      {"\"0000\"", "0000", false},
      {"\"a\"", "a", false},
      {"\"1234567890123456\"", "1234567890123456", false},
      {"\"12345678901234567\"", "12345678901234567", true},
      {"\"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\"",
       "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9",
       false},  // 16 code points, 32 bytes
      {"123456", "123456", false},
      {"0", "0", false},
      {"-12", "-12", false},
      {"1234567890123456", "1234567890123456", false},
      {"12345678901234567", "12345678901234567", true},
      {"18446744073709551615", "18446744073709551615", true},
      {"12.5", "12.5", true},
      {"1e3", "1000.0", true},  // any text: only the flag matters
      {"1.0", "1.0", true},
      {"true", "true", true},
      {"[1]", "[1]", true},
      {"{}", "{}", true},
  };
  for (const Case& c : cases) {
    INFO(c.pin);
    const ParsedJoin parsed = parse_join(kIds + R"(,"pin":)" + c.pin);
    CHECK_FALSE(parsed.error);  // a malformed PIN is decided by the room
    CHECK(parsed.join.pin_invalid == c.invalid);
    if (c.invalid) {
      CHECK(parsed.join.pin.has_value());
    } else {
      CHECK(parsed.join.pin == c.expected);
    }
  }
  CHECK_FALSE(parse_join(kIds).join.pin);
}

TEST_CASE("JOIN token is an optional string", "[proto][join]") {
  CHECK_FALSE(parse_join(kIds).join.token);
  CHECK_FALSE(parse_join(kIds + R"(,"token":null)").join.token);
  CHECK_FALSE(parse_join(kIds + R"(,"token":5)").join.token);
  CHECK(parse_join(kIds + R"(,"token":"0123456789abcdef0123456789abcdef")").join.token ==
        "0123456789abcdef0123456789abcdef");
}
