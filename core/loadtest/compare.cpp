#include "core/loadtest/compare.hpp"

#include <cmath>
#include <iostream>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/loadtest/health.hpp"
#include "core/loadtest/report_path.hpp"
#include "core/loadtest/threshold.hpp"
#include "core/util/file.hpp"

namespace tandem::loadtest {

namespace json = boost::json;

namespace {

std::string ratio(double a, double b) {
  if (a == 0 && b == 0) return "=";
  if (a == 0) return "new";
  return fmt::format("{:.2f}×", b / a);
}

std::string latency_text(double ms) { return format_micros(ms * 1000); }

std::string count_text(double n) {
  if (n >= 10'000) return fmt::format("{:.1f}k", n / 1000);
  return fmt::format("{:g}", std::round(n * 10) / 10);
}

std::string text_of(const json::value& doc, std::initializer_list<std::string_view> path, const char* fallback) {
  const auto* v = find_path(doc, path);
  return v && v->is_string() ? std::string(v->as_string()) : std::string(fallback);
}

}  // namespace

std::variant<Comparison, std::string> compare_reports(const json::value& a, const json::value& b,
                                                const std::string& name_a, const std::string& name_b) {
  for (const auto& [doc, name] : {std::pair{&a, &name_a}, std::pair{&b, &name_b}}) {
    if (!find_path(*doc, {"latency_ms"}) || !find_path(*doc, {"counters"})) {
      return *name + ": not a tandem loadtest report (no latency_ms)";
    }
  }
  std::string out;
  auto line = [&](const std::string& text) { out += text + '\n'; };
  line(fmt::format("A  {}  {} clients, {}, started {}", name_a, count_text(number_at(a, {"clients", "target"})),
                   text_of(a, {"verdict"}, "?"), text_of(a, {"started_at"}, "?")));
  line(fmt::format("B  {}  {} clients, {}, started {}", name_b, count_text(number_at(b, {"clients", "target"})),
                   text_of(b, {"verdict"}, "?"), text_of(b, {"started_at"}, "?")));
  line("");
  line(fmt::format("{:<22} {:>12} {:>12} {:>8}", "", "A", "B", "B/A"));
  const auto& kinds = find_path(a, {"latency_ms"})->as_object();
  for (const auto& entry : kinds) {
    const std::string_view kind(entry.key().data(), entry.key().size());
    if (!find_path(b, {"latency_ms", kind})) continue;
    if (number_at(a, {"latency_ms", kind, "count"}) == 0 && number_at(b, {"latency_ms", kind, "count"}) == 0) continue;
    for (const char* stat : {"p50", "p99", "max"}) {
      const double va = number_at(a, {"latency_ms", kind, stat});
      const double vb = number_at(b, {"latency_ms", kind, stat});
      line(fmt::format("{:<22} {:>12} {:>12} {:>8}", fmt::format("{} {}", kind, stat),
                       latency_text(va), latency_text(vb), ratio(va, vb)));
    }
  }
  line("");
  auto row = [&](const std::string& label, std::initializer_list<std::string_view> path, const char* unit) {
    const double va = number_at(a, path);
    const double vb = number_at(b, path);
    line(fmt::format("{:<22} {:>12} {:>12} {:>8}", label, count_text(va) + unit, count_text(vb) + unit,
                     ratio(va, vb)));
  };
  row("frames sent", {"rates_per_s", "frames_sent"}, "/s");
  row("frames received", {"rates_per_s", "frames_received"}, "/s");
  row("broadcasts received", {"rates_per_s", "broadcasts_received"}, "/s");
  row("errors", {"errors", "total"}, "");
  row("errors %", {"errors", "percent"}, "%");
  row("lost", {"delivery", "lost"}, "");
  row("sends skipped", {"counters", "sends_skipped"}, "");
  row("generator send lag p99", {"generator", "send_lag_p99_ms"}, "ms");
  return Comparison{out};
}

int run_compare(const std::string& file_a, const std::string& file_b) {
  json::value docs[2];
  const std::string* names[2] = {&file_a, &file_b};
  for (int i = 0; i < 2; ++i) {
    const auto text = util::read_file(*names[i]);
    if (!text) {
      std::cerr << "tandem loadtest compare: " << *names[i] << ": cannot read it\n";
      return kExitUsage;
    }
    boost::system::error_code ec;
    docs[i] = json::parse(*text, ec);
    if (ec) {
      std::cerr << "tandem loadtest compare: " << *names[i] << ": not JSON (" << ec.message() << ")\n";
      return kExitUsage;
    }
  }
  const auto result = compare_reports(docs[0], docs[1], file_a, file_b);
  if (const auto* refusal = std::get_if<std::string>(&result)) {
    std::cerr << "tandem loadtest compare: " << *refusal << "\n";
    return kExitUsage;
  }
  std::cout << std::get<Comparison>(result).table << std::flush;
  return kExitPassed;
}

}  // namespace tandem::loadtest
