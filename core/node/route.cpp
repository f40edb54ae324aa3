#include "core/node/route.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "core/util/text.hpp"

namespace tandem::node {

namespace {

// The endpoint a path names; "not_found" for none.
std::string_view handler_of(const std::vector<std::string>& s) {
  if (s.size() == 1) {
    for (const std::string_view name : {"health", "ready", "metrics", "status"}) {
      if (s[0] == name) return name;
    }
  }
  if (s.size() == 4 && s[0] == "api" && s[1] == "rooms" && s[3] == "presence") return "presence";
  if (s.size() == 3 && s[0] == "api" && s[1] == "short-id") return "short_id";
  if (s.size() == 3 && s[0] == "api" && s[1] == "room") return "room_lookup";
  if (!s.empty() && s[0] == "room" && (s.size() == 2 || s.size() == 3)) return "redirect";
  return "not_found";
}

std::string encode_component(std::string_view s) { return boost::urls::encode(s, boost::urls::unreserved_chars); }

}  // namespace

std::optional<Route> route(std::string_view target) {
  const auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return std::nullopt;
  Route out;
  for (auto segment : parsed->segments()) out.segments.push_back(segment);
  // "/room/abc/" tolerates one trailing slash.
  const bool is_room_path = !out.segments.empty() && out.segments.front() == "room";
  if (is_room_path && out.segments.size() > 2 && out.segments.back().empty()) out.segments.pop_back();
  out.cors = !out.segments.empty() && (out.segments.front() == "api" || out.segments.front() == "room" ||
                                       (out.segments.size() == 1 && out.segments.front() == "status"));
  out.handler = handler_of(out.segments);
  return out;
}

bool valid_room_id(std::string_view id) {
  return !id.empty() && util::is_valid_utf8(id) && util::count_code_points(id) <= 64 && !util::has_control_chars(id);
}

std::string redirect_location(std::string_view redirect_template, std::string_view room_id, std::string_view pin) {
  std::string location(redirect_template);
  constexpr std::string_view placeholder = "{roomId}";
  if (const auto pos = location.find(placeholder); pos != std::string::npos) {
    location.replace(pos, placeholder.size(), encode_component(room_id));
  }
  if (!pin.empty()) location += (location.find('?') == std::string::npos ? "?pin=" : "&pin=") + encode_component(pin);
  return location;
}

}  // namespace tandem::node
