#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::metrics {

// A small Prometheus registry, written here because Debian 12 packages no Prometheus client
// for C++. Counters, gauges and histograms are lock-free to update from any thread; label sets
// are created once (under a mutex) and then updated lock-free. `render()` produces the text
// exposition format 0.0.4.

class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(std::int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Cumulative histogram over fixed upper bounds (seconds for latency metrics).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  std::vector<std::uint64_t> cumulative_counts() const;  // one per bound, then +Inf
  const std::vector<double>& bounds() const { return bounds_; }
  double sum() const;
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // non-cumulative, size bounds+1
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};
};

// A counter family with one label. At most `max_labels` distinct values; further values are
// counted under the label value "other" so a client cannot grow the registry without bound.
class CounterFamily {
 public:
  explicit CounterFamily(std::size_t max_labels = 64) : max_labels_(max_labels) {}
  Counter& with(std::string_view label_value);
  std::map<std::string, std::uint64_t> snapshot() const;

 private:
  std::size_t max_labels_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Counter>, std::less<>> counters_;
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& counter(std::string name, std::string help);
  Gauge& gauge(std::string name, std::string help);
  // A gauge read at render time.
  void gauge_fn(std::string name, std::string help, std::function<double()> read);
  CounterFamily& counter_family(std::string name, std::string help, std::string label);
  Histogram& histogram(std::string name, std::string help, std::vector<double> bounds);

  std::string render() const;

 private:
  struct Entry;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

// Bounds for latency histograms in seconds: 0.5 ms … 10 s.
std::vector<double> latency_bounds();

}  // namespace tandem::metrics
