#include "core/engine/redis/scripts.hpp"

#include <openssl/sha.h>

namespace tandem::engine::redis {

namespace {

std::string sha1_hex(std::string_view text) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return hex(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

Script make(std::string_view name, std::string_view source) { return Script{name, source, sha1_hex(source)}; }

// KEYS: 1 room, 2 deadlines, 3 status, 4 audit stream, 5 room's short id, 6.. node room indexes
//       (added nodes first, then removed ones)
// ARGV: 1 expected version, 2 state ("" = room ended), 3 envelope, 4 deadline ("" = none),
//       5 room id, 6 status summary, 7 short id ttl ms, 8 short id key prefix, 9 tombstone ttl ms,
//       10 #added, 11 #removed, 12 #channels, channels…, #audit, (#fields, fields…)…
constexpr std::string_view kCommit = R"lua(
local room = ARGV[5]
local cur = redis.call('HGET', KEYS[1], 'v')
local curv = 0
if cur then curv = tonumber(cur) end
if curv ~= tonumber(ARGV[1]) then
  local f = redis.call('HMGET', KEYS[1], 's', 'q', 'a')
  return {0, curv, f[1] or '', f[2] or '', f[3] or ''}
end
local newv = curv + 1
redis.call('HDEL', KEYS[1], 'q', 'a')
if ARGV[2] == '' then
  redis.call('HSET', KEYS[1], 'v', newv)
  redis.call('HDEL', KEYS[1], 's')
  redis.call('PEXPIRE', KEYS[1], ARGV[9])
  redis.call('HDEL', KEYS[3], room)
else
  redis.call('HSET', KEYS[1], 'v', newv, 's', ARGV[2])
  redis.call('PERSIST', KEYS[1])
  if redis.call('HGET', KEYS[3], room) ~= ARGV[6] then redis.call('HSET', KEYS[3], room, ARGV[6]) end
  local sid = redis.call('GET', KEYS[5])
  if sid then
    redis.call('PEXPIRE', KEYS[5], ARGV[7])
    redis.call('PEXPIRE', ARGV[8] .. sid, ARGV[7])
  end
end
if ARGV[4] == '' then redis.call('ZREM', KEYS[2], room) else redis.call('ZADD', KEYS[2], ARGV[4], room) end
local nadd = tonumber(ARGV[10])
local nrem = tonumber(ARGV[11])
for i = 1, nadd do redis.call('SADD', KEYS[5 + i], room) end
for i = 1, nrem do redis.call('SREM', KEYS[5 + nadd + i], room) end
local i = 12
local nch = tonumber(ARGV[i])
i = i + 1
for c = 1, nch do
  redis.call('PUBLISH', ARGV[i], ARGV[3])
  i = i + 1
end
local nau = tonumber(ARGV[i])
i = i + 1
for a = 1, nau do
  local nf = tonumber(ARGV[i])
  i = i + 1
  local fields = {}
  for f = 1, nf do
    fields[f] = ARGV[i]
    i = i + 1
  end
  redis.call('XADD', KEYS[4], '*', unpack(fields))
end
return {1, newv}
)lua";

// KEYS: 1 room, 2 room's short id
// ARGV: 1 expected version, 2 seq, 3 last activity, 4 envelope, 5 short id ttl ms,
//       6 short id key prefix, 7.. channels
// The state stays as it is: q and a say how far the advances since it was written moved it.
constexpr std::string_view kAdvance = R"lua(
local cur = redis.call('HGET', KEYS[1], 'v')
local curv = 0
if cur then curv = tonumber(cur) end
if curv ~= tonumber(ARGV[1]) or redis.call('HEXISTS', KEYS[1], 's') == 0 then
  local f = redis.call('HMGET', KEYS[1], 's', 'q', 'a')
  return {0, curv, f[1] or '', f[2] or '', f[3] or ''}
end
local newv = curv + 1
redis.call('HSET', KEYS[1], 'v', newv, 'q', ARGV[2], 'a', ARGV[3])
local sid = redis.call('GET', KEYS[2])
if sid then
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
  redis.call('PEXPIRE', ARGV[6] .. sid, ARGV[5])
end
for i = 7, #ARGV do redis.call('PUBLISH', ARGV[i], ARGV[4]) end
return {1, newv}
)lua";

// KEYS: 1 room, 2 deadlines, 3 status, 4.. node room indexes
// ARGV: 1 version, 2 state, 3 deadline ("" = none), 4 room id, 5 status summary
constexpr std::string_view kSeed = R"lua(
if redis.call('HEXISTS', KEYS[1], 's') == 1 then return 0 end
local cur = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if cur >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 's', ARGV[2])
redis.call('HDEL', KEYS[1], 'q', 'a')
redis.call('PERSIST', KEYS[1])
if ARGV[3] == '' then redis.call('ZREM', KEYS[2], ARGV[4]) else redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4]) end
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
for i = 4, #KEYS do redis.call('SADD', KEYS[i], ARGV[4]) end
return 1
)lua";

// KEYS: 1 room, 2 deadlines, 3 status; ARGV: 1 room id
constexpr std::string_view kForget = R"lua(
if redis.call('HEXISTS', KEYS[1], 's') == 1 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
)lua";

// KEYS: 1 the address group's wrong-PIN set; ARGV: 1 now ms, 2 window ms, 3 limit, 4 attempt id
// Reserves a place for one PIN attempt: 1, or 0 when the last window already holds `limit`.
constexpr std::string_view kPinAttempt = R"lua(
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
)lua";

// KEYS: 1 room's short id; ARGV: 1 room id, 2 ttl ms, 3 short id key prefix, 4.. candidates
constexpr std::string_view kShortId = R"lua(
local s = redis.call('GET', KEYS[1])
if s then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', ARGV[3] .. s, ARGV[2])
  return {s, 0}
end
for i = 4, #ARGV do
  if redis.call('SET', ARGV[3] .. ARGV[i], ARGV[1], 'NX', 'PX', ARGV[2]) then
    redis.call('SET', KEYS[1], ARGV[i], 'PX', ARGV[2])
    return {ARGV[i], 1}
  end
end
return {'', 0}
)lua";

}  // namespace

const Script& commit_script() {
  static const Script script = make("commit", kCommit);
  return script;
}
const Script& advance_script() {
  static const Script script = make("advance", kAdvance);
  return script;
}
const Script& seed_script() {
  static const Script script = make("seed", kSeed);
  return script;
}
const Script& forget_script() {
  static const Script script = make("forget", kForget);
  return script;
}
const Script& pin_attempt_script() {
  static const Script script = make("pin_attempt", kPinAttempt);
  return script;
}
const Script& short_id_script() {
  static const Script script = make("short_id", kShortId);
  return script;
}

std::vector<std::string> commit_arguments(const Keys& keys, const std::string& room_id, const Commit& c,
                                          std::int64_t short_id_ttl_ms, std::int64_t tombstone_ttl_ms) {
  std::vector<std::string> args;
  std::vector<std::string> key_list{keys.room(room_id), keys.deadlines(), keys.status(), keys.audit(),
                                    keys.room_short_id(room_id)};
  for (const auto& n : c.nodes_added) key_list.push_back(keys.node_rooms(n));
  for (const auto& n : c.nodes_removed) key_list.push_back(keys.node_rooms(n));
  args.push_back(std::to_string(key_list.size()));
  for (auto& k : key_list) args.push_back(std::move(k));
  args.push_back(std::to_string(c.expected_version));
  args.push_back(c.state);
  args.push_back(c.envelope);
  args.push_back(c.deadline ? std::to_string(*c.deadline) : std::string());
  args.push_back(room_id);
  args.push_back(c.status);
  args.push_back(std::to_string(short_id_ttl_ms));
  args.push_back(keys.short_id_prefix());
  args.push_back(std::to_string(tombstone_ttl_ms));
  args.push_back(std::to_string(c.nodes_added.size()));
  args.push_back(std::to_string(c.nodes_removed.size()));
  args.push_back(std::to_string(c.target_nodes.size()));
  for (const auto& n : c.target_nodes) args.push_back(keys.node_channel(n));
  args.push_back(std::to_string(c.audit.size()));
  for (const auto& entry : c.audit) {
    args.push_back(std::to_string(entry.fields.size()));
    args.insert(args.end(), entry.fields.begin(), entry.fields.end());
  }
  return args;
}

std::vector<std::string> advance_arguments(const Keys& keys, const std::string& room_id, const Commit& c,
                                           std::int64_t short_id_ttl_ms) {
  std::vector<std::string> args{"2", keys.room(room_id), keys.room_short_id(room_id)};
  args.push_back(std::to_string(c.expected_version));
  args.push_back(std::to_string(c.advance ? c.advance->seq : 0));
  args.push_back(std::to_string(c.advance ? c.advance->last_activity : 0));
  args.push_back(c.envelope);
  args.push_back(std::to_string(short_id_ttl_ms));
  args.push_back(keys.short_id_prefix());
  for (const auto& n : c.target_nodes) args.push_back(keys.node_channel(n));
  return args;
}

std::vector<std::string> seed_arguments(const Keys& keys, const std::string& room_id, std::uint64_t version,
                                        const std::string& state_json, const std::vector<std::string>& nodes,
                                        const std::optional<room::Millis>& deadline, const std::string& status) {
  std::vector<std::string> key_list{keys.room(room_id), keys.deadlines(), keys.status()};
  for (const auto& n : nodes) key_list.push_back(keys.node_rooms(n));
  std::vector<std::string> args{std::to_string(key_list.size())};
  for (auto& k : key_list) args.push_back(std::move(k));
  args.push_back(std::to_string(version));
  args.push_back(state_json);
  args.push_back(deadline ? std::to_string(*deadline) : std::string());
  args.push_back(room_id);
  args.push_back(status);
  return args;
}

}  // namespace tandem::engine::redis
