#include "core/util/keyed_limiter.hpp"

#include <algorithm>

namespace tandem::util {

namespace {

double elapsed_ms(KeyedLimiter::Clock::time_point from, KeyedLimiter::Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

}  // namespace

KeyedLimiter::KeyedLimiter(double per_minute, double burst, std::size_t max_keys)
    : per_ms_(per_minute / 60'000.0), burst_(std::max(1.0, burst)), max_keys_(std::max<std::size_t>(1, max_keys)) {}

bool KeyedLimiter::try_take(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) prune(now);
    if (buckets_.size() >= max_keys_) return false;
    buckets_.emplace(key, Bucket{burst_ - 1.0, now});
    return true;
  }
  Bucket& b = it->second;
  b.tokens = std::min(burst_, b.tokens + std::max(0.0, elapsed_ms(b.at, now)) * per_ms_);
  b.at = std::max(b.at, now);
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

void KeyedLimiter::give_back(const std::string& key) {
  std::lock_guard lock(mutex_);
  if (auto it = buckets_.find(key); it != buckets_.end()) it->second.tokens = std::min(burst_, it->second.tokens + 1.0);
}

std::size_t KeyedLimiter::keys() const {
  std::lock_guard lock(mutex_);
  return buckets_.size();
}

void KeyedLimiter::prune(Clock::time_point now) {
  if (now - last_prune_ < std::chrono::seconds(1)) return;
  last_prune_ = now;
  std::erase_if(buckets_, [&](const auto& entry) {
    const Bucket& b = entry.second;
    return b.tokens + std::max(0.0, elapsed_ms(b.at, now)) * per_ms_ >= burst_;
  });
}

}  // namespace tandem::util
