#include <catch2/catch.hpp>

#include <string>

#include "core/node/route.hpp"

using tandem::node::redirect_location;
using tandem::node::route;
using tandem::node::valid_room_id;

TEST_CASE("request targets name their endpoint with percent-decoded arguments", "[node]") {
  const auto presence = route("/api/rooms/a%2Fb%20c/presence?x=1");
  REQUIRE(presence);
  CHECK(presence->handler == "presence");
  CHECK(presence->segments[2] == "a/b c");
  CHECK(presence->cors);

  const auto redirect = route("/room/k3j2h1g0/12%2034/");
  REQUIRE(redirect);
  CHECK(redirect->handler == "redirect");
  CHECK(redirect->segments == std::vector<std::string>{"room", "k3j2h1g0", "12 34"});

  CHECK(route("/metrics")->handler == "metrics");
  CHECK_FALSE(route("/metrics")->cors);
  CHECK(route("/status")->cors);
  CHECK(route("/ws/")->handler == "not_found");
  CHECK_FALSE(route("/api/room/%zz"));
  CHECK_FALSE(route("/api/room/%4"));
  CHECK_FALSE(route("http://example.com/status"));  // absolute-form is not origin-form
}

TEST_CASE("room ids follow the JOIN rule", "[node]") {
  CHECK(valid_room_id("default_room_1732665600000"));
  CHECK(valid_room_id(std::string(64, 'r')));
  CHECK_FALSE(valid_room_id(std::string(65, 'r')));
  CHECK_FALSE(valid_room_id(""));
  CHECK_FALSE(valid_room_id("a\nb"));
  CHECK_FALSE(valid_room_id("\xff"));
}

TEST_CASE("a redirect Location encodes the room id and the PIN", "[node]") {
  CHECK(redirect_location("https://www.netflix.com/?tandemRoom={roomId}", "a b&pin=1", "") ==
        "https://www.netflix.com/?tandemRoom=a%20b%26pin%3D1");
  CHECK(redirect_location("https://www.netflix.com/?tandemRoom={roomId}", "r1", "12\r\n34") ==
        "https://www.netflix.com/?tandemRoom=r1&pin=12%0D%0A34");
  CHECK(redirect_location("https://example.com/watch/{roomId}", "r/1", "0") == "https://example.com/watch/r%2F1?pin=0");
}
