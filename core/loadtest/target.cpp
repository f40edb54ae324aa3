#include "core/loadtest/target.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include "core/net/ws_client.hpp"

namespace tandem::loadtest {

namespace asio = boost::asio;

std::variant<Target, std::string> parse_target(std::string_view url) {
  const auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return fmt::format("--url '{}': not a URL (expected ws://HOST:PORT/ws)", url);
  const auto& u = *parsed;
  if (u.scheme() == "wss") {
    return fmt::format("--url '{}': wss:// is not supported; load the node directly (ws://) or through a plain "
                       "TCP proxy",
                       url);
  }
  if (u.scheme() != "ws") return fmt::format("--url '{}': the scheme must be ws:// (a WebSocket URL)", url);
  Target t;
  t.url = std::string(url);
  t.host = u.host_address();
  if (t.host.empty()) return fmt::format("--url '{}': no host", url);
  std::uint32_t port = 80;
  if (u.has_port()) {
    if (u.port().empty() || u.port_number() == 0) return fmt::format("--url '{}': bad port", url);
    port = u.port_number();
  }
  t.ws.port = static_cast<std::uint16_t>(port);
  const bool v6 = u.host_type() == boost::urls::host_type::ipv6;
  t.ws.host = fmt::format("{}:{}", v6 ? "[" + t.host + "]" : t.host, port);
  std::string path(u.encoded_path());
  if (path.empty()) path = "/ws";
  if (u.has_query()) path += "?" + std::string(u.encoded_query());
  t.ws.target = path;
  t.status_path = "/status";
  return t;
}

std::optional<std::string> resolve(Target& target) {
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  boost::system::error_code ec;
  const auto results = resolver.resolve(target.host, std::to_string(target.ws.port), ec);
  if (ec || results.empty()) {
    return fmt::format("cannot resolve '{}' in {}: {}", target.host, target.url, ec ? ec.message() : "no address");
  }
  // Prefer IPv4 (the loopback ranges for --bind are IPv4).
  auto chosen = results.begin()->endpoint();
  for (const auto& entry : results) {
    if (entry.endpoint().address().is_v4()) {
      chosen = entry.endpoint();
      break;
    }
  }
  target.ws.address = chosen.address().to_string();
  return std::nullopt;
}

namespace {

class ProbeHandler final : public net::WsClientHandler {
 public:
  void on_ws_open() override {
    opened = true;
    client->close(1000);
  }
  void on_ws_message(std::string_view) override {}
  void on_ws_failed(std::string_view reason, unsigned status) override {
    failure = std::string(reason);
    http_status = status;
    done = true;
  }
  void on_ws_closed(const net::WsCloseInfo&) override { done = true; }

  net::WsClient* client = nullptr;
  bool opened = false;
  bool done = false;
  std::string failure;
  unsigned http_status = 0;
};

}  // namespace

std::optional<std::string> probe(const Target& target, const std::string& source, std::chrono::milliseconds timeout) {
  asio::io_context io;
  ProbeHandler handler;
  net::WsClientOptions options;
  options.handshake_timeout = timeout;
  net::WsClient client(io, handler, options);
  handler.client = &client;
  client.connect(target.ws, source);
  const auto deadline = std::chrono::steady_clock::now() + timeout + std::chrono::seconds(2);
  while (!handler.done && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(100));
    if (io.stopped()) break;
  }
  if (handler.opened) return std::nullopt;
  if (handler.http_status != 0 || handler.failure.starts_with("WebSocket upgrade")) {
    return fmt::format("{} is not a WebSocket endpoint: {}", target.url, handler.failure);
  }
  if (!handler.done) return fmt::format("cannot connect to {}: no answer within {} ms", target.url, timeout.count());
  return fmt::format("cannot connect to {} ({}:{}): {}", target.url, target.ws.address, target.ws.port,
                     handler.failure);
}

}  // namespace tandem::loadtest
