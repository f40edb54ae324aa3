#include "core/store/pg_room_reader.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/metrics/metrics.hpp"
#include "core/store/connection.hpp"
#include "core/store/postgres_connection.hpp"
#include "core/store/store_error.hpp"
#include "core/util/thread_name.hpp"

namespace tandem::store {

PgRoomReader::PgRoomReader(config::Postgres settings, metrics::Counter& errors)
    : settings_(std::move(settings)), errors_(errors), thread_([this] { run(); }) {}

PgRoomReader::~PgRoomReader() { stop(); }

void PgRoomReader::find(std::string room_id, std::function<void(RoomLookup)> done) {
  {
    std::lock_guard lock(mutex_);
    const bool resting = failed_ && std::chrono::steady_clock::now() - failed_at_ < kRetryAfter;
    if (!stopping_ && !resting && queue_.size() < kMaxQueued) {
      queue_.push_back(Request{std::move(room_id), std::move(done)});
      wake_.notify_one();
      return;
    }
  }
  done(RoomLookup{RoomLookup::Status::unavailable, {}});
}

void PgRoomReader::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::deque<Request> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(queue_);
  }
  for (auto& request : left) request.done(RoomLookup{RoomLookup::Status::unavailable, {}});
}

void PgRoomReader::run() {
  util::name_this_thread("pg-room-reader");
  for (;;) {
    std::deque<Request> batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;  // queued lookups are answered by stop()
      const std::size_t n = std::min(queue_.size(), kMaxBatch);
      batch.insert(batch.end(), std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + n));
      queue_.erase(queue_.begin(), queue_.begin() + n);
    }
    answer(batch);
  }
}

bool PgRoomReader::answer(std::deque<Request>& batch) {
  std::unordered_map<std::string, RoomLookup> found;
  bool ok = true;
  try {
    if (!db_) db_ = open_postgres(settings_);
    std::unordered_set<std::string_view> seen;
    std::vector<Value> ids;
    std::string list;
    for (const auto& request : batch) {
      if (!seen.insert(request.room_id).second) continue;
      ids.emplace_back(request.room_id);
      if (!list.empty()) list += ", ";
      list += db_->param(static_cast<int>(ids.size()));
    }
    // The seq goes on from the highest one used: the snapshot's, or an audit event's copied after
    // it (snapshots are copied at most every few seconds, audit events as they come).
    const auto rows = db_->query(
        "SELECT r.id, r.snapshot::text, r.seq, (SELECT max(e.seq) FROM room_events e WHERE e.room_id = r.id)"
        " FROM rooms r WHERE r.state <> 'archived' AND r.snapshot IS NOT NULL AND r.id IN (" + list + ")",
        ids);
    for (const auto& row : rows) {
      const auto seq = static_cast<std::uint64_t>(std::max(row.integer(2), row.integer(3)));
      found[row.text(0)] = RoomLookup{RoomLookup::Status::found, StoredRoom{row.text(1), seq}};
    }
  } catch (const std::exception& e) {
    errors_.inc();
    spdlog::warn("cluster: room lookup in PostgreSQL failed ({} rooms): {}", batch.size(), e.what());
    if (const auto* store = dynamic_cast<const StoreError*>(&e); !store || store->kind() == StoreError::Kind::connection) {
      db_.reset();
    }
    ok = false;
  }
  {
    // Recorded before anyone is answered: a lookup made from an answer already sees the failure.
    std::lock_guard lock(mutex_);
    failed_ = !ok;
    if (!ok) failed_at_ = std::chrono::steady_clock::now();
  }
  for (auto& request : batch) {
    if (!ok) {
      request.done(RoomLookup{RoomLookup::Status::unavailable, {}});
      continue;
    }
    const auto it = found.find(request.room_id);
    request.done(it == found.end() ? RoomLookup{RoomLookup::Status::absent, {}} : it->second);
  }
  return ok;
}

}  // namespace tandem::store
