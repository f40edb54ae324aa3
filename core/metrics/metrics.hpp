#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace tandem::metrics {

// tandem's metrics over the core of prometheus-cpp (Debian's prometheus-cpp-dev: its registry,
// metric families and text serializer; not its HTTP exposer, since /metrics is served by the
// node's own listener). What this layer adds: the names of the calls the code uses, label sets
// bounded against clients that invent label values, and metrics read at scrape time.
//
// Updating a counter or gauge is an atomic operation; a histogram observation takes the
// histogram's own mutex (prometheus-cpp 1.0). Label sets are created once and kept by reference.

class Counter {
 public:
  explicit Counter(prometheus::Counter& counter) : counter_(counter) {}
  void inc(std::uint64_t n = 1) { counter_.Increment(static_cast<double>(n)); }
  std::uint64_t value() const { return static_cast<std::uint64_t>(counter_.Value()); }

 private:
  prometheus::Counter& counter_;
};

class Gauge {
 public:
  explicit Gauge(prometheus::Gauge& gauge) : gauge_(gauge) {}
  void set(std::int64_t v) { gauge_.Set(static_cast<double>(v)); }
  void add(std::int64_t d) { gauge_.Increment(static_cast<double>(d)); }
  std::int64_t value() const { return static_cast<std::int64_t>(gauge_.Value()); }

 private:
  prometheus::Gauge& gauge_;
};

// Cumulative histogram over fixed upper bounds (seconds for latency metrics).
class Histogram {
 public:
  explicit Histogram(prometheus::Histogram& histogram) : histogram_(histogram) {}
  void observe(double v) { histogram_.Observe(v); }
  std::uint64_t count() const;

 private:
  prometheus::Histogram& histogram_;
};

// Counters with one or more labels. At most `max_series` distinct label sets; further ones are
// counted under every label value "other", so a client cannot grow the registry without bound.
class CounterFamily {
 public:
  CounterFamily(prometheus::Family<prometheus::Counter>& family, std::vector<std::string> labels,
                std::size_t max_series);
  // One value per label, in the order the family was registered with.
  Counter& with(std::initializer_list<std::string_view> values);
  Counter& with(std::string_view value) { return with({value}); }
  // Current values by label set (values joined with ','), for tests and diagnostics.
  std::map<std::string, std::uint64_t> snapshot() const;

 private:
  prometheus::Family<prometheus::Counter>& family_;
  const std::vector<std::string> labels_;
  const std::size_t max_series_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Counter>, std::less<>> series_;  // key: values joined with '\0'
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& counter(const std::string& name, const std::string& help);
  Gauge& gauge(const std::string& name, const std::string& help);
  CounterFamily& counter_family(const std::string& name, const std::string& help, std::vector<std::string> labels,
                                std::size_t max_series = 64);
  Histogram& histogram(const std::string& name, const std::string& help, std::vector<double> bounds);
  // Read at scrape time: a gauge, or a counter whose value another component keeps (e.g. the
  // process's CPU seconds).
  void gauge_fn(const std::string& name, const std::string& help, std::function<double()> read);
  void counter_fn(const std::string& name, const std::string& help, std::function<double()> read);
  // A gauge fixed at 1 whose labels carry the information (e.g. tandem_build_info{version=…}).
  void info(const std::string& name, const std::string& help, const std::map<std::string, std::string>& labels);

  // The text exposition format 0.0.4.
  std::string render() const;

 private:
  struct Callback {
    prometheus::Gauge* gauge = nullptr;      // gauge_fn: set before each scrape
    std::string name, help;                  // counter_fn: rendered as its own family
    std::function<double()> read;
  };
  std::shared_ptr<prometheus::Registry> registry_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Counter>> counters_;
  std::vector<std::unique_ptr<Gauge>> gauges_;
  std::vector<std::unique_ptr<Histogram>> histograms_;
  std::vector<std::unique_ptr<CounterFamily>> families_;
  std::vector<Callback> callbacks_;
};

// Bounds for latency histograms in seconds: 0.5 ms … 10 s.
std::vector<double> latency_bounds();

// Process metrics under their conventional names (process_cpu_seconds_total,
// process_resident_memory_bytes, process_open_fds, process_max_fds, process_start_time_seconds),
// read from /proc at scrape time.
void register_process_metrics(Registry& registry);

}  // namespace tandem::metrics
