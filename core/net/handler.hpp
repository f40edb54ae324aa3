#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/net/http_types.hpp"

namespace tandem::net {

// One accepted WebSocket connection, as the application sees it. Thread-safe: send() and close()
// may be called from any thread.
class WsConnection {
 public:
  virtual ~WsConnection() = default;

  // Node-unique number, never reused while the process lives.
  virtual std::uint64_t id() const = 0;
  virtual const std::string& client_addr() const = 0;

  // Queues a text frame. Frames queued by one thread are sent in the order queued; callers that
  // need one order across threads (room broadcasts) serialize their calls. Returns false when the
  // connection is closing, or when the frame would take its queue beyond limits.send_queue_bytes:
  // then the connection is closed 1008 ("send queue full") and counted as a slow consumer.
  virtual bool send(std::shared_ptr<const std::string> text) = 0;

  // Sends a close frame after every frame already queued; later send() calls are refused.
  virtual void close(std::uint16_t code, std::string reason) = 0;

  // The application's own state for this connection, so that it needs no lookup of its own per
  // message. Set and read only within the Handler's calls for this connection (which never
  // overlap); the application clears it in Handler::closed when it refers back to the connection.
  void set_context(std::shared_ptr<void> context) { context_ = std::move(context); }
  const std::shared_ptr<void>& context() const { return context_; }

 private:
  std::shared_ptr<void> context_;
};

// The application behind the server. Calls for one connection never overlap, and arrive in
// order: opened, message…, closed (closed exactly once, also when the peer vanishes).
class Handler {
 public:
  virtual ~Handler() = default;

  // Answers one HTTP request (not an upgrade). `respond` must be called exactly once, from any
  // thread, inline or later; a request not answered within http.request_timeout gets 503.
  using Respond = std::function<void(HttpResponse)>;
  virtual void http(const HttpRequest& request, Respond respond) = 0;

  // Asked before a WebSocket upgrade is accepted (after the transport's own per-address and
  // capacity caps). A value refuses the upgrade with that response.
  virtual std::optional<HttpResponse> admit(const HttpRequest& request) = 0;

  virtual void opened(const std::shared_ptr<WsConnection>& conn) = 0;
  // A complete text message, at most limits.max_frame_bytes. Processing must finish before the
  // next message of the same connection is delivered (strict per-connection order).
  virtual void message(const std::shared_ptr<WsConnection>& conn, std::string_view text) = 0;
  virtual void closed(const std::shared_ptr<WsConnection>& conn) = 0;
};

}  // namespace tandem::net
