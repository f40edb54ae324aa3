#include "core/engine/redis/commit.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>
#include <stdexcept>

#include "core/engine/redis/envelope.hpp"
#include "core/engine/redis/keys.hpp"

namespace tandem::engine::redis {

namespace json = boost::json;

namespace {

// `nodes` with the nodes of every recipient and closed connection of `effects`, sorted and unique.
std::vector<std::string> with_recipient_nodes(std::vector<std::string> nodes, const room::Effects& effects) {
  for (const auto& f : effects.frames) {
    for (const auto& r : f.recipients) nodes.emplace_back(node_of(r));
  }
  for (const auto& close : effects.closes) nodes.emplace_back(node_of(close.conn));
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  nodes.erase(std::remove(nodes.begin(), nodes.end(), std::string()), nodes.end());
  return nodes;
}

}  // namespace

std::vector<std::string> member_nodes(const room::RoomState& state) {
  std::vector<std::string> nodes;
  for (const auto& m : state.members) nodes.push_back(m.node_id);
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  return nodes;
}

Commit plan_commit(const room::RoomState& after, const std::vector<std::string>& nodes_before,
                   const room::Effects& effects, std::uint64_t expected_version, room::Millis now,
                   const std::string& node_id, const std::function<std::string()>& next_uid) {
  Commit c;
  c.expected_version = expected_version;
  const bool ended = effects.archived || !after.exists;
  if (!ended) c.state = json::serialize(room::to_json(after));
  c.envelope = encode_envelope(after.room_id, expected_version + 1, now, effects.frames, effects.closes,
                               ended ? std::string_view() : std::string_view(c.state));

  const std::vector<std::string> nodes_after = ended ? std::vector<std::string>() : member_nodes(after);
  std::set_difference(nodes_after.begin(), nodes_after.end(), nodes_before.begin(), nodes_before.end(),
                      std::back_inserter(c.nodes_added));
  std::set_difference(nodes_before.begin(), nodes_before.end(), nodes_after.begin(), nodes_after.end(),
                      std::back_inserter(c.nodes_removed));
  std::vector<std::string> targets = nodes_before;
  targets.insert(targets.end(), nodes_after.begin(), nodes_after.end());
  c.target_nodes = with_recipient_nodes(std::move(targets), effects);

  if (!ended) {
    c.deadline = room::next_deadline(after);
    c.status = status_summary(after);
  }
  for (const auto& record : effects.audit) {
    AuditEntry entry;
    entry.uid = next_uid();
    entry.fields = {"r", record.room_id,
                    "t", record.type,
                    "u", record.user_id,
                    "q", std::to_string(record.seq),
                    "a", std::to_string(record.at),
                    "d", json::serialize(record.detail),
                    "n", node_id,
                    "i", entry.uid};
    c.audit.push_back(std::move(entry));
  }
  return c;
}

Commit plan_advance(const room::RoomState& after, const room::Effects& effects, std::uint64_t expected_version,
                    room::Millis now) {
  Commit c;
  c.expected_version = expected_version;
  c.advance = Advance{after.seq, after.last_activity};
  c.envelope = encode_envelope(after.room_id, expected_version + 1, now, effects.frames, effects.closes, {}, c.advance);
  c.target_nodes = with_recipient_nodes(member_nodes(after), effects);
  return c;
}

std::optional<room::RoomState> stored_room(std::string_view s, std::string_view q, std::string_view a) {
  if (s.empty()) return std::nullopt;
  room::RoomState state = room::from_json(json::parse(s));
  auto number = [](std::string_view text, auto& out) {
    if (text.empty()) return;
    std::remove_reference_t<decltype(out)> value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) {
      throw std::invalid_argument("room hash field is not a number: " + std::string(text));
    }
    out = std::max(out, value);
  };
  number(q, state.seq);
  number(a, state.last_activity);
  return state;
}

std::string status_summary(const room::RoomState& s) {
  json::array users;
  json::array addrs;
  for (const auto& m : s.members) {
    users.push_back(json::object{{"userId", m.user_id},
                                 {"username", m.username ? json::value(*m.username) : json::value(nullptr)}});
    addrs.emplace_back(m.client_addr);
  }
  json::object o;
  o["roomId"] = s.room_id;
  o["connectionCount"] = s.members.size();
  o["isPlaying"] = s.is_playing;
  o["currentUrl"] = s.url;
  o["hostUserId"] = s.host_user_id;
  o["users"] = std::move(users);
  o["addrs"] = std::move(addrs);
  if (s.is_playing) {
    const double origin = static_cast<double>(s.position_at) - s.current_time * 1000.0;
    o["o"] = static_cast<std::int64_t>(std::llround(origin / kStatusOriginRounding)) * kStatusOriginRounding;
  } else {
    o["ct"] = s.current_time;
  }
  return json::serialize(o);
}

StatusEntry render_status_entry(std::string_view summary, room::Millis now) {
  json::error_code ec;
  json::value doc = json::parse(summary, ec);
  if (ec || !doc.is_object()) throw std::invalid_argument("status summary is not a JSON object");
  const json::object& in = doc.get_object();
  try {
    StatusEntry entry;
    entry.room_id = std::string(in.at("roomId").as_string());
    const bool playing = in.at("isPlaying").as_bool();
    double position = 0;
    if (playing) {
      position = std::max(0.0, static_cast<double>(now - in.at("o").to_number<std::int64_t>()) / 1000.0);
    } else {
      position = in.at("ct").to_number<double>();
    }
    json::object out;
    out["roomId"] = in.at("roomId");
    out["connectionCount"] = in.at("connectionCount");
    out["currentTime"] = position;
    out["isPlaying"] = playing;
    out["currentUrl"] = in.at("currentUrl");
    out["hostUserId"] = in.at("hostUserId");
    out["users"] = in.at("users");
    entry.members = in.at("users").as_array().size();
    for (const auto& a : in.at("addrs").as_array()) entry.addrs.emplace_back(a.as_string());
    entry.json = json::serialize(out);
    return entry;
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("malformed status summary: ") + e.what());
  }
}

}  // namespace tandem::engine::redis
