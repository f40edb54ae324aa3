#include "core/net/ws_client.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <optional>

#include "core/net/client_socket.hpp"

namespace tandem::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {
constexpr std::uint16_t kAbnormalClose = 1006;
}

// One connection attempt and, when it succeeds, the connection. Kept alive by its pending
// operations; `handler == nullptr` once the owner aborted it.
struct WsClient::Impl : std::enable_shared_from_this<WsClient::Impl> {
  enum class State { connecting, open, closing, closed };

  Impl(asio::io_context& io, WsClientHandler* h, const WsClientOptions& o)
      : ws(io.get_executor()), connect_timer(io.get_executor()), handler(h), options(o) {}

  LoopSocket& socket() { return ws.next_layer(); }

  void start(const ClientEndpoint& endpoint, const std::string& source) {
    host = endpoint.host;
    target = endpoint.target;
    beast::error_code ec;
    const auto remote = open_client_socket(socket(), endpoint, source, ec);
    if (ec) {
      asio::post(ws.get_executor(), [self = shared_from_this(), why = describe(ec, endpoint, source)] {
        self->fail(why, 0);
      });
      return;
    }
    // The TCP connect is bounded here; the upgrade by the stream's handshake timeout.
    connect_timer.expires_after(options.handshake_timeout);
    connect_timer.async_wait([weak = weak_from_this()](beast::error_code tec) {
      auto self = weak.lock();
      if (tec || !self || self->state != State::connecting || self->connected) return;
      self->timed_out = true;
      beast::error_code ignored;
      self->socket().close(ignored);
    });
    socket().async_connect(remote, [self = shared_from_this()](beast::error_code cec) { self->on_connect(cec); });
  }

  static std::string describe(const beast::error_code& ec, const ClientEndpoint& endpoint, const std::string& source) {
    if (ec == boost::system::errc::address_not_available) {
      return "cannot use source address " + source + ": " + ec.message();
    }
    if (ec == boost::system::errc::invalid_argument) return "bad address " + endpoint.address + " or " + source;
    return ec.message();
  }

  void on_connect(beast::error_code ec) {
    connected = !ec;
    connect_timer.cancel();
    if (!handler) return;
    if (ec) return fail(timed_out ? "connect timed out" : ec.message(), 0);
    beast::error_code ignored;
    socket().set_option(asio::ip::tcp::no_delay(true), ignored);
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = options.handshake_timeout;  // the upgrade and, later, the close handshake
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    ws.set_option(timeouts);
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::request_type& req) { req.set(beast::http::field::user_agent, "tandem-loadtest"); }));
    ws.read_message_max(options.max_message_bytes);
    ws.auto_fragment(false);
    ws.secure_prng(false);  // masking keys need not be unpredictable for a load generator
    ws.async_handshake(response, host, target,
                       [self = shared_from_this()](beast::error_code hec) { self->on_handshake(hec); });
  }

  void on_handshake(beast::error_code ec) {
    if (!handler) return;
    if (ec) {
      if (ec == websocket::error::upgrade_declined) {
        const unsigned status = response.result_int();
        return fail("the server answered HTTP " + std::to_string(status) + " to the WebSocket upgrade", status);
      }
      return fail(ec == beast::error::timeout ? "WebSocket upgrade timed out"
                                              : "WebSocket upgrade failed: " + ec.message(),
                  0);
    }
    state = State::open;
    handler->on_ws_open();
    if (handler && state != State::closed) read();
  }

  void fail(const std::string& why, unsigned status) {
    if (!handler || state == State::closed) return;
    state = State::closed;
    drop_socket();
    auto* h = std::exchange(handler, nullptr);
    h->on_ws_failed(why, status);
  }

  void drop_socket() {
    beast::error_code ignored;
    connect_timer.cancel();
    socket().close(ignored);
  }

  void read() {
    ws.async_read(buffer, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (!handler || state == State::closed) return;
    if (ec) return finish(ec);
    const auto data = buffer.cdata();
    handler->on_ws_message(std::string_view(static_cast<const char*>(data.data()), data.size()));
    buffer.consume(buffer.size());
    if (handler && state != State::closed) read();
  }

  bool send(std::string text) {
    if (state != State::open || queue.size() >= options.max_queued_frames) return false;
    queue.push_back(std::move(text));
    if (!writing) write();
    return true;
  }

  void write() {
    writing = true;
    ws.async_write(asio::buffer(queue.front()),
                   [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(beast::error_code ec) {
    writing = false;
    if (!handler || state == State::closed) return;
    if (ec) return finish(ec);
    queue.pop_front();
    handler->on_ws_written();
    if (!handler || state == State::closed) return;
    if (state == State::open && !queue.empty()) return write();
    if (state == State::closing && pending_close) close_now(*std::exchange(pending_close, std::nullopt));
  }

  void close(std::uint16_t code) {
    if (state == State::closed || state == State::closing) return;
    if (state == State::connecting) return abort();
    by_us = true;
    state = State::closing;
    if (writing) {
      pending_close = code;
    } else {
      close_now(code);
    }
  }

  void close_now(std::uint16_t code) {
    ws.async_close(websocket::close_reason(code), [self = shared_from_this()](beast::error_code ec) {
      self->finish(ec ? ec : beast::error_code(websocket::error::closed));
    });
  }

  void finish(beast::error_code ec) {
    if (!handler || state == State::closed) return;
    state = State::closed;
    WsCloseInfo info;
    info.by_us = by_us;
    if (ec == websocket::error::closed) {
      info.code = ws.reason().code;
      info.reason.assign(ws.reason().reason.data(), ws.reason().reason.size());
    } else {
      info.code = kAbnormalClose;
      info.reason = ec.message();
    }
    queue.clear();
    drop_socket();
    auto* h = std::exchange(handler, nullptr);
    h->on_ws_closed(info);
  }

  void abort() {
    handler = nullptr;
    state = State::closed;
    queue.clear();
    drop_socket();
  }

  websocket::stream<LoopSocket> ws;
  LoopTimer connect_timer;
  beast::flat_buffer buffer;
  websocket::response_type response;
  std::deque<std::string> queue;
  WsClientHandler* handler;
  WsClientOptions options;
  std::string host;
  std::string target;
  State state = State::connecting;
  bool connected = false;
  bool timed_out = false;
  bool writing = false;
  bool by_us = false;
  std::optional<std::uint16_t> pending_close;
};

WsClient::WsClient(asio::io_context& io, WsClientHandler& handler, WsClientOptions options)
    : io_(io), handler_(handler), options_(options) {}

WsClient::~WsClient() { abort(); }

void WsClient::connect(const ClientEndpoint& endpoint, const std::string& source) {
  abort();
  impl_ = std::make_shared<Impl>(io_, &handler_, options_);
  impl_->start(endpoint, source);
}

bool WsClient::send(std::string text) { return impl_ && impl_->send(std::move(text)); }

void WsClient::close(std::uint16_t code) {
  if (impl_) impl_->close(code);
}

void WsClient::abort() {
  if (impl_) impl_->abort();
  impl_.reset();
}

bool WsClient::is_open() const { return impl_ && impl_->state == Impl::State::open; }

std::size_t WsClient::queued_frames() const { return impl_ ? impl_->queue.size() : 0; }

}  // namespace tandem::net
