#include "core/net/ws_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>


namespace tandem::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using namespace std::chrono_literals;

namespace {

constexpr auto kCloseHandshakeTimeout = 5s;  // a peer that never answers our close is cut off
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr auto kAbuseForgiveAfter = 1s;  // within the rate this long: the abuse window restarts

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

WsSession::WsSession(std::shared_ptr<Server::Impl> server, LoopSocket socket, std::string client_addr)
    : server_(std::move(server)),
      ws_(std::move(socket)),
      keepalive_(ws_.get_executor()),
      id_(server_->next_id.fetch_add(1)),
      client_addr_(std::move(client_addr)),
      tokens_(server_->options.msgs_burst),
      refilled_at_(std::chrono::steady_clock::now()) {
  touch();
}

WsSession::~WsSession() = default;

void WsSession::touch() { last_activity_ms_.store(steady_ms(), std::memory_order_relaxed); }

bool WsSession::send(std::shared_ptr<const std::string> text) {
  const std::size_t bytes = text->size();
  return enqueue(std::move(text), bytes);
}

void WsSession::close(std::uint16_t code, std::string reason) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (closing_ || finished_) return;
    closing_ = true;
    queue_.emplace_back(CloseRequest{code, std::move(reason)});
    wake = std::exchange(writer_waiting_, false);
  }
  if (wake) asio::post(ws_.get_executor(), [self = shared_from_this()] { self->pump(); });
}

bool WsSession::enqueue(Item item, std::size_t bytes) {
  bool wake = false;
  bool overflow = false;
  {
    std::lock_guard lock(mutex_);
    if (closing_ || finished_) return false;
    if (queued_bytes_ + bytes > server_->options.send_queue_bytes) {
      // Slow consumer: drop what it has not read and close it (Redis-style output buffer limit).
      overflow = true;
      closing_ = true;
      queue_.clear();
      queued_bytes_ = 0;
      queue_.emplace_back(CloseRequest{static_cast<std::uint16_t>(websocket::close_code::policy_error),
                                       "send queue full"});
    } else {
      queue_.push_back(std::move(item));
      queued_bytes_ += bytes;
    }
    wake = std::exchange(writer_waiting_, false);
  }
  if (overflow) {
    // The peer does not read, so a close frame would wait behind a write that never ends.
    abort();
    server_->slow_consumers.inc();
    spdlog::warn("connection {} from {} closed: send queue over {} bytes", id_, client_addr_,
                 server_->options.send_queue_bytes);
  }
  if (wake) asio::post(ws_.get_executor(), [self = shared_from_this()] { self->pump(); });
  return !overflow;
}

bool WsSession::write_stuck(std::chrono::milliseconds limit) const {
  const std::int64_t since = write_since_ms_.load(std::memory_order_relaxed);
  return since != 0 && steady_ms() - since >= limit.count();
}

void WsSession::abort() {
  asio::post(ws_.get_executor(), [self = shared_from_this()] {
    beast::error_code ignored;
    auto& socket = self->ws_.next_layer();
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  });
}

asio::awaitable<void> WsSession::run(beast::http::request<beast::http::empty_body> request) {
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = kCloseHandshakeTimeout;
  timeouts.idle_timeout = websocket::stream_base::none();
  timeouts.keep_alive_pings = false;
  ws_.set_option(timeouts);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(beast::http::field::server, "tandem"); }));
  ws_.read_message_max(server_->options.max_frame_bytes);
  ws_.auto_fragment(false);

  auto [ec] = co_await ws_.async_accept(request, use_tuple);
  if (ec) {
    // No Sec-WebSocket-Key, a wrong version, a client gone mid-handshake: Beast has answered (or
    // the peer is gone); the slot reserved for this upgrade goes back.
    server_->refused_upgrades.with("bad_handshake").inc();
    server_->http_requests.with({"websocket", "400"}).inc();
    server_->release(client_addr_);
    co_return;
  }
  server_->http_requests.with({"websocket", "101"}).inc();

  server_->ws_connections.add(1);
  auto self = shared_from_this();
  {
    std::lock_guard lock(server_->mutex);
    server_->sessions[id_] = self;
  }
  ws_.control_callback([this](websocket::frame_type, std::string_view) { touch(); });
  server_->handler.opened(self);
  pump();
  arm_keepalive(steady_ms() + std::chrono::duration_cast<std::chrono::milliseconds>(
                                  server_->options.ping_interval).count());
  read_next(std::move(self));
}

void WsSession::read_next(std::shared_ptr<WsSession> self) {
  read_buffer_.clear();
  ws_.async_read(read_buffer_, [self = std::move(self)](beast::error_code ec, std::size_t) mutable {
    auto& session = *self;
    session.on_read(std::move(self), ec);
  });
}

void WsSession::on_read(std::shared_ptr<WsSession> self, beast::error_code ec) {
  if (ec) {
    if (ec == websocket::error::message_too_big) {
      server_->ws_closes.with("1009").inc();
    } else if (ec == websocket::error::closed) {
      server_->ws_closes.with(std::to_string(ws_.reason().code)).inc();
    }
    return finish(self);
  }
  touch();
  if (!ws_.got_text()) {
    close(static_cast<std::uint16_t>(websocket::close_code::unknown_data), "binary frames are not accepted");
    return read_next(std::move(self));
  }
  if (admit_frame(std::chrono::steady_clock::now())) {
    const auto data = read_buffer_.cdata();
    try {
      server_->handler.message(self, std::string_view(static_cast<const char*>(data.data()), data.size()));
    } catch (const std::exception& e) {
      // The connection ends as if the peer had gone; the loop serves the others.
      spdlog::error("connection {}: {}", id_, e.what());
      return finish(self);
    }
  }
  read_next(std::move(self));
}

void WsSession::finish(const std::shared_ptr<WsSession>& self) {
  {
    std::lock_guard lock(mutex_);
    finished_ = true;
    closing_ = true;
    queue_.clear();
    queued_bytes_ = 0;
  }
  keepalive_.cancel();
  try {
    server_->handler.closed(self);
  } catch (const std::exception& e) {
    spdlog::error("connection {}: {}", id_, e.what());
  }
  server_->ws_connections.add(-1);
  {
    std::lock_guard lock(server_->mutex);
    server_->sessions.erase(id_);
  }
  server_->release(client_addr_);
}

bool WsSession::admit_frame(std::chrono::steady_clock::time_point now) {
  const auto& o = server_->options;
  const double elapsed = std::chrono::duration<double>(now - refilled_at_).count();
  tokens_ = std::min(o.msgs_burst, tokens_ + elapsed * o.msgs_per_sec);
  refilled_at_ = now;
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    // Abuse ends only when the client stayed within its rate for a while, not when a refilled
    // token lets one more frame through.
    if (empty_since_ && now - last_refusal_ >= kAbuseForgiveAfter) empty_since_.reset();
    return true;
  }
  server_->rate_limited_frames.inc();
  last_refusal_ = now;
  if (!empty_since_) empty_since_ = now;
  if (now - *empty_since_ >= o.abuse_window) {
    close(static_cast<std::uint16_t>(websocket::close_code::policy_error), "rate limit exceeded");
    return false;
  }
  if ((!last_rate_error_ || now - *last_rate_error_ >= 1s) && server_->rate_limited_notice) {
    last_rate_error_ = now;
    send(server_->rate_limited_notice);
  }
  return false;
}

void WsSession::pump() {
  std::optional<Item> item;
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) {
      writer_waiting_ = !finished_;
      return;
    }
    item = std::move(queue_.front());
    queue_.pop_front();
    if (auto* text = std::get_if<std::shared_ptr<const std::string>>(&*item)) queued_bytes_ -= (*text)->size();
  }
  // The server's write sweep closes the connection when this stays set past limits.write_timeout.
  write_since_ms_.store(steady_ms(), std::memory_order_relaxed);
  // After an error the writer stops: the read loop ends on the same broken connection.
  auto written = [self = shared_from_this()](beast::error_code ec) {
    self->write_since_ms_.store(0, std::memory_order_relaxed);
    if (!ec) self->pump();
  };
  if (auto* text = std::get_if<std::shared_ptr<const std::string>>(&*item)) {
    const auto buffer = asio::buffer(**text);
    ws_.async_write(buffer, [written, keep = std::move(*text)](beast::error_code ec, std::size_t) { written(ec); });
  } else if (std::holds_alternative<Ping>(*item)) {
    ws_.async_ping({}, written);
  } else {
    const auto& request = std::get<CloseRequest>(*item);
    server_->ws_closes.with(std::to_string(request.code)).inc();
    websocket::close_reason reason(request.code);
    reason.reason = request.reason;
    ws_.async_close(reason, [self = shared_from_this()](beast::error_code) {});
  }
}

// The keepalive is a plain timer callback, not a coroutine: a connection costs one pending wait
// instead of a coroutine frame and its spawn for its whole life.
void WsSession::arm_keepalive(std::int64_t next_ping) {
  const std::int64_t idle = std::chrono::duration_cast<std::chrono::milliseconds>(server_->options.idle_timeout).count();
  const std::int64_t idle_at = last_activity_ms_.load(std::memory_order_relaxed) + idle;
  const std::int64_t wake_at = std::min(next_ping, idle_at);
  keepalive_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(wake_at - steady_ms(), 0)));
  keepalive_.async_wait([self = shared_from_this(), next_ping](beast::error_code) { self->on_keepalive(next_ping); });
}

void WsSession::on_keepalive(std::int64_t next_ping) {
  {
    std::lock_guard lock(mutex_);
    if (closing_ || finished_) return;
  }
  const std::int64_t now = steady_ms();
  const std::int64_t idle = std::chrono::duration_cast<std::chrono::milliseconds>(server_->options.idle_timeout).count();
  if (now >= last_activity_ms_.load(std::memory_order_relaxed) + idle) {
    close(static_cast<std::uint16_t>(websocket::close_code::going_away), "idle timeout");
    return;
  }
  if (now >= next_ping) {
    enqueue(Ping{}, 0);
    next_ping = now + std::chrono::duration_cast<std::chrono::milliseconds>(server_->options.ping_interval).count();
  }
  arm_keepalive(next_ping);
}

}  // namespace tandem::net
