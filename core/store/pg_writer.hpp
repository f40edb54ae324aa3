#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/config/config.hpp"
#include "core/engine/journal.hpp"

namespace tandem::metrics {
class Counter;
}
namespace tandem::store {

class Connection;

// What one PostgreSQL transaction writes: audit records (idempotent through event_uid), the
// latest snapshot of some rooms (an older snapshot never overwrites a newer one), short ids.
struct PgBatch {
  std::vector<engine::AuditEvent> events;
  std::vector<engine::RoomSnapshot> rooms;
  std::vector<engine::ShortIdRecord> short_ids;

  bool empty() const { return events.empty() && rooms.empty() && short_ids.empty(); }
};

// The Redis engine's only PostgreSQL client: one connection on a thread of its own, so that no
// I/O thread ever waits for the database (invariant 4). Batches run one at a time, in order.
//
// write() never blocks; `done(ok)` runs on the writer thread when the transaction committed
// (ok) or failed (the connection is dropped and reopened for the next batch). Retrying is the
// caller's decision: the audit records stay pending in Redis until acknowledged.
class PgWriter {
 public:
  PgWriter(config::Postgres settings, metrics::Counter& errors);
  ~PgWriter();
  PgWriter(const PgWriter&) = delete;
  PgWriter& operator=(const PgWriter&) = delete;

  void write(PgBatch batch, std::function<void(bool ok)> done);
  // The last transaction committed (true before the first one).
  bool healthy() const { return healthy_.load(); }
  // Finishes the batch in progress, drops queued ones (their `done` runs with false), joins.
  void stop();

 private:
  struct Task {
    PgBatch batch;
    std::function<void(bool)> done;
  };
  void run();
  bool execute(const PgBatch& batch);

  const config::Postgres settings_;
  metrics::Counter& errors_;
  std::unique_ptr<store::Connection> db_;
  std::atomic<bool> healthy_{true};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Task> tasks_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tandem::store
