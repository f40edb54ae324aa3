#include "core/net/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <mutex>
#include <optional>

#include "core/net/client_address.hpp"
#include "core/net/http_response.hpp"
#include "core/net/server_impl.hpp"
#include "core/net/ws_session.hpp"
#include "core/util/address_group.hpp"
#include "core/util/thread_name.hpp"

namespace tandem::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
// An HTTP connection: its socket on the connection's loop, with Beast's per-operation timeouts.
using HttpStream = beast::basic_stream<tcp, asio::io_context::executor_type>;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kFirstReadBytes = 1024;

HttpResponse plain(unsigned status, std::string body) {
  return HttpResponse{status, "text/plain; charset=utf-8", std::move(body) + "\n", {}};
}

bool is_websocket_path(std::string_view target) {
  return target == "/ws" || target.starts_with("/ws?");
}

asio::awaitable<void> write_simple(HttpStream& stream, const HttpResponse& r, unsigned version) {
  const std::string bytes = serialize_response(r, version, false, false);
  co_await asio::async_write(stream, asio::buffer(bytes), use_tuple);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

// The handler's answer to one request. The handler may respond inline (most requests: no timer,
// no post) or later from any thread; then the connection's loop takes the response up. No
// answer within `timeout`: 503.
asio::awaitable<HttpResponse> answer(Handler& handler, const HttpRequest& request,
                                     std::chrono::milliseconds timeout) {
  struct Wait {
    asio::any_io_executor executor;
    std::mutex mutex;
    bool calling = true;  // inside handler.http(): a response now needs no wake-up
    std::optional<HttpResponse> response;
    std::optional<asio::steady_timer> timer;  // made only when the answer comes later
  };
  auto wait = std::make_shared<Wait>();
  wait->executor = co_await asio::this_coro::executor;
  handler.http(request, [wait](HttpResponse response) {
    std::lock_guard lock(wait->mutex);
    wait->response = std::move(response);
    // Runs on the connection's loop, so it cannot overtake the coroutine's wait below.
    if (!wait->calling) {
      asio::post(wait->executor, [wait] {
        if (wait->timer) wait->timer->cancel();
      });
    }
  });
  {
    std::lock_guard lock(wait->mutex);
    wait->calling = false;
    if (wait->response) co_return std::move(*wait->response);
    wait->timer.emplace(wait->executor, timeout);
  }
  co_await wait->timer->async_wait(use_tuple);
  std::lock_guard lock(wait->mutex);
  if (wait->response) co_return std::move(*wait->response);
  HttpResponse late = plain(503, "Service unavailable; try again");
  late.handler = "timeout";  // not answered within http.request_timeout
  co_return late;
}

// Every X-Forwarded-For line of the request as one list (RFC 9110 §5.3: repeated lines of a list
// field are one comma-separated value), so that a client cannot hide behind a second line.
std::string forwarded_for(const http::request<http::empty_body>& request) {
  std::string list;
  for (auto [it, end] = request.equal_range("X-Forwarded-For"); it != end; ++it) {
    if (!list.empty()) list += ',';
    list += it->value();
  }
  return list;
}

// A plain HTTP connection's place under ServerOptions::max_http_conns_per_ip / max_http_connections,
// held until the connection ends or becomes a WebSocket. `key`: the peer's address group, "" for a
// trusted proxy (counted only in the total), none for the internal listener (not counted).
struct HttpSlot {
  HttpSlot(std::shared_ptr<Server::Impl> s, std::optional<std::string> k) : server(std::move(s)), key(std::move(k)) {
    if (key) refusal = server->reserve_http(*key);
    if (refusal != 0) key.reset();
  }
  HttpSlot(const HttpSlot&) = delete;
  HttpSlot& operator=(const HttpSlot&) = delete;
  ~HttpSlot() { give_back(); }
  void give_back() {
    if (key) server->release_http(*key);
    key.reset();
  }
  std::shared_ptr<Server::Impl> server;
  std::optional<std::string> key;
  unsigned refusal = 0;  // 0: admitted, else the HTTP status of the refusal
};

// `internal`: the connection came in on the internal listener (ServerOptions::internal_port).
// Completion of a connection's task: an exception that escaped it is logged, nothing more.
void log_task_failure(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("connection task failed: {}", ex.what());
  }
}

asio::awaitable<void> http_session(std::shared_ptr<Server::Impl> server, LoopSocket socket, bool internal) {
  beast::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) co_return;
  const std::string peer = endpoint.address().to_string();
  HttpStream stream(std::move(socket));
  const auto& options = server->options;
  // Answers the transport gives itself are counted under the handler "transport" (malformed or
  // refused requests) or "websocket" (upgrades).
  const auto count = [&server](std::string_view handler, unsigned status) {
    server->http_requests.with({handler, std::to_string(status)}).inc();
  };
  const std::string tcp_peer = client_address(peer, {}, {});  // canonical: IPv4-mapped as IPv4
  HttpSlot slot(server, internal ? std::nullopt
                                 : std::optional<std::string>(is_trusted_proxy(tcp_peer, options.trusted_proxies)
                                                                  ? std::string()
                                                                  : util::address_group(tcp_peer)));
  if (slot.refusal != 0) {
    count("transport", slot.refusal);
    stream.expires_after(options.request_timeout);
    co_await write_simple(stream,
                          plain(slot.refusal, slot.refusal == 429 ? "Too many connections from this address"
                                                                  : "Node at capacity"),
                          11);
    co_return;
  }
  // Bodies are refused, so the buffer only ever holds request heads: bounding it bounds the head
  // whatever the number of fields.
  beast::flat_buffer buffer(options.max_header_bytes);

  for (;;) {
    // Wait for the first bytes of a request under the keep-alive timeout, then give the whole
    // request `request_timeout`: a client trickling one byte per second is cut off.
    if (buffer.size() == 0) {
      stream.expires_after(options.keepalive_timeout);
      auto [rec, n] = co_await stream.async_read_some(
          buffer.prepare(std::min(kFirstReadBytes, options.max_header_bytes)), use_tuple);
      if (rec) co_return;
      buffer.commit(n);
    }
    stream.expires_after(options.request_timeout);
    http::request_parser<http::empty_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    parser.body_limit(0);
    // Beast's header_limit applies to what one parse step sees, not to the whole head (the parser
    // consumes fields as they arrive), so the bytes of the head are counted here.
    beast::error_code rec;
    std::size_t head_bytes = 0;
    while (!rec && !parser.is_header_done()) {
      auto [step_ec, n] = co_await http::async_read_some(stream, buffer, parser, use_tuple);
      rec = step_ec;
      head_bytes += n;
      if (!rec && head_bytes > options.max_header_bytes) rec = http::error::header_limit;
    }
    if (rec) {
      if (rec == http::error::header_limit || rec == http::error::buffer_overflow) {
        count("transport", 431);
        co_await write_simple(stream, plain(431, "Request header fields too large"), 11);
      } else if (rec != beast::error::timeout && rec != http::error::end_of_stream && rec != asio::error::eof &&
                 rec != asio::error::connection_reset) {
        count("transport", 400);
        co_await write_simple(stream, plain(400, "Bad request"), 11);
      }
      co_return;
    }
    auto& request = parser.get();
    // Method first (§10: 405 for anything but GET, HEAD, OPTIONS), then the refusal of bodies.
    const auto method = request.method();
    const bool allowed = method == http::verb::get || method == http::verb::head || method == http::verb::options;
    if (!allowed && !parser.is_done()) {
      HttpResponse refusal = plain(405, "Method not allowed");
      refusal.headers.emplace_back("Allow", "GET, HEAD, OPTIONS");
      count("transport", 405);
      co_await write_simple(stream, refusal, request.version());
      co_return;
    }
    if (!parser.is_done()) {
      count("transport", 413);
      co_await write_simple(stream, plain(413, "Request bodies are not accepted"), request.version());
      co_return;
    }
    HttpRequest info;
    info.method = std::string(request.method_string());
    info.target = std::string(request.target());
    info.client_addr = client_address(peer, forwarded_for(request), options.trusted_proxies);
    info.internal = internal;

    if (beast::websocket::is_upgrade(request)) {
      // WebSockets are served on the public listener only.
      if (internal || !is_websocket_path(info.target)) {
        count("websocket", 404);
        co_await write_simple(stream, plain(404, "Not found"), request.version());
        co_return;
      }
      if (!server->accepting.load()) {
        server->refused_upgrades.with("draining").inc();
        count("websocket", 503);
        co_await write_simple(stream, plain(503, "Draining"), request.version());
        co_return;
      }
      if (const unsigned refusal = server->reserve(info.client_addr)) {
        server->refused_upgrades.with(refusal == 429 ? "per_address" : "capacity").inc();
        count("websocket", refusal);
        co_await write_simple(stream,
                              plain(refusal, refusal == 429 ? "Too many connections from this address"
                                                            : "Node at capacity"),
                              request.version());
        co_return;
      }
      if (auto refusal = server->handler.admit(info)) {
        server->release(info.client_addr);
        server->refused_upgrades.with("not_ready").inc();
        count("websocket", refusal->status);
        co_await write_simple(stream, *refusal, request.version());
        co_return;
      }
      stream.expires_never();
      slot.give_back();  // a WebSocket now: counted as one from here
      // The WebSocket runs as a task of its own: this request's frame (parser, buffer, strings,
      // ~3 KiB) is freed now instead of living as long as the connection.
      auto session = std::make_shared<WsSession>(server, stream.release_socket(), info.client_addr);
      asio::co_spawn(session->executor(),
                     [session, upgrade = parser.release()]() mutable { return session->run(std::move(upgrade)); },
                     log_task_failure);
      co_return;
    }

    HttpResponse response = co_await answer(server->handler, info, options.request_timeout);
    count(response.handler, response.status);
    const bool keep_alive = request.keep_alive() && server->accepting.load();
    const std::string bytes =
        serialize_response(response, request.version(), keep_alive, request.method() == http::verb::head);
    stream.expires_after(options.request_timeout);
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(bytes), use_tuple);
    if (wec || !keep_alive) {
      stream.socket().shutdown(tcp::socket::shutdown_send, wec);
      co_return;
    }
  }
}

asio::awaitable<void> accept_loop(std::shared_ptr<Server::Impl> server, bool internal) {
  auto& acceptor = internal ? server->internal_acceptor : server->acceptor;
  // The internal listener keeps answering probes and scrapes while the node drains.
  beast::error_code pec;
  const tcp protocol = acceptor.local_endpoint(pec).protocol();
  while (internal || server->accepting.load()) {
    // Accepted on the listener's own loop (the caller's io), then handed to the connection's loop:
    // a pending accept never holds a socket of another loop, which would outlive that loop when
    // the caller's io is destroyed after the Server.
    auto [ec, accepted] = co_await acceptor.async_accept(use_tuple);
    if (!ec && !internal && !server->accepting.load()) co_return;  // draining began meanwhile: drop it
    LoopSocket socket = ec ? LoopSocket(server->io.get_executor()) : server->adopt(std::move(accepted), protocol, ec);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      // Out of file descriptors and similar: log, back off briefly, keep serving.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(server->io, std::chrono::milliseconds(50));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto executor = socket.get_executor();
    asio::co_spawn(executor, http_session(server, std::move(socket), internal), log_task_failure);
  }
}

// Once a second (at most every write_timeout / 2) looks for WebSockets whose peer stopped
// reading: a write in progress for limits.write_timeout. One pass over the session table, no
// per-write timer; the connection is torn down, which releases its seat like any close.
asio::awaitable<void> write_sweep(std::shared_ptr<Server::Impl> server) {
  const auto limit = server->options.write_timeout;
  const auto period = std::clamp<std::chrono::milliseconds>(limit / 2, std::chrono::milliseconds(10),
                                                             std::chrono::milliseconds(1000));
  asio::steady_timer timer(server->io);
  for (;;) {
    timer.expires_after(period);
    auto [ec] = co_await timer.async_wait(use_tuple);
    if (ec || !server->sweeping.load()) co_return;
    std::vector<std::shared_ptr<WsSession>> stuck;
    {
      std::lock_guard lock(server->mutex);
      for (const auto& [id, weak] : server->sessions) {
        if (auto s = weak.lock(); s && s->write_stuck(limit)) stuck.push_back(std::move(s));
      }
    }
    for (const auto& s : stuck) {
      spdlog::warn("connection {} from {} closed: a write did not complete in {} ms (the peer stopped reading)",
                   s->id(), s->client_addr(), limit.count());
      server->write_timeouts.inc();
      s->abort();
    }
  }
}

// One sample every kLagProbeInterval per loop: how late the loop ran a timer that was due.
// A handler that holds its loop, or a loop short of CPU, shows here before it shows anywhere
// else; a probe's own cost is one timer wake-up per interval.
constexpr std::chrono::milliseconds kLagProbeInterval{50};

asio::awaitable<void> loop_lag_probe(std::shared_ptr<Server::Impl> server, asio::io_context& loop) {
  asio::steady_timer timer(loop);
  for (;;) {
    const auto due = std::chrono::steady_clock::now() + kLagProbeInterval;
    timer.expires_at(due);
    auto [ec] = co_await timer.async_wait(use_tuple);
    if (ec || !server->sweeping.load()) co_return;
    server->loop_lag.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - due).count());
  }
}

}  // namespace

Server::Impl::Impl(asio::io_context& io_, ServerOptions options_, Handler& handler_, metrics::Registry& registry)
    : io(io_),
      options(std::move(options_)),
      handler(handler_),
      rate_limited_notice(options.rate_limited_notice.empty()
                              ? nullptr
                              : std::make_shared<const std::string>(options.rate_limited_notice)),
      acceptor(io_),
      internal_acceptor(io_),
      ws_connections(registry.gauge("tandem_connections", "Open WebSocket connections on this node")),
      http_connections(registry.gauge("tandem_http_connections",
                                      "Open plain HTTP connections (not WebSockets) on this node's public port")),
      http_requests(registry.counter_family("tandem_http_requests_total",
                                            "HTTP requests answered, by handler and status code",
                                            {"handler", "code"})),
      slow_consumers(registry.counter("tandem_slow_consumer_disconnects_total",
                                      "Connections closed because their send queue exceeded limits.send_queue_bytes")),
      write_timeouts(registry.counter("tandem_write_timeouts_total",
                                      "Connections torn down because a write did not complete within limits.write_timeout")),
      refused_upgrades(registry.counter_family(
          "tandem_refused_upgrades_total",
          "WebSocket upgrades refused, by reason: per_address, capacity, draining, not_ready, bad_handshake",
          {"reason"})),
      ws_closes(registry.counter_family("tandem_ws_closes_total", "WebSocket closes by close code", {"code"})),
      rate_limited_frames(registry.counter("tandem_rate_limited_frames_total", "Frames dropped by the rate limit")),
      loop_lag(registry.histogram("tandem_event_loop_lag_seconds",
                                  "How late a timer fires on this node's event loops (all loops, one sample per loop "
                                  "every 50 ms): the wait of work queued behind what a loop is running",
                                  {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                   2.5})) {
  // Every reason exported from the start at 0, so that rate() and alerts see the series at once.
  for (const std::string_view reason : {"per_address", "capacity", "draining", "not_ready", "bad_handshake"}) {
    refused_upgrades.with(reason);
  }
}

asio::io_context::executor_type Server::Impl::connection_executor() {
  const std::size_t n = next_loop.fetch_add(1, std::memory_order_relaxed) % (loops.size() + 1);
  if (n == 0) return io.get_executor();  // run by one thread (ServerOptions::loops)
  return loops[n - 1]->get_executor();
}

LoopSocket Server::Impl::adopt(tcp::socket accepted, const tcp& protocol, beast::error_code& ec) {
  const auto fd = accepted.release(ec);
  LoopSocket socket(connection_executor());
  if (!ec) socket.assign(protocol, fd, ec);
  if (ec && fd >= 0) ::close(fd);
  return socket;
}

unsigned Server::Impl::reserve(const std::string& client_addr) {
  const std::string addr = util::address_group(client_addr);
  std::lock_guard lock(mutex);
  if (reserved_total >= options.max_connections) return 503;
  auto it = per_address.find(addr);
  if (it != per_address.end() && it->second >= options.max_conns_per_ip) return 429;
  if (it == per_address.end()) it = per_address.emplace(addr, 0).first;
  ++it->second;
  ++reserved_total;
  return 0;
}

unsigned Server::Impl::reserve_http(const std::string& key) {
  std::lock_guard lock(mutex);
  if (http_total >= options.max_http_connections) return 503;
  if (!key.empty()) {
    auto [it, fresh] = http_per_address.try_emplace(key, 0);
    if (it->second >= options.max_http_conns_per_ip) return 429;
    ++it->second;
  }
  ++http_total;
  http_connections.set(static_cast<std::int64_t>(http_total));
  return 0;
}

void Server::Impl::release_http(const std::string& key) {
  std::lock_guard lock(mutex);
  --http_total;
  http_connections.set(static_cast<std::int64_t>(http_total));
  if (key.empty()) return;
  auto it = http_per_address.find(key);
  if (it != http_per_address.end() && --it->second == 0) http_per_address.erase(it);
}

void Server::Impl::release(const std::string& client_addr) {
  const std::string addr = util::address_group(client_addr);
  std::lock_guard lock(mutex);
  auto it = per_address.find(addr);
  if (it == per_address.end()) return;
  --reserved_total;
  if (--it->second == 0) per_address.erase(it);
}

Server::Server(asio::io_context& io, ServerOptions options, Handler& handler, metrics::Registry& metrics)
    : impl_(std::make_shared<Impl>(io, std::move(options), handler, metrics)) {}

Server::~Server() {
  impl_->sweeping.store(false);
  stop_accepting();
  stop_internal();
  // The server's own loops end here: their connections' pending work is destroyed with them
  // (after the threads are gone, so nothing runs meanwhile).
  impl_->loop_work.clear();
  for (auto& loop : impl_->loops) loop->stop();
  for (auto& t : impl_->loop_threads) t.join();
  impl_->loop_threads.clear();
  impl_->loops.clear();
}

namespace {

void listen(tcp::acceptor& acceptor, const std::string& host, std::uint16_t port) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("cannot listen on " + host + ": not an IP address");
  const tcp::endpoint endpoint(address, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
}

}  // namespace

void Server::start() {
  const auto& o = impl_->options;
  for (unsigned i = 1; i < o.loops; ++i) {
    // One thread per loop (the hint: work posted from that thread skips the shared queue; other
    // threads still post safely).
    impl_->loops.push_back(std::make_unique<asio::io_context>(1));
    impl_->loop_work.push_back(asio::make_work_guard(*impl_->loops.back()));
  }
  // The main thread runs loop 0; these are loop-1, loop-2, … in `top -H`.
  for (auto& loop : impl_->loops) {
    impl_->loop_threads.emplace_back([ctx = loop.get(), name = "loop-" + std::to_string(impl_->loop_threads.size() + 1)] {
      util::name_this_thread(name);
      ctx->run();
    });
  }
  listen(impl_->acceptor, o.host, o.port);
  if (o.internal_port != 0) listen(impl_->internal_acceptor, o.host, o.internal_port);
  asio::co_spawn(impl_->io, accept_loop(impl_, false), asio::detached);
  asio::co_spawn(impl_->io, write_sweep(impl_), asio::detached);
  asio::co_spawn(impl_->io, loop_lag_probe(impl_, impl_->io), asio::detached);
  for (auto& loop : impl_->loops) asio::co_spawn(*loop, loop_lag_probe(impl_, *loop), asio::detached);
  if (o.internal_port != 0) asio::co_spawn(impl_->io, accept_loop(impl_, true), asio::detached);
}

std::uint16_t Server::port() const {
  beast::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

std::uint16_t Server::internal_port() const {
  beast::error_code ec;
  return impl_->options.internal_port == 0 ? 0 : impl_->internal_acceptor.local_endpoint(ec).port();
}

void Server::stop_accepting() {
  impl_->accepting.store(false);
  asio::post(impl_->io, [impl = impl_] {
    beast::error_code ec;
    impl->acceptor.close(ec);
  });
}

void Server::stop_internal() {
  asio::post(impl_->io, [impl = impl_] {
    beast::error_code ec;
    impl->internal_acceptor.close(ec);
  });
}

void Server::close_all(std::uint16_t code, const std::string& reason) {
  std::vector<std::shared_ptr<WsSession>> sessions;
  {
    std::lock_guard lock(impl_->mutex);
    for (const auto& [id, weak] : impl_->sessions) {
      if (auto s = weak.lock()) sessions.push_back(std::move(s));
    }
  }
  for (const auto& s : sessions) s->close(code, reason);
}

std::size_t Server::websocket_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->sessions.size();
}

}  // namespace tandem::net
