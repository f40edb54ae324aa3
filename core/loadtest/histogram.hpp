#pragma once

// A latency histogram with bounded relative error, mergeable across workers.
//
// Written here because no packaged library does it: Debian 12 has HdrHistogram only for Java and
// Go (`apt-cache search hdrhistogram`), and core/metrics' Histogram has fixed bounds (absolute
// error). The layout is HdrHistogram's log-linear one: values below 128 µs have their own bucket;
// above, every power of two is split into 64 equal buckets. A reported percentile is the midpoint
// of its bucket, so it is within 1/128 (0.8 %) of a recorded value (and exact below 128 µs); min,
// max and the mean are exact. Values are microseconds, clamped to [0, 2^40) (12.7 days).
//
// Not thread-safe: one per worker thread, merged at the end.

#include <cstdint>
#include <string>
#include <vector>

#include <boost/json/fwd.hpp>

namespace tandem::loadtest {

class Histogram {
 public:
  Histogram();

  void record(std::int64_t micros);
  void merge(const Histogram& other);

  std::uint64_t count() const { return count_; }
  std::int64_t min() const { return count_ ? min_ : 0; }
  std::int64_t max() const { return max_; }
  double mean() const;
  // The value at quantile q in [0, 1] (0.99 for p99); 0 when empty.
  std::int64_t quantile(double q) const;

  // Sparse form for the worker → parent pipe: {"n","min","max","sum","b":[[index,count],…]}.
  boost::json::value to_json() const;
  // Throws std::invalid_argument on a malformed document.
  static Histogram from_json(const boost::json::value& v);

  static std::size_t bucket_of(std::int64_t micros);
  static std::int64_t bucket_midpoint(std::size_t index);

 private:
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
  std::int64_t min_ = 0;
  std::int64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace tandem::loadtest
