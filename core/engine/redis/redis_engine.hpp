#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/engine/engine.hpp"

namespace boost::asio {
class io_context;
}

namespace tandem::config {
struct Config;
}
namespace tandem::metrics {
class Registry;
}

namespace tandem::engine::redis {

// The cluster engine (DESIGN.md "Cluster"; docs/architecture.md "Cluster mode"): rooms live in
// Redis, any number of nodes serve them, PostgreSQL receives the audit trail and room
// snapshots. Its parts, one job each, all on one thread: the host's event loop it was given
// (`tandem serve`: the first of server.threads), or a thread of the engine's own:
//
//   RedisLink        the connections to Redis: connect, reconnect, scripts, pipelined commands
//   RoomCommitter    the room cache and the compare-and-set commits
//   EnvelopeRouter   envelopes between nodes: this node's channel in, relays out
//   AuditCopier      the audit stream to PostgreSQL, room snapshots, short ids
//   RoomRestorer     rooms Redis lost, rebuilt from their PostgreSQL snapshots
//   Liveness         this node's liveness key, the watchdog, the reaper of dead nodes
//
// Guarantees (with the node layer's per-connection order):
// * One order per room: a change is committed by one Lua script that compares-and-sets the
//   room's version; its frames reach every node concerned through that node's channel, in
//   commit order, and every node delivers them in that order.
// * Nothing acknowledged is lost: a change's audit records enter the Redis audit stream in the
//   same script that publishes its frames.
// * Nothing on the caller's thread waits for Redis: submit() and the queries post to the engine's
//   loop and complete there.
class RedisEngine final : public Engine {
 public:
  // Throws std::invalid_argument when the configuration cannot make a cluster node (no [redis]
  // or [postgres], a node id containing '/').
  //
  // With `loop`, the engine runs on that event loop and has no thread of its own: the node's
  // connections on that loop reach it without waking another thread, and one thread carries a
  // node with server.threads = 1. `loop` must then outlive the engine, and stop() must be
  // called on the thread that runs `loop`, after its run() returned: stop() runs it again until
  // the engine has left the cluster and its own work has unwound. Without `loop`, the engine
  // runs a loop on a thread of its own, and stop() may be called from any other thread.
  RedisEngine(const config::Config& config, metrics::Registry& registry, boost::asio::io_context* loop = nullptr);
  ~RedisEngine() override;
  RedisEngine(const RedisEngine&) = delete;
  RedisEngine& operator=(const RedisEngine&) = delete;

  const std::string& instance() const override;
  void start(EngineHost& host) override;
  void submit(Submission submission, std::function<void(Outcome)> done) override;

  bool can_serve() const override;
  bool can_commit() const override;
  bool healthy() const override;

  void presence(const std::string& room_id, std::function<void(std::optional<std::size_t>)> done) override;
  void short_id(const std::string& room_id, const std::string& client_addr,
                std::function<void(ShortIdResult)> done) override;
  void room_for_short_id(const std::string& short_id, std::function<void(std::optional<std::string>)> done) override;
  std::shared_ptr<const StatusRooms> status_rooms() const override;

  void begin_drain() override;
  bool idle() const override;
  bool stop(std::chrono::milliseconds budget) override;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tandem::engine::redis
