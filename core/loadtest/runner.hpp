#pragma once

// `tandem loadtest`: validate, resolve and probe the targets, run the workers (in this process
// for --workers 1, else forked processes that send progress and results back over pipes as JSON
// lines), merge, print the table, write --out, judge the thresholds.
//
// Exit codes (health.hpp): 0 passed; 1 a threshold missed; 2 impossible parameters (with the
// reason); 3 a target unreachable or not a WebSocket endpoint, or most clients never joined;
// 4 INVALID: the generator fell behind, or a worker failed; 5 the target held the load back.

#include "core/loadtest/options.hpp"

namespace tandem::loadtest {

int run(const RawOptions& raw);

}  // namespace tandem::loadtest
