#include "core/metrics/metrics.hpp"

#include <cmath>
#include <sstream>
#include <variant>

namespace tandem::metrics {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  if (v > 0 && std::isfinite(v)) {
    sum_micros_.fetch_add(static_cast<std::uint64_t>(v * 1e6), std::memory_order_relaxed);
  }
}

std::vector<std::uint64_t> Histogram::cumulative_counts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

double Histogram::sum() const { return static_cast<double>(sum_micros_.load()) / 1e6; }

Counter& CounterFamily::with(std::string_view label_value) {
  std::lock_guard lock(mutex_);
  auto it = counters_.find(label_value);
  if (it != counters_.end()) return *it->second;
  std::string key(label_value);
  if (counters_.size() >= max_labels_) key = "other";
  auto& slot = counters_[key];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

std::map<std::string, std::uint64_t> CounterFamily::snapshot() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, std::uint64_t> out;
  for (const auto& [k, c] : counters_) out[k] = c->value();
  return out;
}

struct Registry::Entry {
  std::string name;
  std::string help;
  std::string label;  // for families
  std::variant<std::unique_ptr<Counter>, std::unique_ptr<Gauge>, std::function<double()>,
               std::unique_ptr<CounterFamily>, std::unique_ptr<Histogram>>
      metric;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Counter& Registry::counter(std::string name, std::string help) {
  auto entry = std::make_unique<Entry>(Entry{std::move(name), std::move(help), {}, std::make_unique<Counter>()});
  auto& ref = *std::get<std::unique_ptr<Counter>>(entry->metric);
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(entry));
  return ref;
}

Gauge& Registry::gauge(std::string name, std::string help) {
  auto entry = std::make_unique<Entry>(Entry{std::move(name), std::move(help), {}, std::make_unique<Gauge>()});
  auto& ref = *std::get<std::unique_ptr<Gauge>>(entry->metric);
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(entry));
  return ref;
}

void Registry::gauge_fn(std::string name, std::string help, std::function<double()> read) {
  auto entry = std::make_unique<Entry>(Entry{std::move(name), std::move(help), {}, std::move(read)});
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(entry));
}

CounterFamily& Registry::counter_family(std::string name, std::string help, std::string label) {
  auto entry = std::make_unique<Entry>(
      Entry{std::move(name), std::move(help), std::move(label), std::make_unique<CounterFamily>()});
  auto& ref = *std::get<std::unique_ptr<CounterFamily>>(entry->metric);
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(entry));
  return ref;
}

Histogram& Registry::histogram(std::string name, std::string help, std::vector<double> bounds) {
  auto entry = std::make_unique<Entry>(
      Entry{std::move(name), std::move(help), {}, std::make_unique<Histogram>(std::move(bounds))});
  auto& ref = *std::get<std::unique_ptr<Histogram>>(entry->metric);
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(entry));
  return ref;
}

namespace {

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  std::ostringstream s;
  s.precision(10);
  s << v;
  return s.str();
}

}  // namespace

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::ostringstream out;
  for (const auto& e : entries_) {
    out << "# HELP " << e->name << ' ' << e->help << '\n';
    if (auto* c = std::get_if<std::unique_ptr<Counter>>(&e->metric)) {
      out << "# TYPE " << e->name << " counter\n" << e->name << ' ' << (*c)->value() << '\n';
    } else if (auto* g = std::get_if<std::unique_ptr<Gauge>>(&e->metric)) {
      out << "# TYPE " << e->name << " gauge\n" << e->name << ' ' << (*g)->value() << '\n';
    } else if (auto* f = std::get_if<std::function<double()>>(&e->metric)) {
      out << "# TYPE " << e->name << " gauge\n" << e->name << ' ' << number((*f)()) << '\n';
    } else if (auto* fam = std::get_if<std::unique_ptr<CounterFamily>>(&e->metric)) {
      out << "# TYPE " << e->name << " counter\n";
      for (const auto& [label, v] : (*fam)->snapshot()) {
        out << e->name << '{' << e->label << "=\"" << escape_label(label) << "\"} " << v << '\n';
      }
    } else if (auto* h = std::get_if<std::unique_ptr<Histogram>>(&e->metric)) {
      out << "# TYPE " << e->name << " histogram\n";
      const auto counts = (*h)->cumulative_counts();
      const auto& bounds = (*h)->bounds();
      for (std::size_t i = 0; i < bounds.size(); ++i) {
        out << e->name << "_bucket{le=\"" << number(bounds[i]) << "\"} " << counts[i] << '\n';
      }
      out << e->name << "_bucket{le=\"+Inf\"} " << counts.back() << '\n';
      out << e->name << "_sum " << number((*h)->sum()) << '\n';
      out << e->name << "_count " << (*h)->count() << '\n';
    }
  }
  return out.str();
}

std::vector<double> latency_bounds() {
  return {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10};
}

}  // namespace tandem::metrics
