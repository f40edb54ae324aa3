#pragma once

// Internal to core/engine/redis: what the parts of the Redis engine share. Everything here lives
// on the engine's own thread (one io_context, one thread): no locks inside the engine, and every
// part may call every other part directly. Not to be included outside this folder: it pulls in
// Asio.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <unordered_set>

#include "core/config/config.hpp"
#include "core/engine/engine.hpp"
#include "core/engine/redis/keys.hpp"
#include "core/metrics/metrics.hpp"
#include "core/redis/connection.hpp"
#include "core/room/room.hpp"
#include "core/util/duration.hpp"

namespace tandem::engine::redis {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using namespace std::chrono_literals;
using SteadyTime = std::chrono::steady_clock::time_point;
using Reply = tandem::redis::Reply;

using util::epoch_ms;

inline bool is_ok_array(const Reply& r) {
  return r.type == Reply::Type::array && !r.elements.empty() && r.elements[0].type == Reply::Type::integer;
}

// The engine's metrics beyond the node's (registered once by RedisEngine).
struct EngineMetrics {
  explicit EngineMetrics(metrics::Registry& registry);

  metrics::CounterFamily& backend_errors;
  metrics::Histogram& delivery_latency;
  metrics::CounterFamily& commits;  // by input (change.hpp input_label) and form (state, advance)
  metrics::Counter& cas_retries;
  metrics::Counter& cas_abandoned;  // changes given up after kCasBudget / kCasAttempts of conflicts
  metrics::Counter& resync_closes;
  metrics::Counter& nodes_lost;
  metrics::Counter& audit_written;
  metrics::Counter& postgres_errors;
  metrics::Counter& dead_letters;  // records PostgreSQL refused as data (store::PgWriter)
  metrics::CounterFamily& room_lookups;  // RoomRestorer, by result
};

// The identity and configuration every part needs.
struct Context {
  asio::io_context& io;
  const config::Config& config;
  const room::Settings settings;
  const std::string instance;  // "<server.node_id>~<6 hex digits>"
  const Keys keys;
  EngineMetrics& metrics;
  EngineHost* host = nullptr;
  std::mt19937_64 random{std::random_device{}()};
  std::uint64_t uid_counter = 0;

  // Unique cluster-wide: audit uids, PIN failure entries.
  std::string next_uid() { return instance + "-" + std::to_string(++uid_counter); }

  // Runs `task` on the engine's thread; a failure is logged with `what`. `tasks` counts the
  // spawned tasks that have not ended.
  void spawn(awaitable<void> task, const char* what);
  std::size_t tasks = 0;

  // A pause of one of the engine's loops. After wake_all() every pause, current or future, ends
  // at once, so that loops that check their stop flags after each pause end promptly.
  awaitable<void> sleep_for(std::chrono::steady_clock::duration d);
  void wake_all();
  // The pauses in progress (for wake_all) and whether wake_all ran.
  std::unordered_set<asio::steady_timer*> sleepers{};
  bool woken = false;
};

}  // namespace tandem::engine::redis
