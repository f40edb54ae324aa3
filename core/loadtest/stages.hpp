#pragma once

// k6-style stages: `--stage 30s:1000 --stage 2m:5000 --stage 30s:0` ramps linearly from the
// previous stage's client count (0 before the first) to each stage's count over its duration.
// A stage with the same count as the one before holds; a lower count closes clients (LEAVE),
// the most recently added first.
//
// Client k of a worker (0-based, in room order) is wanted while the worker's share of the
// planned count is at least k + 1; `transitions` gives the instants it becomes wanted or
// unwanted. Pure functions, so the schedule is tested without sockets.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tandem::loadtest {

struct Stage {
  std::chrono::milliseconds duration{0};
  int target = 0;  // clients at the end of the stage
};

// "30s:1000" → {30 s, 1000}; the reason when it is not one.
std::variant<Stage, std::string> parse_stage(std::string_view text);

// The planned client count at `t` since the start (fractional while ramping), scaled by
// `share` (a worker's part of all clients). Past the last stage: its target.
double planned_at(const std::vector<Stage>& stages, std::chrono::milliseconds t, double share = 1.0);

struct Transition {
  std::chrono::milliseconds at{0};
  bool up = true;  // true: connect; false: close
};

// When client `k` (0-based) of a worker with `share` of the clients starts and stops being
// wanted, in time order.
std::vector<Transition> transitions(const std::vector<Stage>& stages, int k, double share = 1.0);

std::chrono::milliseconds total_duration(const std::vector<Stage>& stages);
int peak_clients(const std::vector<Stage>& stages);

}  // namespace tandem::loadtest
