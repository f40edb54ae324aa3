#include "core/engine/redis/liveness.hpp"

#include <spdlog/spdlog.h>

#include "core/engine/redis/committer.hpp"
#include "core/engine/redis/link.hpp"

namespace tandem::engine::redis {

Liveness::Liveness(Context& ctx, RedisLink& link, RoomCommitter& committer)
    : ctx_(ctx), link_(link), committer_(committer), node_ttl_(ctx.config.cluster.node_ttl) {}

void Liveness::start() {
  ctx_.spawn(heartbeat_loop(), "heartbeat");
  ctx_.spawn(watchdog_loop(), "Redis watchdog");
  ctx_.spawn(reaper_loop(), "dead node detection");
}

void Liveness::register_node() {
  const auto ttl = std::to_string(std::max<std::int64_t>(node_ttl_.count() * 6 / 10, 1));
  link_.fire({"SET", ctx_.keys.node(ctx_.instance), ctx_.config.server.node_id, "PX", ttl});
  link_.fire({"ZADD", ctx_.keys.nodes(), std::to_string(epoch_ms() + node_ttl_.count()), ctx_.instance});
}

awaitable<void> Liveness::leave() {
  if (!link_.up()) co_return;
  const auto left = co_await link_.callv("SCARD", ctx_.keys.node_rooms(ctx_.instance));
  if (left.type == Reply::Type::integer && left.integer == 0) {
    co_await link_.callv("DEL", ctx_.keys.node(ctx_.instance), ctx_.keys.node_rooms(ctx_.instance));
    co_await link_.callv("ZREM", ctx_.keys.nodes(), ctx_.instance);
  } else {
    spdlog::warn("cluster: members of this node remain in {} rooms; the other nodes remove them after {} ms",
                 left.integer, node_ttl_.count());
  }
}

awaitable<void> Liveness::heartbeat_loop() {
  const auto interval = std::max<std::chrono::milliseconds>(node_ttl_ / 5, 50ms);
  const auto ttl = std::to_string(std::max<std::int64_t>(node_ttl_.count() * 6 / 10, 1));
  while (!stopping_) {
    co_await ctx_.sleep_for(interval);
    if (stopping_ || !link_.up()) continue;
    const room::Millis now = epoch_ms();
    heartbeat_sent_ = std::chrono::steady_clock::now();
    heartbeat_pending_ = true;
    const auto previous = co_await link_.callv("SET", ctx_.keys.node(ctx_.instance), ctx_.config.server.node_id, "PX",
                                               ttl, "GET");
    heartbeat_pending_ = false;
    co_await link_.callv("ZADD", ctx_.keys.nodes(), std::to_string(now + node_ttl_.count()), ctx_.instance);
    if (previous.type == Reply::Type::nil && link_.up()) {
      spdlog::warn("cluster: this node's liveness key had expired; checking its rooms");
      ctx_.spawn(committer_.recheck_all(), "room check");
    }
  }
}

awaitable<void> Liveness::watchdog_loop() {
  // A Redis that accepts the connection but stops answering (stopped process, network lost
  // without a reset) is treated as lost when a liveness refresh waits longer than
  // redis.connect_timeout. This loop never waits for Redis itself.
  const auto timeout = ctx_.config.redis->connect_timeout;
  while (!stopping_) {
    co_await ctx_.sleep_for(std::max<std::chrono::milliseconds>(timeout / 4, 50ms));
    if (link_.up() && heartbeat_pending_ && std::chrono::steady_clock::now() - heartbeat_sent_ > timeout) {
      link_.lost("no answer within " + std::to_string(timeout.count()) + " ms");
    }
  }
}

awaitable<void> Liveness::reaper_loop() {
  const auto interval = std::max<std::chrono::milliseconds>(node_ttl_ / 10, 100ms);
  while (!stopping_) {
    co_await ctx_.sleep_for(interval);
    if (stopping_ || !link_.up()) continue;
    const auto due =
        co_await link_.callv("ZRANGEBYSCORE", ctx_.keys.nodes(), "-inf", std::to_string(epoch_ms()), "LIMIT", "0", "16");
    for (const auto& e : due.elements) {
      const std::string node = e.text;
      if (node == ctx_.instance || cleaning_.count(node) != 0) continue;
      const auto alive = co_await link_.callv("EXISTS", ctx_.keys.node(node));
      if (alive.type != Reply::Type::integer || alive.integer != 0) continue;
      const auto locked = co_await link_.callv("SET", ctx_.keys.node_lock(node), ctx_.instance, "NX", "PX",
                                               std::to_string(std::max<std::int64_t>(node_ttl_.count(), 1000)));
      if (locked.type != Reply::Type::status) continue;
      cleaning_.insert(node);
      ctx_.spawn(cleanup_node(node), "dead node cleanup");
    }
  }
}

awaitable<void> Liveness::cleanup_node(std::string node) {
  const auto index = co_await link_.callv("SMEMBERS", ctx_.keys.node_rooms(node));
  std::size_t rooms = 0;
  bool ok = index.type == Reply::Type::array;
  for (const auto& e : index.elements) {
    room::Input input = room::NodeLostInput{node};
    std::string room_id = e.text;
    const auto result = co_await committer_.room_op(std::move(room_id), std::move(input), room::ConnId());
    ok = ok && result.applied;
    ++rooms;
  }
  if (ok) {
    co_await link_.callv("DEL", ctx_.keys.node_rooms(node));
    co_await link_.callv("ZREM", ctx_.keys.nodes(), node);
    ctx_.metrics.nodes_lost.inc();
    spdlog::warn("cluster: node {} is gone; removed its members from {} rooms", node, rooms);
  }
  co_await link_.callv("DEL", ctx_.keys.node_lock(node));
  cleaning_.erase(node);
}

}  // namespace tandem::engine::redis
