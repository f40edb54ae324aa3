#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/net/handler.hpp"

namespace tandem::metrics {
class Registry;
}

namespace tandem::net {

struct ServerOptions {
  std::string host = "0.0.0.0";
  std::uint16_t port = 4001;
  // A second listener on `host` for what only operators use (the application decides which paths:
  // HttpRequest::internal); it serves no WebSockets and keeps accepting while the node drains.
  // 0: none.
  std::uint16_t internal_port = 0;
  std::vector<std::string> trusted_proxies;
  std::size_t max_header_bytes = 8192;
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds keepalive_timeout{60'000};
  std::size_t max_frame_bytes = 65536;
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds ping_interval{20'000};
  double msgs_per_sec = 50;
  double msgs_burst = 200;
  std::chrono::milliseconds abuse_window{10'000};  // bucket empty this long → close 1008
  std::size_t max_conns_per_ip = 256;
  std::size_t max_connections = 19000;
  // Open plain HTTP connections (before or without an upgrade): per TCP peer address group
  // (address_group; trusted proxies exempt, they carry many clients) → 429, and on the node → 503.
  // The internal listener is not counted.
  std::size_t max_http_conns_per_ip = 128;
  std::size_t max_http_connections = 2048;
  std::size_t send_queue_bytes = 1 << 20;
  // A WebSocket whose current write has not completed for this long (the peer stopped reading)
  // is torn down; checked by a sweep once a second (at most every write_timeout / 2).
  std::chrono::milliseconds write_timeout{15'000};
  // Sent (at most once a second) to a connection whose frame the rate limit refused. The
  // application's text: the transport knows no protocol frames.
  std::string rate_limited_notice;
  // Event loops that serve connections: the caller's io_context plus loops - 1 of the server's
  // own, each run by one thread of its own (started by start(), joined by the destructor). For
  // more threads, raise this: the caller's io_context must be run by exactly one thread.
  unsigned loops = 1;
};

// HTTP and WebSocket on one listener (docs/protocol.md §1, §7), plus an optional internal HTTP listener. Upgrades are accepted on /ws only.
// Every connection runs on one event loop for its whole life, the loops taken in turn: the
// caller's io_context (run by one thread: the caller's) or one of the server's own single-threaded
// loops (ServerOptions::loops). No loop is run by two threads, so no connection needs a strand, and
// a connection's work never contends for a scheduler with the other loops' connections; only a
// frame delivered from another thread crosses over (one post).
class Server {
 public:
  Server(boost::asio::io_context& io, ServerOptions options, Handler& handler, metrics::Registry& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting. Throws std::runtime_error with a one-line reason when the
  // address cannot be bound (e.g. "cannot listen on 0.0.0.0:4001: Address already in use").
  void start();
  // The bound port (useful with port 0).
  std::uint16_t port() const;
  // The bound internal port; 0 when there is no internal listener.
  std::uint16_t internal_port() const;
  // Stops accepting new TCP connections on the public port; existing ones continue.
  void stop_accepting();
  // Stops accepting on the internal port (last, when the node exits).
  void stop_internal();
  // Closes every WebSocket with `code` after its queued frames, and every idle HTTP connection.
  void close_all(std::uint16_t code, const std::string& reason);
  std::size_t websocket_count() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tandem::net
