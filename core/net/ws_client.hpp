#pragma once

// A WebSocket client connection for tools that open thousands of them (the loadtest).
//
// Threading: single-threaded. Every member function must be called, and every handler callback
// runs, on the one thread that runs the io_context given at construction.
// Ownership: the WsClient owns its connection. Destroying it (or calling abort()) drops the TCP
// connection at once and guarantees that no callback reaches the handler afterwards.
// Beast stays in ws_client.cpp: this header is cheap to include.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/net/client_endpoint.hpp"

namespace boost::asio {
class io_context;
}

namespace tandem::net {

struct WsCloseInfo {
  // The code of the peer's close frame, or 1006 when the connection ended without one
  // (reset, EOF, read error). When we started the close it is the code the peer echoed.
  std::uint16_t code = 1006;
  std::string reason;
  bool by_us = false;  // close() was called before the connection ended
};

// Callbacks of one WsClient. Calls arrive in order: either on_ws_failed once, or on_ws_open,
// then on_ws_message…, then on_ws_closed once.
class WsClientHandler {
 public:
  virtual void on_ws_open() = 0;
  // One complete text or binary message. The view is valid during the call only.
  virtual void on_ws_message(std::string_view text) = 0;
  // The TCP connect or the upgrade failed. `http_status` is the server's answer to the upgrade
  // when it declined it (404, 429, 503, …), 0 when there was none (refused, timeout, reset).
  virtual void on_ws_failed(std::string_view reason, unsigned http_status) = 0;
  virtual void on_ws_closed(const WsCloseInfo& info) = 0;
  // The oldest queued frame has been handed to the kernel (its write completed). Frames complete
  // in the order send() queued them. Optional: for a caller that measures how long its frames wait.
  virtual void on_ws_written() {}

 protected:
  virtual ~WsClientHandler() = default;
};

struct WsClientOptions {
  std::chrono::milliseconds handshake_timeout{10'000};  // TCP connect + upgrade; also the close handshake
  std::size_t max_message_bytes = 1 << 20;              // larger inbound messages end the connection
  std::size_t max_queued_frames = 512;                  // send() beyond this refuses the frame
};

class WsClient {
 public:
  WsClient(boost::asio::io_context& io, WsClientHandler& handler, WsClientOptions options);
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Opens a new connection (dropping any previous one without callbacks). `source`, when not
  // empty, is the local IP address to connect from; the port is chosen at connect time
  // (IP_BIND_ADDRESS_NO_PORT) so that one source address can open more than 28,000 connections
  // to different destinations.
  void connect(const ClientEndpoint& endpoint, const std::string& source);

  // Queues a text frame; frames go out in the order queued. Returns false, dropping the frame,
  // when the connection is not open or max_queued_frames are already waiting.
  bool send(std::string text);

  // Sends a close frame after the queued frames; on_ws_closed follows (by_us = true). The close
  // handshake is bounded by handshake_timeout. On a connection that is not open yet it is abort().
  void close(std::uint16_t code);

  // Drops the connection now; no further callbacks.
  void abort();

  bool is_open() const;
  std::size_t queued_frames() const;

  struct Impl;

 private:
  boost::asio::io_context& io_;
  WsClientHandler& handler_;
  WsClientOptions options_;
  std::shared_ptr<Impl> impl_;
};

}  // namespace tandem::net
