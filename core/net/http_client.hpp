#pragma once

// A keep-alive HTTP/1.1 GET client for tools: one connection, one request at a time, as a
// browser tab polls an endpoint.
//
// Threading and ownership as for WsClient (core/net/ws_client.hpp): single-threaded; destroying
// the client or calling close() drops the connection and cancels the callback of a request in
// flight.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/net/client_endpoint.hpp"

namespace boost::asio {
class io_context;
}

namespace tandem::net {

class HttpClientHandler {
 public:
  // The response to the last get(). The body view is valid during the call only.
  virtual void on_http_response(unsigned status, std::string_view body) = 0;
  // Connect, write or read failed, or timed out. The connection is closed; the next get() opens one.
  virtual void on_http_failed(std::string_view reason) = 0;

 protected:
  virtual ~HttpClientHandler() = default;
};

struct HttpClientOptions {
  std::chrono::milliseconds timeout{10'000};  // per request, connect included
  std::size_t max_body_bytes = 8 << 20;
};

class HttpClient {
 public:
  HttpClient(boost::asio::io_context& io, HttpClientHandler& handler, HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `GET target` on the open connection, or on a new one to `endpoint` from `source` (a
  // local IP address, empty for any). A request that fails on a reused connection before any
  // answer (the server closed it while idle) is retried once on a fresh one. Returns false,
  // sending nothing, while a request is in flight.
  bool get(const ClientEndpoint& endpoint, const std::string& source, std::string target);

  void close();
  bool busy() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tandem::net
