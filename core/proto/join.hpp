#pragma once

#include <boost/json/object.hpp>

#include <optional>

#include "core/proto/error_code.hpp"
#include "core/proto/frame.hpp"

namespace tandem::proto::detail {

// Limits of docs/protocol.md §2, in code points.
inline constexpr std::size_t kMaxIdCodePoints = 64;
inline constexpr std::size_t kMaxUsernameCodePoints = 50;
inline constexpr std::size_t kMaxPinCodePoints = 16;

// JOIN validation (§2, §10). The error, if any, is one of missing_fields, invalid_room_id,
// invalid_user_id, invalid_username; a malformed PIN sets Join::pin_invalid instead.
Join parse_join(const boost::json::object& object, std::optional<ErrorCode>& error);

// A display name as §2 stores it: nullopt for null/absent/empty after cleaning; `ok` false
// when the field has another type.
std::optional<std::string> parse_username(const boost::json::object& object, bool& ok);

}  // namespace tandem::proto::detail
