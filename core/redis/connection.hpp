#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/redis/reply.hpp"

namespace boost::asio {
class io_context;
}

namespace tandem::redis {

struct ConnectOptions {
  std::string host = "127.0.0.1";  // IP address or name (hiredis resolves a name synchronously)
  std::uint16_t port = 6379;
  std::string password;            // empty: no AUTH. Never appears in a message.
  std::int64_t db = 0;             // SELECTed when not 0
  std::string client_name;         // CLIENT SETNAME when not empty (CLIENT LIST shows it); no spaces
  std::chrono::milliseconds timeout = std::chrono::seconds(5);  // TCP connect + AUTH/SELECT/PING
};

// A failure of the connection itself (refused, timed out, closed, AUTH or SELECT refused), as
// opposed to an error reply to one command.
struct Failure {
  std::string message;
};

// A message pushed on a subscription.
struct Message {
  std::string pattern;  // the PSUBSCRIBE pattern that matched; empty for SUBSCRIBE
  std::string channel;
  std::string payload;  // binary-safe
};

// One asynchronous Redis connection (hiredis driven by an Asio io_context), with pipelining and
// pub/sub.
//
// Thread-safety: none. The io_context must be run by exactly one thread; every member function
// must be called on that thread, and every callback runs on it. (Socket readiness handlers are
// posted to the io_context directly, not through a strand: with a multi-threaded io_context,
// give Redis an io_context and thread of its own and post work to it.) The io_context must
// outlive the Connection.
//
// Callbacks:
// * Never run inside the call that registered them; they run from the io_context.
// * Reply callbacks run exactly once each, in the order the commands were issued (Redis answers
//   a pipeline in order): with the server's reply, or with a `failure` reply when the
//   connection failed or was closed first (the command may or may not have been executed).
// * Nothing runs after the Connection is destroyed: pending callbacks are dropped, not called.
//   Destroying the Connection from inside one of its own callbacks is allowed.
// * A callback may issue further commands, close(), connect() again or destroy the Connection.
//
// Pub/sub: once subscribe() or psubscribe() is used, the connection is in subscriber mode and
// command() refuses (with a failure reply) until every subscription is gone; use a separate
// Connection for commands. Subscriptions do not survive a disconnection.
class Connection {
 public:
  using ConnectCallback = std::function<void(std::optional<Failure>)>;  // nullopt: connected
  using ReplyCallback = std::function<void(Reply)>;
  using MessageCallback = std::function<void(const Message&)>;
  using DisconnectCallback = std::function<void(const Failure&)>;

  explicit Connection(boost::asio::io_context& io);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Opens the connection and runs the handshake (AUTH, SELECT, or a PING when neither is
  // needed). `on_done` runs once: with nullopt when the handshake succeeded, or with the reason
  // it failed (refused, timeout, handshake error). Commands issued before it completes are
  // queued behind the handshake. Calling connect() again first closes the current connection
  // as close() does.
  void connect(ConnectOptions options, ConnectCallback on_done);

  // `callback` runs (once) when an established connection is lost for any other reason than
  // close(), connect() or destruction: server gone, network error, CLIENT KILL... Pending
  // commands have received their failure replies by then. There is no automatic reconnection.
  void on_disconnect(DisconnectCallback callback);

  // Sends one command; each argument is sent as-is (binary-safe, no formatting). Refused with a
  // failure reply when not connected (or connecting), in subscriber mode, or for the pub/sub and
  // MONITOR commands, which have their own functions or are not supported.
  void command(std::vector<std::string> args, ReplyCallback on_reply);

  // SUBSCRIBE / PSUBSCRIBE. `on_message` runs for every message on these channels (patterns)
  // until unsubscribe() is confirmed or the connection is lost. `on_subscribed`, when given,
  // runs once per channel (pattern): with the server's confirmation (an array ["subscribe",
  // channel, count]) once messages published from then on will be received, or with a failure
  // reply. Subscribing again to a channel replaces its callbacks.
  void subscribe(std::vector<std::string> channels, MessageCallback on_message, ReplyCallback on_subscribed = {});
  void psubscribe(std::vector<std::string> patterns, MessageCallback on_message, ReplyCallback on_subscribed = {});
  void unsubscribe(std::vector<std::string> channels);
  void punsubscribe(std::vector<std::string> patterns);

  // Closes now. Pending commands receive failure replies, a pending connect() its failure;
  // the disconnect callback does not run.
  void close();

  // True between a successful handshake and the loss or closing of the connection.
  bool connected() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace tandem::redis
