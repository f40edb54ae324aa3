#include <pthread.h>

#include <catch2/catch.hpp>
#include <string>
#include <thread>

#include "core/util/bounded_worker.hpp"
#include "core/util/thread_name.hpp"

using namespace tandem::util;

namespace {

// Called on other threads: no Catch2 assertion here (they are not thread-safe).
std::string own_name() {
  char name[16] = {};
  if (::pthread_getname_np(::pthread_self(), name, sizeof name) != 0) return "(pthread_getname_np failed)";
  return name;
}

}  // namespace

TEST_CASE("a thread's name is what Linux shows for it, cut at 15 bytes", "[util]") {
  std::string short_name, long_name;
  std::thread([&] {
    name_this_thread("loop-3");
    short_name = own_name();
    name_this_thread("a-name-longer-than-fifteen");
    long_name = own_name();
  }).join();
  CHECK(short_name == "loop-3");
  CHECK(long_name == "a-name-longer-t");
}

TEST_CASE("a bounded worker's thread carries the worker's name", "[util]") {
  BoundedWorker worker(1, "pin-hash");
  std::string seen;
  REQUIRE(worker.try_post([&] { seen = own_name(); }));
  worker.stop();  // runs what is queued, then joins
  CHECK(seen == "pin-hash");
}
