#pragma once

// Internal to core/net: opening the socket of an outgoing connection (WsClient, HttpClient).

#include <boost/asio/ip/tcp.hpp>
#include <string>

#include "core/net/client_endpoint.hpp"
#include "core/net/loop_socket.hpp"

namespace tandem::net {

// Opens `socket` for `endpoint` and, when `source` is not empty, binds it to that local address
// with IP_BIND_ADDRESS_NO_PORT (the port is picked at connect time, per destination). Returns the
// endpoint to connect to; sets `ec` on failure.
boost::asio::ip::tcp::endpoint open_client_socket(LoopSocket& socket, const ClientEndpoint& endpoint,
                                                  const std::string& source, boost::system::error_code& ec);

}  // namespace tandem::net
