#include <algorithm>
#include <utility>

#include "core/room/frames.hpp"
#include "core/room/steps.hpp"

namespace tandem::room::detail {

namespace {

// max(1, ceil(0.6 × expected)) in integers.
std::size_t quorum(std::size_t expected) { return std::max<std::size_t>(1, (3 * expected + 4) / 5); }

bool contains(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

enum class Reason { quorum, timeout, cancelled };

std::string_view reason_name(Reason reason) {
  switch (reason) {
    case Reason::quorum: return "quorum";
    case Reason::timeout: return "timeout";
    case Reason::cancelled: return "cancelled";
  }
  return "cancelled";
}

// Closes the open gate: the only place a gate ends, so each gate is released exactly once.
void release(Context& ctx, Reason reason) {
  RoomState& s = ctx.s;
  const Gate gate = std::move(*s.gate);
  s.gate.reset();
  ctx.mark_changed();
  const bool played = gate.desired_play && reason != Reason::cancelled;
  std::uint64_t seq = s.seq;
  if (played) {
    s.is_playing = true;
    s.current_time = gate.target;
    s.position_at = ctx.now;
    seq = ctx.broadcast(play_pause("server", true, gate.target, static_cast<double>(ctx.now), ctx.now),
                        ctx.member_conns());
  }
  boost::json::object detail;
  detail["played"] = played;
  detail["reason"] = reason_name(reason);
  ctx.audit("GATE_RELEASED", gate.seeker, seq, std::move(detail));
}

void evaluate(Context& ctx) {
  const std::optional<Gate>& gate = ctx.s.gate;
  if (gate && gate->ready.size() >= quorum(gate->expected.size())) release(ctx, Reason::quorum);
}

}  // namespace

void gate_open(Context& ctx, const std::string& seeker, double target, bool desired_play) {
  gate_cancel(ctx);
  RoomState& s = ctx.s;
  Gate gate;
  gate.id = s.next_gate_id++;
  gate.target = target;
  gate.desired_play = desired_play;
  gate.opened_at = ctx.now;
  gate.deadline = ctx.now + ctx.settings.ready_timeout;
  gate.seeker = seeker;
  for (const Member& member : s.members) gate.expected.push_back(member.user_id);
  gate.ready.push_back(seeker);
  s.gate = std::move(gate);
  ctx.mark_changed();
  evaluate(ctx);
}

void gate_ready(Context& ctx, const std::string& user_id) {
  std::optional<Gate>& gate = ctx.s.gate;
  if (!gate || !contains(gate->expected, user_id) || contains(gate->ready, user_id)) return;
  gate->ready.push_back(user_id);
  ctx.mark_changed();
  evaluate(ctx);
}

void gate_member_left(Context& ctx, const std::string& user_id) {
  std::optional<Gate>& gate = ctx.s.gate;
  if (!gate) return;
  std::erase(gate->expected, user_id);
  std::erase(gate->ready, user_id);
  ctx.mark_changed();
  if (ctx.s.members.empty()) {
    release(ctx, Reason::cancelled);
  } else {
    evaluate(ctx);
  }
}

void gate_cancel(Context& ctx) {
  if (ctx.s.gate) release(ctx, Reason::cancelled);
}

void gate_expire(Context& ctx) {
  if (ctx.s.gate && ctx.now >= ctx.s.gate->deadline) release(ctx, Reason::timeout);
}

}  // namespace tandem::room::detail
