#include <catch2/catch.hpp>

#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "core/util/bounded_worker.hpp"

using tandem::util::BoundedWorker;

TEST_CASE("a bounded worker runs jobs in order on a thread of its own and refuses beyond its capacity", "[util]") {
  BoundedWorker worker(2, "test-worker");
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<std::thread::id> started;
  std::mutex mutex;
  std::vector<int> ran;
  // The first job holds the thread, so that the queue fills behind it.
  REQUIRE(worker.try_post([&] {
    started.set_value(std::this_thread::get_id());
    gate.wait();
  }));
  const std::thread::id worker_thread = started.get_future().get();
  CHECK(worker_thread != std::this_thread::get_id());
  CHECK(worker.try_post([&] { std::lock_guard lock(mutex); ran.push_back(1); }));
  CHECK(worker.try_post([&] { std::lock_guard lock(mutex); ran.push_back(2); }));
  CHECK(worker.pending() == 3);  // two waiting, one running
  CHECK_FALSE(worker.try_post([&] { std::lock_guard lock(mutex); ran.push_back(3); }));  // at the bound: refused
  release.set_value();
  worker.stop();  // runs what was queued, then joins
  CHECK(ran == std::vector<int>{1, 2});
  CHECK(worker.pending() == 0);
  CHECK_FALSE(worker.try_post([] {}));  // stopped: refused
}
