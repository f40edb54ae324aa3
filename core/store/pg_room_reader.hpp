#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/config/config.hpp"

namespace tandem::metrics {
class Counter;
}
namespace tandem::store {

class Connection;

// A room as PostgreSQL last saw it: what the Redis engine rebuilds a room from when Redis no
// longer holds it (Redis lost its data).
struct StoredRoom {
  std::string document;   // rooms.snapshot: room::to_json of the last snapshot copied
  std::uint64_t seq = 0;  // the highest seq of the snapshot and of the room's audit events
};

struct RoomLookup {
  enum class Status { found, absent, unavailable } status = Status::absent;
  StoredRoom room;  // when found
};

// Looks up rooms that are not archived in PostgreSQL (tandem_store's second PostgreSQL client in
// the Redis engine, beside PgWriter): one connection on a thread of its own, so that no I/O or
// engine thread waits for the database.
//
// Bounds: at most kMaxQueued lookups wait (beyond that a lookup is answered `unavailable` at
// once); lookups that queued while a query ran are answered together by the next query, at most
// kMaxBatch rooms per query. After a failure (connection or query) the reader answers
// `unavailable` without trying for kRetryAfter, so that an outage costs a caller no wait.
//
// `done` runs on the reader's thread, or on the caller's when the lookup is refused at once.
class PgRoomReader {
 public:
  static constexpr std::size_t kMaxQueued = 10'000;
  static constexpr std::size_t kMaxBatch = 500;
  static constexpr std::chrono::milliseconds kRetryAfter{5'000};

  PgRoomReader(config::Postgres settings, metrics::Counter& errors);
  ~PgRoomReader();
  PgRoomReader(const PgRoomReader&) = delete;
  PgRoomReader& operator=(const PgRoomReader&) = delete;

  void find(std::string room_id, std::function<void(RoomLookup)> done);
  // Answers queued lookups `unavailable`, lets a running query finish, joins.
  void stop();

 private:
  struct Request {
    std::string room_id;
    std::function<void(RoomLookup)> done;
  };

  void run();
  // Answers one batch; false when the database failed.
  bool answer(std::deque<Request>& batch);

  const config::Postgres settings_;
  metrics::Counter& errors_;
  std::unique_ptr<Connection> db_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Request> queue_;
  std::chrono::steady_clock::time_point failed_at_{};  // last failure; guarded by mutex_
  bool failed_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tandem::store
