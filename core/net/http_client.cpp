#include "core/net/http_client.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "core/net/client_socket.hpp"

namespace tandem::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// Completions carry the generation they were started in; close() starts a new one, so a
// completion of a cancelled request never reaches the handler.
struct HttpClient::Impl : std::enable_shared_from_this<HttpClient::Impl> {
  Impl(asio::io_context& io, HttpClientHandler& h, const HttpClientOptions& o)
      : stream(io.get_executor()), timer(io.get_executor()), handler(&h), options(o) {}

  bool get(const ClientEndpoint& to, const std::string& from, std::string target) {
    if (busy) return false;
    busy = true;
    retried = false;
    endpoint = to;
    source = from;
    request = {};
    request.method(http::verb::get);
    request.target(target);
    request.version(11);
    request.set(http::field::host, endpoint.host);
    request.set(http::field::user_agent, "tandem-loadtest");
    request.keep_alive(true);
    arm_timer();
    if (connected) {
      write();
    } else {
      connect();
    }
    return true;
  }

  // One deadline per request (connect included): when it passes, the socket is closed and the
  // pending operation fails.
  void arm_timer() {
    timed_out = false;
    timer.expires_after(options.timeout);
    timer.async_wait([self = shared_from_this(), g = generation](beast::error_code ec) {
      if (ec || g != self->generation || !self->busy) return;
      self->timed_out = true;
      beast::error_code ignored;
      self->stream.close(ignored);
    });
  }

  void connect() {
    reused = false;
    beast::error_code ec;
    const auto remote = open_client_socket(stream, endpoint, source, ec);
    if (ec) {
      asio::post(stream.get_executor(), [self = shared_from_this(), g = generation, why = ec.message()] {
        if (g == self->generation) self->fail(why);
      });
      return;
    }
    stream.async_connect(remote, [self = shared_from_this(), g = generation](beast::error_code cec) {
      if (g != self->generation) return;
      if (cec) return self->fail(self->timed_out ? "connect timed out" : cec.message());
      beast::error_code ignored;
      self->stream.set_option(asio::ip::tcp::no_delay(true), ignored);
      self->connected = true;
      self->write();
    });
  }

  void write() {
    http::async_write(stream, request, [self = shared_from_this(), g = generation](beast::error_code ec, std::size_t) {
      if (g != self->generation) return;
      if (ec) return self->retry_or_fail(ec);
      self->read();
    });
  }

  void read() {
    parser.emplace();
    parser->body_limit(options.max_body_bytes);
    http::async_read(stream, buffer, *parser, [self = shared_from_this(), g = generation](beast::error_code ec, std::size_t) {
      if (g != self->generation) return;
      if (ec) return self->retry_or_fail(ec);
      self->done();
    });
  }

  void done() {
    auto& response = parser->get();
    const bool keep = response.keep_alive();
    reused = true;
    busy = false;
    timer.cancel();
    if (!keep) drop();
    handler->on_http_response(response.result_int(), response.body());
  }

  void retry_or_fail(beast::error_code ec) {
    const bool may_retry = reused && !retried && !timed_out;
    drop();
    if (may_retry) {
      retried = true;
      return connect();
    }
    fail(timed_out ? "request timed out" : ec.message());
  }

  void fail(const std::string& why) {
    drop();
    busy = false;
    timer.cancel();
    handler->on_http_failed(why);
  }

  void drop() {
    beast::error_code ignored;
    stream.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream.close(ignored);
    buffer.clear();
    connected = false;
  }

  void cancel() {
    ++generation;
    busy = false;
    timer.cancel();
    drop();
  }

  LoopSocket stream;
  LoopTimer timer;
  beast::flat_buffer buffer;
  http::request<http::empty_body> request;
  std::optional<http::response_parser<http::string_body>> parser;
  HttpClientHandler* handler;
  HttpClientOptions options;
  ClientEndpoint endpoint;
  std::string source;
  std::uint64_t generation = 0;
  bool busy = false;
  bool connected = false;
  bool reused = false;
  bool retried = false;
  bool timed_out = false;
};

HttpClient::HttpClient(asio::io_context& io, HttpClientHandler& handler, HttpClientOptions options)
    : impl_(std::make_shared<Impl>(io, handler, options)) {}

HttpClient::~HttpClient() { impl_->cancel(); }

bool HttpClient::get(const ClientEndpoint& endpoint, const std::string& source, std::string target) {
  return impl_->get(endpoint, source, std::move(target));
}

void HttpClient::close() { impl_->cancel(); }

bool HttpClient::busy() const { return impl_->busy; }

}  // namespace tandem::net
