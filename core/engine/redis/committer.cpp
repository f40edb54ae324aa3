#include "core/engine/redis/committer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>

#include "core/engine/records.hpp"
#include "core/engine/redis/audit_copier.hpp"
#include "core/engine/redis/change.hpp"
#include "core/engine/redis/link.hpp"
#include "core/engine/redis/restorer.hpp"
#include "core/engine/redis/router.hpp"
#include "core/engine/redis/scripts.hpp"
#include "core/util/address_group.hpp"

namespace tandem::engine::redis {

namespace {

// A change that keeps losing the compare-and-set to other nodes is retried (with a random pause
// of up to kCasJitter after the first kCasEagerAttempts). A client's frame or JOIN is retried for
// at most kCasBudget, then reported not applied (ERROR server_busy). A departure (LEAVE,
// disconnect) and a change nobody waits for (a deadline, a clean-up) are retried kCasAttempts
// times however long they take: when a whole cluster's clients leave at once, each round waits
// behind thousands of other commits in Redis, and a wall-clock budget gave up on most of the
// departures that a few more rounds would have committed, leaving the members seated until their
// sockets closed (docs/performance.md, 2026-12-05 night). Every lost round means another change
// of the room was committed, so this bound is on the room's progress, not on Redis's speed.
constexpr int kCasEagerAttempts = 3;
constexpr auto kCasJitter = std::chrono::microseconds(2000);
constexpr auto kCasBudget = std::chrono::seconds(2);
constexpr int kCasAttempts = 32;
// The controller's POSITION_UPDATE (twice a second) is committed only when it starts or stops
// playback, moves a paused room's position, or moves a playing room's position more than this
// away from the committed position extrapolated to now: while a video plays normally the
// extrapolation already says it.
constexpr double kPositionTolerance = 0.25;  // seconds
// How long a connection waits for the frames of its own change to come back from Redis before
// its next frame is handled anyway (only when the node's subscription is broken).
constexpr auto kDeliveryWait = 5s;
constexpr room::Millis kPinWindow = 60'000;
// A room's snapshot goes to PostgreSQL with every commit that carries audit records and when
// the room ends; other commits (heartbeats, positions) at most this often per room, as in the
// embedded mode. What it leaves out is what a restore after Redis lost its data extrapolates
// (a playing position) or does without (heartbeat corrections, presence); the snapshots were
// most of PostgreSQL's work under load (docs/performance.md, 2026-12-05).
constexpr room::Millis kSnapshotInterval = 30'000;
// Client address groups the room-creation limiter tracks at most (see util::KeyedLimiter).
constexpr std::size_t kTrackedAddresses = 100'000;
constexpr std::uint16_t kCloseServiceRestart = 1012;
// Rounds of reconcile_room for one room (each commits the removal of every ghost member it
// found, or stops; a round whose commit lost to a newer state looks again).
constexpr int kReconcileRounds = 64;

}  // namespace

RoomCommitter::RoomCommitter(Context& ctx, RedisLink& link, EnvelopeRouter& router, AuditCopier& copier,
                             RoomRestorer& restorer)
    : ctx_(ctx),
      link_(link),
      router_(router),
      copier_(copier),
      restorer_(restorer),
      creations_(static_cast<double>(ctx.config.limits.rooms_per_ip_minute),
                 static_cast<double>(ctx.config.limits.rooms_per_ip_minute), kTrackedAddresses) {}

// ---- the room cache --------------------------------------------------------------------------

std::shared_ptr<RoomCommitter::RoomEntry> RoomCommitter::entry(const std::string& room_id) {
  auto& slot = rooms_[room_id];
  if (!slot) {
    slot = std::make_shared<RoomEntry>();
    slot->id = room_id;
    slot->state.room_id = room_id;
  }
  return slot;
}

void RoomCommitter::release(const std::shared_ptr<RoomEntry>& r) {
  if (r->locked || r->users > 0 || !r->waiters.empty() || !r->local_bound.empty()) return;
  auto it = rooms_.find(r->id);
  if (it != rooms_.end() && it->second == r) rooms_.erase(it);
}

awaitable<void> RoomCommitter::lock(std::shared_ptr<RoomEntry> r) {
  if (!r->locked) {
    r->locked = true;
    co_return;
  }
  auto waiter = std::make_shared<asio::steady_timer>(ctx_.io, SteadyTime::max());
  r->lock_waiters.push_back(waiter);
  co_await waiter->async_wait(asio::as_tuple(use_awaitable));  // unlock() cancels: the lock is ours
}

void RoomCommitter::unlock(RoomEntry& r) {
  take_newer(r);
  if (r.lock_waiters.empty()) {
    r.locked = false;
    return;
  }
  auto next = std::move(r.lock_waiters.front());
  r.lock_waiters.pop_front();
  next->cancel();
}

void RoomCommitter::note_newer(RoomEntry& r, std::uint64_t version, std::optional<room::RoomState> state,
                               std::optional<Advance> advance) {
  if (advance && r.newer && r.newer->version + 1 == version && (r.newer->state || r.newer->advance)) {
    // Consecutive with what is kept: merge.
    if (r.newer->state) {
      r.newer->state->seq = advance->seq;
      r.newer->state->last_activity = advance->last_activity;
    } else {
      r.newer->advance = advance;
    }
    r.newer->version = version;
    return;
  }
  if (r.newer && r.newer->version >= version) return;
  r.newer = Newer{version, std::move(state), advance, version - 1};
}

void RoomCommitter::take_newer(RoomEntry& r) {
  if (!r.newer) return;
  Newer n = std::move(*r.newer);
  r.newer.reset();
  if (!n.advance) {
    if (!r.loaded || n.version > r.version) adopt(r, n.version, std::move(n.state));
    return;
  }
  if (r.loaded && r.version == n.base && r.state.exists) {
    r.state.seq = n.advance->seq;
    r.state.last_activity = n.advance->last_activity;
    r.version = n.version;
  } else if (!r.loaded || n.version > r.version) {
    r.loaded = false;  // the copy is not the one advanced: read the room again when needed
  }
}

void RoomCommitter::adopt(RoomEntry& r, std::uint64_t version, std::optional<room::RoomState> state) {
  r.version = version;
  r.loaded = true;
  if (state) {
    r.state = std::move(*state);
  } else {
    r.state = room::RoomState{};
    r.state.room_id = r.id;
  }
  remember_position(r);
}

void RoomCommitter::remember_position(RoomEntry& r) {
  r.committed_time = r.state.current_time;
  r.committed_at = r.state.position_at;
  r.committed_playing = r.state.is_playing;
}

bool RoomCommitter::position_near_committed(const RoomEntry& r, const room::RoomState& s, room::Millis now) {
  if (s.is_playing != r.committed_playing) return false;
  if (!s.is_playing) return s.current_time == r.committed_time;  // paused: only the time matters
  const double committed_now =
      r.committed_time + static_cast<double>(std::max<room::Millis>(0, now - r.committed_at)) / 1000.0;
  return std::abs(room::position_at(s, now) - committed_now) <= kPositionTolerance;
}

awaitable<bool> RoomCommitter::load(RoomEntry& r) {
  const auto reply = co_await link_.callv("HMGET", ctx_.keys.room(r.id), "v", "s", "q", "a");
  if (reply.type != Reply::Type::array || reply.elements.size() != 4) {
    ctx_.metrics.backend_errors.with("redis").inc();
    co_return false;
  }
  std::uint64_t version = 0;
  if (reply.elements[0].type == Reply::Type::string) version = std::stoull(reply.elements[0].text);
  std::optional<room::RoomState> state;
  try {
    state = stored_room(reply.elements[1].text, reply.elements[2].text, reply.elements[3].text);
  } catch (const std::exception& e) {
    spdlog::error("cluster: room {} has an unreadable state in Redis: {}", r.id, e.what());
    co_return false;
  }
  adopt(r, version, std::move(state));
  co_return true;
}

bool RoomCommitter::has_members_here(const std::string& room_id) const {
  auto it = rooms_.find(room_id);
  return it != rooms_.end() && !it->second->local_bound.empty();
}

std::size_t RoomCommitter::local_room_count() const {
  std::size_t n = 0;
  for (const auto& [id, r] : rooms_) n += r->local_bound.empty() ? 0 : 1;
  return n;
}

// ---- changes ---------------------------------------------------------------------------------

awaitable<RoomCommitter::Result> RoomCommitter::try_apply_and_commit(RoomEntry& r, const std::string& room_id,
                                                                     room::Input& input, const room::ConnId& origin) {
  try {
    co_return co_await apply_and_commit(r, input, origin);
  } catch (const std::exception& e) {
    // The entry no longer knows what Redis holds: the next change loads it again.
    spdlog::error("cluster: room {}: {}", room_id, e.what());
    r.loaded = false;
  }
  co_return Result{};
}

awaitable<Outcome> RoomCommitter::room_op(std::string room_id, room::Input input, room::ConnId origin, bool* gone) {
  const room::DisconnectInput* left = departure(input);
  if (left) unbind(left->conn, room_id);  // the connection is gone: it holds no binding from now on
  auto r = entry(room_id);
  ++r->users;
  if (left) r->departing.push_back(left->conn);  // see fold_departures
  co_await lock(r);
  const Result result = co_await try_apply_and_commit(*r, room_id, input, origin);
  if (gone) *gone = r->loaded && !r->state.exists;
  unlock(*r);
  if (result.outcome.applied && result.version != 0 && !origin.empty()) co_await wait_processed(r, result.version);
  if (left) std::erase(r->departing, left->conn);
  --r->users;
  release(r);
  if (!result.outcome.applied && std::holds_alternative<room::DisconnectInput>(input)) {
    ctx_.spawn(reconcile_room(room_id), "reconcile");
  }
  co_return result.outcome;
}

std::optional<Outcome> RoomCommitter::apply_uncommitted(const std::string& room_id, const room::Input& input) {
  if (!std::holds_alternative<room::FrameInput>(input)) return std::nullopt;
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) return std::nullopt;
  RoomEntry& r = *it->second;
  // A locked entry has a change in flight (which may reload or replace the state); a pending
  // newer change is applied when that change unlocks. Either way the frame queues behind it.
  if (!r.loaded || r.locked || r.newer || !r.state.exists) return std::nullopt;
  const room::Millis now = std::max(epoch_ms(), r.state.last_activity);
  // Nothing to commit: the applied state stays in the cache as it is.
  const auto commits_nothing = [&](const room::Effects& fx, const Digest& before, const room::RoomState& after) {
    if (sequences_or_audits(fx)) return false;
    if (!fx.changed) return true;
    const Digest moved = digest(after);
    return moved == before || (only_position_moved(before, moved) && position_near_committed(r, after, now));
  };
  // A frame that turns out to need a commit leaves the cache as it was, and room_op applies it
  // again under the lock. Most frames here change only bookkeeping: applied in place and, when
  // they need a commit after all, undone (room::Bookmark); the others are applied to a copy.
  const Digest before = digest(r.state);
  if (const auto mark = room::Bookmark::take(r.state, input, now)) {
    room::Effects fx = room::apply(r.state, input, now, ctx_.settings);
    if (!commits_nothing(fx, before, r.state)) {
      mark->restore(r.state);
      return std::nullopt;
    }
    router_.relay(r.id, fx);
    return Outcome{true, fx.join, false, false};
  }
  room::RoomState state = r.state;
  room::Effects fx = room::apply(state, input, now, ctx_.settings);
  if (!commits_nothing(fx, before, state)) return std::nullopt;
  r.state = std::move(state);
  router_.relay(r.id, fx);
  return Outcome{true, fx.join, false, false};
}

bool RoomCommitter::seen_due(const room::ConnId& conn) const {
  if (!ctx_.settings.strict_identity) return false;
  auto it = bindings_.find(conn);
  return it != bindings_.end() && epoch_ms() - it->second.seen_committed >= ctx_.settings.stale_after / 4;
}

awaitable<void> RoomCommitter::refresh_seen(room::ConnId conn) {
  // Strict identity judges a seat's holder by its last frame (limits.stale_after). Frames that
  // change nothing else are not committed, so the member's last_seen is committed on its own,
  // at most every stale_after / 4.
  if (!seen_due(conn) || !link_.up()) co_return;
  auto it = bindings_.find(conn);
  it->second.seen_committed = epoch_ms();
  std::string room_id = it->second.room;
  room::Input input = room::SeenInput{conn};
  co_await room_op(std::move(room_id), std::move(input), room::ConnId());
}

awaitable<RoomCommitter::Result> RoomCommitter::apply_and_commit(RoomEntry& r, room::Input& input,
                                                                 const room::ConnId& origin) {
  Result result;
  bool pin_checked = false;
  bool creation_checked = false;
  bool restore_checked = false;
  bool restored_here = false;  // r.state is a restored room not committed yet
  std::vector<room::AuditRecord> restored_audit;  // audited removals of a restored room's members
  std::uint64_t restored_seq = 0;
  // What became of the restored room (RoomRestorer::settle); after this, r.state is not it.
  const auto settle_restore = [&](RoomRestorer::Fate fate) {
    if (!restored_here) return;
    restorer_.settle(r.id, restored_seq, restored_audit.size(), fate);
    restored_here = false;
    restored_audit.clear();
  };
  std::optional<PinAttempt> pin_attempt;  // this JOIN's reserved PIN attempt, if it needs one
  const bool quiet_kind = std::holds_alternative<room::FrameInput>(input);
  const auto* frame_input = std::get_if<room::FrameInput>(&input);
  const bool relay_kind = frame_input && std::holds_alternative<proto::Relay>(frame_input->frame.body);
  const bool heartbeat_kind = frame_input && std::holds_alternative<proto::HostHeartbeat>(frame_input->frame.body);
  const bool client_waits = !origin.empty() && !departs(input);
  const auto give_up = std::chrono::steady_clock::now() + kCasBudget;
  const auto may_try = [&](int attempt) {
    return client_waits ? std::chrono::steady_clock::now() < give_up : attempt < kCasAttempts;
  };
  for (int attempt = 0; may_try(attempt); ++attempt) {
    if (attempt >= kCasEagerAttempts) {
      // Several nodes keep committing to this room at once: step back a random moment.
      std::uniform_int_distribution<std::int64_t> pause(0, kCasJitter.count());
      co_await ctx_.sleep_for(std::chrono::microseconds(pause(ctx_.random)));
      if (r.newer && r.newer->version > r.version) {
        take_newer(r);
        settle_restore(RoomRestorer::Fate::superseded);
      }
    }
    if (!r.loaded && !co_await load(r)) co_return result;
    if (std::holds_alternative<room::JoinInput>(input) && !restore_checked && !r.state.exists && r.version == 0) {
      // Redis holds no trace of the room (never created, or lost with Redis's data): PostgreSQL
      // may hold it. Committed at expected version 0, so a room another node creates or restores
      // meanwhile wins the compare-and-set and this one is dropped.
      restore_checked = true;
      if (auto restored = co_await restorer_.restore(r.id, epoch_ms())) {
        if (!r.state.exists && r.version == 0) {
          r.state = std::move(restored->state);
          restored_audit = std::move(restored->audit);
          restored_seq = r.state.seq;
          restored_here = true;
        } else {
          restorer_.settle(r.id, restored->state.seq, restored->audit.size(), RoomRestorer::Fate::superseded);
        }
      }
    }
    if (auto* join = std::get_if<room::JoinInput>(&input);
        join && !pin_checked && r.state.exists && !r.state.archived && r.state.pin) {
      join->addr_blocked = co_await reserve_pin_attempt(join->client_addr, pin_attempt);
      pin_checked = true;
    }
    if (auto* join = std::get_if<room::JoinInput>(&input);
        join && !creation_checked && (!r.state.exists || r.state.archived)) {
      // This JOIN would create the room: the node's room limits, judged once (a retry after a
      // lost compare-and-set does not take a second token). rooms_ holds this room's entry too.
      creation_checked = true;
      if (rooms_.size() > static_cast<std::size_t>(ctx_.config.limits.max_rooms)) {
        join->create_refusal = proto::ErrorCode::server_busy;
      } else if (!creations_.try_take(util::address_group(join->client_addr))) {
        join->create_refusal = proto::ErrorCode::too_many_rooms;
      }
    }
    const bool membership = may_change_members(input);
    std::vector<std::string> nodes_before;
    if (membership) nodes_before = member_nodes(r.state);
    const Digest before = quiet_kind ? digest(r.state) : Digest{};
    const std::size_t members_before = r.state.members.size();
    const room::Millis now = std::max(epoch_ms(), r.state.last_activity);
    room::Effects fx = room::apply(r.state, input, now, ctx_.settings);
    if (const auto* left = departure(input)) fold_departures(r, left->conn, fx, now);
    if (!restored_audit.empty()) fx.audit.insert(fx.audit.begin(), restored_audit.begin(), restored_audit.end());

    const Digest after = quiet_kind ? digest(r.state) : Digest{};
    // Nothing of the playback moved but the position, and that no further from the committed one
    // (extrapolated to now) than kPositionTolerance: other nodes may go on extrapolating it.
    const bool position_kept =
        quiet_kind && only_position_moved(before, after) && position_near_committed(r, r.state, now);
    bool needs_commit = sequences_or_audits(fx);
    if (!needs_commit && fx.changed) needs_commit = !quiet_kind || (!(after == before) && !position_kept);
    if (pin_attempt) pin_attempt->keep = fx.join == room::JoinOutcome::pin_rejected;
    if (!needs_commit) {
      if (restored_here) r.loaded = false;  // a refused JOIN commits no restored room: not cached
      settle_restore(RoomRestorer::Fate::dropped);
      router_.relay(r.id, fx);
      result.outcome = Outcome{true, fx.join, false, false};
      co_return result;
    }

    const bool ended = fx.archived || !r.state.exists;
    // A generic relay's broadcast, or a host heartbeat that kept the position, moved only seq and
    // last activity of the committed room (and the sender's last_seen, which strict identity
    // commits on its own): committed as an advance, without the state. The host cannot have
    // changed: every host change writes a HOST_CHANGED audit record.
    const bool advance = (relay_kind ? after == before : heartbeat_kind && position_kept) && !ended &&
                         fx.audit.empty() && fx.closes.empty() && r.state.members.size() == members_before;
    Commit commit;
    Reply reply;
    if (advance) {
      commit = plan_advance(r.state, fx, r.version, now);
      reply = co_await link_.eval(advance_script(), advance_arguments(ctx_.keys, r.id, commit,
                                                                      ctx_.config.rooms.short_id_ttl.count()));
    } else {
      if (!membership) nodes_before = member_nodes(r.state);
      commit = plan_commit(r.state, nodes_before, fx, r.version, now, ctx_.instance, [this] { return ctx_.next_uid(); });
      reply = co_await link_.eval(commit_script(), commit_arguments(ctx_.keys, r.id, commit,
                                                                    ctx_.config.rooms.short_id_ttl.count(),
                                                                    kTombstoneTtlMs));
    }
    if (is_ok_array(reply) && reply.elements[0].integer == 1) {
      ctx_.metrics.commits.with({input_label(input), advance ? "advance" : "state"}).inc();
      const bool targeted_here = std::find(commit.target_nodes.begin(), commit.target_nodes.end(), ctx_.instance) !=
                                 commit.target_nodes.end();
      result.version = targeted_here ? r.version + 1 : 0;
      result.outcome.applied = true;
      result.outcome.join = fx.join;
      result.outcome.broadcast = targeted_here && std::any_of(fx.frames.begin(), fx.frames.end(), [](const auto& f) {
                                   return f.sequenced && !f.recipients.empty();
                                 });
      result.outcome.seated = !ended && !origin.empty() && seats(r.state, origin);
      settle_restore(RoomRestorer::Fate::committed);
      after_commit(r, ended, commit, origin, now);
      co_return result;
    }
    if (is_ok_array(reply) && reply.elements[0].integer == 0 && reply.elements.size() == 5) {
      ctx_.metrics.cas_retries.inc();
      std::optional<room::RoomState> state =
          stored_room(reply.elements[2].text, reply.elements[3].text, reply.elements[4].text);
      adopt(r, static_cast<std::uint64_t>(reply.elements[1].integer), std::move(state));
      settle_restore(RoomRestorer::Fate::superseded);
      continue;
    }
    settle_restore(RoomRestorer::Fate::dropped);
    ctx_.metrics.backend_errors.with("redis").inc();
    if (reply.type == Reply::Type::error) spdlog::error("cluster: commit of room {} failed: {}", r.id, reply.text);
    r.loaded = false;
    co_return result;
  }
  settle_restore(RoomRestorer::Fate::dropped);
  ctx_.metrics.cas_abandoned.inc();
  if (client_waits) {
    spdlog::warn("cluster: room {}: gave up after {} ms of conflicting commits", r.id,
                 std::chrono::duration_cast<std::chrono::milliseconds>(kCasBudget).count());
  } else {
    spdlog::warn("cluster: room {}: gave up after {} conflicting commits", r.id, kCasAttempts);
  }
  r.loaded = false;
  co_return result;
}

void RoomCommitter::after_commit(RoomEntry& r, bool ended, const Commit& commit, const room::ConnId& origin,
                                 room::Millis now) {
  r.version += 1;
  // An advance leaves the committed position as it was (the state it moved stays in Redis).
  if (!commit.advance) remember_position(r);
  // The origin connection is bound to this room exactly when the new state seats it.
  if (!origin.empty()) {
    if (!ended && seats(r.state, origin)) {
      auto& binding = bindings_[origin];
      binding.room = r.id;
      binding.version = r.version;
      r.local_bound.insert(origin);
    } else {
      unbind(origin, r.id);
    }
  }
  copier_.remember(commit.audit);
  if ((r.state.created_at != 0 || ended) &&
      (ended || !commit.audit.empty() || now - r.snapshot_at >= kSnapshotInterval)) {
    r.snapshot_at = now;
    const std::string document = commit.advance ? boost::json::serialize(room::to_json(r.state)) : commit.state;
    copier_.put_snapshot(room_snapshot(r.state, ended, document, now));
  }
  if (ended) {
    r.state = room::RoomState{};
    r.state.room_id = r.id;
  }
}

void RoomCommitter::fold_departures(RoomEntry& r, const room::ConnId& first, room::Effects& fx, room::Millis now) {
  for (const auto& conn : r.departing) {
    if (fx.archived || !r.state.exists) return;
    if (conn == first || !seats(r.state, conn)) continue;
    const room::Input input = room::DisconnectInput{conn, false};
    append_effects(fx, room::apply(r.state, input, now, ctx_.settings));
  }
}

void RoomCommitter::unbind(const room::ConnId& conn, const std::string& room_id) {
  if (auto it = bindings_.find(conn); it != bindings_.end() && it->second.room == room_id) bindings_.erase(it);
  if (auto it = rooms_.find(room_id); it != rooms_.end()) it->second->local_bound.erase(conn);
}

awaitable<void> RoomCommitter::wait_processed(std::shared_ptr<RoomEntry> r, std::uint64_t version) {
  if (r->processed && *r->processed >= version) co_return;
  auto timer = std::make_shared<asio::steady_timer>(ctx_.io, kDeliveryWait);
  auto it = r->waiters.emplace(version, timer);
  co_await timer->async_wait(asio::as_tuple(use_awaitable));
  // Woken by delivery (cancel) or timed out: either way no longer waiting. Only this coroutine
  // erases its own entry, so `it` is still valid.
  r->waiters.erase(it);
}

RoomCommitter::PinAttempt::~PinAttempt() {
  if (!keep) link->fire({"ZREM", key, id});
}

awaitable<bool> RoomCommitter::reserve_pin_attempt(const std::string& addr, std::optional<PinAttempt>& attempt) {
  std::string key = ctx_.keys.pin_failures(util::address_group(addr));
  std::string id = ctx_.next_uid();
  std::vector<std::string> args{"1", key, std::to_string(epoch_ms()), std::to_string(kPinWindow),
                                std::to_string(ctx_.config.limits.pin_attempts_per_ip_minute), id};
  const auto reply = co_await link_.eval(pin_attempt_script(), std::move(args));
  if (reply.type != Reply::Type::integer) {
    // Redis could not say: the per-room bound and the per-connection count still hold.
    ctx_.metrics.backend_errors.with("redis").inc();
    co_return false;
  }
  if (reply.integer == 0) co_return true;
  attempt.emplace(link_, std::move(key), std::move(id));
  co_return false;
}

// ---- envelopes -------------------------------------------------------------------------------

void RoomCommitter::on_envelope(Envelope& env) {
  auto found = rooms_.find(env.room_id);
  std::shared_ptr<RoomEntry> r = found == rooms_.end() ? nullptr : found->second;
  const bool has_local = env.state && std::any_of(env.state->members.begin(), env.state->members.end(),
                                                  [&](const room::Member& m) { return m.node_id == ctx_.instance; });
  if (!r) {
    // No work and no members here: just this envelope's frames (e.g. an ERROR to a connection
    // whose JOIN another node's commit answered). An advance changes no membership.
    router_.deliver(env);
    if (!has_local) return;
    r = entry(env.room_id);
    r->processed = env.version;
    r->delivered = env.version;
    adopt(*r, env.version, std::move(env.state));
    return;
  }
  if (r->processed && env.version <= *r->processed) return;  // already handled (or older)
  if (r->delivered && env.version != *r->delivered + 1) {
    // A frame of this room was lost on the way to this node (the subscription broke): our
    // members may have missed broadcasts. They reconnect and get a fresh ROOM_STATE.
    resync_entry(*r, "missed room frames");
  } else {
    router_.deliver(env);
  }
  r->processed = env.version;
  // An advance keeps the membership of the version before.
  const bool members_here = env.advance ? r->delivered.has_value() : has_local;
  r->delivered = members_here ? std::optional(env.version) : std::nullopt;

  // Connections of this node the room no longer seats: unbound; those the envelope does not
  // close itself (a dead-node cleanup that wrongly removed this node) are closed 1012.
  for (auto it = r->local_bound.begin(); it != r->local_bound.end();) {
    auto b = bindings_.find(*it);
    if (b == bindings_.end() || b->second.room != r->id) {  // gone, or bound elsewhere by now
      it = r->local_bound.erase(it);
      continue;
    }
    const bool seated = env.advance || (env.state && seats(*env.state, *it));
    if (seated || env.version <= b->second.version) {
      ++it;
      continue;
    }
    const bool closed_here = std::any_of(env.closes.begin(), env.closes.end(),
                                         [&](const room::Close& close) { return close.conn == *it; });
    const room::ConnId conn = *it;
    bindings_.erase(b);
    it = r->local_bound.erase(it);
    if (!closed_here) {
      ctx_.metrics.resync_closes.inc();
      close_local(conn, kCloseServiceRestart, "service restart", r->id);
    }
  }

  note_newer(*r, env.version, std::move(env.state), env.advance);
  if (!r->locked) take_newer(*r);
  for (auto it = r->waiters.begin(); it != r->waiters.end() && it->first <= env.version; ++it) it->second->cancel();
  release(r);
}

void RoomCommitter::close_local(const room::ConnId& conn, std::uint16_t code, const std::string& reason,
                                const std::string& room_id) {
  if (!ctx_.host) return;
  Delivery delivery{room_id, {}, {room::Close{conn, code, reason}}, {conn}};
  ctx_.host->deliver(delivery);
}

void RoomCommitter::resync_entry(RoomEntry& r, const char* why) {
  if (!r.local_bound.empty()) {
    spdlog::warn("cluster: room {}: {}; closing its {} connections on this node (1012) so they rejoin", r.id, why,
                 r.local_bound.size());
  }
  for (const auto& id : r.local_bound) {
    if (auto b = bindings_.find(id); b != bindings_.end() && b->second.room == r.id) {
      bindings_.erase(b);
      ctx_.metrics.resync_closes.inc();
      close_local(id, kCloseServiceRestart, "service restart", r.id);
    }
  }
  r.local_bound.clear();
  r.delivered.reset();
  if (!r.locked) r.loaded = false;
}

// ---- repair ----------------------------------------------------------------------------------

awaitable<void> RoomCommitter::reconcile_room(std::string room_id) {
  // Members of this node that have no connection here any more (their disconnect could not be
  // committed), and connections of this node that the room no longer seats.
  for (int round = 0; round < kReconcileRounds; ++round) {
    auto r = entry(room_id);
    ++r->users;
    co_await lock(r);
    std::vector<room::ConnId> ghosts;
    const bool ok = r->loaded || co_await load(*r);
    if (ok) {
      for (const auto& m : r->state.members) {
        if (m.node_id != ctx_.instance) continue;
        auto b = bindings_.find(m.conn);
        if (b == bindings_.end() || b->second.room != room_id) ghosts.push_back(m.conn);
      }
      if (ghosts.empty()) {
        for (auto it = r->local_bound.begin(); it != r->local_bound.end();) {
          if (seats(r->state, *it)) {
            ++it;
            continue;
          }
          if (auto b = bindings_.find(*it); b != bindings_.end() && b->second.room == room_id) {
            bindings_.erase(b);
            ctx_.metrics.resync_closes.inc();
            close_local(*it, kCloseServiceRestart, "service restart", room_id);
          }
          it = r->local_bound.erase(it);
        }
      }
    }
    Result result;
    if (!ghosts.empty()) {
      // All of them in one commit: the first is the input, the others are folded in as departures.
      r->departing.insert(r->departing.end(), ghosts.begin(), ghosts.end());
      room::Input input = room::DisconnectInput{ghosts.front(), false};
      result = co_await try_apply_and_commit(*r, room_id, input, room::ConnId());
      for (const auto& conn : ghosts) {
        if (auto it = std::find(r->departing.begin(), r->departing.end(), conn); it != r->departing.end()) {
          r->departing.erase(it);
        }
      }
    }
    unlock(*r);
    --r->users;
    release(r);
    if (ghosts.empty() || !result.outcome.applied) co_return;
  }
}

awaitable<void> RoomCommitter::recheck_all() {
  std::vector<std::string> ids;
  for (const auto& [id, r] : rooms_) ids.push_back(id);
  for (auto& id : ids) co_await reconcile_room(std::move(id));
}

awaitable<void> RoomCommitter::resync_all(bool data_lost) {
  std::vector<std::shared_ptr<RoomEntry>> entries;
  for (const auto& [id, r] : rooms_) entries.push_back(r);
  for (const auto& r : entries) {
    ++r->users;
    co_await lock(r);
    if (data_lost && r->loaded && r->state.exists && !r->local_bound.empty()) {
      const std::string state = boost::json::serialize(room::to_json(r->state));
      std::vector<std::string> args = seed_arguments(ctx_.keys, r->id, r->version, state, member_nodes(r->state),
                                                     room::next_deadline(r->state), status_summary(r->state));
      co_await link_.eval(seed_script(), std::move(args));
    }
    const std::optional<std::uint64_t> delivered = r->delivered;
    if (co_await load(*r)) {
      if (delivered && *delivered != r->version) resync_entry(*r, "changed while Redis was unreachable");
    } else {
      r->loaded = false;
    }
    for (auto& [version, timer] : r->waiters) timer->cancel();
    unlock(*r);
    --r->users;
    release(r);
  }
  // Rooms where this node's members may be left over (a disconnect that could not be committed).
  const auto index = co_await link_.callv("SMEMBERS", ctx_.keys.node_rooms(ctx_.instance));
  std::unordered_set<std::string> rooms;
  for (const auto& e : index.elements) rooms.insert(e.text);
  for (const auto& [id, r] : rooms_) rooms.insert(id);
  for (const auto& id : rooms) co_await reconcile_room(id);
}

}  // namespace tandem::engine::redis
