#pragma once

// Internal to core/net: sockets and timers bound to the io_context's own executor type. Every
// connection lives on one event loop (an io_context run by one thread), so the per-message path
// needs no type-erased any_io_executor: no executor copies through a virtual table, no
// outstanding-work bookkeeping per operation.

#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>

namespace tandem::net {

using LoopSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;
using LoopTimer = boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                                    boost::asio::wait_traits<std::chrono::steady_clock>,
                                                    boost::asio::io_context::executor_type>;

}  // namespace tandem::net
