#pragma once

// Internal to core/net: the state shared by the listener and its sessions.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/metrics/metrics.hpp"
#include "core/net/loop_socket.hpp"
#include "core/net/server.hpp"

namespace tandem::net {

class WsSession;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(boost::asio::io_context& io_, ServerOptions options_, Handler& handler_, metrics::Registry& registry);

  boost::asio::io_context& io;
  // The server's own loops (ServerOptions::loops - 1), each run by one thread.
  std::vector<std::unique_ptr<boost::asio::io_context>> loops;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> loop_work;
  std::vector<std::thread> loop_threads;
  std::atomic<std::size_t> next_loop{0};
  const ServerOptions options;
  Handler& handler;
  const std::shared_ptr<const std::string> rate_limited_notice;  // null: none configured
  boost::asio::ip::tcp::acceptor acceptor;
  boost::asio::ip::tcp::acceptor internal_acceptor;  // open only with options.internal_port
  std::atomic<bool> accepting{true};
  std::atomic<bool> sweeping{true};  // the write sweep and the loop-lag probes run until the Server is destroyed
  std::atomic<std::uint64_t> next_id{1};

  metrics::Gauge& ws_connections;
  metrics::Gauge& http_connections;
  metrics::CounterFamily& http_requests;  // by handler (HttpResponse::handler) and status code
  metrics::Counter& slow_consumers;
  metrics::Counter& write_timeouts;
  // By reason: per_address, capacity, draining, not_ready (the application's admit), bad_handshake.
  metrics::CounterFamily& refused_upgrades;
  metrics::CounterFamily& ws_closes;  // by close code sent or received
  metrics::Counter& rate_limited_frames;
  metrics::Histogram& loop_lag;  // how late a timer of each loop fires (loop_lag_probe)

  // Admission bookkeeping: WebSocket connections per client address and in total.
  std::mutex mutex;
  std::unordered_map<std::string, std::size_t> per_address;
  std::size_t reserved_total = 0;
  std::unordered_map<std::uint64_t, std::weak_ptr<WsSession>> sessions;
  // Open plain HTTP connections per TCP peer address group ("" for trusted proxies: not counted
  // per address) and in total.
  std::unordered_map<std::string, std::size_t> http_per_address;
  std::size_t http_total = 0;

  // Reserves a WebSocket slot for `client_addr` (counted under its address_group); returns 0 when
  // admitted, else the HTTP status of the refusal (429 over the per-address cap, 503 at node
  // capacity).
  unsigned reserve(const std::string& client_addr);
  // The executor of the next connection: the loops in turn (`io` itself among them).
  boost::asio::io_context::executor_type connection_executor();
  // Moves a socket accepted on `io` to the next connection's loop (its descriptor changes hands;
  // two epoll_ctl calls per connection).
  LoopSocket adopt(boost::asio::ip::tcp::socket accepted, const boost::asio::ip::tcp& protocol,
                   boost::system::error_code& ec);
  void release(const std::string& client_addr);
  // The same for a plain HTTP connection from TCP peer group `key` ("" counts only in the total).
  unsigned reserve_http(const std::string& key);
  void release_http(const std::string& key);
};

}  // namespace tandem::net
