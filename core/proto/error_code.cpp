#include "core/proto/error_code.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace tandem::proto {

namespace {

struct CodeText {
  std::string_view name;
  std::string_view message;
};

CodeText text_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::bad_json: return {"bad_json", "Processing error"};
    case ErrorCode::bad_field: return {"bad_field", "Invalid or missing field"};
    case ErrorCode::missing_fields: return {"missing_fields", "Missing roomId or userId"};
    case ErrorCode::invalid_room_id: return {"invalid_room_id", "Invalid roomId"};
    case ErrorCode::invalid_user_id: return {"invalid_user_id", "Invalid userId"};
    case ErrorCode::invalid_username: return {"invalid_username", "Invalid username"};
    case ErrorCode::invalid_pin: return {"invalid_pin", "Invalid PIN format"};
    case ErrorCode::bad_pin: return {"bad_pin", "Invalid or missing PIN"};
    case ErrorCode::too_many_attempts: return {"too_many_attempts", "Too many PIN attempts, try again later"};
    case ErrorCode::reserved_type: return {"reserved_type", "Message type reserved for the server"};
    case ErrorCode::not_joined: return {"not_joined", "Join a room first"};
    case ErrorCode::not_allowed: return {"not_allowed", "Only the host or a guest with control can do this"};
    case ErrorCode::bad_target: return {"bad_target", "Target user is not in the room"};
    case ErrorCode::bad_url: return {"bad_url", "URL not allowed"};
    case ErrorCode::room_full: return {"room_full", "Room is full"};
    case ErrorCode::rate_limited: return {"rate_limited", "Too many messages, slow down"};
    case ErrorCode::replaced: return {"replaced", "Connection replaced by a newer one"};
    case ErrorCode::identity_in_use: return {"identity_in_use", "User id is in use by another connection"};
    case ErrorCode::server_busy: return {"server_busy", "Server busy, try again later"};
    case ErrorCode::too_many_rooms: return {"too_many_rooms", "Too many new rooms from this address, try again later"};
  }
  return {"unknown", "Unknown error"};
}

}  // namespace

std::string_view code_name(ErrorCode code) { return text_of(code).name; }

std::string_view default_message(ErrorCode code) { return text_of(code).message; }

std::string error_frame(ErrorCode code) {
  const CodeText text = text_of(code);
  boost::json::object frame;
  frame["type"] = "ERROR";
  frame["message"] = text.message;
  frame["code"] = text.name;
  return boost::json::serialize(frame);
}

}  // namespace tandem::proto
