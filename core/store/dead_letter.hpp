#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/engine/journal.hpp"

namespace tandem::store {

// Dead letters: records a database refused *as data* are set aside in the `dead_letters` table
// (migrations 0005) so that one bad record cannot hold up the writer. A refusal for any other
// reason (the database is unreachable, busy, full, or the schema is missing) is retried instead.

// PostgreSQL: SQLSTATE class 22 (data exception, e.g. 22P05 for a \u0000 in jsonb) or 23
// (integrity constraint violation). Anything else, e.g. class 08 or 57P, is not the data's fault.
bool postgres_rejects_data(std::string_view sqlstate);

// SQLite: a result code (primary or extended) of SQLITE_TOOBIG, SQLITE_MISMATCH or
// SQLITE_CONSTRAINT. SQLITE_BUSY, LOCKED, IOERR, FULL and the rest are not the data's fault.
bool sqlite_rejects_data(int result_code);

// A record as the dead-letter table keeps it: its fields as one JSON object. The bytes of each
// field are kept as they were (a NUL becomes the escape \u0000; invalid UTF-8 passes through),
// so the text may itself not be valid UTF-8: the tables store it as bytes.
std::string dead_letter_record(const engine::AuditEvent& event);
std::string dead_letter_record(const engine::RoomSnapshot& room);
std::string dead_letter_record(const engine::ShortIdRecord& short_id);

// One warn line per dead letter, at most kLinesPerSecond a second; the lines left out are
// counted and their number is logged with the next line. Not thread-safe: one per writer thread.
class DeadLetterLog {
 public:
  static constexpr int kLinesPerSecond = 5;

  explicit DeadLetterLog(std::string store) : store_(std::move(store)) {}
  // `kind`: event | room | short_id; `key`: what names the record (event uid, room id, short id).
  void set_aside(std::string_view kind, std::string_view key, std::string_view error);
  // The dead-letter insert failed too: the record is dropped (logged as an error, same bound).
  void dropped(std::string_view kind, std::string_view key, std::string_view error);

 private:
  bool may_log();
  std::string left_out_note();

  const std::string store_;
  std::chrono::steady_clock::time_point window_start_{};
  int lines_in_window_ = 0;
  std::uint64_t left_out_ = 0;
};

}  // namespace tandem::store
