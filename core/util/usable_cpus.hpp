#pragma once

// How many CPUs this process may use: what `server.threads = 0` starts event loops for.
//
// std::thread::hardware_concurrency() counts the machine's CPUs. A node pinned with taskset or a
// cpuset, or given a CPU limit in a container, would start more loops than it may run at once,
// and its loops would wait for each other's time slices. This counts the CPUs of the affinity
// mask (sched_getaffinity) and lowers that to the cgroup v2 CPU limit (`cpu.max`, the tightest of
// the process's cgroup and its ancestors), rounded up. Written here because no packaged library
// reads either; Linux only, cgroup v1 limits are not read.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::util {

struct UsableCpus {
  unsigned count = 1;           // what to use: at least 1
  unsigned online = 0;          // the machine's CPUs (0: unknown)
  unsigned affinity = 0;        // CPUs in the calling thread's affinity mask (0: unknown)
  std::optional<double> limit;  // the cgroup CPU limit in CPUs (none: unlimited or unknown)

  // For the start-up log, e.g. "1 of 2 CPUs: affinity mask 1, no cgroup CPU limit".
  std::string describe() const;
};

// The CPUs the calling thread may use (call it before starting other threads: they inherit the
// mask). `cgroup_fs` is where the cgroup v2 hierarchy is mounted, `self_cgroup` the file naming
// the process's cgroup; tests point them at a directory of their own.
UsableCpus usable_cpus(const std::filesystem::path& cgroup_fs = "/sys/fs/cgroup",
                       const std::filesystem::path& self_cgroup = "/proc/self/cgroup");

// The contents of a cgroup v2 `cpu.max` ("QUOTA PERIOD" in µs, or "max PERIOD") as CPUs:
// "150000 100000" → 1.5, "max 100000" → none. Malformed text → none.
std::optional<double> parse_cpu_max(std::string_view text);

// The tightest CPU limit on the cgroup named in `self_cgroup_text` (the contents of
// /proc/self/cgroup; its "0::PATH" line) and on each of its ancestors under `cgroup_fs`.
std::optional<double> cgroup_cpu_limit(const std::filesystem::path& cgroup_fs, std::string_view self_cgroup_text);

// The count from its parts: the affinity mask (or the online CPUs when it is unknown), no more
// than the limit rounded up, at least 1.
unsigned usable_count(unsigned online, unsigned affinity, std::optional<double> limit);

}  // namespace tandem::util
