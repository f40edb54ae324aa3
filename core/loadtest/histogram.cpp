#include "core/loadtest/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>

#include <boost/json.hpp>

namespace tandem::loadtest {

namespace {

constexpr int kSubBits = 7;                                      // 128 linear buckets at the bottom
constexpr std::uint64_t kSubCount = 1u << kSubBits;              // 128
constexpr std::uint64_t kHalf = kSubCount / 2;                   // 64 buckets per power of two above
constexpr int kMaxBits = 40;                                     // values up to 2^40 µs
constexpr std::size_t kBuckets = (kMaxBits - kSubBits + 2) * kHalf;

}  // namespace

std::size_t Histogram::bucket_of(std::int64_t micros) {
  const std::uint64_t v = static_cast<std::uint64_t>(
      std::clamp<std::int64_t>(micros, 0, (std::int64_t{1} << kMaxBits) - 1));
  if (v < kSubCount) return static_cast<std::size_t>(v);
  const int magnitude = std::bit_width(v) - 1;  // ≥ kSubBits
  const int shift = magnitude - (kSubBits - 1);
  return static_cast<std::size_t>(static_cast<std::uint64_t>(shift) * kHalf + (v >> shift));
}

std::int64_t Histogram::bucket_midpoint(std::size_t index) {
  if (index < kSubCount) return static_cast<std::int64_t>(index);
  const std::uint64_t shift = index / kHalf - 1;
  const std::uint64_t sub = index - shift * kHalf;
  const std::uint64_t low = sub << shift;
  const std::uint64_t width = std::uint64_t{1} << shift;
  return static_cast<std::int64_t>(low + width / 2);
}

Histogram::Histogram() : buckets_(kBuckets, 0) {}

void Histogram::record(std::int64_t micros) {
  if (micros < 0) micros = 0;
  ++buckets_[bucket_of(micros)];
  if (count_ == 0 || micros < min_) min_ = micros;
  if (micros > max_) max_ = micros;
  ++count_;
  sum_ += static_cast<long double>(micros);
}

void Histogram::merge(const Histogram& other) {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  if (count_ == 0 || other.min_ < min_) min_ = other.min_;
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

double Histogram::mean() const { return count_ ? static_cast<double>(sum_ / static_cast<long double>(count_)) : 0.0; }

std::int64_t Histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  if (q >= 1.0) return max_;
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::clamp(bucket_midpoint(i), min_, max_);
  }
  return max_;
}

boost::json::value Histogram::to_json() const {
  boost::json::array sparse;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    if (buckets_[i] != 0) sparse.push_back(boost::json::array{i, buckets_[i]});
  }
  return boost::json::object{{"n", count_}, {"min", min_}, {"max", max_},
                             {"sum", static_cast<double>(sum_)}, {"b", std::move(sparse)}};
}

Histogram Histogram::from_json(const boost::json::value& v) {
  try {
    const auto& o = v.as_object();
    Histogram h;
    h.count_ = boost::json::value_to<std::uint64_t>(o.at("n"));
    h.min_ = boost::json::value_to<std::int64_t>(o.at("min"));
    h.max_ = boost::json::value_to<std::int64_t>(o.at("max"));
    h.sum_ = static_cast<long double>(o.at("sum").to_number<double>());
    std::uint64_t total = 0;
    for (const auto& pair : o.at("b").as_array()) {
      const auto& p = pair.as_array();
      const auto index = boost::json::value_to<std::size_t>(p.at(0));
      if (index >= kBuckets) throw std::invalid_argument("bucket index out of range");
      h.buckets_[index] = boost::json::value_to<std::uint64_t>(p.at(1));
      total += h.buckets_[index];
    }
    if (total != h.count_) throw std::invalid_argument("bucket counts do not add up to n");
    return h;
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("malformed histogram: ") + e.what());
  }
}

}  // namespace tandem::loadtest
