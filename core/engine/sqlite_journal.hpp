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

namespace tandem::engine {

struct SqliteJournalOptions {
  std::size_t capacity = 100000;
  std::size_t batch_size = 500;
  std::chrono::milliseconds flush_interval{200};
};

// The embedded mode's Journal: one SQLite file (WAL), one writer thread.
class SqliteJournal final : public Journal {
 public:
  // Opens `db_file` (schema already applied). Throws std::runtime_error when it cannot.
  SqliteJournal(std::filesystem::path db_file, SqliteJournalOptions options, metrics::Counter& write_errors);
  ~SqliteJournal() override;

  void append(const std::string& node_id, std::vector<room::AuditRecord> records) override;
  void put_room(RoomSnapshot snapshot) override;
  void put_short_id(ShortIdRecord record) override;
  std::size_t backlog() const override;
  std::size_t capacity() const override { return options_.capacity; }
  bool healthy() const override;
  std::vector<RoomSnapshot> load_unarchived_rooms() override;
  std::vector<ShortIdRecord> load_short_ids(room::Millis now) override;
  bool drain(std::chrono::milliseconds timeout) override;

 private:
  struct Event {
    std::string node_id;
    std::string uid;
    room::AuditRecord record;
  };
  struct Db;

  void run();
  bool write_batch(std::vector<Event>& events, std::map<std::string, RoomSnapshot>& rooms,
                   std::vector<ShortIdRecord>& short_ids);

  const SqliteJournalOptions options_;
  metrics::Counter& write_errors_;
  std::unique_ptr<Db> db_;
  std::string uid_prefix_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  std::deque<Event> events_;
  std::map<std::string, RoomSnapshot> rooms_;  // latest per room
  std::vector<ShortIdRecord> short_ids_;
  std::size_t in_flight_ = 0;  // taken by the writer, not yet committed
  std::uint64_t next_uid_ = 0;
  bool stopping_ = false;
  bool healthy_ = true;
  std::thread writer_;
};

}  // namespace tandem::engine
