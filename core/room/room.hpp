#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/proto/error_code.hpp"
#include "core/proto/frame.hpp"

namespace tandem::room {

// The room state machine (docs/protocol.md §2-6, §8, §10): pure, no I/O, no clocks, no randomness.
// `apply(state, input, now, settings)` mutates one room's state and returns what must happen as
// a consequence (frames, closes, audit records). Both the embedded and the cluster engine call
// exactly this code; they differ only in where `RoomState` lives and how effects are delivered.
//
// Contract for callers:
// * Calls for one room must be serialized (one at a time, in the order the engine commits them).
// * Every frame in Effects::frames with `sequenced == true` already carries its `seq`; the room's
//   `seq` was incremented once per such frame, in order. Callers deliver frames in vector order.
// * Effects::closes are delivered after every frame of the same Effects (a LEAVE's USER_LEFT
//   reaches the leaver before its close).
// * Time `now` is server wall-clock epoch milliseconds and never goes backwards for one room
//   (callers clamp).
// * Deadlines (gate timeout, host grace) due at `now` are resolved by every input — before a
//   JOIN, frame or SeenInput, after the departure of a DisconnectInput/NodeLostInput — so the
//   outcome does not depend on whether a Tick came first, and a second resolution is a no-op.
//   Only a TickInput archives an expired empty room.
// * An input for an archived room: a JOIN creates the room afresh; anything else is ignored
//   (frames get ERROR not_joined).

using Millis = std::int64_t;
// A connection, unique in the cluster: "<nodeId>/<number>".
using ConnId = std::string;

struct Settings {
  Millis host_grace = 15'000;
  Millis empty_ttl = 600'000;
  Millis ready_timeout = 7'000;
  Millis stale_after = 20'000;
  std::size_t max_room_members = 50;
  std::vector<std::string> allowed_url_prefixes = {"https://www.netflix.com/"};  // empty: any URL
  bool strict_identity = false;
  std::size_t max_pin_attempts = 5;  // per connection; the engine counts, the room reports
  // Wrong PINs a room takes per minute (limits.pin_attempts_per_room_minute). Beyond it, JOINs
  // that need the PIN are refused unchecked (too_many_attempts) unless they come from the address
  // group of a current member.
  std::size_t pin_attempts_per_room_minute = 30;
  std::string pin_secret;            // security.pin_secret
};

// Salted PBKDF2-HMAC-SHA256 of a PIN (hex). The PIN itself is never stored.
struct PinHash {
  std::string salt;  // hex
  std::string hash;  // hex
  // Hashed with Settings::pin_secret: PBKDF2 over HMAC-SHA256(secret, PIN) instead of the PIN.
  bool peppered = false;
  bool operator==(const PinHash&) const = default;
};

struct Member {
  std::string user_id;
  std::optional<std::string> username;
  std::string peer_id;      // fresh per connection
  ConnId conn;              // the connection currently holding the seat
  std::string node_id;      // node of `conn`
  std::string client_addr;  // for /status caller mode and per-address limits
  std::string session_token;  // renewed by every successful JOIN
  Millis joined_at = 0;     // first join (keeps its place across takeovers)
  Millis last_seen = 0;     // last frame or pong from this member (strict identity "stale")
  bool operator==(const Member&) const = default;
};

// An open READY gate (§6).
struct Gate {
  std::uint64_t id = 0;  // increasing per room; a release names the gate it releases
  double target = 0;
  bool desired_play = false;
  Millis opened_at = 0;
  Millis deadline = 0;
  std::string seeker;
  std::vector<std::string> expected;  // user ids
  std::vector<std::string> ready;     // user ids, subset of expected
  bool operator==(const Gate&) const = default;
};

struct RoomState {
  std::string room_id;
  bool exists = false;  // false until the first successful JOIN creates it
  std::string url;
  double current_time = 0;
  bool is_playing = false;
  Millis position_at = 0;       // the time current_time refers to (when the node read the frame that reported it)
  std::string host_user_id;     // may name an absent member during the host grace
  std::optional<Millis> host_grace_deadline;
  bool guest_control = false;
  std::optional<PinHash> pin;
  // When the last wrong PINs were given (the last minute, at most
  // Settings::pin_attempts_per_room_minute of them, oldest first).
  std::vector<Millis> pin_failures;
  std::vector<Member> members;  // join order
  std::uint64_t seq = 0;
  std::optional<Gate> gate;
  std::uint64_t next_gate_id = 1;
  std::optional<Millis> empty_since;  // set when the last member disconnected without LEAVE
  std::optional<Millis> empty_deadline;  // empty_since + Settings::empty_ttl: archived at a Tick then
  bool archived = false;
  Millis created_at = 0;
  Millis last_activity = 0;
  bool operator==(const RoomState&) const = default;
};

// ---- Inputs ----------------------------------------------------------------------------------

// A validated JOIN (the engine already rejected field errors). Random values are supplied by
// the caller so that the machine stays deterministic.
struct JoinInput {
  ConnId conn;
  std::string node_id;
  std::string client_addr;
  proto::Join join;
  std::string peer_id;         // fresh random id for this connection
  std::string session_token;   // fresh 32-hex token, used if the JOIN succeeds
  std::string pin_salt;        // salt (hex; pin_salt_for(room id)), used if this JOIN creates the room with a PIN
  // hash_pin(join.pin, pin_salt, Settings::pin_secret), computed by the caller off the room's
  // path (PBKDF2 is slow on purpose). The room uses it where its salt and pepper are the ones a
  // check needs, and hashes itself otherwise (a PIN stored with another salt).
  std::optional<PinHash> pin_proof;
  bool addr_blocked = false;   // the client address is over pin_attempts_per_ip_minute
  // Set by the engine when this JOIN would create the room and its room limits say no
  // (server_busy: the node holds limits.max_rooms; too_many_rooms: the address's creation rate).
  // The room answers it with this ERROR and stays absent; a JOIN to an existing room ignores it.
  std::optional<proto::ErrorCode> create_refusal;
  // Informational: the room finds the connection's seat in its own members. A connection
  // already seated here is not asked for the PIN again.
  bool same_socket_rejoin = false;
};

// A frame from a connection bound to this room (everything but JOIN). PING is answered with
// PONG here (also for a connection not in the room) and refreshes last_seen; any other frame
// from a connection not in the room gets ERROR not_joined.
struct FrameInput {
  ConnId conn;
  std::string node_id;
  proto::Frame frame;
  // When the node read the frame (epoch ms; 0: when it is applied). A controller's reported
  // position is its position as of then: a frame that waited in the node before it was applied
  // must not set the room's position that much behind the video.
  Millis received_at = 0;
};

// The member's connection is leaving the room without LEAVE: socket closed, or the socket is
// switching to another room (`switching` = true: the socket gets nothing of this room any more
// and an emptied room is archived as by a LEAVE).
struct DisconnectInput {
  ConnId conn;
  bool switching = false;
};

// Resolve deadlines due at `now`: gate timeout, host grace, empty room TTL.
struct TickInput {};

// A whole node is gone (cluster): remove every member whose connection is on `node_id`.
struct NodeLostInput {
  std::string node_id;
};

// The member's connection showed life without a frame (a WebSocket pong): refreshes last_seen
// for strict identity's "silent" (§10 Timing). No frames.
struct SeenInput {
  ConnId conn;
};

using Input = std::variant<JoinInput, FrameInput, DisconnectInput, TickInput, NodeLostInput, SeenInput>;

// ---- Effects ---------------------------------------------------------------------------------

struct OutFrame {
  std::vector<ConnId> recipients;  // may be empty (e.g. USER_JOINED to a room of one)
  boost::json::object frame;       // complete, including seq when sequenced
  bool sequenced = false;
};

struct Close {
  ConnId conn;
  std::uint16_t code;
  std::string reason;
};

// §8 events. `seq` follows §10: the seq of the broadcast the event caused, else the room's current
// seq. The node id is the engine's to add. `detail` per type:
//   ROOM_CREATED {hasPin}  USER_JOINED {peerId, username, takeover}
//   USER_LEFT {peerId, reason: leave|switch|rejoin|disconnect|node_lost}
//   HOST_CHANGED {from, reason: leave|grace_expired|transfer|join}  GUEST_CONTROL {enabled}
//   USERNAME_UPDATED {username}  PLAY_PAUSE {control, currentTime}  SEEK {currentTime, isPlaying}
//   GATE_RELEASED {played, reason: quorum|timeout|cancelled} (user_id = the seeker)
//   URL_CHANGE {url[, currentTime]}  ROOM_ARCHIVED {reason: empty|expired}
//   PIN_REJECTED {reason: bad_pin|invalid_pin|too_many_attempts, clientAddr}
struct AuditRecord {
  std::string room_id;
  std::string type;     // ROOM_CREATED, USER_JOINED, … (§8)
  std::string user_id;  // empty when not about a user
  std::uint64_t seq = 0;
  Millis at = 0;
  boost::json::object detail;
};

enum class JoinOutcome {
  none,         // not a join
  joined,       // the connection is now bound to the room
  rejected,     // ERROR sent; the connection stays where it was
  pin_rejected, // wrong/missing/invalid PIN: the engine counts the attempt (per connection, per address)
};

struct Effects {
  std::vector<OutFrame> frames;
  std::vector<Close> closes;
  std::vector<AuditRecord> audit;
  JoinOutcome join = JoinOutcome::none;
  std::optional<ConnId> replaced_conn;  // a takeover unbound this connection (it is also closed 4001)
  std::optional<ConnId> unbound_conn;   // this connection is no longer in the room (LEAVE, disconnect;
                                        // not set for NodeLostInput: that node's connections are gone)
  bool archived = false;                // the room ended; the caller drops its state
  bool changed = false;                 // state differs from before (persist it)
};

// Applies one input. See the contract at the top of this file.
Effects apply(RoomState& state, const Input& input, Millis now, const Settings& settings);

// The earliest deadline at which a TickInput would change something, if any.
std::optional<Millis> next_deadline(const RoomState& state);

// What an input may change of a room without anything to commit: the sender's `last_seen`,
// `last_activity` and the playback position (current_time, is_playing, position_at). Taken
// before applying a PING, POSITION_UPDATE, REQUEST_SYNC or frame to one peer while no deadline
// is due — the inputs whose effects on the state stay within those fields — `restore` puts the
// state back exactly as it was. The cluster's at-once path applies such frames to its cached
// room in place and undoes the few that turn out to need a commit, instead of copying the room
// for each (docs/architecture.md, "A frame's path").
class Bookmark {
 public:
  // nullopt: `input` at `now` may change more than these fields (another input, a due deadline).
  static std::optional<Bookmark> take(const RoomState& state, const Input& input, Millis now);
  void restore(RoomState& state) const;

 private:
  double current_time_ = 0;
  bool is_playing_ = false;
  Millis position_at_ = 0;
  Millis last_activity_ = 0;
  std::optional<std::size_t> sender_;  // index of the sender's seat, if it has one
  Millis sender_seen_ = 0;
};

// Removes every member of `state` as a lost node's member (NodeLostInput per node, in node
// order): for a room whose connections are all gone (a restart, Redis data lost). Returns the
// audit records; the room may end.
std::vector<AuditRecord> remove_all_members(RoomState& state, Millis now, const Settings& settings);

// Position in seconds as reported to clients: current_time + (now - position_at) / 1000 while
// playing (§5), never less than current_time.
double position_at(const RoomState& state, Millis now);

// The state for persistence (SQLite snapshot, Redis) and back: from_json(to_json(s)) == s, also
// through the serialized text (doubles are written as shortest round-trip decimal strings, since
// Boost.JSON 1.81 does not parse every number back exactly). from_json throws
// std::invalid_argument on a malformed document; unknown keys are ignored.
boost::json::value to_json(const RoomState& state);
RoomState from_json(const boost::json::value& value);

// PIN helpers (PBKDF2-HMAC-SHA256, 2000 iterations, 32-byte key; the salt's hex text is the
// PBKDF2 salt; constant-time comparison).
// `secret` (Settings::pin_secret) empty: PBKDF2 of the PIN itself (a hash made so stays
// verifiable when a secret is configured later).
PinHash hash_pin(const std::string& pin, const std::string& salt_hex, const std::string& secret = {});
// A peppered hash never matches without the secret.
bool pin_matches(const PinHash& stored, const std::string& pin, const std::string& secret = {});
// The salt a room's PIN is hashed with: derived from the room id (SHA-256, 32 hex digits), so that
// a JOIN's PIN can be hashed before the room is looked at (JoinInput::pin_proof). What keeps a
// stored hash useless offline is the pepper (security.pin_secret), not the salt's secrecy; the
// salt still differs per room, so one precomputed table does not serve two rooms.
std::string pin_salt_for(const std::string& room_id);

}  // namespace tandem::room
