#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "core/proto/error_code.hpp"

namespace tandem::proto {

// Client frames (docs/protocol.md §2, §3, §10), parsed once from a WebSocket text message.
//
// Parsing separates two things so that the room can apply the order of checks of §10
// (not_joined → reserved_type → not_allowed → bad_field): the frame's kind is always known
// when parse() succeeds, while a field error is recorded in `field_error` and reported only
// after authorisation.

struct Ping {};
struct Join {
  std::string room_id;
  std::string user_id;
  std::optional<std::string> username;  // cleaned (§2); nullopt = no name
  std::optional<std::string> pin;       // nullopt = no PIN given; set even when pin_invalid
  bool pin_invalid = false;             // malformed PIN: counts as a wrong attempt
  std::optional<std::string> token;     // sessionToken for strict identity
};
struct Leave {};
struct UpdateUsername { std::optional<std::string> username; };
struct ToggleGuestControl { bool enabled = false; };
struct TransferHost { std::string target_user_id; };
struct PlayPause {
  bool play = false;
  std::optional<double> current_time;
  std::optional<double> event_timestamp;
};
struct Seek {
  double current_time = 0;
  bool is_playing = false;
  std::optional<double> event_timestamp;
};
struct Ready {};
struct HostHeartbeat {
  double current_time = 0;
  bool is_playing = false;
  std::optional<double> event_timestamp;
};
struct PositionUpdate {
  double current_time = 0;
  bool is_playing = false;
};
struct UrlChange {
  std::string url;
  std::optional<double> current_time;
};
struct RequestSync {};
// OFFER / ANSWER / ICE_CANDIDATE and any frame with a string `to`: relayed to one member.
struct Targeted {
  std::string to;
  boost::json::object body;  // the client's object, to be stamped with from/userId/nodeId/timestamp
  std::optional<std::string> url;  // SYNC_RESPONSE: its `url`, held to the URL_CHANGE rules
};
// Any other type: relayed to the room.
struct Relay {
  boost::json::object body;
};

using Body = std::variant<Ping, Join, Leave, UpdateUsername, ToggleGuestControl, TransferHost, PlayPause,
                          Seek, Ready, HostHeartbeat, PositionUpdate, UrlChange, RequestSync, Targeted,
                          Relay>;

struct Frame {
  std::string type;                      // the client's `type` string
  Body body;
  // Set when a present field has the wrong type or range; the body then holds defaults.
  // For JOIN this is one of missing_fields / invalid_room_id / invalid_user_id /
  // invalid_username (a malformed PIN is Join::pin_invalid instead, decided by the room).
  std::optional<ErrorCode> field_error;
};

// Parse failures that are final before any room logic: bad_json (not a JSON object; message
// "Processing error"), bad_field (no string `type`), reserved_type (a server type, or
// SYNC_RESPONSE without `to`).
struct ParseError {
  ErrorCode code;
};

using ParseResult = std::variant<Frame, ParseError>;

// Bounds of free-text fields that reach storage and other members (docs/protocol.md §10).
struct ParseLimits {
  std::size_t max_url_bytes = 4096;  // limits.max_url_bytes
};

// The client frame types the protocol names (docs/protocol.md §2, §3), most frequent first.
std::span<const std::string_view> client_types();
// `type` as the matching entry of client_types() (static storage), or nullopt for any other.
std::optional<std::string_view> known_client_type(std::string_view type);

// `text` is the whole WebSocket message. Never throws.
ParseResult parse(std::string_view text, const ParseLimits& limits = {});

}  // namespace tandem::proto
