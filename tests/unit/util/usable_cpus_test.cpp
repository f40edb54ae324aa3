#include <sched.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/util/usable_cpus.hpp"

using namespace tandem::util;
namespace fs = std::filesystem;

namespace {

// A cgroup v2 hierarchy of our own under a temporary directory: cpu.max files where asked.
struct CgroupTree {
  fs::path root = fs::temp_directory_path() / ("tandem-cgroup-test-" + std::to_string(::getpid()));
  CgroupTree() { fs::create_directories(root); }
  ~CgroupTree() { fs::remove_all(root); }
  void cpu_max(const fs::path& group, const std::string& text) {
    fs::create_directories(root / group);
    std::ofstream(root / group / "cpu.max") << text;
  }
};

}  // namespace

TEST_CASE("cpu.max is read as CPUs, max and malformed text are no limit", "[util]") {
  CHECK(parse_cpu_max("150000 100000\n") == 1.5);
  CHECK(parse_cpu_max("200000 100000") == 2.0);
  CHECK(parse_cpu_max("50000 100000\n") == 0.5);
  CHECK_FALSE(parse_cpu_max("max 100000\n"));
  CHECK_FALSE(parse_cpu_max(""));
  CHECK_FALSE(parse_cpu_max("100000"));
  CHECK_FALSE(parse_cpu_max("-1 100000"));
  CHECK_FALSE(parse_cpu_max("100000 0"));
  CHECK_FALSE(parse_cpu_max("1e5 100000"));
}

TEST_CASE("the count is the affinity mask, lowered to the CPU limit rounded up, at least 1", "[util]") {
  CHECK(usable_count(8, 2, std::nullopt) == 2);   // pinned to 2 of 8
  CHECK(usable_count(8, 0, std::nullopt) == 8);   // mask unknown: the machine's CPUs
  CHECK(usable_count(8, 8, 1.5) == 2);            // a container limit of 1.5 CPUs
  CHECK(usable_count(8, 8, 0.25) == 1);
  CHECK(usable_count(8, 2, 4.0) == 2);            // the mask is tighter than the limit
  CHECK(usable_count(0, 0, std::nullopt) == 1);   // nothing known
  CHECK(usable_count(0, 0, 3.0) == 3);
}

TEST_CASE("the tightest cpu.max of the process's cgroup and its ancestors is the limit", "[util]") {
  CgroupTree tree;
  tree.cpu_max("kubepods", "max 100000\n");
  tree.cpu_max("kubepods/pod1", "300000 100000\n");
  tree.cpu_max("kubepods/pod1/node", "max 100000\n");
  // v1 lines (controllers between the colons) are not the process's v2 cgroup.
  CHECK(cgroup_cpu_limit(tree.root, "3:cpu,cpuacct:/other\n0::/kubepods/pod1/node\n") == 3.0);
  tree.cpu_max("kubepods/pod1/node", "150000 100000\n");
  CHECK(cgroup_cpu_limit(tree.root, "0::/kubepods/pod1/node\n") == 1.5);
  // A cgroup namespace shows the process its own cgroup as the root.
  tree.cpu_max("", "250000 100000\n");
  CHECK(cgroup_cpu_limit(tree.root, "0::/\n") == 2.5);
  CHECK_FALSE(cgroup_cpu_limit(tree.root / "missing", "0::/\n"));
  CHECK_FALSE(cgroup_cpu_limit(tree.root, "3:cpu:/kubepods\n"));  // cgroup v1 only: not read
}

TEST_CASE("a thread pinned to one CPU may use one CPU", "[util]") {
  UsableCpus pinned;
  std::thread([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    REQUIRE(::sched_setaffinity(0, sizeof one, &one) == 0);
    pinned = usable_cpus();
  }).join();
  CHECK(pinned.count == 1);
  CHECK(pinned.affinity == 1);
  CHECK(pinned.describe().starts_with("1 of "));

  // Unpinned, the count is what the machine and its cgroup allow, and no more than the mask.
  const UsableCpus here = usable_cpus();
  CHECK(here.count >= 1);
  CHECK(here.count <= std::max(1u, here.affinity));
}
