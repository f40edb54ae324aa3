#include "core/metrics/metrics.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

#include <prometheus/text_serializer.h>

namespace tandem::metrics {

std::uint64_t Histogram::count() const { return histogram_.Collect().histogram.sample_count; }

CounterFamily::CounterFamily(prometheus::Family<prometheus::Counter>& family, std::vector<std::string> labels,
                             std::size_t max_series)
    : family_(family), labels_(std::move(labels)), max_series_(max_series) {}

Counter& CounterFamily::with(std::initializer_list<std::string_view> values) {
  std::string key;
  for (const auto value : values) {
    key.append(value);
    key.push_back('\0');
  }
  std::lock_guard lock(mutex_);
  if (auto it = series_.find(key); it != series_.end()) return *it->second;
  std::map<std::string, std::string> labels;
  auto value = values.begin();
  for (const auto& label : labels_) {
    labels[label] = value != values.end() ? std::string(*value++) : std::string();
  }
  if (series_.size() >= max_series_) {
    key.clear();
    for (auto& [label, v] : labels) {
      v = "other";
      key += "other";
      key.push_back('\0');
    }
    if (auto it = series_.find(key); it != series_.end()) return *it->second;
  }
  auto& slot = series_[key];
  slot = std::make_unique<Counter>(family_.Add(labels));
  return *slot;
}

std::map<std::string, std::uint64_t> CounterFamily::snapshot() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, std::uint64_t> out;
  for (const auto& [key, counter] : series_) {
    std::string shown = key.substr(0, key.empty() ? 0 : key.size() - 1);
    for (auto& c : shown) {
      if (c == '\0') c = ',';
    }
    out[shown] = counter->value();
  }
  return out;
}

Registry::Registry() : registry_(std::make_shared<prometheus::Registry>()) {}
Registry::~Registry() = default;

Counter& Registry::counter(const std::string& name, const std::string& help) {
  auto& family = prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
  std::lock_guard lock(mutex_);
  return *counters_.emplace_back(std::make_unique<Counter>(family.Add({})));
}

Gauge& Registry::gauge(const std::string& name, const std::string& help) {
  auto& family = prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
  std::lock_guard lock(mutex_);
  return *gauges_.emplace_back(std::make_unique<Gauge>(family.Add({})));
}

CounterFamily& Registry::counter_family(const std::string& name, const std::string& help,
                                        std::vector<std::string> labels, std::size_t max_series) {
  auto& family = prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
  std::lock_guard lock(mutex_);
  return *families_.emplace_back(std::make_unique<CounterFamily>(family, std::move(labels), max_series));
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, std::vector<double> bounds) {
  auto& family = prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_);
  std::lock_guard lock(mutex_);
  return *histograms_.emplace_back(std::make_unique<Histogram>(family.Add({}, std::move(bounds))));
}

void Registry::gauge_fn(const std::string& name, const std::string& help, std::function<double()> read) {
  auto& family = prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
  std::lock_guard lock(mutex_);
  callbacks_.push_back(Callback{&family.Add({}), {}, {}, std::move(read)});
}

void Registry::counter_fn(const std::string& name, const std::string& help, std::function<double()> read) {
  // prometheus-cpp's counters only go up by increments, so a counter kept elsewhere is rendered
  // as a family of its own at scrape time.
  std::lock_guard lock(mutex_);
  callbacks_.push_back(Callback{nullptr, name, help, std::move(read)});
}

void Registry::info(const std::string& name, const std::string& help,
                    const std::map<std::string, std::string>& labels) {
  prometheus::BuildGauge().Name(name).Help(help).Register(*registry_).Add(labels).Set(1);
}

std::string Registry::render() const {
  std::vector<prometheus::MetricFamily> families;
  {
    std::lock_guard lock(mutex_);
    for (const auto& callback : callbacks_) {
      if (callback.gauge) callback.gauge->Set(callback.read());
    }
    families = registry_->Collect();
    for (const auto& callback : callbacks_) {
      if (callback.gauge) continue;
      prometheus::ClientMetric sample;
      sample.counter.value = callback.read();
      families.push_back(prometheus::MetricFamily{callback.name, callback.help, prometheus::MetricType::Counter,
                                                  {std::move(sample)}});
    }
  }
  return prometheus::TextSerializer().Serialize(families);
}

std::vector<double> latency_bounds() {
  return {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10};
}

namespace {

// Fields of /proc/self/stat after the command name: utime is field 14, stime 15, starttime 22
// (proc(5)); the name may contain spaces, so counting starts after its closing parenthesis.
std::vector<std::string> proc_stat_fields() {
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> fields;
  const auto close = text.rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream rest(text.substr(close + 1));
  fields = {"pid", "comm"};
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;  // fields[i] is field i+1 of proc(5)
}

double field(const std::vector<std::string>& fields, std::size_t number) {
  return fields.size() >= number ? std::stod(fields[number - 1]) : 0.0;
}

double boot_time_seconds() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      double seconds = 0;
      in >> seconds;
      return seconds;
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

double open_fds() {
  // Since Linux 6.2 the size that stat() gives /proc/self/fd is the number of open descriptors:
  // one system call (~60 µs here at 18,000 sockets). The directory walk, for older kernels,
  // costs about a microsecond per descriptor — 16-27 ms at 18,000 sockets, on the event loop
  // that answers the scrape (docs/performance.md, 2026-12-05 evening).
  struct stat fd_dir {};
  if (::stat("/proc/self/fd", &fd_dir) == 0 && fd_dir.st_size > 0) return static_cast<double>(fd_dir.st_size);
  std::error_code ec;
  double n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++n;
  return n;
}

double max_fds() {
  std::ifstream in("/proc/self/limits");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("Max open files")) {
      std::istringstream words(line.substr(14));
      double soft = 0;
      words >> soft;
      return soft;
    }
  }
  return 0;
}

double resident_bytes() {
  std::ifstream in("/proc/self/statm");
  double size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

}  // namespace

void register_process_metrics(Registry& registry) {
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double start = boot_time_seconds() + field(proc_stat_fields(), 22) / ticks;
  registry.counter_fn("process_cpu_seconds_total", "User and system CPU time spent in seconds", [ticks] {
    const auto fields = proc_stat_fields();
    return (field(fields, 14) + field(fields, 15)) / ticks;
  });
  registry.gauge_fn("process_resident_memory_bytes", "Resident memory size in bytes", &resident_bytes);
  registry.gauge_fn("process_open_fds", "Open file descriptors (one per WebSocket or HTTP connection, plus the node's own)",
                    &open_fds);
  registry.gauge_fn("process_max_fds", "Limit on open file descriptors (RLIMIT_NOFILE)", &max_fds);
  registry.gauge_fn("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds",
                    [start] { return start; });
}

}  // namespace tandem::metrics
