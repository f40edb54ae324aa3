#pragma once

// `tandem loadtest`: validate, resolve and probe the targets, run the workers (in this process
// for --workers 1, else forked processes that send progress and results back over pipes as JSON
// lines), merge, print the table, write --out, judge the thresholds.
//
// Exit codes: 0 all thresholds passed; 1 a threshold missed, a target unreachable or not a
// WebSocket endpoint, or a worker failed; 2 impossible parameters (with the reason).

#include "core/loadtest/options.hpp"

namespace tandem::loadtest {

int run(const RawOptions& raw);

}  // namespace tandem::loadtest
