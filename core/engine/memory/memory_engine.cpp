#include "core/engine/memory/memory_engine.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/engine/records.hpp"
#include "core/metrics/metrics.hpp"
#include "core/util/address_group.hpp"
#include "core/util/duration.hpp"

namespace tandem::engine::memory {

namespace {

constexpr auto kTickInterval = std::chrono::milliseconds(100);
constexpr auto kStatusInterval = std::chrono::milliseconds(1000);
// A room's snapshot is written with every change that is audited (so a restored room never
// re-uses an audited seq) and when it ends; other changes (heartbeats, positions, presence)
// arrive several times a second per room and are written at most this often. Shutdown writes
// every room. What such a snapshot adds matters little to a restore: the members it lists are
// removed (their connections died with the process), a playing position is extrapolated from
// the last one written, and what is audited was written at once.
constexpr room::Millis kSnapshotInterval = 30'000;
// Client address groups the room-creation limiter tracks at most (see util::KeyedLimiter).
constexpr std::size_t kTrackedAddresses = 100'000;

using util::epoch_ms;

}  // namespace

MemoryEngine::MemoryEngine(boost::asio::io_context& io, MemoryEngineOptions options, Journal& journal,
                           metrics::Registry& registry)
    : io_(io),
      options_(std::move(options)),
      journal_(journal),
      creations_(static_cast<double>(options_.rooms_per_ip_minute), static_cast<double>(options_.rooms_per_ip_minute),
                 kTrackedAddresses),
      pin_attempts_(static_cast<double>(options_.pin_attempts_per_ip_minute),
                    static_cast<double>(options_.pin_attempts_per_ip_minute), kTrackedAddresses),
      short_ids_(options_.short_id_ttl, options_.short_ids_per_minute),
      tick_timer_(io) {
  registry.gauge_fn("tandem_rooms", "Rooms held by this node", [this] { return static_cast<double>(room_count()); });
  registry.gauge_fn("tandem_audit_backlog", "Audit events not yet written to the database",
                    [this] { return static_cast<double>(journal_.backlog()); });
  registry.gauge_fn("tandem_short_ids", "Live short ids", [this] { return static_cast<double>(short_ids_.size()); });
}

MemoryEngine::~MemoryEngine() = default;

std::size_t MemoryEngine::room_count() const {
  std::lock_guard lock(rooms_mutex_);
  return rooms_.size();
}

std::vector<std::shared_ptr<MemoryEngine::RoomSlot>> MemoryEngine::all_rooms() const {
  std::lock_guard lock(rooms_mutex_);
  std::vector<std::shared_ptr<RoomSlot>> slots;
  slots.reserve(rooms_.size());
  for (const auto& [id, slot] : rooms_) slots.push_back(slot);
  return slots;
}

void MemoryEngine::start(EngineHost& host) {
  host_ = &host;
  const room::Millis now = epoch_ms();
  std::size_t restored = 0;
  for (auto& snapshot : journal_.load_unarchived_rooms()) {
    try {
      auto slot = std::make_shared<RoomSlot>();
      slot->state = room::from_json(boost::json::parse(snapshot.document));
      // Connections of the previous process are gone.
      record(room::remove_all_members(slot->state, now, options_.settings));
      if (slot->state.archived || !slot->state.exists) continue;
      persist(*slot, now);
      note_deadline(*slot);
      std::lock_guard lock(rooms_mutex_);
      rooms_[slot->state.room_id] = std::move(slot);
      ++restored;
    } catch (const std::exception& e) {
      spdlog::warn("room {} not restored: {}", snapshot.room_id, e.what());
    }
  }
  short_ids_.load(journal_.load_short_ids(now));
  if (restored > 0) spdlog::info("restored {} rooms from the previous run", restored);
  begin_status_build();
  continue_status_build(std::chrono::steady_clock::time_point::max());  // whole: no connection waits yet
  last_status_build_ = std::chrono::steady_clock::now();
  next_tick_ = last_status_build_ + kTickInterval;
  schedule_tick();
}

void MemoryEngine::submit(Submission submission, std::function<void(Outcome)> done) {
  const bool create = std::holds_alternative<room::JoinInput>(submission.input);
  // Handles are RoomSlots: this engine is the only one that makes the handles it is given back.
  Outcome outcome = apply(submission.room_id, submission.input, create,
                          std::static_pointer_cast<RoomSlot>(std::move(submission.room)));
  if (done) done(std::move(outcome));
}

Outcome MemoryEngine::apply(const std::string& room_id, room::Input& input, bool create,
                            std::shared_ptr<RoomSlot> handle) {
  for (;;) {
    // A live handle of this room skips the table and its lock (taken by both event loops for
    // every frame otherwise); a stale one (the room ended, its slot removed) is dropped.
    std::shared_ptr<RoomSlot> slot = std::move(handle);
    if (!slot) {
      std::lock_guard lock(rooms_mutex_);
      auto it = rooms_.find(room_id);
      if (it != rooms_.end()) {
        slot = it->second;
      } else if (create) {
        slot = std::make_shared<RoomSlot>();
        slot->state.room_id = room_id;
        if (auto refusal = creation_refusal(input)) {
          // The room answers the refusal and stays absent: applied to a slot nobody else sees.
          room::Input refused = input;
          std::get<room::JoinInput>(refused).create_refusal = refusal;
          room::Effects effects = room::apply(slot->state, refused, epoch_ms(), options_.settings);
          deliver(*slot, effects);
          return Outcome{true, effects.join, false, false};
        }
        rooms_.emplace(room_id, slot);
      } else {
        return Outcome{true};
      }
    }
    std::lock_guard room_lock(slot->mutex);
    // Archived between lookup and lock (or a stale handle): look again, by id.
    if (slot->removed || slot->state.room_id != room_id) continue;
    const room::Millis now = std::max(epoch_ms(), slot->state.last_activity);
    std::string pin_group;  // the address group that took a PIN attempt token
    if (auto* join = std::get_if<room::JoinInput>(&input);
        join && slot->state.exists && !slot->state.archived && slot->state.pin) {
      const std::string group = util::address_group(join->client_addr);
      join->addr_blocked = !pin_attempts_.try_take(group);
      if (!join->addr_blocked) pin_group = group;
    }
    auto effects = room::apply(slot->state, input, now, options_.settings);
    note_deadline(*slot);
    if (!pin_group.empty() && effects.join != room::JoinOutcome::pin_rejected) pin_attempts_.give_back(pin_group);
    Outcome outcome{true, effects.join, effects.join == room::JoinOutcome::joined, false};
    if (outcome.seated) outcome.room = slot;
    for (const auto& f : effects.frames) outcome.broadcast = outcome.broadcast || (f.sequenced && !f.recipients.empty());
    const bool audited = !effects.audit.empty();
    deliver(*slot, effects);
    if (effects.archived || audited ||
        (effects.changed && (slot->state.seq != slot->persisted_seq || slot->state.last_activity != slot->persisted_activity) &&
         now - slot->persisted_at >= kSnapshotInterval)) {
      persist(*slot, now);
    }
    if (effects.archived || !slot->state.exists) {
      slot->removed = true;
      std::lock_guard lock(rooms_mutex_);
      if (auto it = rooms_.find(room_id); it != rooms_.end() && it->second == slot) rooms_.erase(it);
    }
    return outcome;
  }
}

std::optional<proto::ErrorCode> MemoryEngine::creation_refusal(const room::Input& input) {
  const auto* join = std::get_if<room::JoinInput>(&input);
  if (join == nullptr) return std::nullopt;
  if (rooms_.size() >= options_.max_rooms) return proto::ErrorCode::server_busy;
  if (!creations_.try_take(util::address_group(join->client_addr))) return proto::ErrorCode::too_many_rooms;
  return std::nullopt;
}

void MemoryEngine::deliver(RoomSlot& slot, room::Effects& effects) {
  Delivery delivery{slot.state.room_id, {}, std::move(effects.closes), {}};
  delivery.frames.reserve(effects.frames.size());
  for (auto& out : effects.frames) {
    if (out.recipients.empty()) continue;
    delivery.frames.push_back(OutFrame{std::move(out.recipients),
                                       std::make_shared<const std::string>(boost::json::serialize(out.frame)),
                                       out.sequenced});
  }
  if (effects.unbound_conn) delivery.unbound.push_back(*effects.unbound_conn);
  if (effects.replaced_conn) delivery.unbound.push_back(*effects.replaced_conn);
  if (host_ && (!delivery.frames.empty() || !delivery.closes.empty() || !delivery.unbound.empty())) {
    host_->deliver(delivery);
  }
  record(std::move(effects.audit));
}

void MemoryEngine::record(std::vector<room::AuditRecord> audit) {
  if (audit.empty()) return;
  journal_.append(audit_events(audit, options_.node_id, {}));
}

void MemoryEngine::persist(RoomSlot& slot, room::Millis now) {
  if (!slot.state.exists) return;
  slot.persisted_seq = slot.state.seq;
  slot.persisted_activity = slot.state.last_activity;
  slot.persisted_at = now;
  journal_.put_room(room_snapshot(slot.state, slot.state.archived, boost::json::serialize(room::to_json(slot.state)), now));
}

void MemoryEngine::presence(const std::string& room_id, std::function<void(std::optional<std::size_t>)> done) {
  std::shared_ptr<RoomSlot> slot;
  {
    std::lock_guard lock(rooms_mutex_);
    if (auto it = rooms_.find(room_id); it != rooms_.end()) slot = it->second;
  }
  std::size_t count = 0;
  if (slot) {
    std::lock_guard lock(slot->mutex);
    count = slot->removed ? 0 : slot->state.members.size();
  }
  done(count);
}

void MemoryEngine::short_id(const std::string& room_id, const std::string& client_addr,
                            std::function<void(ShortIdResult)> done) {
  auto result = short_ids_.get_or_mint(room_id, client_addr, epoch_ms());
  if (result.minted) journal_.put_short_id(*result.minted);
  done(ShortIdResult{result.short_id, result.rate_limited});
}

void MemoryEngine::room_for_short_id(const std::string& short_id,
                                     std::function<void(std::optional<std::string>)> done) {
  done(short_ids_.room_for(short_id, epoch_ms()));
}

std::shared_ptr<const StatusRooms> MemoryEngine::status_rooms() const {
  std::lock_guard lock(status_mutex_);
  return status_;
}

bool MemoryEngine::stop(std::chrono::milliseconds budget) {
  stopped_.store(true);
  boost::asio::post(tick_timer_.get_executor(), [this] { tick_timer_.cancel(); });
  const room::Millis now = epoch_ms();
  for (const auto& slot : all_rooms()) {
    std::lock_guard lock(slot->mutex);
    if (!slot->removed && (slot->state.seq != slot->persisted_seq ||
                           slot->state.last_activity != slot->persisted_activity)) {
      persist(*slot, now);
    }
  }
  const bool flushed = journal_.drain(budget);
  if (!flushed) spdlog::error("drain: {} audit events could not be written before the deadline", journal_.backlog());
  return flushed;
}

void MemoryEngine::schedule_tick() {
  if (stopped_.load()) return;
  // A /status rebuild in progress goes on at the loop's next turn, after the I/O that is ready.
  tick_timer_.expires_at(status_build_ ? std::chrono::steady_clock::now() : next_tick_);
  tick_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    try {
      if (const auto now = std::chrono::steady_clock::now(); now >= next_tick_) {
        next_tick_ = now + kTickInterval;
        tick();
      }
      if (status_build_) continue_status_build(std::chrono::steady_clock::now() + options_.status_slice);
    } catch (const std::exception& e) {
      spdlog::error("room timer: {}", e.what());
      status_build_.reset();  // the next rebuild starts over
    }
    schedule_tick();
  });
}

void MemoryEngine::note_deadline(RoomSlot& slot) {
  slot.due.store(room::next_deadline(slot.state).value_or(kNoDeadline), std::memory_order_relaxed);
}

void MemoryEngine::tick() {
  const room::Millis now = epoch_ms();
  // Only the rooms with a deadline due: one pass over the table reading each room's `due`,
  // instead of taking every room's mutex ten times a second.
  std::vector<std::pair<std::string, std::shared_ptr<RoomSlot>>> due;
  {
    std::lock_guard lock(rooms_mutex_);
    for (const auto& [id, slot] : rooms_) {
      if (slot->due.load(std::memory_order_relaxed) <= now) due.emplace_back(id, slot);
    }
  }
  for (auto& [room_id, slot] : due) {
    room::Input tick = room::TickInput{};
    apply(room_id, tick, false, std::move(slot));
  }
  const auto steady_now = std::chrono::steady_clock::now();
  if (!status_build_ && steady_now - last_status_build_ >= kStatusInterval) {
    last_status_build_ = steady_now;
    short_ids_.prune(now);
    begin_status_build();
  }
}

void MemoryEngine::begin_status_build() {
  status_build_.emplace();
  status_build_->slots = all_rooms();
}

bool MemoryEngine::continue_status_build(std::chrono::steady_clock::time_point until) {
  auto& build = *status_build_;
  const room::Millis now = epoch_ms();
  while (build.next < build.slots.size()) {
    const std::size_t group_end = std::min(build.slots.size(), build.next + kStatusRoomsPerCheck);
    for (; build.next < group_end; ++build.next) {
      RoomSlot& slot = *build.slots[build.next];
      std::lock_guard lock(slot.mutex);
      const auto& s = slot.state;
      if (slot.removed || !s.exists) continue;
      if (!s.members.empty()) {
        ++build.rooms->local_rooms;
        if (auto record = short_ids_.keep_alive(s.room_id, now)) journal_.put_short_id(*record);
      }
      build.rooms->add(status_row(s, now));
    }
    if (build.next < build.slots.size() && std::chrono::steady_clock::now() >= until) return false;
  }
  std::shared_ptr<const StatusRooms> next = std::move(build.rooms);
  status_build_.reset();
  std::lock_guard lock(status_mutex_);
  status_ = std::move(next);
  return true;
}

}  // namespace tandem::engine::memory
