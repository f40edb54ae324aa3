#include "core/store/dead_letter.hpp"

#include <sqlite3.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

namespace tandem::store {

bool postgres_rejects_data(std::string_view sqlstate) {
  return sqlstate.size() == 5 && (sqlstate.starts_with("22") || sqlstate.starts_with("23"));
}

bool sqlite_rejects_data(int result_code) {
  switch (result_code & 0xff) {  // the primary code of an extended one
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
    case SQLITE_CONSTRAINT:
      return true;
    default:
      return false;
  }
}

std::string dead_letter_record(const engine::AuditEvent& event) {
  return boost::json::serialize(boost::json::object{{"uid", event.uid},
                                                    {"room_id", event.room_id},
                                                    {"type", event.type},
                                                    {"user_id", event.user_id},
                                                    {"detail", event.detail},
                                                    {"node_id", event.node_id},
                                                    {"seq", event.seq},
                                                    {"at", event.at}});
}

std::string dead_letter_record(const engine::RoomSnapshot& room) {
  return boost::json::serialize(boost::json::object{{"room_id", room.room_id},
                                                    {"state", room.state},
                                                    {"host_user_id", room.host_user_id},
                                                    {"url", room.url},
                                                    {"current_time", room.current_time},
                                                    {"is_playing", room.is_playing},
                                                    {"guest_control", room.guest_control},
                                                    {"member_count", room.member_count},
                                                    {"seq", room.seq},
                                                    {"created_at", room.created_at},
                                                    {"last_activity", room.last_activity},
                                                    {"document", room.document}});
}

std::string dead_letter_record(const engine::ShortIdRecord& short_id) {
  return boost::json::serialize(boost::json::object{{"short_id", short_id.short_id},
                                                    {"room_id", short_id.room_id},
                                                    {"created_at", short_id.created_at},
                                                    {"expires_at", short_id.expires_at}});
}

bool DeadLetterLog::may_log() {
  const auto now = std::chrono::steady_clock::now();
  if (now - window_start_ >= std::chrono::seconds(1)) {
    window_start_ = now;
    lines_in_window_ = 0;
  }
  if (lines_in_window_ >= kLinesPerSecond) {
    ++left_out_;
    return false;
  }
  ++lines_in_window_;
  return true;
}

std::string DeadLetterLog::left_out_note() {
  const std::uint64_t n = std::exchange(left_out_, 0);
  return n == 0 ? std::string() : fmt::format(" ({} more since the last line)", n);
}

void DeadLetterLog::set_aside(std::string_view kind, std::string_view key, std::string_view error) {
  if (!may_log()) return;
  spdlog::warn("{}: {} {} refused as data, set aside in dead_letters{}: {}", store_, kind, key, left_out_note(), error);
}

void DeadLetterLog::dropped(std::string_view kind, std::string_view key, std::string_view error) {
  if (!may_log()) return;
  spdlog::error("{}: {} {} refused as data and could not be set aside, dropped{}: {}", store_, kind, key,
                left_out_note(), error);
}

}  // namespace tandem::store
