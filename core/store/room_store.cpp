#include "core/store/room_store.hpp"

#include <boost/json.hpp>

#include <algorithm>

#include "core/store/json_text.hpp"

namespace tandem::store {

namespace {

std::optional<std::string> optional_text(const Row& row, std::size_t i) {
  if (row.is_null(i)) return std::nullopt;
  return row.text(i);
}

// Members listed in a snapshot's "members" array; nullopt when the snapshot has none.
std::optional<std::vector<Member>> snapshot_members(const std::string& snapshot) {
  if (snapshot.empty()) return std::nullopt;
  boost::json::error_code ec;
  const auto parsed = boost::json::parse(snapshot, ec);
  if (ec || !parsed.is_object()) return std::nullopt;
  const auto* members = parsed.get_object().if_contains("members");
  if (!members || !members->is_array()) return std::nullopt;
  std::vector<Member> result;
  for (const auto& item : members->get_array()) {
    if (!item.is_object()) continue;
    const auto& object = item.get_object();
    Member member;
    if (const auto* id = object.if_contains("userId"); id && id->is_string()) member.user_id = id->get_string();
    if (const auto* name = object.if_contains("username"); name && name->is_string()) {
      member.username = std::string(name->get_string());
    }
    result.push_back(std::move(member));
  }
  return result;
}

}  // namespace

std::vector<RoomSummary> RoomStore::list(const RoomFilter& filter) {
  std::string sql = "SELECT id, state, member_count, host_user_id, " + db_.epoch_ms("created_at") + ", " +
                    db_.epoch_ms("last_activity") + " FROM rooms WHERE 1 = 1";
  std::vector<Value> params;
  if (filter.state) {
    params.emplace_back(*filter.state);
    sql += " AND state = " + db_.param(static_cast<int>(params.size()));
  }
  if (filter.active_since_ms) {
    params.emplace_back(*filter.active_since_ms);
    sql += " AND last_activity >= " + db_.from_epoch_ms(db_.param(static_cast<int>(params.size())));
  }
  sql += " ORDER BY last_activity DESC, id";
  if (filter.limit > 0) sql += " LIMIT " + std::to_string(filter.limit);

  std::vector<RoomSummary> rooms;
  for (const auto& row : db_.query(sql, params)) {
    rooms.push_back({row.text(0), row.text(1), row.integer(2), row.text(3), row.integer(4), row.integer(5)});
  }
  return rooms;
}

std::optional<RoomDetail> RoomStore::find(const std::string& room_id) {
  const auto rows = db_.query(
      "SELECT id, state, member_count, host_user_id, " + db_.epoch_ms("created_at") + ", " +
          db_.epoch_ms("last_activity") + ", current_url, \"current_time\", is_playing, guest_control_enabled, seq, " +
          db_.epoch_ms("archived_at") + ", snapshot FROM rooms WHERE id = " + db_.param(1),
      {room_id});
  if (rows.empty()) return std::nullopt;
  const Row& row = rows.front();
  RoomDetail room;
  room.summary = {row.text(0), row.text(1), row.integer(2), row.text(3), row.integer(4), row.integer(5)};
  room.url = row.text(6);
  room.position_s = row.real(7);
  room.playing = row.integer(8) != 0;
  room.guest_control = row.integer(9) != 0;
  room.seq = row.integer(10);
  if (!row.is_null(11)) room.archived_at_ms = row.integer(11);

  if (auto members = snapshot_members(row.text(12))) {
    room.members = std::move(*members);
  } else {
    for (const auto& user : db_.query("SELECT id, username FROM users WHERE room_id = " + db_.param(1) +
                                          " ORDER BY created_at, id",
                                      {room_id})) {
      room.members.push_back({user.text(0), optional_text(user, 1)});
    }
  }

  const auto short_ids = db_.query("SELECT short_id, " + db_.epoch_ms("expires_at") +
                                       " FROM short_ids WHERE room_id = " + db_.param(1),
                                   {room_id});
  if (!short_ids.empty()) {
    room.short_id = short_ids.front().text(0);
    room.short_id_expires_ms = short_ids.front().integer(1);
  }
  return room;
}

bool RoomStore::has_events(const std::string& room_id) {
  return !db_.query("SELECT 1 FROM room_events WHERE room_id = " + db_.param(1) + " LIMIT 1", {room_id}).empty();
}

std::vector<Event> RoomStore::events(const EventFilter& filter) {
  std::vector<Value> params{filter.room_id};
  std::string where = " WHERE room_id = " + db_.param(1);
  auto next = [&](Value v) {
    params.push_back(std::move(v));
    return db_.param(static_cast<int>(params.size()));
  };
  if (!filter.types.empty()) {
    where += " AND event_type IN (";
    for (std::size_t i = 0; i < filter.types.size(); ++i) where += (i ? ", " : "") + next(filter.types[i]);
    where += ")";
  }
  if (filter.user_id) where += " AND user_id = " + next(*filter.user_id);
  if (filter.since_ms) where += " AND created_at >= " + db_.from_epoch_ms(next(*filter.since_ms));
  if (filter.until_ms) where += " AND created_at < " + db_.from_epoch_ms(next(*filter.until_ms));
  if (filter.after_id) where += " AND id > " + next(*filter.after_id);

  // Without after_id the newest `limit` rows (fetched newest first, returned oldest first).
  const bool newest = !filter.after_id;
  std::string sql = "SELECT id, room_id, seq, event_type, user_id, node_id, data, " + db_.epoch_ms("created_at") +
                    " FROM room_events" + where + (newest ? " ORDER BY id DESC" : " ORDER BY id");
  if (filter.limit > 0) sql += " LIMIT " + std::to_string(filter.limit);

  std::vector<Event> events;
  for (const auto& row : db_.query(sql, params)) {
    Event event;
    event.id = row.integer(0);
    event.room_id = row.text(1);
    if (!row.is_null(2)) event.seq = row.integer(2);
    event.type = row.text(3);
    event.user_id = optional_text(row, 4);
    event.node_id = optional_text(row, 5);
    event.data = normalize_json(row.text(6));
    event.at_ms = row.integer(7);
    events.push_back(std::move(event));
  }
  if (newest) std::reverse(events.begin(), events.end());
  return events;
}

PurgeCounts RoomStore::purge(std::int64_t cutoff_ms, bool dry_run) {
  const std::string expired = "SELECT id FROM rooms WHERE state = 'archived' AND COALESCE(archived_at, last_activity) < " +
                              db_.from_epoch_ms(db_.param(1));
  const std::vector<Value> params{cutoff_ms};
  auto count = [&](const std::string& table, const std::string& column) {
    return db_.query("SELECT COUNT(*) FROM " + table + " WHERE " + column + " IN (" + expired + ")", params)
        .front()
        .integer(0);
  };

  Transaction tx(db_);
  // Lock the expiring rows (PostgreSQL) so a room revived meanwhile keeps its events.
  db_.query(expired + db_.lock_rows(), params);
  PurgeCounts counts;
  counts.rooms = count("rooms", "id");
  counts.events = count("room_events", "room_id");
  counts.members = count("users", "room_id");
  counts.short_ids = count("short_ids", "room_id");
  if (dry_run) return counts;  // rolled back

  for (const char* table : {"room_events", "users", "short_ids"}) {
    db_.query(std::string("DELETE FROM ") + table + " WHERE room_id IN (" + expired + ")", params);
  }
  db_.query("DELETE FROM rooms WHERE id IN (" + expired + ")", params);
  tx.commit();
  return counts;
}

}  // namespace tandem::store
