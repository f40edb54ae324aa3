#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>

#include <set>
#include <string>

#include "core/proto/error_code.hpp"

using tandem::proto::ErrorCode;
using namespace tandem::proto;

namespace {

const ErrorCode kAllCodes[] = {
    ErrorCode::bad_json,        ErrorCode::bad_field,         ErrorCode::missing_fields,
    ErrorCode::invalid_room_id, ErrorCode::invalid_user_id,   ErrorCode::invalid_username,
    ErrorCode::invalid_pin,     ErrorCode::bad_pin,           ErrorCode::too_many_attempts,
    ErrorCode::reserved_type,   ErrorCode::not_joined,        ErrorCode::not_allowed,
    ErrorCode::bad_target,      ErrorCode::bad_url,           ErrorCode::room_full,
    ErrorCode::rate_limited,    ErrorCode::replaced,          ErrorCode::identity_in_use,
    ErrorCode::server_busy,     ErrorCode::too_many_rooms,
};

}  // namespace

TEST_CASE("error codes have their snake_case wire names", "[proto]") {
  CHECK(code_name(ErrorCode::bad_json) == "bad_json");
  CHECK(code_name(ErrorCode::missing_fields) == "missing_fields");
  CHECK(code_name(ErrorCode::too_many_attempts) == "too_many_attempts");
  CHECK(code_name(ErrorCode::identity_in_use) == "identity_in_use");
  CHECK(code_name(ErrorCode::server_busy) == "server_busy");
  std::set<std::string> names;
  for (ErrorCode code : kAllCodes) {
    const std::string name(code_name(code));
    CHECK(names.insert(name).second);
    CHECK(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string::npos);
    CHECK_FALSE(default_message(code).empty());
  }
}

TEST_CASE("error messages keep the v2.0 texts", "[proto]") {
  CHECK(default_message(ErrorCode::bad_json) == "Processing error");
  CHECK(default_message(ErrorCode::missing_fields) == "Missing roomId or userId");
  CHECK(default_message(ErrorCode::bad_pin) == "Invalid or missing PIN");
}

TEST_CASE("error frame is {type, message, code} in that order", "[proto]") {
  const std::string text = error_frame(ErrorCode::bad_pin);
  CHECK(text == R"({"type":"ERROR","message":"Invalid or missing PIN","code":"bad_pin"})");
  for (ErrorCode code : kAllCodes) {
    const boost::json::object frame = boost::json::parse(error_frame(code)).as_object();
    REQUIRE(frame.size() == 3);
    CHECK(frame.at("type") == "ERROR");
    CHECK(frame.at("code").as_string() == code_name(code));
    CHECK(frame.at("message").as_string() == default_message(code));
  }
}
