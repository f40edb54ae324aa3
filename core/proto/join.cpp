#include "core/proto/join.hpp"

#include <boost/json/serialize.hpp>

#include <string>

#include "core/proto/fields.hpp"
#include "core/util/text.hpp"

namespace tandem::proto::detail {

namespace {

enum class IdCheck { ok, missing, invalid };

IdCheck check_id(const Fields& fields, std::string_view key, std::string& out) {
  const boost::json::value* value = fields.find(key);
  if (value == nullptr) return IdCheck::missing;
  if (!value->is_string()) return IdCheck::invalid;
  const std::string_view text = value->get_string();
  if (text.empty()) return IdCheck::missing;
  if (!util::is_valid_utf8(text) || util::count_code_points(text) > kMaxIdCodePoints ||
      util::has_control_chars(text)) {
    return IdCheck::invalid;
  }
  out = std::string(text);
  return IdCheck::ok;
}

// A PIN: null/absent/"" is no PIN; a string of 1-16 code points or an integer (its decimal
// string, at most 16 characters) is a PIN; anything else is malformed.
void parse_pin(const Fields& fields, Join& join) {
  const boost::json::value* value = fields.find("pin");
  if (value == nullptr) return;
  std::string text;
  if (value->is_string()) {
    text = std::string(value->get_string());
    if (text.empty()) return;
  } else if (value->is_int64()) {
    text = std::to_string(value->get_int64());
  } else if (value->is_uint64()) {
    text = std::to_string(value->get_uint64());
  } else {
    join.pin = boost::json::serialize(*value);
    join.pin_invalid = true;
    return;
  }
  join.pin_invalid = !util::is_valid_utf8(text) || util::count_code_points(text) > kMaxPinCodePoints;
  join.pin = std::move(text);
}

}  // namespace

std::optional<std::string> parse_username(const boost::json::object& object, bool& ok) {
  const Fields fields(object);
  ok = true;
  const boost::json::value* value = fields.find("username");
  if (value == nullptr) return std::nullopt;
  if (!value->is_string() || !util::is_valid_utf8(value->get_string())) {
    ok = false;
    return std::nullopt;
  }
  std::string cleaned = util::clean_display_name(value->get_string(), kMaxUsernameCodePoints);
  if (cleaned.empty()) return std::nullopt;
  return cleaned;
}

Join parse_join(const boost::json::object& object, std::optional<ErrorCode>& error) {
  Join join;
  const Fields fields(object);
  const IdCheck room = check_id(fields, "roomId", join.room_id);
  const IdCheck user = check_id(fields, "userId", join.user_id);
  bool username_ok = true;
  join.username = parse_username(object, username_ok);
  parse_pin(fields, join);
  if (const boost::json::value* token = fields.find("token"); token != nullptr && token->is_string()) {
    join.token = std::string(token->get_string());
  }

  if (room == IdCheck::missing || user == IdCheck::missing) {
    error = ErrorCode::missing_fields;
  } else if (room == IdCheck::invalid) {
    error = ErrorCode::invalid_room_id;
  } else if (user == IdCheck::invalid) {
    error = ErrorCode::invalid_user_id;
  } else if (!username_ok) {
    error = ErrorCode::invalid_username;
  }
  return join;
}

}  // namespace tandem::proto::detail
