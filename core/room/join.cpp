#include <algorithm>
#include <utility>

#include "core/room/frames.hpp"
#include "core/room/steps.hpp"
#include "core/util/address_group.hpp"

namespace tandem::room::detail {

namespace {

using proto::ErrorCode;

void reject(Context& ctx, const JoinInput& input, ErrorCode code) {
  ctx.send_error(input.conn, code);
  ctx.fx.join = JoinOutcome::rejected;
}

constexpr Millis kPinWindow = 60'000;

// A wrong attempt at a PIN-protected room: the engine counts it per connection and address.
void reject_pin(Context& ctx, const JoinInput& input, ErrorCode code) {
  ctx.send_error(input.conn, code);
  boost::json::object detail;
  detail["reason"] = proto::code_name(code);
  detail["clientAddr"] = input.client_addr;
  ctx.audit("PIN_REJECTED", input.join.user_id, ctx.s.seq, std::move(detail));
  ctx.fx.join = JoinOutcome::pin_rejected;
}

// Whether the caller's proof (JoinInput::pin_proof) was hashed with this salt and pepper, so
// that it can stand for the PIN.
bool proof_made_with(const std::optional<PinHash>& proof, const std::string& salt, bool peppered) {
  return proof && proof->salt == salt && proof->peppered == peppered;
}

void create_room(Context& ctx, const JoinInput& input) {
  RoomState fresh;
  fresh.room_id = input.join.room_id;
  fresh.exists = true;
  fresh.position_at = ctx.now;
  fresh.host_user_id = input.join.user_id;
  if (input.join.pin) {
    fresh.pin = proof_made_with(input.pin_proof, input.pin_salt, !ctx.settings.pin_secret.empty())
                    ? *input.pin_proof
                    : hash_pin(*input.join.pin, input.pin_salt, ctx.settings.pin_secret);
  }
  fresh.created_at = ctx.now;
  fresh.last_activity = ctx.now;
  ctx.s = std::move(fresh);
  ctx.mark_changed();
  boost::json::object detail;
  detail["hasPin"] = ctx.s.pin.has_value();
  ctx.audit("ROOM_CREATED", input.join.user_id, ctx.s.seq, std::move(detail));
}

// Binds the connection to the seat of input.join.user_id (new, taken over or re-joined) and
// tells everyone: USER_JOINED to the others, ROOM_STATE to the joiner, then HOST_CHANGED if the
// joiner fills a vacant host role.
void seat_joiner(Context& ctx, const JoinInput& input) {
  RoomState& s = ctx.s;
  const proto::Join& join = input.join;
  bool takeover = false;
  Member* seat = ctx.member_by_user(join.user_id);
  if (seat == nullptr) {
    s.members.push_back(Member{});
    seat = &s.members.back();
    seat->user_id = join.user_id;
    seat->joined_at = ctx.now;
  } else if (seat->conn != input.conn) {
    takeover = true;
    ctx.send_error(seat->conn, ErrorCode::replaced);
    ctx.close(seat->conn, 4001, "Replaced by a new connection");
    ctx.fx.replaced_conn = seat->conn;
  }
  seat->username = join.username;
  seat->peer_id = input.peer_id;
  seat->conn = input.conn;
  seat->node_id = input.node_id;
  seat->client_addr = input.client_addr;
  seat->session_token = input.session_token;
  seat->last_seen = ctx.now;
  const Member joiner = *seat;

  s.empty_since.reset();
  s.empty_deadline.reset();
  s.last_activity = ctx.now;
  if (s.host_user_id == join.user_id) s.host_grace_deadline.reset();
  const std::string previous_host = s.host_user_id;
  const bool fills_vacant_host = !ctx.is_member(s.host_user_id) &&
                                 (!s.host_grace_deadline || ctx.now >= *s.host_grace_deadline);
  if (fills_vacant_host) {
    s.host_user_id = join.user_id;
    s.host_grace_deadline.reset();
  }
  ctx.mark_changed();

  const std::uint64_t seq = ctx.broadcast(user_joined(joiner, ctx.now), ctx.member_conns(input.conn));
  boost::json::object detail;
  detail["peerId"] = joiner.peer_id;
  detail["username"] = joiner.username ? boost::json::value(*joiner.username) : boost::json::value(nullptr);
  detail["takeover"] = takeover;
  ctx.audit("USER_JOINED", join.user_id, seq, std::move(detail));

  ctx.send(input.conn, room_state(s, input.node_id, input.session_token, ctx.now));

  if (fills_vacant_host) {
    const std::uint64_t host_seq = ctx.broadcast(host_changed(join.user_id, ctx.now), ctx.member_conns());
    boost::json::object host_detail;
    host_detail["from"] = previous_host;
    host_detail["reason"] = "join";
    ctx.audit("HOST_CHANGED", join.user_id, host_seq, std::move(host_detail));
  }
  ctx.fx.join = JoinOutcome::joined;
}

// The JOIN's PIN against the room's: through the caller's proof when it was hashed with the
// room's salt and pepper, else hashed here.
bool pin_accepted(const Context& ctx, const JoinInput& input) {
  const PinHash& stored = *ctx.s.pin;
  if (proof_made_with(input.pin_proof, stored.salt, stored.peppered)) {
    return detail::constant_time_equal(input.pin_proof->hash, stored.hash);
  }
  return pin_matches(stored, *input.join.pin, ctx.settings.pin_secret);
}

// The room's wrong PINs of the last minute, at most Settings::pin_attempts_per_room_minute.
void forget_old_pin_failures(Context& ctx) {
  auto& failures = ctx.s.pin_failures;
  const auto fresh = std::find_if(failures.begin(), failures.end(), [&](Millis at) { return at > ctx.now - kPinWindow; });
  if (fresh != failures.begin()) {
    failures.erase(failures.begin(), fresh);
    ctx.mark_changed();
  }
}

void count_pin_failure(Context& ctx) {
  auto& failures = ctx.s.pin_failures;
  failures.push_back(ctx.now);
  const std::size_t limit = std::max<std::size_t>(1, ctx.settings.pin_attempts_per_room_minute);
  if (failures.size() > limit) failures.erase(failures.begin(), failures.end() - static_cast<std::ptrdiff_t>(limit));
  ctx.mark_changed();
}

// Whether the JOIN comes from the address group of a current member: at the room's bound, the
// people already watching can still bring their own devices back.
bool from_member_address(const Context& ctx, const JoinInput& input) {
  const std::string group = util::address_group(input.client_addr);
  return std::any_of(ctx.s.members.begin(), ctx.s.members.end(),
                     [&](const Member& m) { return util::address_group(m.client_addr) == group; });
}

// PIN rules of §2 for a connection not yet seated here; true when the JOIN may proceed.
bool pin_ok(Context& ctx, const JoinInput& input) {
  const proto::Join& join = input.join;
  if (input.addr_blocked) {
    reject_pin(ctx, input, ErrorCode::too_many_attempts);
    ctx.close(input.conn, 1008, "Too many PIN attempts");
    return false;
  }
  forget_old_pin_failures(ctx);
  if (ctx.s.pin_failures.size() >= ctx.settings.pin_attempts_per_room_minute && !from_member_address(ctx, input)) {
    // Refused unchecked and not counted for the room: it takes at most its bound of guesses a minute.
    reject_pin(ctx, input, ErrorCode::too_many_attempts);
    return false;
  }
  if (join.pin_invalid) {
    count_pin_failure(ctx);
    reject_pin(ctx, input, ErrorCode::invalid_pin);
    return false;
  }
  if (!join.pin || !pin_accepted(ctx, input)) {
    count_pin_failure(ctx);
    reject_pin(ctx, input, ErrorCode::bad_pin);
    return false;
  }
  return true;
}

}  // namespace

void handle_join(Context& ctx, const JoinInput& input) {
  RoomState& s = ctx.s;
  const proto::Join& join = input.join;
  if (!s.exists || s.archived) {
    if (join.pin_invalid) return reject(ctx, input, ErrorCode::invalid_pin);
    if (input.create_refusal) return reject(ctx, input, *input.create_refusal);
    create_room(ctx, input);
    return seat_joiner(ctx, input);
  }

  // A connection already seated here proved the PIN when it joined.
  std::optional<std::size_t> own_seat;
  for (std::size_t i = 0; i < s.members.size(); ++i) {
    if (s.members[i].conn == input.conn) own_seat = i;
  }
  if (s.pin && !own_seat) {
    if (!pin_ok(ctx, input)) return;
  } else if (join.pin_invalid) {
    return reject(ctx, input, ErrorCode::invalid_pin);
  }

  const Member* seat = ctx.member_by_user(join.user_id);
  const bool reseat = own_seat && s.members[*own_seat].user_id != join.user_id;
  if (seat == nullptr) {
    const std::size_t others = s.members.size() - (reseat ? 1 : 0);
    if (others >= ctx.settings.max_room_members) return reject(ctx, input, ErrorCode::room_full);
  } else if (seat->conn != input.conn && ctx.settings.strict_identity) {
    const bool token_ok = join.token && !join.token->empty() && constant_time_equal(*join.token, seat->session_token);
    const bool stale = ctx.now - seat->last_seen >= ctx.settings.stale_after;
    if (!token_ok && !stale) {
      reject(ctx, input, ErrorCode::identity_in_use);
      ctx.close(input.conn, 4003, "Identity in use");
      return;
    }
  }

  if (reseat) remove_member(ctx, *own_seat, Departure::reseat);
  seat_joiner(ctx, input);
}

}  // namespace tandem::room::detail
