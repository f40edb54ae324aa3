// The node's HTTP request handling that depends on what a client sends (docs/protocol.md §7, §10):
// the request target (core/node/route), the Location of a /room redirect, and the client address
// behind trusted proxies (core/net/client_address). The input is three lines: request target,
// TCP peer address, X-Forwarded-For value.
//
// Invariants: a target routes or is refused as a malformed URL, never crashes; the endpoint and
// its CORS flag follow from the segments; the segments, percent-encoded again, route the same;
// a redirect Location is a valid URI whose query gives back the room id and PIN exactly (nothing
// from the request can end the header or add a parameter); the client address is the peer
// unless the peer is a trusted proxy, otherwise an address in canonical form taken from the
// list, which the client cannot change by writing more addresses in front.

#include <boost/asio/ip/address.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/pchars.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/net/client_address.hpp"
#include "core/node/route.hpp"
#include "tests/fuzz/check.hpp"

namespace {

using namespace tandem;

std::string_view next_line(std::string_view& rest) {
  const auto newline = rest.find('\n');
  const std::string_view line = rest.substr(0, newline);
  rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
  return line;
}

void check_route(std::string_view target) {
  const std::optional<node::Route> route = node::route(target);
  if (!route) {
    FUZZ_CHECK(!boost::urls::parse_origin_form(target));
    return;
  }
  const auto& s = route->segments;
  const std::string_view h = route->handler;
  FUZZ_CHECK(h == "health" || h == "ready" || h == "metrics" || h == "status" || h == "presence" ||
             h == "short_id" || h == "room_lookup" || h == "redirect" || h == "not_found");
  if (h == "presence") FUZZ_CHECK(s.size() == 4 && s[0] == "api" && s[1] == "rooms" && s[3] == "presence");
  if (h == "short_id" || h == "room_lookup") FUZZ_CHECK(s.size() == 3 && s[0] == "api");
  if (h == "redirect") FUZZ_CHECK((s.size() == 2 || s.size() == 3) && s[0] == "room");
  if (h == "health" || h == "ready" || h == "metrics" || h == "status") FUZZ_CHECK(s.size() == 1 && s[0] == h);
  const bool cors = !s.empty() && (s[0] == "api" || s[0] == "room" || (s.size() == 1 && s[0] == "status"));
  FUZZ_CHECK(route->cors == cors);

  // The path's segments, decoded and encoded again, route the same (the query is ignored). A
  // segment "." or ".." is written percent-encoded: bare, it would be a dot-segment. Boost.URL
  // reads "/" as no segment and "/./" as one empty segment.
  std::string rebuilt;
  const auto raw = boost::urls::parse_origin_form(target)->segments();
  for (const std::string segment : raw) {
    std::string encoded = boost::urls::encode(segment, boost::urls::unreserved_chars);
    if (segment == ".") encoded = "%2E";
    if (segment == "..") encoded = "%2E%2E";
    rebuilt += "/" + encoded;
  }
  if (rebuilt.empty()) rebuilt = "/";
  if (rebuilt == "/" && !raw.empty()) rebuilt = "/./";
  const std::optional<node::Route> again = node::route(rebuilt);
  FUZZ_CHECK(again && again->handler == h && again->segments == s && again->cors == route->cors);

  if (h == "redirect") {
    const std::string pin = s.size() == 3 ? s[2] : std::string();
    for (std::string_view tmpl : {"https://www.netflix.com/?tandemRoom={roomId}", "https://example.com/watch/{roomId}"}) {
      const std::string location = node::redirect_location(tmpl, s[1], pin);
      for (const char c : location) FUZZ_CHECK(c > 0x20 && c < 0x7f);
      const auto uri = boost::urls::parse_uri(location);
      FUZZ_CHECK(uri.has_value());
      std::vector<std::pair<std::string, std::string>> params;
      for (auto param : uri->params()) params.emplace_back(param.key, param.value);
      std::vector<std::pair<std::string, std::string>> expected;
      if (tmpl.find('?') != std::string_view::npos) {
        expected.emplace_back("tandemRoom", s[1]);
      } else {
        FUZZ_CHECK(uri->path() == "/watch/" + s[1]);
      }
      if (!pin.empty()) expected.emplace_back("pin", pin);
      FUZZ_CHECK(params == expected);
    }
  }
}

bool is_ip(const std::string& text) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(text, ec);
  return !ec;
}

void check_client_address(std::string_view peer, std::string_view forwarded_for) {
  const std::vector<std::string> proxies = {"10.0.0.0/8", "192.168.1.1", "::1", "fd00::/8", "127.0.0.1"};
  const std::string own = net::client_address(peer, "", proxies);
  const std::string client = net::client_address(peer, forwarded_for, proxies);
  FUZZ_CHECK(net::client_address(peer, forwarded_for, proxies) == client);
  // A trusted address is one whose own X-Forwarded-For is believed.
  const auto trusted = [&](const std::string& addr) { return net::client_address(addr, "203.0.113.7", proxies) != addr; };
  if (!trusted(own)) FUZZ_CHECK(client == own);
  if (is_ip(client)) {
    const auto addr = boost::asio::ip::make_address(client);
    FUZZ_CHECK(addr.to_string() == client);
    FUZZ_CHECK(!(addr.is_v6() && addr.to_v6().is_v4_mapped()));
  }
  if (client != own) {
    FUZZ_CHECK(!client.empty() && client.find(',') == std::string::npos);
    FUZZ_CHECK(client.front() != ' ' && client.front() != '\t' && client.back() != ' ' && client.back() != '\t');
    // Addresses a client writes in front of the list do not move the answer.
    if (!trusted(client)) {
      FUZZ_CHECK(net::client_address(peer, "198.51.100.9, " + std::string(forwarded_for), proxies) == client);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  const std::string_view target = next_line(rest);
  const std::string_view peer = next_line(rest);
  const std::string_view forwarded_for = next_line(rest);
  check_route(target);
  check_client_address(peer, forwarded_for);
  return 0;
}
