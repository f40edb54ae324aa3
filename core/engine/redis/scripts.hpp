#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/engine/redis/commit.hpp"
#include "core/engine/redis/keys.hpp"

namespace tandem::engine::redis {

// The Lua scripts of the cluster. Each runs atomically in Redis; nodes call them with EVALSHA
// (the SHA-1 is computed here, the script is loaded with SCRIPT LOAD at every connect, and a
// NOSCRIPT answer falls back to EVAL).
struct Script {
  std::string_view name;
  std::string_view source;
  std::string sha1;  // hex
};

// Commit one room change (see Commit). Replies [1, new version] or, when the stored version is
// not the expected one, [0, stored version, s, q, a] (the room hash's fields, "" when absent;
// see stored_room) and changes nothing.
const Script& commit_script();
// Commit an advance (Commit::advance, see plan_advance): the version, q and a, the short id's
// TTL, and the envelope; the state is not rewritten. Replies like commit_script (also [0, …]
// when the room has no state).
const Script& advance_script();
// Writes a node's copy of a room that Redis lost (after a Redis restart without persistence),
// unless the room is there again. Replies 1 (seeded) or 0.
const Script& seed_script();
// Removes the deadline and /status entries of a room that no longer exists. Replies 0/1.
const Script& forget_script();
// Reserves one PIN attempt of a client address group within the last minute: 1, or 0 at the
// limit (the set holds at most `limit` attempts; an attempt that did not count is ZREMed).
const Script& pin_attempt_script();
// Returns the room's short id, or mints one from the candidates: [short id or "", 1 if minted].
const Script& short_id_script();

// Arguments after "EVALSHA <sha>" for commit_script().
std::vector<std::string> commit_arguments(const Keys& keys, const std::string& room_id, const Commit& commit,
                                          std::int64_t short_id_ttl_ms, std::int64_t tombstone_ttl_ms);

// Arguments after "EVALSHA <sha>" for advance_script().
std::vector<std::string> advance_arguments(const Keys& keys, const std::string& room_id, const Commit& commit,
                                           std::int64_t short_id_ttl_ms);

// Arguments after "EVALSHA <sha>" for seed_script().
std::vector<std::string> seed_arguments(const Keys& keys, const std::string& room_id, std::uint64_t version,
                                        const std::string& state_json, const std::vector<std::string>& nodes,
                                        const std::optional<room::Millis>& deadline, const std::string& status);

// Tombstones of ended rooms keep their version this long, so that a room created again with
// the same id continues the version sequence (nodes recognise old envelopes).
inline constexpr std::int64_t kTombstoneTtlMs = 3'600'000;

}  // namespace tandem::engine::redis
