#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/engine/redis/context.hpp"
#include "core/engine/redis/scripts.hpp"

namespace tandem::engine::redis {

// The engine's link to Redis: one connection for commands (pipelined: every command is sent at
// once and the replies come back in order) and one subscribed to this node's channel.
//
// Connects with backoff (kReconnectMin → kReconnectMax) for as long as it takes; on every
// connect it loads the scripts, compares the cluster's epoch (a changed epoch means Redis lost
// its data), makes sure the audit consumer group exists, subscribes, then reports `on_up`.
// A lost connection (or one that lost() is told about) closes both and reconnects. While the
// link is down every call() answers at once with a failure reply.
class RedisLink {
 public:
  struct Handlers {
    std::function<void(const tandem::redis::Message&)> on_message;  // this node's channel
    std::function<void(bool first, bool data_lost)> on_up;          // after every (re)connect
    std::function<void()> on_down;                                  // the link was lost
  };

  RedisLink(Context& ctx, Handlers handlers);
  ~RedisLink();

  // Starts connecting (the loop runs until stop()).
  void start();
  void stop();
  bool up() const { return up_; }

  awaitable<Reply> call(std::vector<std::string> args);
  // call() with the arguments listed. GCC 12 miscompiles coroutine calls whose arguments are
  // braced lists or converted temporaries (double destruction): coroutines here are always
  // called with named values or std::move of named values.
  template <class... Args>
  awaitable<Reply> callv(Args&&... args) {
    std::vector<std::string> list{std::string(std::forward<Args>(args))...};
    return call(std::move(list));
  }
  // EVALSHA, falling back to EVAL when Redis does not know the script.
  awaitable<Reply> eval(const Script& script, std::vector<std::string> args);
  // Sends without waiting; a failure is counted as a backend error.
  void fire(std::vector<std::string> args);
  // Issues `args` and calls `done` with the reply (on the engine's thread).
  void command(std::vector<std::string> args, std::function<void(Reply)> done);

  // Treats the link as lost (a watchdog saw Redis stop answering) and reconnects.
  void lost(const std::string& why);

 private:
  awaitable<void> run();
  awaitable<bool> establish();
  // `role` ("cmd" or "sub") names the connection in Redis: tandem:<instance>:<role>.
  tandem::redis::ConnectOptions connect_options(std::string_view role) const;

  Context& ctx_;
  Handlers handlers_;
  std::unique_ptr<tandem::redis::Connection> cmd_;
  std::unique_ptr<tandem::redis::Connection> sub_;
  asio::steady_timer wake_;
  std::string epoch_;
  bool up_ = false;
  bool registered_ = false;
  bool stopping_ = false;
};

}  // namespace tandem::engine::redis
