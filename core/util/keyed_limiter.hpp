#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace tandem::util {

// A token bucket per key (a client address group): `per_minute` tokens a minute, at most `burst`
// banked, every key starting full. Thread-safe.
//
// Bounded: at most `max_keys` keys are held. A key whose bucket has refilled is the same as no
// key, so at the bound the full buckets are dropped (at most once a second); if every held key is
// still active, a new key is refused — the limit fails closed for newcomers instead of growing.
class KeyedLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  KeyedLimiter(double per_minute, double burst, std::size_t max_keys);

  // Takes a token for `key` at `now`; false when its bucket is empty (or the table is full).
  bool try_take(const std::string& key, Clock::time_point now = Clock::now());
  // Returns a token taken for something that turned out not to count (at most up to `burst`).
  void give_back(const std::string& key);
  std::size_t keys() const;

 private:
  struct Bucket {
    double tokens;
    Clock::time_point at;  // when `tokens` was last brought up to date
  };
  void prune(Clock::time_point now);  // called with mutex_ held

  const double per_ms_;
  const double burst_;
  const std::size_t max_keys_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
  Clock::time_point last_prune_{};
};

}  // namespace tandem::util
