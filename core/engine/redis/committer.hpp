#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

#include <boost/unordered/unordered_flat_map.hpp>

#include "core/util/keyed_limiter.hpp"
#include "core/engine/redis/commit.hpp"
#include "core/engine/redis/context.hpp"
#include "core/engine/redis/envelope.hpp"

namespace tandem::engine::redis {

class RedisLink;
class EnvelopeRouter;
class AuditCopier;
class RoomRestorer;

// The room committer: applies room::apply to this node's cached copy of a room and commits the
// result to Redis with one compare-and-set script (commit_script), retrying on conflicts.
//
// Guarantees:
// * One change at a time per room on this node (an async lock per cached room); across nodes
//   the compare-and-set on the room's version decides the one order. A change that keeps
//   losing is retried for at most kCasBudget (a client's frame or JOIN: then server_busy) or
//   kCasAttempts times (a departure, a deadline, a clean-up), then not applied.
// * A node's departures from one room that wait for it at the same time are committed together.
// * A change is reported done to its origin only after its envelope came back on this node's
//   channel and was delivered (or kDeliveryWait passed): per-connection order.
// * Frames that change nothing committed (replies, targeted relays) go out through the router
//   at once. A guest's POSITION_UPDATE changes only bookkeeping and is not committed; the
//   controller's is committed only when it moves the position more than kPositionTolerance
//   from the committed one extrapolated to now. A HOST_HEARTBEAT within that tolerance, like a
//   generic relay, is committed as an advance (seq and last activity), not as a new state.
// * A JOIN that would create a room Redis holds no trace of (no state, no tombstone) first asks
//   the RoomRestorer: a room Redis lost comes back from PostgreSQL instead of being created anew.
// * Connections of this node are bound to the room whose committed state seats them; an
//   envelope that shows them unseated (another node's cleanup, a gap) unbinds and closes them
//   1012 so that they rejoin.
class RoomCommitter {
 public:
  RoomCommitter(Context& ctx, RedisLink& link, EnvelopeRouter& router, AuditCopier& copier, RoomRestorer& restorer);

  // Applies and commits one input (see Engine::submit). `gone`, when given, is set to whether
  // the room is known not to exist afterwards.
  awaitable<Outcome> room_op(std::string room_id, room::Input input, room::ConnId origin, bool* gone = nullptr);
  // A frame (room::FrameInput) that commits nothing, applied and relayed at once when its room is
  // cached and no change holds it: most frames are such (a guest's POSITION_UPDATE, the
  // controller's within kPositionTolerance, replies, targeted relays), and this spares them
  // room_op's coroutines and lock. nullopt (the room left as it was): the frame needs room_op.
  std::optional<Outcome> apply_uncommitted(const std::string& room_id, const room::Input& input);
  // Strict identity: a member's last_seen, committed at most every stale_after / 4 (seen_due).
  awaitable<void> refresh_seen(room::ConnId conn);
  bool seen_due(const room::ConnId& conn) const;

  // A committed envelope from this node's channel.
  void on_envelope(Envelope& env);

  // Members of this node in `room_id` without a live connection here (a disconnect that could
  // not be committed), and connections the room no longer seats, are removed / closed.
  awaitable<void> reconcile_room(std::string room_id);
  awaitable<void> recheck_all();
  // After a reconnect: reload every cached room; rooms that moved while this node was away
  // have their local members closed 1012. With `data_lost`, write back the rooms Redis lost.
  awaitable<void> resync_all(bool data_lost);

  // The rooms with members of this node, and the connections of this node bound to a room.
  std::size_t local_room_count() const;
  bool has_members_here(const std::string& room_id) const;

 private:
  // A committed change this node learnt of: the state at `version` (nullopt: ended) or, with
  // `advance`, the state at `base` advanced (consecutive advances merge: see Advance).
  struct Newer {
    std::uint64_t version = 0;
    std::optional<room::RoomState> state;
    std::optional<Advance> advance;
    std::uint64_t base = 0;
  };
  struct RoomEntry {
    std::string id;
    room::RoomState state;
    std::uint64_t version = 0;  // the committed version `state` is (when loaded)
    bool loaded = false;
    // The playback position as last committed (or adopted), for kPositionTolerance.
    double committed_time = 0;
    room::Millis committed_at = 0;
    bool committed_playing = false;
    bool locked = false;
    std::deque<std::shared_ptr<asio::steady_timer>> lock_waiters;
    // A newer committed change that arrived while the entry was locked (see note_newer).
    std::optional<Newer> newer;
    std::optional<std::uint64_t> processed;  // last envelope version handled
    std::optional<std::uint64_t> delivered;  // same, while this node has members (gap detection)
    std::multimap<std::uint64_t, std::shared_ptr<asio::steady_timer>> waiters;
    std::unordered_set<room::ConnId> local_bound;
    int users = 0;  // operations in progress on the entry
    // Connections of this node leaving the room whose room_op has not finished (fold_departures).
    std::vector<room::ConnId> departing;
    room::Millis snapshot_at = 0;  // when this node last queued a snapshot of the room
  };
  // A connection of this node bound to a room.
  struct Binding {
    std::string room;
    std::uint64_t version = 0;        // the room version that bound it
    room::Millis seen_committed = 0;  // strict identity: last SeenInput committed
  };
  struct Result {
    Outcome outcome;
    std::uint64_t version = 0;  // the committed version this node must see delivered, 0: none
  };

  std::shared_ptr<RoomEntry> entry(const std::string& room_id);
  void release(const std::shared_ptr<RoomEntry>& r);
  awaitable<void> lock(std::shared_ptr<RoomEntry> r);
  void unlock(RoomEntry& r);
  awaitable<bool> load(RoomEntry& r);
  void adopt(RoomEntry& r, std::uint64_t version, std::optional<room::RoomState> state);
  // Keeps a committed change in r.newer (merged with what is there); take_newer applies it to
  // the cached copy, or marks the copy for reloading when it cannot.
  static void note_newer(RoomEntry& r, std::uint64_t version, std::optional<room::RoomState> state,
                         std::optional<Advance> advance);
  void take_newer(RoomEntry& r);
  void remember_position(RoomEntry& r);
  // `s`'s position is within kPositionTolerance of `r`'s committed one extrapolated to `now`
  // (paused: equal to it), with the same play state.
  static bool position_near_committed(const RoomEntry& r, const room::RoomState& s, room::Millis now);
  awaitable<Result> apply_and_commit(RoomEntry& r, room::Input& input, const room::ConnId& origin);
  // apply_and_commit; an error is logged and unloads the entry, and the result is "not applied".
  awaitable<Result> try_apply_and_commit(RoomEntry& r, const std::string& room_id, room::Input& input,
                                         const room::ConnId& origin);
  void after_commit(RoomEntry& r, bool ended, const Commit& commit, const room::ConnId& origin, room::Millis now);
  // The departure of `first` was applied to r.state into `fx`: the other connections of this node
  // waiting to leave the room (r.departing) are applied too, so that one commit carries them all —
  // a node's departures from a room cost one compare-and-set round, not one each (a node
  // draining, a party closing its tabs). Each one's own room_op then finds its seat gone and
  // commits nothing.
  void fold_departures(RoomEntry& r, const room::ConnId& first, room::Effects& fx, room::Millis now);
  awaitable<void> wait_processed(std::shared_ptr<RoomEntry> r, std::uint64_t version);
  // A reserved PIN attempt of a client address group (pin_attempt_script), removed from Redis
  // when it goes out of scope unless `keep` (the PIN was refused).
  struct PinAttempt {
    PinAttempt(RedisLink& redis, std::string set_key, std::string attempt_id)
        : link(&redis), key(std::move(set_key)), id(std::move(attempt_id)) {}
    PinAttempt(const PinAttempt&) = delete;
    PinAttempt& operator=(const PinAttempt&) = delete;
    ~PinAttempt();
    RedisLink* link;
    std::string key;
    std::string id;
    bool keep = false;
  };
  // Reserves an attempt for `addr`'s group; `blocked` when the group is at its limit.
  awaitable<bool> reserve_pin_attempt(const std::string& addr, std::optional<PinAttempt>& attempt);
  void unbind(const room::ConnId& conn, const std::string& room_id);
  void resync_entry(RoomEntry& r, const char* why);
  void close_local(const room::ConnId& conn, std::uint16_t code, const std::string& reason, const std::string& room_id);

  Context& ctx_;
  RedisLink& link_;
  EnvelopeRouter& router_;
  AuditCopier& copier_;
  RoomRestorer& restorer_;
  // Open addressing: looked up for nearly every frame, and a node-based map's chain walk missed
  // the cache (docs/performance.md, 2026-12-04 night).
  boost::unordered_flat_map<std::string, std::shared_ptr<RoomEntry>> rooms_;
  boost::unordered_flat_map<room::ConnId, Binding> bindings_;
  util::KeyedLimiter creations_;  // rooms created per client address group (limits.rooms_per_ip_minute)
};

}  // namespace tandem::engine::redis
