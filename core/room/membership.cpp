#include <algorithm>
#include <utility>

#include "core/room/frames.hpp"
#include "core/room/steps.hpp"

namespace tandem::room::detail {

namespace {

std::string_view departure_name(Departure departure) {
  switch (departure) {
    case Departure::leave: return "leave";
    case Departure::switching: return "switch";
    case Departure::reseat: return "rejoin";
    case Departure::disconnect: return "disconnect";
    case Departure::node_lost: return "node_lost";
  }
  return "leave";
}

// `gone` is no longer in ctx.s.members.
void depart(Context& ctx, const Member& gone, Departure departure) {
  RoomState& s = ctx.s;
  const bool immediate = departure == Departure::leave || departure == Departure::switching ||
                         departure == Departure::reseat;
  const std::string leaver_conn = departure == Departure::leave ? gone.conn : std::string();

  if (gone.user_id == s.host_user_id) {
    if (immediate) {
      elect_host(ctx, "leave", leaver_conn);
    } else {
      s.host_grace_deadline = ctx.now + ctx.settings.host_grace;
    }
  }

  std::vector<ConnId> recipients = ctx.member_conns();
  if (!leaver_conn.empty()) recipients.push_back(leaver_conn);
  const std::uint64_t seq = ctx.broadcast(user_left(gone, ctx.now), std::move(recipients));
  boost::json::object detail;
  detail["peerId"] = gone.peer_id;
  detail["reason"] = departure_name(departure);
  ctx.audit("USER_LEFT", gone.user_id, seq, std::move(detail));

  gate_member_left(ctx, gone.user_id);

  if (departure == Departure::leave || departure == Departure::switching ||
      departure == Departure::disconnect) {
    ctx.fx.unbound_conn = gone.conn;
  }
  if (departure == Departure::leave) ctx.close(gone.conn, 1000, "Client left");

  if (s.members.empty()) {
    if (departure == Departure::leave || departure == Departure::switching) {
      archive(ctx, "empty");
    } else if (departure == Departure::disconnect || departure == Departure::node_lost) {
      s.empty_since = ctx.now;
      s.empty_deadline = ctx.now + ctx.settings.empty_ttl;
    }
  }
  ctx.mark_changed();
}

}  // namespace

void remove_member(Context& ctx, std::size_t index, Departure departure) {
  Member gone = std::move(ctx.s.members[index]);
  ctx.s.members.erase(ctx.s.members.begin() + static_cast<std::ptrdiff_t>(index));
  depart(ctx, gone, departure);
}

void handle_disconnect(Context& ctx, const DisconnectInput& input) {
  for (std::size_t i = 0; i < ctx.s.members.size(); ++i) {
    if (ctx.s.members[i].conn == input.conn) {
      remove_member(ctx, i, input.switching ? Departure::switching : Departure::disconnect);
      return;
    }
  }
}

void handle_node_lost(Context& ctx, const NodeLostInput& input) {
  std::vector<Member> lost;
  auto on_lost_node = [&](const Member& member) { return member.node_id == input.node_id; };
  std::copy_if(ctx.s.members.begin(), ctx.s.members.end(), std::back_inserter(lost), on_lost_node);
  std::erase_if(ctx.s.members, on_lost_node);
  for (const Member& gone : lost) depart(ctx, gone, Departure::node_lost);
}

void elect_host(Context& ctx, std::string_view reason, std::string_view extra_recipient) {
  RoomState& s = ctx.s;
  if (s.members.empty()) return;
  boost::json::object detail;
  detail["from"] = s.host_user_id;
  detail["reason"] = reason;
  s.host_user_id = s.members.front().user_id;
  s.host_grace_deadline.reset();
  std::vector<ConnId> recipients = ctx.member_conns();
  if (!extra_recipient.empty()) recipients.emplace_back(extra_recipient);
  const std::uint64_t seq = ctx.broadcast(host_changed(s.host_user_id, ctx.now), std::move(recipients));
  ctx.audit("HOST_CHANGED", s.host_user_id, seq, std::move(detail));
}

void archive(Context& ctx, std::string_view reason) {
  RoomState& s = ctx.s;
  gate_cancel(ctx);
  s.archived = true;
  s.host_grace_deadline.reset();
  s.empty_deadline.reset();
  ctx.fx.archived = true;
  boost::json::object detail;
  detail["reason"] = reason;
  ctx.audit("ROOM_ARCHIVED", std::string(), s.seq, std::move(detail));
  ctx.mark_changed();
}

}  // namespace tandem::room::detail
