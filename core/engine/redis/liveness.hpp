#pragma once

#include <functional>
#include <string>
#include <unordered_set>

#include "core/engine/redis/context.hpp"

namespace tandem::engine::redis {

class RedisLink;
class RoomCommitter;

// Node liveness and the reaper (DESIGN.md invariant 5).
//
// * This node: every node_ttl / 5 it refreshes {p}node:{hex} (TTL 0.6 × node_ttl) and its expiry
//   in {p}nodes. A refresh that waits longer than redis.connect_timeout means Redis stopped
//   answering: the link is treated as lost. If its own key had expired (it was cut off), other
//   nodes may have removed its members: every room it serves is checked again.
// * Other nodes: every node_ttl / 10 it looks for nodes whose expiry passed and whose key is
//   gone, takes {p}lock:node:{hex} and commits NodeLostInput to each room of the dead node's
//   index (USER_LEFT, host election through room::apply), then deletes the index.
class Liveness {
 public:
  Liveness(Context& ctx, RedisLink& link, RoomCommitter& committer);

  void start();
  void stop() { stopping_ = true; }

  // Registers this node (its key and its expiry), pipelined ahead of anything sent after it.
  void register_node();
  // Removes this node from the cluster when no member of it is left in any room; otherwise the
  // others clean up after its key expires.
  awaitable<void> leave();

 private:
  awaitable<void> heartbeat_loop();
  awaitable<void> watchdog_loop();
  awaitable<void> reaper_loop();
  awaitable<void> cleanup_node(std::string node);

  Context& ctx_;
  RedisLink& link_;
  RoomCommitter& committer_;
  const std::chrono::milliseconds node_ttl_;
  bool stopping_ = false;
  bool heartbeat_pending_ = false;  // a liveness refresh is waiting for Redis' answer
  SteadyTime heartbeat_sent_{};
  std::unordered_set<std::string> cleaning_;
};

}  // namespace tandem::engine::redis
