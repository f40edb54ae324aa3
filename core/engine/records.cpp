#include "core/engine/records.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace tandem::engine {

namespace json = boost::json;

std::vector<AuditEvent> audit_events(const std::vector<room::AuditRecord>& records, const std::string& node_id,
                                     const std::function<std::string()>& next_uid) {
  std::vector<AuditEvent> events;
  events.reserve(records.size());
  for (const auto& r : records) {
    events.push_back(AuditEvent{next_uid ? next_uid() : std::string(), r.room_id, r.type, r.user_id,
                                json::serialize(r.detail), node_id, static_cast<std::int64_t>(r.seq), r.at});
  }
  return events;
}

RoomSnapshot room_snapshot(const room::RoomState& s, bool ended, const std::string& document, room::Millis now) {
  RoomSnapshot snap;
  snap.room_id = s.room_id;
  snap.state = ended ? "archived" : (s.members.empty() ? "idle" : "live");
  snap.host_user_id = s.host_user_id;
  snap.url = s.url;
  snap.current_time = room::position_at(s, now);
  snap.is_playing = s.is_playing;
  snap.guest_control = s.guest_control;
  snap.member_count = ended ? 0 : static_cast<std::int64_t>(s.members.size());
  snap.seq = s.seq;
  snap.created_at = s.created_at;
  snap.last_activity = now;
  if (ended && document.empty()) {
    room::RoomState copy = s;
    copy.archived = true;
    copy.members.clear();
    snap.document = json::serialize(room::to_json(copy));
  } else {
    snap.document = document;
  }
  return snap;
}

RoomSummary status_row(const room::RoomState& s, room::Millis now) {
  RoomSummary summary;
  json::array users;
  users.reserve(s.members.size());
  for (const auto& m : s.members) {
    users.push_back(json::object{{"userId", m.user_id},
                                 {"username", m.username ? json::value(*m.username) : json::value(nullptr)}});
    summary.addrs.push_back(m.client_addr);
  }
  const json::object row{{"roomId", s.room_id},
                         {"connectionCount", s.members.size()},
                         {"currentTime", room::position_at(s, now)},
                         {"isPlaying", s.is_playing},
                         {"currentUrl", s.url},
                         {"hostUserId", s.host_user_id},
                         {"users", std::move(users)}};
  summary.json = json::serialize(row);
  return summary;
}

}  // namespace tandem::engine
