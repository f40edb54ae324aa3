#include "core/util/usable_cpus.hpp"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>
#include <thread>
#include <vector>

#include "core/util/file.hpp"

namespace tandem::util {

namespace {

std::optional<long long> parse_positive(std::string_view text) {
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value <= 0) return std::nullopt;
  return value;
}

unsigned affinity_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  return static_cast<unsigned>(CPU_COUNT(&set));
}

}  // namespace

std::optional<double> parse_cpu_max(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  const auto space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto quota = parse_positive(text.substr(0, space));
  const auto period = parse_positive(text.substr(space + 1));
  if (!quota || !period) return std::nullopt;  // "max PERIOD": no limit
  return static_cast<double>(*quota) / static_cast<double>(*period);
}

std::optional<double> cgroup_cpu_limit(const std::filesystem::path& cgroup_fs, std::string_view self_cgroup_text) {
  // cgroup v2 is the line "0::PATH"; v1 lines name their controllers between the colons.
  std::optional<std::string_view> own;
  std::size_t at = 0;
  while (at < self_cgroup_text.size()) {
    auto end = self_cgroup_text.find('\n', at);
    if (end == std::string_view::npos) end = self_cgroup_text.size();
    const auto line = self_cgroup_text.substr(at, end - at);
    if (line.starts_with("0::")) own = line.substr(3);
    at = end + 1;
  }
  if (!own) return std::nullopt;

  std::vector<std::filesystem::path> dirs{cgroup_fs};
  for (const auto& part : std::filesystem::path(*own).relative_path()) {
    if (part.empty() || part == "." || part == "..") continue;
    dirs.push_back(dirs.back() / part);
  }
  std::optional<double> tightest;
  for (const auto& dir : dirs) {
    const auto text = read_file(dir / "cpu.max");  // the root cgroup has none
    if (!text) continue;
    const auto limit = parse_cpu_max(*text);
    if (limit && (!tightest || *limit < *tightest)) tightest = limit;
  }
  return tightest;
}

unsigned usable_count(unsigned online, unsigned affinity, std::optional<double> limit) {
  unsigned count = affinity > 0 ? affinity : online;
  if (limit) count = std::min(count == 0 ? ~0u : count, static_cast<unsigned>(std::max(1.0, std::ceil(*limit))));
  return std::max(1u, count);
}

UsableCpus usable_cpus(const std::filesystem::path& cgroup_fs, const std::filesystem::path& self_cgroup) {
  UsableCpus cpus;
  cpus.online = std::thread::hardware_concurrency();
  cpus.affinity = affinity_count();
  if (const auto text = read_file(self_cgroup)) cpus.limit = cgroup_cpu_limit(cgroup_fs, *text);
  cpus.count = usable_count(cpus.online, cpus.affinity, cpus.limit);
  return cpus;
}

std::string UsableCpus::describe() const {
  std::ostringstream text;
  text << count;
  if (online > 0) text << " of " << online;
  text << " CPUs: affinity mask ";
  if (affinity > 0) {
    text << affinity;
  } else {
    text << "unknown";
  }
  if (limit) {
    text << ", cgroup CPU limit " << *limit;
  } else {
    text << ", no cgroup CPU limit";
  }
  return text.str();
}

}  // namespace tandem::util
