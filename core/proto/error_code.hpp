#pragma once

#include <string>
#include <string_view>

namespace tandem::proto {

// Codes of ERROR frames (docs/protocol.md). Wire names are the snake_case spelling.
enum class ErrorCode {
  bad_json,
  bad_field,
  missing_fields,
  invalid_room_id,
  invalid_user_id,
  invalid_username,
  invalid_pin,
  bad_pin,
  too_many_attempts,
  reserved_type,
  not_joined,
  not_allowed,
  bad_target,
  bad_url,
  room_full,
  rate_limited,
  replaced,
  identity_in_use,
  server_busy,     // node at its connection or room capacity
  too_many_rooms,  // the address created limits.rooms_per_ip_minute rooms within the last minute
};

std::string_view code_name(ErrorCode code);

// The human text sent with the code; keeps the v2.0 texts where v2.0 had one
// ("Processing error", "Missing roomId or userId", "Invalid or missing PIN", …).
std::string_view default_message(ErrorCode code);

// {"type":"ERROR","message":…,"code":…} serialized.
std::string error_frame(ErrorCode code);

}  // namespace tandem::proto
