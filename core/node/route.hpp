#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::node {

// Which endpoint of docs/protocol.md §7 a request target names. Pure: no I/O, no configuration,
// so that every target a client can send is checked without a server (tests/fuzz/http_fuzz.cpp).
struct Route {
  // The endpoint: health, ready, metrics, status, presence, short_id, room_lookup, redirect or
  // not_found (also the `handler` label of tandem_http_requests_total).
  std::string_view handler;
  // The percent-decoded path segments; "/room/{shortId}/" has its one trailing empty segment
  // removed. The endpoints' arguments are segments: presence and short_id [2], room_lookup [2],
  // redirect [1] (and [2], the PIN, when present).
  std::vector<std::string> segments;
  // Answers carry the CORS headers: /api/*, /room/* and /status.
  bool cors = false;
};

// nullopt when `target` is not an origin-form request target (RFC 9112 §3.2.1) or holds a
// malformed percent escape: the caller answers 400 "malformed URL". The query is ignored.
std::optional<Route> route(std::string_view target);

// Room ids follow the JOIN rule of docs/protocol.md §2: 1-64 code points, valid UTF-8, no control
// characters.
bool valid_room_id(std::string_view id);

// The Location of a /room/{shortId}[/{pin}] redirect: `redirect_template` (http.redirect_template)
// with its first "{roomId}" replaced by the percent-encoded room id, plus the percent-encoded PIN
// as a `pin` query parameter when `pin` is not empty. Everything taken from the request is encoded
// to unreserved characters, so it can neither end the header nor add a parameter.
std::string redirect_location(std::string_view redirect_template, std::string_view room_id, std::string_view pin);

}  // namespace tandem::node
