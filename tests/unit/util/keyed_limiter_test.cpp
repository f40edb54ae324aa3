#include <catch2/catch.hpp>

#include "core/util/keyed_limiter.hpp"

using tandem::util::KeyedLimiter;
using namespace std::chrono_literals;

TEST_CASE("KeyedLimiter: a burst, then the rate, per key", "[util]") {
  KeyedLimiter limiter(60, 3, 100);  // one a second, three banked
  const auto t0 = KeyedLimiter::Clock::time_point{} + 1h;
  for (int i = 0; i < 3; ++i) CHECK(limiter.try_take("a", t0));
  CHECK_FALSE(limiter.try_take("a", t0));
  CHECK(limiter.try_take("b", t0));  // another key has its own bucket
  CHECK_FALSE(limiter.try_take("a", t0 + 900ms));
  CHECK(limiter.try_take("a", t0 + 1s));
  CHECK_FALSE(limiter.try_take("a", t0 + 1s));
  // Idle time banks at most the burst.
  for (int i = 0; i < 3; ++i) CHECK(limiter.try_take("a", t0 + 1h));
  CHECK_FALSE(limiter.try_take("a", t0 + 1h));
}

TEST_CASE("KeyedLimiter: at max_keys refilled keys make room, active ones refuse newcomers", "[util]") {
  KeyedLimiter limiter(60, 2, 2);
  const auto t0 = KeyedLimiter::Clock::time_point{} + 1h;
  CHECK(limiter.try_take("a", t0));
  CHECK(limiter.try_take("b", t0));
  CHECK_FALSE(limiter.try_take("c", t0 + 100ms));  // both still refilling: the table is full
  CHECK(limiter.keys() == 2);
  CHECK(limiter.try_take("c", t0 + 2s));  // a and b have refilled: dropped, c fits
  CHECK(limiter.keys() == 1);
}

TEST_CASE("a token given back can be taken again, never beyond the burst", "[util][limiter]") {
  tandem::util::KeyedLimiter limiter(0.0001, 2, 10);
  const auto now = tandem::util::KeyedLimiter::Clock::now();
  CHECK(limiter.try_take("a", now));
  CHECK(limiter.try_take("a", now));
  CHECK_FALSE(limiter.try_take("a", now));
  limiter.give_back("a");
  CHECK(limiter.try_take("a", now));
  CHECK_FALSE(limiter.try_take("a", now));
  // Giving back more than was taken does not raise the bucket above its burst.
  for (int i = 0; i < 5; ++i) limiter.give_back("a");
  CHECK(limiter.try_take("a", now));
  CHECK(limiter.try_take("a", now));
  CHECK_FALSE(limiter.try_take("a", now));
  limiter.give_back("unknown");  // no bucket: nothing to give back to
  CHECK(limiter.keys() == 1);
}
