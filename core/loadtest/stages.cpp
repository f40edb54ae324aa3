#include "core/loadtest/stages.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "core/util/duration.hpp"

namespace tandem::loadtest {

using std::chrono::milliseconds;

std::variant<Stage, std::string> parse_stage(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return fmt::format("--stage '{}': expected DURATION:CLIENTS, e.g. 30s:1000", text);
  }
  const auto duration = util::parse_duration(std::string(text.substr(0, colon)));
  if (!duration) {
    return fmt::format("--stage '{}': the duration is not one of {}", text, util::kDurationForms);
  }
  const auto count = text.substr(colon + 1);
  int target = -1;
  const auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), target);
  if (ec != std::errc() || end != count.data() + count.size() || target < 0) {
    return fmt::format("--stage '{}': the client count must be a whole number, 0 or more", text);
  }
  return Stage{*duration, target};
}

double planned_at(const std::vector<Stage>& stages, milliseconds t, double share) {
  double before = 0;
  milliseconds start{0};
  for (const auto& s : stages) {
    const double after = s.target * share;
    if (t < start + s.duration) {
      const double f = static_cast<double>((t - start).count()) / static_cast<double>(s.duration.count());
      return before + (after - before) * f;
    }
    before = after;
    start += s.duration;
  }
  return before;
}

std::vector<Transition> transitions(const std::vector<Stage>& stages, int k, double share) {
  std::vector<Transition> out;
  const double level = k + 1;
  double before = 0;
  milliseconds start{0};
  bool wanted = false;
  for (const auto& s : stages) {
    const double after = s.target * share;
    const bool wanted_after = after >= level - 1e-9;
    if (wanted_after != wanted) {
      // The linear ramp from `before` to `after` crosses `level` at fraction f of the stage.
      const double f = after == before ? 0.0 : std::clamp((level - before) / (after - before), 0.0, 1.0);
      const auto at = start + milliseconds(static_cast<std::int64_t>(f * static_cast<double>(s.duration.count())));
      out.push_back(Transition{at, wanted_after});
      wanted = wanted_after;
    }
    before = after;
    start += s.duration;
  }
  return out;
}

milliseconds total_duration(const std::vector<Stage>& stages) {
  milliseconds total{0};
  for (const auto& s : stages) total += s.duration;
  return total;
}

int peak_clients(const std::vector<Stage>& stages) {
  int peak = 0;
  for (const auto& s : stages) peak = std::max(peak, s.target);
  return peak;
}

}  // namespace tandem::loadtest
