#pragma once

#include <functional>
#include <string>

#include "core/engine/redis/context.hpp"
#include "core/engine/redis/envelope.hpp"

namespace tandem::engine::redis {

class RedisLink;

// Envelope routing between nodes. Every node subscribes to one channel of its own for its whole
// life; a committed change is published (by the commit script, atomically with the commit) to
// the channels of exactly the nodes concerned, so each node receives every change of the rooms
// it has members in, in commit order.
//
// * Incoming: a relay (version 0) is delivered to this node's connections at once; a committed
//   envelope goes to `on_committed` (the committer), which delivers it in order or resyncs.
// * Outgoing: frames that need no commit (replies, targeted relays) reach local recipients at
//   once and other nodes as a relay envelope on their channels.
class EnvelopeRouter {
 public:
  EnvelopeRouter(Context& ctx, RedisLink& link);

  void set_on_committed(std::function<void(Envelope&)> on_committed) { on_committed_ = std::move(on_committed); }

  // A message on this node's channel.
  void on_message(const tandem::redis::Message& message);
  // The envelope's frames and closes for this node's connections.
  void deliver(const Envelope& env);
  // Effects that change nothing committed: local recipients now, others through their nodes.
  void relay(const std::string& room_id, room::Effects& effects);

 private:
  Context& ctx_;
  RedisLink& link_;
  std::function<void(Envelope&)> on_committed_;
};

}  // namespace tandem::engine::redis
