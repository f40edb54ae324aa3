#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/room/room.hpp"

namespace tandem::config {
struct Config;
}

namespace tandem::engine {

// The engine is what differs between the two modes (DESIGN.md "Two modes, one behaviour"):
// where a room's state lives, how a change is made durable and in which order, and how its
// effects reach the nodes whose connections must see them. The node (core/node) does
// everything else — the connections, the order of checks of docs/protocol.md §10, JOIN assembly,
// PIN counting per connection, replies, metrics, the HTTP API — once, for both engines.
//
//   memory engine (core/engine/memory): one process; rooms in memory under one mutex each;
//     the audit trail, room snapshots and short ids go to a Journal (SQLite).
//   Redis engine (core/engine/redis): any number of nodes; Redis is the commit point (one Lua
//     compare-and-set per change), carries every change to the nodes concerned, and holds the
//     audit stream that is copied to PostgreSQL.

// One frame for this node's connections, serialized once and shared by every recipient.
struct OutFrame {
  std::vector<room::ConnId> to;  // connection ids; the node ignores ids it does not hold
  std::shared_ptr<const std::string> text;
  bool sequenced = false;  // a room broadcast (carries `seq`)
};

// What one room change means for this node's connections.
struct Delivery {
  const std::string& room_id;
  std::vector<OutFrame> frames;     // in room order
  std::vector<room::Close> closes;  // after every frame of this delivery
  // Connections that this room no longer seats (LEAVE, takeover, a resynchronisation): the node
  // unbinds them if they are still bound to `room_id`.
  std::vector<room::ConnId> unbound;
};

// The node, as the engine sees it.
class EngineHost {
 public:
  virtual ~EngineHost() = default;

  // Ordering: for one room, deliveries arrive in the room's commit order (`seq` order) and
  // never overlap; deliveries of different rooms may arrive concurrently on different threads.
  // Must not block and must not call back into the engine.
  virtual void deliver(const Delivery& delivery) = 0;
};

// The engine's own handle on a room. The node keeps the one a seating JOIN returned while the
// connection stays in that room, and passes it back with the connection's next inputs, so that
// the engine need not find the room by its id for every frame. Opaque to the node, meaningful
// only to the engine that made it, and possibly stale (the room ended meanwhile): an engine then
// finds the room by id as it does without a handle. An engine may give none.
using RoomHandle = std::shared_ptr<void>;

// The result of one submitted input, for the connection that sent it.
struct Outcome {
  // False: the input was not applied (backend unreachable, contention beyond the retry budget):
  // the node answers ERROR server_busy. Nothing of it was delivered or stored.
  bool applied = false;
  room::JoinOutcome join = room::JoinOutcome::none;
  // A JOIN: the origin connection holds a seat in the room now.
  bool seated = false;
  // A room broadcast of this input reached this node's connections (broadcast latency).
  bool broadcast = false;
  // A seating JOIN: the room's handle, for the connection's next inputs (may be empty).
  RoomHandle room;
};

struct Submission {
  std::string room_id;
  room::Input input;
  // The connection whose frame this is (empty for a disconnect): the engine may use it to
  // bind the connection at commit time.
  room::ConnId origin;
  // The handle the engine gave for `room_id` when it seated `origin` (may be empty).
  RoomHandle room;
};

// One /status row per room, serialized once per snapshot.
struct RoomSummary {
  std::string json;                // {"roomId",…} (docs/protocol.md §10 "/status")
  std::vector<std::string> addrs;  // client addresses of its members (caller mode)
};

// A /status snapshot: built by the engine off the request path, read by every poll.
struct StatusRooms {
  std::vector<RoomSummary> rooms;  // every room of the cluster (embedded: of the process)
  std::unordered_map<std::string, std::vector<std::size_t>> by_addr;  // address -> indexes in rooms
  std::size_t local_rooms = 0;  // rooms with members on this node

  // Appends a room's row, indexing it by its members' addresses. Engines build a snapshot a
  // few rooms at a time (a loop turn is not held for all of them) and publish it when done.
  void add(RoomSummary row);
};

struct ShortIdResult {
  std::string short_id;  // empty when refused or unavailable
  bool rate_limited = false;
};

// Thread-safety: every function may be called from any thread. Callbacks run exactly once, on
// the engine's thread or inline before the call returns (the memory engine completes every
// call inline); they must be cheap.
class Engine {
 public:
  virtual ~Engine() = default;

  // The node's name in connection ids ("<instance>/<n>"), member records and frames' nodeId.
  virtual const std::string& instance() const = 0;

  // Starts background work (timers, links). Deliveries go to `host` from then on.
  virtual void start(EngineHost& host) = 0;

  // Applies `submission.input` to its room in the room's one order and delivers the effects to
  // the node (EngineHost::deliver) — on every node concerned. `done` runs after this node's
  // share of the effects was delivered, so everything one input causes reaches its sender
  // before anything the sender's next input causes. A JOIN of a room that does not exist
  // creates it; any other input for a room that does not exist does nothing (applied).
  virtual void submit(Submission submission, std::function<void(Outcome)> done) = 0;

  // False while rooms cannot be reached at all (the Redis link is down): every frame but PING
  // gets ERROR server_busy.
  virtual bool can_serve() const = 0;
  // False while state changes are refused: the audit backlog is at audit.queue_capacity (or
  // rooms cannot be reached). Read-only frames are still served.
  virtual bool can_commit() const = 0;
  // Listening backends answer (for /ready; the node adds its own draining state).
  virtual bool healthy() const = 0;

  // Members of the room on every node (0 for an unknown room); nullopt when it cannot be told.
  virtual void presence(const std::string& room_id, std::function<void(std::optional<std::size_t>)> done) = 0;
  // The room's short id, minted when it has none (room id already validated), limited per
  // client address (limits.short_ids_per_minute).
  virtual void short_id(const std::string& room_id, const std::string& client_addr,
                        std::function<void(ShortIdResult)> done) = 0;
  virtual void room_for_short_id(const std::string& short_id,
                                 std::function<void(std::optional<std::string>)> done) = 0;
  // The rooms of the latest /status snapshot (at most 1 s old embedded, 2 s in a cluster).
  virtual std::shared_ptr<const StatusRooms> status_rooms() const = 0;

  // Draining: no new work is expected except disconnects.
  virtual void begin_drain() = 0;
  // True when nothing submitted is still waiting to be applied or committed.
  virtual bool idle() const = 0;
  // After the connections are gone: makes durable what must outlive the process (journal
  // flush; cluster: leave, last snapshots) and stops background work, within `budget`.
  // Returns false when something could not be finished in time.
  virtual bool stop(std::chrono::milliseconds budget) = 0;
};

// The room state machine's settings, from the configuration (both engines).
room::Settings room_settings(const config::Config& config);

}  // namespace tandem::engine
