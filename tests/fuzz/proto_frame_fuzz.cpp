// Client frames (core/proto, docs/protocol.md §2, §3, §10): any text parses to a frame or to one of
// the three parse errors, never crashes; what a frame holds obeys the field rules; and a frame
// depends only on the JSON value, not on how it was written.

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cmath>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "core/proto/frame.hpp"
#include "core/util/text.hpp"
#include "tests/fuzz/check.hpp"

namespace {

using namespace tandem;
namespace json = boost::json;
using fuzz::same_json;

json::value optional_text(const std::optional<std::string>& text) {
  return text ? json::value(*text) : json::value(nullptr);
}

json::value optional_number(const std::optional<double>& number) {
  return number ? json::value(*number) : json::value(nullptr);
}

// Everything a frame holds, as JSON, so that two parses can be compared.
json::object describe(const proto::ParseResult& result) {
  json::object out;
  if (const auto* error = std::get_if<proto::ParseError>(&result)) {
    out["parse_error"] = proto::code_name(error->code);
    return out;
  }
  const proto::Frame& frame = std::get<proto::Frame>(result);
  out["type"] = frame.type;
  out["field_error"] = frame.field_error ? json::value(proto::code_name(*frame.field_error)) : json::value(nullptr);
  out["body"] = frame.body.index();
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, proto::Join>) {
          out["room_id"] = body.room_id;
          out["user_id"] = body.user_id;
          out["username"] = optional_text(body.username);
          // A malformed PIN's text is never used (it is rejected unread), and for a number it is
          // the number re-serialized, which differs with Boost.JSON's rounding.
          out["pin"] = body.pin_invalid ? json::value("malformed") : optional_text(body.pin);
          out["pin_invalid"] = body.pin_invalid;
          out["token"] = optional_text(body.token);
        } else if constexpr (std::is_same_v<T, proto::UpdateUsername>) {
          out["username"] = optional_text(body.username);
        } else if constexpr (std::is_same_v<T, proto::ToggleGuestControl>) {
          out["enabled"] = body.enabled;
        } else if constexpr (std::is_same_v<T, proto::TransferHost>) {
          out["target"] = body.target_user_id;
        } else if constexpr (std::is_same_v<T, proto::PlayPause>) {
          out["play"] = body.play;
          out["current_time"] = optional_number(body.current_time);
          out["event_timestamp"] = optional_number(body.event_timestamp);
        } else if constexpr (std::is_same_v<T, proto::Seek> || std::is_same_v<T, proto::HostHeartbeat>) {
          out["current_time"] = body.current_time;
          out["is_playing"] = body.is_playing;
          out["event_timestamp"] = optional_number(body.event_timestamp);
        } else if constexpr (std::is_same_v<T, proto::PositionUpdate>) {
          out["current_time"] = body.current_time;
          out["is_playing"] = body.is_playing;
        } else if constexpr (std::is_same_v<T, proto::UrlChange>) {
          out["url"] = body.url;
          out["current_time"] = optional_number(body.current_time);
        } else if constexpr (std::is_same_v<T, proto::Targeted>) {
          out["to"] = body.to;
          out["object"] = body.body;
        } else if constexpr (std::is_same_v<T, proto::Relay>) {
          out["object"] = body.body;
        }
      },
      frame.body);
  return out;
}

bool is_time(double t) { return std::isfinite(t) && t >= 0; }
bool is_time(const std::optional<double>& t) { return !t || is_time(*t); }
bool is_finite(const std::optional<double>& t) { return !t || std::isfinite(*t); }

// §2: 1-64 code points, valid UTF-8, no control characters.
bool valid_id(std::string_view id) {
  return !id.empty() && util::is_valid_utf8(id) && util::count_code_points(id) <= 64 && !util::has_control_chars(id);
}

// §2 "Usernames": what cleaning leaves — never empty, at most 50 code points, no control
// characters, no white space at either end.
bool clean_name(const std::optional<std::string>& name) {
  if (!name) return true;
  return !name->empty() && util::is_valid_utf8(*name) && util::count_code_points(*name) <= 50 &&
         !util::has_control_chars(*name) && util::clean_display_name(*name, 50) == *name;
}

// The body a known type must have.
std::size_t expected_body(std::string_view type) {
  constexpr std::pair<std::string_view, std::size_t> kBodies[] = {
      {"PING", 0}, {"JOIN", 1}, {"LEAVE", 2}, {"UPDATE_USERNAME", 3}, {"TOGGLE_GUEST_CONTROL", 4},
      {"TRANSFER_HOST", 5}, {"PLAY_PAUSE", 6}, {"SEEK", 7}, {"READY", 8}, {"HOST_HEARTBEAT", 9},
      {"POSITION_UPDATE", 10}, {"URL_CHANGE", 11}, {"REQUEST_SYNC", 12}, {"OFFER", 13}, {"ANSWER", 13},
      {"ICE_CANDIDATE", 13}};
  for (const auto& [name, index] : kBodies) {
    if (name == type) return index;
  }
  return std::variant_npos;
}

void check_frame(const proto::Frame& frame, const proto::ParseLimits& limits) {
  using proto::ErrorCode;
  for (std::string_view reserved : {"ROOM_STATE", "USER_JOINED", "USER_LEFT", "HOST_CHANGED", "GUEST_CONTROL",
                                    "USERNAME_UPDATED", "PONG", "ERROR", "SEEK_PAUSE"}) {
    FUZZ_CHECK(frame.type != reserved);
  }
  const std::size_t body = expected_body(frame.type);
  if (body != std::variant_npos) {
    FUZZ_CHECK(frame.body.index() == body);
  } else {
    FUZZ_CHECK(std::holds_alternative<proto::Targeted>(frame.body) || std::holds_alternative<proto::Relay>(frame.body));
  }
  if (frame.type == "SYNC_RESPONSE") FUZZ_CHECK(std::holds_alternative<proto::Targeted>(frame.body));

  if (const auto* join = std::get_if<proto::Join>(&frame.body)) {
    if (frame.field_error) {
      const ErrorCode e = *frame.field_error;
      FUZZ_CHECK(e == ErrorCode::missing_fields || e == ErrorCode::invalid_room_id ||
                 e == ErrorCode::invalid_user_id || e == ErrorCode::invalid_username);
      return;
    }
    FUZZ_CHECK(valid_id(join->room_id) && valid_id(join->user_id));
    FUZZ_CHECK(clean_name(join->username));
    if (join->pin && !join->pin_invalid) {
      FUZZ_CHECK(!join->pin->empty() && util::is_valid_utf8(*join->pin) && util::count_code_points(*join->pin) <= 16);
    }
    if (join->pin_invalid) FUZZ_CHECK(join->pin.has_value());
    return;
  }
  if (const auto* update = std::get_if<proto::UpdateUsername>(&frame.body)) {
    if (frame.field_error) {
      FUZZ_CHECK(*frame.field_error == ErrorCode::invalid_username);
    } else {
      FUZZ_CHECK(clean_name(update->username));
    }
    return;
  }
  if (frame.field_error) {
    FUZZ_CHECK(*frame.field_error == ErrorCode::bad_field);
    return;
  }
  if (const auto* p = std::get_if<proto::PlayPause>(&frame.body)) {
    FUZZ_CHECK(is_time(p->current_time) && is_finite(p->event_timestamp));
  } else if (const auto* s = std::get_if<proto::Seek>(&frame.body)) {
    FUZZ_CHECK(is_time(s->current_time) && is_finite(s->event_timestamp));
  } else if (const auto* h = std::get_if<proto::HostHeartbeat>(&frame.body)) {
    FUZZ_CHECK(is_time(h->current_time) && is_finite(h->event_timestamp));
  } else if (const auto* u = std::get_if<proto::PositionUpdate>(&frame.body)) {
    FUZZ_CHECK(is_time(u->current_time));
  } else if (const auto* c = std::get_if<proto::UrlChange>(&frame.body)) {
    FUZZ_CHECK(c->url.size() <= limits.max_url_bytes && !util::has_control_chars(c->url));
    FUZZ_CHECK(is_time(c->current_time));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const proto::ParseLimits limits{};
  const proto::ParseResult result = proto::parse(text, limits);
  const json::object described = describe(result);
  FUZZ_CHECK(same_json(describe(proto::parse(text, limits)), described));

  json::error_code ec;
  const json::value document = json::parse(text, ec);
  const bool object = !ec && document.is_object();
  if (const auto* error = std::get_if<proto::ParseError>(&result)) {
    // Not an object: bad_json; an object: bad_field (no string type) or reserved_type.
    FUZZ_CHECK((error->code == proto::ErrorCode::bad_json) == !object);
    FUZZ_CHECK(error->code == proto::ErrorCode::bad_json || error->code == proto::ErrorCode::bad_field ||
               error->code == proto::ErrorCode::reserved_type);
  } else {
    FUZZ_CHECK(object);
    check_frame(std::get<proto::Frame>(result), limits);
  }
  if (!object) return 0;

  // The same value written canonically (no white space, no duplicate keys) is the same frame.
  if (fuzz::all_finite(document)) {
    FUZZ_CHECK(same_json(describe(proto::parse(json::serialize(document), limits)), described));
  }
  // An object the node passes on (targeted and room relays) is JSON once serialized, and parses
  // back to the same frame.
  if (const auto* frame = std::get_if<proto::Frame>(&result); frame != nullptr && !frame->field_error) {
    const json::object* body = nullptr;
    if (const auto* targeted = std::get_if<proto::Targeted>(&frame->body)) body = &targeted->body;
    if (const auto* relay = std::get_if<proto::Relay>(&frame->body)) body = &relay->body;
    if (body != nullptr) FUZZ_CHECK(same_json(describe(proto::parse(json::serialize(*body), limits)), described));
  }
  return 0;
}
