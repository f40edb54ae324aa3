#include <catch2/catch.hpp>

#include "core/net/client_address.hpp"
#include "core/util/address_group.hpp"

using tandem::net::client_address;

TEST_CASE("the TCP peer is the client when it is not a trusted proxy", "[net]") {
  CHECK(client_address("203.0.113.9", "198.51.100.1", {}) == "203.0.113.9");
  CHECK(client_address("203.0.113.9", "198.51.100.1", {"10.0.0.1"}) == "203.0.113.9");
  CHECK(client_address("::ffff:203.0.113.9", "", {}) == "203.0.113.9");
}

TEST_CASE("behind a trusted proxy the last untrusted X-Forwarded-For hop is the client", "[net]") {
  CHECK(client_address("10.0.0.1", "198.51.100.1", {"10.0.0.1"}) == "198.51.100.1");
  // A client-supplied first hop cannot override what the trusted proxies appended.
  CHECK(client_address("10.0.0.1", "1.2.3.4, 198.51.100.1, 10.0.0.2", {"10.0.0.1", "10.0.0.2"}) == "198.51.100.1");
  // Only trusted hops: the leftmost one is the best guess.
  CHECK(client_address("10.0.0.1", "10.0.0.2", {"10.0.0.1", "10.0.0.2"}) == "10.0.0.2");
}

TEST_CASE("trusted proxies may be CIDR ranges", "[net]") {
  const std::vector<std::string> ingress{"10.42.0.0/16", "fd00::/8"};
  CHECK(client_address("10.42.7.9", "198.51.100.1", ingress) == "198.51.100.1");
  CHECK(client_address("10.43.0.1", "198.51.100.1", ingress) == "10.43.0.1");
  CHECK(client_address("fd12::5", "2001:db8::1", ingress) == "2001:db8::1");
  CHECK(client_address("fe80::1", "2001:db8::1", ingress) == "fe80::1");
  CHECK(client_address("10.0.0.1", "198.51.100.1", {"10.0.0.0/31"}) == "198.51.100.1");
  CHECK(client_address("10.0.0.2", "198.51.100.1", {"10.0.0.0/31"}) == "10.0.0.2");
}

TEST_CASE("address_group: IPv4 addresses alone, IPv6 addresses by their /64", "[net]") {
  using tandem::util::address_group;
  CHECK(address_group("203.0.113.9") == "203.0.113.9");
  CHECK(address_group("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64");
  CHECK(address_group("2001:db8:1:2::1") == address_group("2001:db8:1:2:ffff::9"));
  CHECK(address_group("2001:db8:1:3::1") != address_group("2001:db8:1:2::1"));
  CHECK(address_group("::ffff:203.0.113.9") == "203.0.113.9");
  CHECK(address_group("not an address") == "not an address");
}
