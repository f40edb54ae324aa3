#include "core/engine/redis/restorer.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>

namespace tandem::engine::redis {

RoomRestorer::RoomRestorer(Context& ctx) : ctx_(ctx), reader_(*ctx.config.postgres, ctx.metrics.backend_errors.with("postgres")) {}

awaitable<store::RoomLookup> RoomRestorer::lookup(const std::string& room_id) {
  co_return co_await asio::async_initiate<decltype(use_awaitable), void(store::RoomLookup)>(
      [this](auto handler, std::string id) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        reader_.find(std::move(id), [shared, this](store::RoomLookup found) {
          asio::post(ctx_.io, [shared, found = std::move(found)]() mutable { (*shared)(std::move(found)); });
        });
      },
      use_awaitable, room_id);
}

awaitable<std::optional<RoomRestorer::Restored>> RoomRestorer::restore(const std::string& room_id, room::Millis now) {
  const store::RoomLookup found = co_await lookup(room_id);
  auto& counted = ctx_.metrics.room_lookups;
  if (found.status == store::RoomLookup::Status::unavailable) {
    counted.with("unavailable").inc();
    spdlog::warn("cluster: room {} is not in Redis and PostgreSQL cannot say whether it existed: created anew",
                 room_id);
    co_return std::nullopt;
  }
  if (found.status == store::RoomLookup::Status::absent) {
    counted.with("absent").inc();
    co_return std::nullopt;
  }
  Restored restored;
  try {
    restored.state = room::from_json(boost::json::parse(found.room.document));
  } catch (const std::exception& e) {
    counted.with("unreadable").inc();
    spdlog::error("cluster: room {} has an unreadable snapshot in PostgreSQL ({}): created anew", room_id, e.what());
    co_return std::nullopt;
  }
  room::RoomState& state = restored.state;
  if (state.room_id != room_id || !state.exists || state.archived) {
    counted.with("absent").inc();
    co_return std::nullopt;
  }
  state.seq = std::max(state.seq, found.room.seq);
  // The members' connections are gone with the state Redis lost.
  restored.audit = room::remove_all_members(state, std::max(now, state.last_activity), ctx_.settings);
  if (!state.exists || state.archived) {
    counted.with("absent").inc();
    co_return std::nullopt;
  }
  co_return restored;
}

void RoomRestorer::settle(const std::string& room_id, std::uint64_t seq, std::size_t departed, Fate fate) {
  auto& counted = ctx_.metrics.room_lookups;
  switch (fate) {
    case Fate::committed:
      counted.with("restored").inc();
      spdlog::warn("cluster: room {} was not in Redis: rebuilt from its PostgreSQL snapshot (seq {}, {} audit records "
                   "for its departed members)",
                   room_id, seq, departed);
      break;
    case Fate::superseded:
      counted.with("superseded").inc();
      break;
    case Fate::dropped:
      counted.with("dropped").inc();
      break;
  }
}

}  // namespace tandem::engine::redis
