#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "core/engine/journal.hpp"

namespace tandem::metrics {
class Counter;
}

namespace tandem::store {

struct SqliteJournalOptions {
  std::size_t capacity = 100000;
  std::size_t batch_size = 500;
  std::chrono::milliseconds flush_interval{200};
};

// The memory engine's Journal: one SQLite file (WAL), one writer thread.
class SqliteJournal final : public engine::Journal {
 public:
  // Opens `db_file` (schema already applied). Throws std::runtime_error when it cannot.
  SqliteJournal(std::filesystem::path db_file, SqliteJournalOptions options, metrics::Counter& write_errors);
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

  void run();
  bool write_batch(std::vector<Event>& events, std::map<std::string, engine::RoomSnapshot>& rooms,
                   std::vector<engine::ShortIdRecord>& short_ids);

  const SqliteJournalOptions options_;
  metrics::Counter& write_errors_;
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
