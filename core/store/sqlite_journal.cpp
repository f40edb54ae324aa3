#include "core/store/sqlite_journal.hpp"

#include <sqlite3.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "core/util/random.hpp"
#include "core/metrics/metrics.hpp"
#include "core/store/schema.hpp"
#include "core/util/thread_name.hpp"

namespace tandem::store {

using engine::RoomSnapshot;
using engine::ShortIdRecord;

namespace {

constexpr auto kRetryBackoff = std::chrono::milliseconds(500);
constexpr int kBusyTimeoutMs = 5000;

// A failed call, with SQLite's extended result code (what decides between retrying the batch
// and setting a record aside).
class SqliteFailure : public std::runtime_error {
 public:
  SqliteFailure(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

struct Statement {
  sqlite3_stmt* stmt = nullptr;
  Statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("sqlite prepare: ") + sqlite3_errmsg(db));
    }
  }
  ~Statement() { sqlite3_finalize(stmt); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  void text(int i, const std::string& v) { sqlite3_bind_text(stmt, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); }
  void text_or_null(int i, const std::string& v) {
    if (v.empty()) {
      sqlite3_bind_null(stmt, i);
    } else {
      text(i, v);
    }
  }
  void blob(int i, const std::string& v) {
    sqlite3_bind_blob(stmt, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void integer(int i, std::int64_t v) { sqlite3_bind_int64(stmt, i, v); }
  void real(int i, double v) { sqlite3_bind_double(stmt, i, v); }
  // Runs to completion; throws SqliteFailure unless it completed.
  void run_or_throw() {
    if (const int rc = run(); rc != SQLITE_DONE) throw SqliteFailure(rc, sqlite3_errmsg(sqlite3_db_handle(stmt)));
  }
  // Runs to completion; returns the sqlite result code.
  int run() {
    int rc = sqlite3_step(stmt);
    while (rc == SQLITE_ROW) rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return rc;
  }
  std::string column_text(int i) {
    const auto* p = sqlite3_column_text(stmt, i);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt, i)))
             : std::string();
  }
};

}  // namespace

struct SqliteJournal::Db {
  sqlite3* handle = nullptr;
  ~Db() {
    if (handle) sqlite3_close(handle);
  }
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(handle, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string message = err ? err : "unknown error";
      sqlite3_free(err);
      throw SqliteFailure(sqlite3_extended_errcode(handle), "sqlite: " + message);
    }
  }
};

SqliteJournal::SqliteJournal(std::filesystem::path db_file, SqliteJournalOptions options,
                             metrics::Counter& write_errors, metrics::Counter& dead_letters)
    : options_(std::move(options)),
      write_errors_(write_errors),
      dead_letters_(dead_letters),
      db_(std::make_unique<Db>()),
      uid_prefix_(util::random_hex(8)) {
  if (sqlite3_open_v2(db_file.c_str(), &db_->handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
      SQLITE_OK) {
    throw std::runtime_error("cannot open " + db_file.string() + ": " +
                             (db_->handle ? sqlite3_errmsg(db_->handle) : "out of memory"));
  }
  sqlite3_busy_timeout(db_->handle, kBusyTimeoutMs);
  sqlite3_extended_result_codes(db_->handle, 1);
  db_->exec("PRAGMA journal_mode=WAL");
  db_->exec("PRAGMA synchronous=NORMAL");
  writer_ = std::thread([this] { run(); });
}

SqliteJournal::~SqliteJournal() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
}

// The writer wakes by itself every flush_interval, and before that only for a full batch of
// events (the condition of its wait): a notification that cannot satisfy the condition would
// only wake it to go back to sleep — a futex call on the caller's event loop and two context
// switches on its CPU, hundreds of times a second under load.
void SqliteJournal::append(std::vector<engine::AuditEvent> events) {
  if (events.empty()) return;
  bool full = false;
  {
    std::lock_guard lock(mutex_);
    for (auto& e : events) {
      if (e.uid.empty()) e.uid = uid_prefix_ + "-" + std::to_string(next_uid_++);
      events_.push_back(std::move(e));
    }
    full = events_.size() >= options_.batch_size;
  }
  if (full) wake_.notify_one();
}

void SqliteJournal::put_room(RoomSnapshot snapshot) {
  std::lock_guard lock(mutex_);
  rooms_[snapshot.room_id] = std::move(snapshot);  // written with the next flush
}

void SqliteJournal::put_short_id(ShortIdRecord record) {
  std::lock_guard lock(mutex_);
  short_ids_.push_back(std::move(record));  // written with the next flush
}

std::size_t SqliteJournal::backlog() const {
  std::lock_guard lock(mutex_);
  return events_.size() + in_flight_;
}

bool SqliteJournal::healthy() const {
  std::lock_guard lock(mutex_);
  return healthy_;
}

void SqliteJournal::run() {
  util::name_this_thread("sqlite-journal");
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, options_.flush_interval,
                   [&] { return stopping_ || events_.size() >= options_.batch_size; });
    if (events_.empty() && rooms_.empty() && short_ids_.empty()) {
      drained_.notify_all();
      if (stopping_) return;
      continue;
    }
    std::vector<Event> events;
    const std::size_t n = std::min(events_.size(), options_.batch_size);
    events.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      events.push_back(std::move(events_.front()));
      events_.pop_front();
    }
    auto rooms = std::exchange(rooms_, {});
    auto short_ids = std::exchange(short_ids_, {});
    in_flight_ = events.size();
    lock.unlock();
    const bool ok = write_batch(events, rooms, short_ids);
    lock.lock();
    in_flight_ = 0;
    healthy_ = ok;
    if (!ok) {
      // Put everything back in front, in order, and retry after a pause. Newer room snapshots
      // that arrived meanwhile win over the ones that failed.
      for (auto it = events.rbegin(); it != events.rend(); ++it) events_.push_front(std::move(*it));
      for (auto& [id, snap] : rooms) rooms_.try_emplace(id, std::move(snap));
      short_ids_.insert(short_ids_.begin(), short_ids.begin(), short_ids.end());
      if (stopping_) {
        spdlog::error("audit journal: giving up at shutdown with {} events unwritten", events_.size());
        return;
      }
      wake_.wait_for(lock, kRetryBackoff, [&] { return stopping_; });
    }
  }
}

bool SqliteJournal::write_batch(const std::vector<Event>& events, const Rooms& rooms, const ShortIds& short_ids) {
  const Attempt whole = attempt(events, rooms, short_ids);
  if (whole.outcome != Attempt::Outcome::rejected) return whole.outcome == Attempt::Outcome::committed;
  // Some record is refused as data: each on its own finds it, and the others still go in order.
  for (const auto& e : events) {
    if (!write_alone({e}, {}, {}, "event", e.uid, dead_letter_record(e))) return false;
  }
  for (const auto& [id, r] : rooms) {
    if (!write_alone({}, {{id, r}}, {}, "room", id, dead_letter_record(r))) return false;
  }
  for (const auto& s : short_ids) {
    if (!write_alone({}, {}, {s}, "short_id", s.short_id, dead_letter_record(s))) return false;
  }
  return true;
}

bool SqliteJournal::write_alone(const std::vector<Event>& events, const Rooms& rooms, const ShortIds& short_ids,
                                std::string_view kind, std::string_view key, const std::string& record) {
  const Attempt result = attempt(events, rooms, short_ids);
  if (result.outcome == Attempt::Outcome::rejected) set_aside(kind, key, record, result);
  return result.outcome != Attempt::Outcome::failed;
}

void SqliteJournal::set_aside(std::string_view kind, std::string_view key, const std::string& record,
                              const Attempt& refusal) {
  dead_letters_.inc();
  try {
    Statement insert(db_->handle,
                     "INSERT INTO dead_letters (kind, record, error, error_code, node_id) VALUES (?1, ?2, ?3, ?4, ?5)");
    insert.text(1, std::string(kind));
    insert.blob(2, record);
    insert.text(3, refusal.error);
    insert.text(4, std::to_string(refusal.code));
    insert.text_or_null(5, options_.node_id);
    insert.run_or_throw();
    dead_letter_log_.set_aside(kind, key, refusal.error);
  } catch (const std::exception& e) {
    dead_letter_log_.dropped(kind, key, refusal.error + "; dead_letters: " + e.what());
  }
}

SqliteJournal::Attempt SqliteJournal::attempt(const std::vector<Event>& events, const Rooms& rooms,
                                              const ShortIds& short_ids) {
  try {
    db_->exec("BEGIN IMMEDIATE");
    try {
      Statement insert(db_->handle, std::string(kSqliteInsertEvent).c_str());
      for (const auto& e : events) {
        insert.text(1, e.room_id);
        insert.text(2, e.type);
        insert.text_or_null(3, e.user_id);
        insert.text(4, e.detail);
        insert.integer(5, e.at);
        insert.integer(6, e.seq);
        insert.text(7, e.node_id);
        insert.text(8, e.uid);
        insert.run_or_throw();
      }
      Statement upsert(db_->handle, std::string(kSqliteUpsertRoom).c_str());
      for (const auto& [id, r] : rooms) {
        upsert.text(1, r.room_id);
        upsert.text_or_null(2, r.host_user_id);
        upsert.text(3, r.url);
        upsert.real(4, r.current_time);
        upsert.integer(5, r.is_playing ? 1 : 0);
        upsert.integer(6, r.guest_control ? 1 : 0);
        upsert.integer(7, r.created_at);
        upsert.integer(8, r.last_activity);
        if (r.state == "archived") {
          upsert.integer(9, r.last_activity);
        } else {
          sqlite3_bind_null(upsert.stmt, 9);
        }
        upsert.text(10, r.state);
        upsert.integer(11, r.member_count);
        upsert.integer(12, static_cast<std::int64_t>(r.seq));
        upsert.text(13, r.document);
        upsert.run_or_throw();
      }
      // An expired id may have been minted again for another room: the newer owner wins.
      Statement release(db_->handle, "DELETE FROM short_ids WHERE short_id = ?1 AND room_id <> ?2");
      Statement short_id(db_->handle, std::string(kSqliteUpsertShortId).c_str());
      for (const auto& s : short_ids) {
        release.text(1, s.short_id);
        release.text(2, s.room_id);
        release.run_or_throw();
        short_id.text(1, s.short_id);
        short_id.text(2, s.room_id);
        short_id.integer(3, s.created_at);
        short_id.integer(4, s.expires_at);
        short_id.run_or_throw();
      }
      db_->exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_->handle, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    return {};
  } catch (const std::exception& e) {
    const auto* failure = dynamic_cast<const SqliteFailure*>(&e);
    const int code = failure ? failure->code() : SQLITE_ERROR;
    if (sqlite_rejects_data(code)) return {Attempt::Outcome::rejected, e.what(), code};
    write_errors_.inc();
    spdlog::error("audit journal: write failed ({} events pending): {}", events.size(), e.what());
    return {Attempt::Outcome::failed, e.what(), code};
  }
}

std::vector<RoomSnapshot> SqliteJournal::load_unarchived_rooms() {
  std::vector<RoomSnapshot> out;
  Statement q(db_->handle,
              "SELECT id, snapshot FROM rooms WHERE state <> 'archived' AND snapshot IS NOT NULL");
  while (sqlite3_step(q.stmt) == SQLITE_ROW) {
    RoomSnapshot s;
    s.room_id = q.column_text(0);
    s.document = q.column_text(1);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<ShortIdRecord> SqliteJournal::load_short_ids(std::int64_t now) {
  std::vector<ShortIdRecord> out;
  Statement q(db_->handle, "SELECT short_id, room_id, created_at, expires_at FROM short_ids WHERE expires_at > ?1");
  q.integer(1, now);
  while (sqlite3_step(q.stmt) == SQLITE_ROW) {
    out.push_back(ShortIdRecord{q.column_text(0), q.column_text(1), sqlite3_column_int64(q.stmt, 2),
                                sqlite3_column_int64(q.stmt, 3)});
  }
  return out;
}

bool SqliteJournal::drain(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return drained_.wait_for(lock, timeout, [&] {
    return events_.empty() && rooms_.empty() && short_ids_.empty() && in_flight_ == 0;
  });
}

}  // namespace tandem::store
