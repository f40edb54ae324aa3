#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/engine/engine.hpp"
#include "core/engine/journal.hpp"
#include "core/engine/memory/short_ids.hpp"
#include "core/util/keyed_limiter.hpp"

namespace tandem::metrics {
class Registry;
}

namespace tandem::engine::memory {

struct MemoryEngineOptions {
  std::string node_id;
  room::Settings settings;
  room::Millis short_id_ttl = 4 * 3'600'000;
  std::size_t short_ids_per_minute = 30;
  std::size_t pin_attempts_per_ip_minute = 20;
  std::size_t max_rooms = 50000;          // rooms held; one more: its JOIN gets server_busy
  std::size_t rooms_per_ip_minute = 20;   // rooms one address group creates a minute; then too_many_rooms
  // The longest one slice of a /status rebuild holds the timer's loop; the rebuild goes on at
  // the loop's next turn. Zero: a slice renders one group of rooms (kStatusRoomsPerCheck).
  std::chrono::microseconds status_slice = std::chrono::milliseconds(1);
};

// The embedded engine: every room of this process in memory, the room state machine applied
// under one mutex per room, everything durable written through a Journal.
//
// Ordering: a room's effects are applied and handed to EngineHost::deliver while that room's
// mutex is held, so every member sees one order per room (invariant 1). submit() completes
// inline: `done` runs before submit() returns, on the calling thread.
//
// Threads: submit() and the queries run on the caller's thread (any I/O thread); a 100 ms timer
// on `io` resolves deadlines and rebuilds the /status snapshot once a second, a slice of at most
// `status_slice` per loop turn, so that the loop's connections are served in between.
class MemoryEngine final : public Engine {
 public:
  MemoryEngine(boost::asio::io_context& io, MemoryEngineOptions options, Journal& journal,
               metrics::Registry& registry);
  ~MemoryEngine() override;

  const std::string& instance() const override { return options_.node_id; }
  // Restores rooms the previous run left unarchived (their members are gone: removed as a lost
  // node's would be), then starts the timer.
  void start(EngineHost& host) override;
  void submit(Submission submission, std::function<void(Outcome)> done) override;

  bool can_serve() const override { return true; }
  bool can_commit() const override { return journal_.backlog() < journal_.capacity(); }
  bool healthy() const override { return journal_.healthy(); }

  void presence(const std::string& room_id, std::function<void(std::optional<std::size_t>)> done) override;
  void short_id(const std::string& room_id, const std::string& client_addr,
                std::function<void(ShortIdResult)> done) override;
  void room_for_short_id(const std::string& short_id, std::function<void(std::optional<std::string>)> done) override;
  std::shared_ptr<const StatusRooms> status_rooms() const override;

  void begin_drain() override {}
  bool idle() const override { return true; }
  bool stop(std::chrono::milliseconds budget) override;

  std::size_t room_count() const;
  // A /status rebuild has begun and is not published yet (call on the timer's loop).
  bool status_rebuilding() const { return status_build_.has_value(); }

 private:
  struct RoomSlot {
    std::mutex mutex;
    room::RoomState state;
    bool removed = false;  // archived and taken out of the map
    std::uint64_t persisted_seq = 0;
    room::Millis persisted_activity = 0;  // the state's last_activity when it was persisted
    room::Millis persisted_at = 0;
    // room::next_deadline of `state` after its last change (kNoDeadline: none), readable without
    // the room's mutex: the timer visits only the rooms that are due.
    std::atomic<room::Millis> due{kNoDeadline};
  };
  static constexpr room::Millis kNoDeadline = std::numeric_limits<room::Millis>::max();
  // After a change of `slot.state` (its mutex held).
  static void note_deadline(RoomSlot& slot);

  // `handle`: the room's slot when the caller holds it (may be stale or empty).
  Outcome apply(const std::string& room_id, room::Input& input, bool create, std::shared_ptr<RoomSlot> handle);
  // For a JOIN that would create a room (rooms_mutex_ held): the ERROR the room limits give it.
  std::optional<proto::ErrorCode> creation_refusal(const room::Input& input);
  void deliver(RoomSlot& slot, room::Effects& effects);
  void persist(RoomSlot& slot, room::Millis now);
  void record(std::vector<room::AuditRecord> audit);
  std::vector<std::shared_ptr<RoomSlot>> all_rooms() const;

  void schedule_tick();
  void tick();

  // A /status rebuild in progress (only the timer's handler touches it).
  struct StatusBuild {
    std::vector<std::shared_ptr<RoomSlot>> slots;
    std::size_t next = 0;
    std::shared_ptr<StatusRooms> rooms = std::make_shared<StatusRooms>();
  };
  static constexpr std::size_t kStatusRoomsPerCheck = 32;  // rooms rendered between clock reads
  void begin_status_build();
  // Renders rooms of the build until `until` (at least one group of kStatusRoomsPerCheck);
  // publishes the snapshot when every room is in. True when published.
  bool continue_status_build(std::chrono::steady_clock::time_point until);

  boost::asio::io_context& io_;
  const MemoryEngineOptions options_;
  Journal& journal_;
  EngineHost* host_ = nullptr;

  mutable std::mutex rooms_mutex_;
  std::unordered_map<std::string, std::shared_ptr<RoomSlot>> rooms_;
  util::KeyedLimiter creations_;  // rooms created per client address group (rooms_per_ip_minute)

  // Wrong PINs per client address group (pin_attempts_per_ip_minute). A JOIN that must prove a
  // PIN takes a token before the room checks it (under the room's lock) and gives it back unless
  // the PIN was refused: concurrent JOINs from one address cannot together pass the limit.
  util::KeyedLimiter pin_attempts_;

  ShortIds short_ids_;

  mutable std::mutex status_mutex_;
  std::shared_ptr<const StatusRooms> status_ = std::make_shared<StatusRooms>();

  // Fires every kTickInterval; at once while a /status rebuild is in progress.
  boost::asio::steady_timer tick_timer_;
  std::chrono::steady_clock::time_point next_tick_{};
  std::chrono::steady_clock::time_point last_status_build_{};
  std::optional<StatusBuild> status_build_;
  std::atomic<bool> stopped_{false};
};

}  // namespace tandem::engine::memory
