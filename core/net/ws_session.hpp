#pragma once

// Internal to core/net: one WebSocket connection (docs/protocol.md §1).

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <variant>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "core/net/handler.hpp"
#include "core/net/loop_socket.hpp"
#include "core/net/server_impl.hpp"

namespace tandem::net {

class WsSession final : public WsConnection, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(std::shared_ptr<Server::Impl> server, LoopSocket socket, std::string client_addr);
  ~WsSession() override;

  std::uint64_t id() const override { return id_; }
  boost::asio::any_io_executor executor() { return ws_.get_executor(); }
  const std::string& client_addr() const override { return client_addr_; }
  bool send(std::shared_ptr<const std::string> text) override;
  void close(std::uint16_t code, std::string reason) override;

  // Completes the upgrade and starts the connection's read chain, which keeps the session alive
  // until the connection ends. On the connection's loop.
  boost::asio::awaitable<void> run(boost::beast::http::request<boost::beast::http::empty_body> request);

  // True when a write has been in progress for `limit` or longer: the peer does not read
  // (limits.write_timeout).
  bool write_stuck(std::chrono::milliseconds limit) const;
  // Tears the TCP connection down at once (no close frame: it would wait behind the stuck
  // write); the read loop then ends and the application sees the close.
  void abort();

 private:
  struct Ping {};
  struct CloseRequest {
    std::uint16_t code;
    std::string reason;
  };
  using Item = std::variant<std::shared_ptr<const std::string>, Ping, CloseRequest>;

  // The reader: a callback chain, not a coroutine: a frame costs one completion on the loop's own
  // executor type, without the coroutine's resumption and its type-erased executor. On the
  // connection's loop only.
  void read_next(std::shared_ptr<WsSession> self);
  void on_read(std::shared_ptr<WsSession> self, boost::beast::error_code ec);
  // The read chain ended: the application sees the close; the seat goes back.
  void finish(const std::shared_ptr<WsSession>& self);
  // The writer: takes the next queued item and writes it; its completion calls pump again. When
  // the queue is empty it marks itself waiting, and the next enqueue posts pump. A callback chain,
  // not a coroutine waiting on a timer: one post per wake-up instead of a post, a timer
  // cancellation and a coroutine resumption. On the connection's loop only.
  void pump();
  // PINGs every ping_interval, the close after idle_timeout without a frame or pong.
  void arm_keepalive(std::int64_t next_ping);
  void on_keepalive(std::int64_t next_ping);
  // Queues `item`; wakes the writer. Returns false when closing.
  bool enqueue(Item item, std::size_t bytes);
  // Token bucket (§1): true when the frame may be processed.
  bool admit_frame(std::chrono::steady_clock::time_point now);
  void touch();

  std::shared_ptr<Server::Impl> server_;
  // A plain socket under the WebSocket: the stream's own timer bounds the close handshake, the
  // keepalive and the server's write sweep bound the rest, so Beast's per-operation timeouts
  // (beast::basic_stream) would only cost a layer on every read and write.
  boost::beast::websocket::stream<LoopSocket> ws_;
  LoopTimer keepalive_;
  boost::beast::flat_buffer read_buffer_;  // the message being read; grows to the largest one
  const std::uint64_t id_;
  const std::string client_addr_;

  std::mutex mutex_;  // guards the fields below
  std::deque<Item> queue_;
  std::size_t queued_bytes_ = 0;
  bool closing_ = false;        // a close was requested; no more sends
  bool writer_waiting_ = false;  // the writer is idle: the next enqueue posts pump()
  bool finished_ = false;       // the read loop ended

  std::atomic<std::int64_t> last_activity_ms_{0};  // steady clock
  std::atomic<std::int64_t> write_since_ms_{0};    // steady clock; 0 while no write is in progress

  // Rate limiting, touched only by the read loop.
  double tokens_;
  std::chrono::steady_clock::time_point refilled_at_;
  std::optional<std::chrono::steady_clock::time_point> empty_since_;
  std::optional<std::chrono::steady_clock::time_point> last_rate_error_;
  std::chrono::steady_clock::time_point last_refusal_{};
};

}  // namespace tandem::net
