#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/engine/journal.hpp"
#include "core/store/dead_letter.hpp"

namespace tandem::metrics {
class Counter;
}

namespace tandem::store {

struct SqliteJournalOptions {
  std::size_t capacity = 100000;
  std::size_t batch_size = 500;
  std::chrono::milliseconds flush_interval{200};
  std::string node_id;  // written with each dead letter
};

// The memory engine's Journal: one SQLite file (WAL), one writer thread.
//
// A batch SQLite refuses as data (sqlite_rejects_data: SQLITE_CONSTRAINT, MISMATCH, TOOBIG) is
// written again one record per transaction, in order; the records refused again go to the
// dead_letters table (counted in `dead_letters`, one bounded warn line each; if that insert
// fails too, the record is dropped, logged and counted all the same) instead of being retried
// forever. Any other failure (BUSY, LOCKED, IOERR, FULL, ...) keeps the batch and retries it.
class SqliteJournal final : public engine::Journal {
 public:
  // Opens `db_file` (schema already applied). Throws std::runtime_error when it cannot.
  SqliteJournal(std::filesystem::path db_file, SqliteJournalOptions options, metrics::Counter& write_errors,
                metrics::Counter& dead_letters);
  ~SqliteJournal() override;

  void append(std::vector<engine::AuditEvent> events) override;
  void put_room(engine::RoomSnapshot snapshot) override;
  void put_short_id(engine::ShortIdRecord record) override;
  std::size_t backlog() const override;
  std::size_t capacity() const override { return options_.capacity; }
  bool healthy() const override;
  std::vector<engine::RoomSnapshot> load_unarchived_rooms() override;
  std::vector<engine::ShortIdRecord> load_short_ids(std::int64_t now_ms) override;
  bool drain(std::chrono::milliseconds timeout) override;

 private:
  using Event = engine::AuditEvent;
  struct Db;

  using Rooms = std::map<std::string, engine::RoomSnapshot>;
  using ShortIds = std::vector<engine::ShortIdRecord>;
  // How one transaction ended; `code` is SQLite's extended result code of a failure.
  struct Attempt {
    enum class Outcome { committed, rejected, failed } outcome = Outcome::committed;
    std::string error;
    int code = 0;
  };

  void run();
  // The batch in one transaction, split on a refusal as data; false when it is to be retried.
  bool write_batch(const std::vector<Event>& events, const Rooms& rooms, const ShortIds& short_ids);
  Attempt attempt(const std::vector<Event>& events, const Rooms& rooms, const ShortIds& short_ids);
  bool write_alone(const std::vector<Event>& events, const Rooms& rooms, const ShortIds& short_ids,
                   std::string_view kind, std::string_view key, const std::string& record);
  void set_aside(std::string_view kind, std::string_view key, const std::string& record, const Attempt& refusal);

  const SqliteJournalOptions options_;
  metrics::Counter& write_errors_;
  metrics::Counter& dead_letters_;
  DeadLetterLog dead_letter_log_{"audit journal"};
  std::unique_ptr<Db> db_;
  std::string uid_prefix_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  std::deque<Event> events_;
  std::map<std::string, engine::RoomSnapshot> rooms_;  // latest per room
  std::vector<engine::ShortIdRecord> short_ids_;
  std::size_t in_flight_ = 0;  // taken by the writer, not yet committed
  std::uint64_t next_uid_ = 0;
  bool stopping_ = false;
  bool healthy_ = true;
  std::thread writer_;
};

}  // namespace tandem::store
