#pragma once

// Internal to core/net: opening the socket of an outgoing connection (WsClient, HttpClient).

#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <string>

#include "core/net/client_endpoint.hpp"

namespace tandem::net {

// Sockets and timers bound to the io_context's own executor type: no type-erased
// any_io_executor on the per-message path of tools that drive thousands of connections.
using ClientSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;
using ClientTimer = boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                                      boost::asio::wait_traits<std::chrono::steady_clock>,
                                                      boost::asio::io_context::executor_type>;

// Opens `socket` for `endpoint` and, when `source` is not empty, binds it to that local address
// with IP_BIND_ADDRESS_NO_PORT (the port is picked at connect time, per destination). Returns the
// endpoint to connect to; sets `ec` on failure.
boost::asio::ip::tcp::endpoint open_client_socket(ClientSocket& socket, const ClientEndpoint& endpoint,
                                                  const std::string& source, boost::system::error_code& ec);

}  // namespace tandem::net
