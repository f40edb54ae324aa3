#include "core/engine/redis/envelope.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <stdexcept>

namespace tandem::engine::redis {

namespace json = boost::json;

std::string encode_envelope(const std::string& room_id, std::uint64_t version, room::Millis sent_at,
                            const std::vector<room::OutFrame>& frames, const std::vector<room::Close>& closes,
                            std::string_view state_json, const std::optional<Advance>& advance) {
  json::array f;
  f.reserve(frames.size());
  for (const auto& out : frames) {
    json::array to;
    to.reserve(out.recipients.size());
    for (const auto& r : out.recipients) to.emplace_back(r);
    json::array item{std::move(to), json::value(json::serialize(out.frame))};
    if (out.sequenced) item.emplace_back(1);
    f.emplace_back(std::move(item));
  }
  json::array c;
  for (const auto& close : closes) c.emplace_back(json::array{json::value(close.conn), close.code, json::value(close.reason)});
  json::object head;
  head["r"] = room_id;
  if (version != 0) head["v"] = version;
  head["t"] = sent_at;
  head["f"] = std::move(f);
  head["c"] = std::move(c);
  if (version != 0 && advance) {
    head["q"] = advance->seq;
    head["a"] = advance->last_activity;
  }
  std::string out = json::serialize(head);
  if (version != 0 && !advance) {
    // Splice the state in without parsing it again: `{…,"s":<state>}`.
    out.pop_back();
    out += ",\"s\":";
    out += state_json.empty() ? std::string_view("null") : state_json;
    out += '}';
  }
  return out;
}

Envelope decode_envelope(std::string_view payload) {
  json::error_code ec;
  json::value doc = json::parse(payload, ec);
  if (ec || !doc.is_object()) throw std::invalid_argument("envelope is not a JSON object");
  const json::object& o = doc.get_object();
  Envelope env;
  try {
    env.room_id = std::string(o.at("r").as_string());
    // Versions and close codes are read in their own types: a negative version or an
    // out-of-range code is malformed, never wrapped around.
    if (const auto* v = o.if_contains("v")) env.version = v->to_number<std::uint64_t>();
    if (const auto* t = o.if_contains("t")) env.sent_at = t->to_number<std::int64_t>();
    for (const auto& item : o.at("f").as_array()) {
      const auto& a = item.as_array();
      Envelope::Frame frame;
      for (const auto& to : a.at(0).as_array()) frame.to.emplace_back(to.as_string());
      frame.text = std::make_shared<const std::string>(a.at(1).as_string());
      frame.sequenced = a.size() > 2;
      env.frames.push_back(std::move(frame));
    }
    for (const auto& item : o.at("c").as_array()) {
      const auto& a = item.as_array();
      env.closes.push_back(room::Close{std::string(a.at(0).as_string()),
                                       a.at(1).to_number<std::uint16_t>(),
                                       std::string(a.at(2).as_string())});
    }
    if (env.version != 0) {
      if (const auto* s = o.if_contains("s")) {
        if (!s->is_null()) env.state = room::from_json(*s);
      } else {
        env.advance = Advance{o.at("q").to_number<std::uint64_t>(), o.at("a").to_number<std::int64_t>()};
      }
    }
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("malformed envelope: ") + e.what());
  }
  return env;
}

}  // namespace tandem::engine::redis
