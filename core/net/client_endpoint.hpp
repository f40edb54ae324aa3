#pragma once

// What the client side of core/net (WsClient, HttpClient) connects to. Tools resolve names once,
// up front, and hand the clients numeric addresses: thousands of clients never query DNS.

#include <cstdint>
#include <string>

namespace tandem::net {

struct ClientEndpoint {
  std::string address;  // numeric IPv4 or IPv6 address to connect to
  std::uint16_t port = 0;
  std::string host;     // the Host header ("example.org:4001")
  std::string target;   // request target of the WebSocket upgrade ("/ws")
};

}  // namespace tandem::net
