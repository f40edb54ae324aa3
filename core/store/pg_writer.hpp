#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/config/config.hpp"
#include "core/engine/journal.hpp"
#include "core/store/dead_letter.hpp"

namespace tandem::metrics {
class Counter;
}
namespace tandem::store {

class Connection;

// What one PostgreSQL transaction writes: audit records (idempotent through event_uid), the
// latest snapshot of some rooms (an older snapshot never overwrites a newer one: snapshots are
// ordered by (last_activity, seq), which never decreases along a room's commits — last_activity
// alone does not move when members leave, and several nodes copy snapshots of one room), short ids.
struct PgBatch {
  std::vector<engine::AuditEvent> events;
  std::vector<engine::RoomSnapshot> rooms;
  std::vector<engine::ShortIdRecord> short_ids;

  bool empty() const { return events.empty() && rooms.empty() && short_ids.empty(); }
};

// The Redis engine's only PostgreSQL client: one connection on a thread of its own, so that no
// I/O thread ever waits for the database (invariant 4). Batches run one at a time, in order.
//
// write() never blocks; `done(ok)` runs on the writer thread when the batch was written (ok) or
// failed (the connection is dropped and reopened for the next batch). Retrying is the caller's
// decision: the audit records stay pending in Redis until acknowledged.
//
// A batch PostgreSQL refuses as data (postgres_rejects_data: SQLSTATE class 22/23) is not
// failed: each of its records is written again in a transaction of its own, in order; the ones
// refused again go to the dead_letters table (counted in `dead_letters`, one bounded warn line
// each; if that insert fails too, the record is dropped, logged and counted all the same) and
// done(true) follows. A connection lost while splitting fails the batch as above; a retry may
// set the same record aside twice.
class PgWriter {
 public:
  // `node_id` is written with each dead letter.
  PgWriter(config::Postgres settings, std::string node_id, metrics::Counter& errors,
           metrics::Counter& dead_letters);
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
  // How one transaction ended.
  struct Attempt {
    enum class Outcome { committed, rejected, failed } outcome = Outcome::committed;
    std::string error;
    std::string sqlstate;
  };

  void run();
  bool execute(const PgBatch& batch);
  Attempt attempt(const PgBatch& batch);
  Attempt failed(const std::exception& e, const PgBatch& batch);
  // Writes a one-record batch, setting the record aside when it is refused as data; false when
  // the database failed otherwise.
  bool write_alone(const PgBatch& one, std::string_view kind, std::string_view key, const std::string& record);
  void set_aside(std::string_view kind, std::string_view key, const std::string& record, const Attempt& refusal);

  const config::Postgres settings_;
  const std::string node_id_;
  metrics::Counter& errors_;
  metrics::Counter& dead_letters_;
  DeadLetterLog dead_letter_log_{"postgres"};
  std::unique_ptr<store::Connection> db_;
  std::atomic<bool> healthy_{true};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Task> tasks_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tandem::store
