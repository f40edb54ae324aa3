#include "core/engine/memory/short_ids.hpp"

#include "core/util/random.hpp"

namespace tandem::engine::memory {

namespace {
constexpr room::Millis kMinute = 60'000;
constexpr std::size_t kLength = 8;
constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
}  // namespace

ShortIds::ShortIds(room::Millis ttl, std::size_t mints_per_minute)
    : ttl_(ttl), mints_per_minute_(mints_per_minute) {}

ShortIds::Result ShortIds::get_or_mint(const std::string& room_id, const std::string& addr, room::Millis now) {
  std::lock_guard lock(mutex_);
  if (auto it = by_room_.find(room_id); it != by_room_.end()) {
    auto& record = by_short_.at(it->second);
    if (record.expires_at > now) return Result{record.short_id, false, std::nullopt};
    by_short_.erase(it->second);
    by_room_.erase(it);
  }
  auto& mints = mints_by_addr_[addr];
  while (!mints.empty() && mints.front() <= now - kMinute) mints.pop_front();
  if (mints.size() >= mints_per_minute_) return Result{{}, true, std::nullopt};
  std::string id;
  do {
    id = util::random_string(kAlphabet, kLength);
  } while (by_short_.count(id) != 0);
  mints.push_back(now);
  ShortIdRecord record{id, room_id, now, now + ttl_};
  by_short_[id] = record;
  by_room_[room_id] = id;
  return Result{id, false, record};
}

std::optional<std::string> ShortIds::room_for(const std::string& short_id, room::Millis now) const {
  std::lock_guard lock(mutex_);
  auto it = by_short_.find(short_id);
  if (it == by_short_.end() || it->second.expires_at <= now) return std::nullopt;
  return it->second.room_id;
}

std::optional<std::string> ShortIds::short_id_for(const std::string& room_id, room::Millis now) const {
  std::lock_guard lock(mutex_);
  auto it = by_room_.find(room_id);
  if (it == by_room_.end() || by_short_.at(it->second).expires_at <= now) return std::nullopt;
  return it->second;
}

std::optional<ShortIdRecord> ShortIds::keep_alive(const std::string& room_id, room::Millis now) {
  std::lock_guard lock(mutex_);
  auto it = by_room_.find(room_id);
  if (it == by_room_.end()) return std::nullopt;
  auto& record = by_short_.at(it->second);
  if (record.expires_at <= now) return std::nullopt;
  const room::Millis next = now + ttl_;
  const bool worth_persisting = next - record.expires_at > kMinute;
  record.expires_at = next;
  if (worth_persisting) return record;
  return std::nullopt;
}

void ShortIds::load(const std::vector<ShortIdRecord>& records) {
  std::lock_guard lock(mutex_);
  for (const auto& r : records) {
    by_short_[r.short_id] = r;
    by_room_[r.room_id] = r.short_id;
  }
}

void ShortIds::prune(room::Millis now) {
  std::lock_guard lock(mutex_);
  for (auto it = by_short_.begin(); it != by_short_.end();) {
    if (it->second.expires_at <= now) {
      by_room_.erase(it->second.room_id);
      it = by_short_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = mints_by_addr_.begin(); it != mints_by_addr_.end();) {
    while (!it->second.empty() && it->second.front() <= now - kMinute) it->second.pop_front();
    it = it->second.empty() ? mints_by_addr_.erase(it) : std::next(it);
  }
}

std::size_t ShortIds::size() const {
  std::lock_guard lock(mutex_);
  return by_short_.size();
}

}  // namespace tandem::engine::memory
